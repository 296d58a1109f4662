"""Adam (Kingma & Ba, ICLR 2015), optionally AMSGrad (Reddi et al., ICLR 2018), as
``torch.optim.Adam``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.optimizer import Optimizer
from dlkit.validation import check_bool, check_non_negative, check_range


def check_betas(betas: Sequence[float]) -> tuple[float, float]:
    """Return ``(beta1, beta2)`` as floats if ``betas`` is a pair of numbers in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = check_range("betas[0]", betas[0], 0.0, 1.0)
    beta2 = check_range("betas[1]", betas[1], 0.0, 1.0)
    return float(beta1), float(beta2)


class Adam(Optimizer):
    """Adam (Kingma & Ba, ICLR 2015), optionally AMSGrad (Reddi et al., ICLR 2018).

    As ``torch.optim.Adam``: with ``g = grad + weight_decay * theta`` (coupled L2),
    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g**2``;
    AMSGrad keeps ``v_max = max(v_max, v)`` (of the *uncorrected* ``v``) and uses it for ``v``;
    ``theta -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``, i.e. eps is
    added to the bias-corrected root, outside it.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    betas : (float, float)
        Each in [0, 1).
    eps : float
    weight_decay : float
        Coupled: added to the gradient. For decoupled decay use ``AdamW``.
    amsgrad : bool
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
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
        self._decayed = self._state() if self.weight_decay else None
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
            np.multiply(theta, wd, out=self._decayed)
            self._decayed += g
            g = self._decayed
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
