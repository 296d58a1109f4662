"""Fully connected layer."""

from __future__ import annotations

import numpy as np

from dlkit import init as _init
from dlkit.nn.base import DTYPE, Layer, Parameter, check_array_input
from dlkit.validation import check_bool, check_generator, check_int


def check_input(layer: Layer, x: np.ndarray, expected: tuple) -> None:
    """Raise a ValueError naming ``layer`` and both shapes if ``x`` does not fit ``expected``.

    ``expected`` is a shape pattern where None matches any size, e.g. ``(None, 40)``.
    """
    check_array_input(layer, x)
    ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        want = "(" + ", ".join("N" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{layer!r} expects input of shape {want}, got {tuple(x.shape)}")


class Dense(Layer):
    """Affine layer ``y = x @ W + b`` (Rosenblatt's perceptron without the step).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    init : str or callable
        Weight initializer name from :mod:`dlkit.init` (``"xavier_uniform"``,
        ``"kaiming_normal"``, ...) or a callable ``f(shape, rng)``.
    bias : bool
        Whether to learn an additive bias (initialised to zero).
    rng : numpy.random.Generator, optional
        Source of the initial weights. None draws fresh OS entropy, like an unseeded
        ``torch.nn.Linear``; pass a generator for reproducible runs.

    Attributes
    ----------
    weight : Parameter, shape (in_features, out_features)
    bias : Parameter, shape (out_features,) or None

    Shapes
    ------
    forward: x (N, in_features) -> y (N, out_features); backward: dy (N, out_features) ->
    dx (N, in_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init="xavier_uniform",
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ):
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        bias = check_bool("bias", bias)
        self.init = init
        rng = np.random.default_rng() if rng is None else check_generator(rng)
        w = _init.get(init)((self.in_features, self.out_features), rng)
        self.weight = Parameter(np.asarray(w, dtype=DTYPE), "weight")
        self.bias = Parameter(np.zeros(self.out_features, DTYPE), "bias") if bias else None
        self._x = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_input(self, x, (None, self.in_features))
        w = self.weight.data
        if x.dtype != w.dtype:
            x = x.astype(w.dtype)
        y = x @ w
        if self.bias is not None:
            y += self.bias.data
        self._x = x
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self._x
        if x is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        w = self.weight
        w.grad += x.T @ dy
        if self.bias is not None:
            self.bias.grad += dy.sum(axis=0)
        if not self.input_grad:
            return None
        return dy @ w.data.T

    def parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features}, bias={self.bias is not None})"
