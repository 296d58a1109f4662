"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.optimizer import Optimizer
from dlkit.validation import check_non_negative, check_range


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    With ``g = grad + weight_decay * theta``: ``v = rho * v + (1 - rho) * g**2``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho * u + (1 - rho) * delta**2``;
    ``theta -= lr * delta``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Scales ``delta``; 1.0 is Zeiler's original rule.
    rho : float
        Decay of both running averages, in [0, 1].
    eps : float
        Added inside both square roots.
    weight_decay : float
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ):
        self.rho = float(check_range("rho", rho, 0.0, 1.0, high_inclusive=True))
        self.eps = float(check_non_negative("eps", eps))
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        super().__init__(params, lr)
        self._square_avg = self._state()
        self._acc_delta = self._state()
        self._delta = self._state()
        self._decayed = self._state() if self.weight_decay else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        rho, eps = self.rho, self.eps
        theta, g, s = self._data, self._grad, self._scratch
        v, u, delta = self._square_avg, self._acc_delta, self._delta
        if self.weight_decay:
            np.multiply(theta, self.weight_decay, out=self._decayed)
            self._decayed += g
            g = self._decayed
        v *= rho
        np.multiply(g, g, out=s)
        s *= 1.0 - rho
        v += s
        # delta = sqrt(u + eps) / sqrt(v + eps) * g: eps inside both roots.
        np.add(v, eps, out=s)
        np.sqrt(s, out=s)
        np.add(u, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= s
        delta *= g
        u *= rho
        np.multiply(delta, delta, out=s)
        s *= 1.0 - rho
        u += s
        np.multiply(delta, self._lr, out=s)
        theta -= s
        self.t += 1
