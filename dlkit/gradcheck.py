"""Numerical gradient checking by centred differences, in float64.

``check`` compares the analytic gradients a layer (or loss) computes in ``backward`` with
``(f(x + h) - f(x - h)) / 2h`` for every input element and every parameter element, and
returns the CS231n relative error ``max |a - n| / max(1e-8, |a| + |n|)``. In float64 a correct
gradient gives about 1e-7 or less.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from dlkit.losses import Loss
from dlkit.nn.base import Layer, Parameter


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """CS231n relative error ``max |a - b| / max(1e-8, |a| + |b|)``, elementwise then max."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred-difference gradient of the scalar ``f()`` with respect to ``x`` (perturbed in
    place and restored).

    Parameters
    ----------
    f : callable
        Re-evaluates the scalar function reading ``x``.
    x : ndarray, float64
        The array to perturb, any shape.
    h : float
        Step size.

    Returns
    -------
    ndarray, same shape as x
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def _rngs(obj, seen=None) -> Iterator[np.random.Generator]:
    """Every Generator held by a layer tree, so stochastic layers can be replayed."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    for value in vars(obj).values() if hasattr(obj, "__dict__") else ():
        if isinstance(value, np.random.Generator):
            yield value
        elif isinstance(value, Layer):
            yield from _rngs(value, seen)
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, Layer):
                    yield from _rngs(item, seen)


def check(
    layer_or_loss: Layer | Loss,
    x: np.ndarray,
    *,
    target: np.ndarray | None = None,
    dy: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    train: bool = True,
    h: float = 1e-6,
    params: bool = True,
) -> float:
    """Max relative error between analytic and centred-difference gradients, in float64.

    Parameters
    ----------
    layer_or_loss : Layer or Loss
        For a layer the checked scalar is ``sum(forward(x) * dy)``; for a loss it is
        ``forward(x, target)``.
    x : ndarray
        Input (a layer) or prediction (a loss), any shape; cast to float64.
    target : ndarray, optional
        The loss target (required for a loss).
    dy : ndarray, optional
        Upstream gradient for a layer; drawn from N(0, 1) with ``rng`` when omitted.
    rng : numpy.random.Generator, optional
        For ``dy``; default ``np.random.default_rng(0)``.
    train : bool
        Mode passed to ``forward``. Stochastic layers (dropout) are replayed with the same
        random state for every evaluation, so their masks stay fixed.
    h : float
        Finite-difference step.
    params : bool
        Also check every parameter's gradient.

    Returns
    -------
    float
        The largest relative error over the input and every parameter element.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.array(x, dtype=np.float64)
    if isinstance(layer_or_loss, Loss):
        if target is None:
            raise ValueError("gradcheck.check on a loss needs target=")
        loss = layer_or_loss
        t = np.asarray(target)
        t = t.astype(np.float64) if t.dtype.kind == "f" else t
        loss.forward(x, t)
        analytic = loss.backward()
        numeric = numerical_gradient(lambda: loss.forward(x, t), x, h)
        return relative_error(analytic, numeric)

    layer = layer_or_loss
    plist: list[Parameter] = layer.parameters()
    saved = [(p.data, p.grad) for p in plist]
    for p in plist:
        p.data = p.data.astype(np.float64)
        p.grad = np.zeros_like(p.data)
    generators = list(_rngs(layer))
    states = [g.bit_generator.state for g in generators]

    def forward() -> np.ndarray:
        for g, s in zip(generators, states):
            g.bit_generator.state = s
        return layer.forward(x, train=train)

    try:
        y = forward()
        if dy is None:
            dy = rng.standard_normal(y.shape)
        dy = np.asarray(dy, np.float64)
        dx = layer.backward(dy)
        errors = [relative_error(dx, numerical_gradient(lambda: np.sum(forward() * dy), x, h))]
        if params:
            for p in plist:
                num = numerical_gradient(lambda: np.sum(forward() * dy), p.data, h)
                errors.append(relative_error(p.grad, num))
        return max(errors)
    finally:
        for p, (data, grad) in zip(plist, saved):
            p.data, p.grad = data, grad
