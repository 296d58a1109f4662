"""Explicit weight penalties added to the loss: ``L1(lam)`` and ``L2(lam)``.

A penalty applies to **weights only** -- parameters named ``"weight"`` (Dense and conv
kernels) or ``"weight_*"`` (the recurrent layers' ``weight_ih_l0``, ``weight_hh_l0``, ...) --
never to biases, normalization ``gamma``/``beta`` or a PReLU slope ``alpha``: penalizing those
constrains offsets and scales rather than the model's capacity (Goodfellow, Bengio &
Courville, *Deep Learning*, 2016, section 7.1).

Usage in a training step::

    loss_value = loss.forward(model.forward(x, train=True), y) + reg.penalty(params)
    model.backward(loss.backward())
    reg.backward(params)  # adds d penalty / d w into each weight's .grad
    optimizer.step()

``L2(lam)`` uses ``lam / 2 * sum(w**2)`` so that its gradient is ``lam * w``: the same update
as an optimizer's coupled ``weight_decay=lam`` (but restricted to weights).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.validation import check_non_negative

WEIGHT_NAMES = ("weight",)


def _weights(params: Iterable[Parameter]) -> list[Parameter]:
    """The penalized parameters: those named ``"weight"`` or ``"weight_*"``, each once."""
    return list({id(p): p for p in params if is_weight(p.name)}.values())


def is_weight(name: str) -> bool:
    """True for a weight's name: ``"weight"``, or torch's recurrent ``"weight_ih_l0"`` etc."""
    return name in WEIGHT_NAMES or name.startswith("weight_")


class _Penalty:
    def __init__(self, lam: float):
        self.lam = float(check_non_negative("lam", lam))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lam={self.lam!r})"


class L1(_Penalty):
    """Lasso penalty ``lam * sum |w|`` over all weights; drives weights to exactly zero.

    Tibshirani, "Regression shrinkage and selection via the lasso", JRSS-B 1996.

    Parameters
    ----------
    lam : float
        Penalty strength, >= 0.
    """

    def penalty(self, params: Iterable[Parameter]) -> float:
        """``lam * sum(|w|)`` over the parameters named ``"weight"``.

        Parameters
        ----------
        params : iterable of Parameter

        Returns
        -------
        float
        """
        if not self.lam:
            return 0.0
        return self.lam * sum(float(np.abs(p.data).sum()) for p in _weights(params))

    def backward(self, params: Iterable[Parameter]) -> None:
        """Accumulate the (sub)gradient ``lam * sign(w)`` into each weight's ``.grad``.

        ``sign(0) = 0`` picks the zero subgradient at the kink.
        """
        if not self.lam:
            return
        for p in _weights(params):
            p.grad += self.lam * np.sign(p.data)


class L2(_Penalty):
    """Ridge / weight-decay penalty ``lam / 2 * sum(w**2)`` over all weights.

    The gradient is ``lam * w`` (Krogh & Hertz, "A simple weight decay can improve
    generalization", NIPS 1991).

    Parameters
    ----------
    lam : float
        Penalty strength, >= 0.
    """

    def penalty(self, params: Iterable[Parameter]) -> float:
        """``lam / 2 * sum(w**2)`` over the parameters named ``"weight"``.

        Parameters
        ----------
        params : iterable of Parameter

        Returns
        -------
        float
        """
        if not self.lam:
            return 0.0
        total = 0.0
        for p in _weights(params):
            flat = p.data.reshape(-1)
            total += float(np.dot(flat, flat))
        return 0.5 * self.lam * total

    def backward(self, params: Iterable[Parameter]) -> None:
        """Accumulate the gradient ``lam * w`` into each weight's ``.grad``."""
        if not self.lam:
            return
        for p in _weights(params):
            p.grad += self.lam * p.data
