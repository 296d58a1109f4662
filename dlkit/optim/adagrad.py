"""Adagrad (Duchi, Hazan & Singer, JMLR 2011), as ``torch.optim.Adagrad``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.optimizer import Optimizer
from dlkit.validation import check_non_negative


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, JMLR 2011), as ``torch.optim.Adagrad``.

    With ``g = grad + weight_decay * theta`` and ``clr = lr / (1 + (t - 1) * lr_decay)``:
    ``sum += g**2``; ``theta -= clr * g / (sqrt(sum) + eps)``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    lr_decay : float
        Learning-rate decay per step (``clr`` above), >= 0.
    eps : float
        Added to the square root, outside it.
    weight_decay : float
    initial_accumulator_value : float
        Starting value of ``sum``, >= 0.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        lr_decay: float = 0.0,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ):
        self.lr_decay = float(check_non_negative("lr_decay", lr_decay))
        self.eps = float(check_non_negative("eps", eps))
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        self.initial_accumulator_value = float(
            check_non_negative("initial_accumulator_value", initial_accumulator_value)
        )
        super().__init__(params, lr)
        self._sum = np.full_like(self._data, self.initial_accumulator_value)
        self._decayed = self._state() if self.weight_decay else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        self.t += 1
        theta, g, s = self._data, self._grad, self._scratch
        if self.weight_decay:
            np.multiply(theta, self.weight_decay, out=self._decayed)
            self._decayed += g
            g = self._decayed
        clr = self._lr / (1.0 + (self.t - 1) * self.lr_decay)
        np.multiply(g, g, out=s)
        self._sum += s
        # eps outside the square root, as torch: sqrt(sum) + eps.
        np.sqrt(self._sum, out=s)
        s += self.eps
        np.divide(g, s, out=s)
        s *= clr
        theta -= s
