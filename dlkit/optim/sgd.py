"""Stochastic gradient descent with (Nesterov) momentum, as ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.optimizer import Optimizer
from dlkit.validation import check_bool, check_finite_number, check_non_negative


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    As ``torch.optim.SGD``: with ``g = grad + weight_decay * theta``,
    ``b_1 = g``, ``b_t = momentum * b_{t-1} + (1 - dampening) * g``; the step direction is
    ``g + momentum * b_t`` (Nesterov) or ``b_t``; ``theta -= lr * direction``.
    Nesterov momentum in this form is from Sutskever et al., ICML 2013.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    momentum : float
        >= 0; 0 disables the momentum buffer.
    dampening : float
        Scales the new gradient into the buffer by ``1 - dampening`` (not on the first step).
    nesterov : bool
        Requires ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float
        Coupled L2 penalty: ``weight_decay * theta`` is added to the gradient.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        self.momentum = float(check_non_negative("momentum", momentum))
        self.dampening = check_finite_number("dampening", dampening)
        self.nesterov = check_bool("nesterov", nesterov)
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r}, dampening={dampening!r}"
            )
        super().__init__(params, lr)
        self._decayed = self._state() if self.weight_decay else None
        self._buf = self._state() if self.momentum else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        lr, mu, wd = self._lr, self.momentum, self.weight_decay
        theta, g, s = self._data, self._grad, self._scratch
        if wd:
            np.multiply(theta, wd, out=self._decayed)
            self._decayed += g
            g = self._decayed
        if mu:
            buf = self._buf
            if self.t == 0:
                np.copyto(buf, g)
            else:
                buf *= mu
                if self.dampening:
                    np.multiply(g, 1.0 - self.dampening, out=s)
                    buf += s
                else:
                    buf += g
            if self.nesterov:
                np.multiply(buf, mu, out=s)
                s += g
                g = s
            else:
                g = buf
        np.multiply(g, lr, out=s)
        theta -= s
        self.t += 1
