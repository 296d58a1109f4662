"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019), as
``torch.optim.AdamW``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.adam import check_betas
from dlkit.optim.optimizer import Optimizer
from dlkit.validation import check_bool, check_non_negative


class AdamW(Optimizer):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019).

    As ``torch.optim.AdamW``: first ``theta *= 1 - lr * weight_decay``, then the Adam update
    computed from the raw gradient ``g`` (the decay never enters ``m`` or ``v``):
    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g**2``; AMSGrad
    keeps ``v_max = max(v_max, v)`` and uses it for ``v``;
    ``theta -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    betas : (float, float)
        Each in [0, 1).
    eps : float
    weight_decay : float
        Decoupled: shrinks the weights directly, by ``lr * weight_decay`` per step.
    amsgrad : bool
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        self.betas = check_betas(betas)
        self.eps = float(check_non_negative("eps", eps))
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        self.amsgrad = check_bool("amsgrad", amsgrad)
        super().__init__(params, lr)
        self._exp_avg = self._state()
        self._exp_avg_sq = self._state()
        self._max_exp_avg_sq = self._state() if self.amsgrad else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        self.t += 1
        beta1, beta2 = self.betas
        lr, wd = self._lr, self.weight_decay
        theta, g, s = self._data, self._grad, self._scratch
        m, v = self._exp_avg, self._exp_avg_sq
        if wd:
            theta *= 1.0 - lr * wd
        np.subtract(g, m, out=s)
        s *= 1.0 - beta1
        m += s
        v *= beta2
        np.multiply(g, g, out=s)
        s *= 1.0 - beta2
        v += s
        if self.amsgrad:
            np.maximum(self._max_exp_avg_sq, v, out=self._max_exp_avg_sq)
            v = self._max_exp_avg_sq
        bias_correction1 = 1.0 - beta1**self.t
        bias_correction2 = 1.0 - beta2**self.t
        np.sqrt(v, out=s)
        s /= math.sqrt(bias_correction2)
        s += self.eps
        np.divide(m, s, out=s)
        s *= lr / bias_correction1
        theta -= s
