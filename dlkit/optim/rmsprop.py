"""RMSprop (Hinton, Coursera lecture 6e, 2012), as ``torch.optim.RMSprop``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.optimizer import Optimizer
from dlkit.validation import check_bool, check_non_negative


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e, 2012), as ``torch.optim.RMSprop``.

    With ``g = grad + weight_decay * theta``: ``v = alpha * v + (1 - alpha) * g**2``;
    centered: ``g_avg = alpha * g_avg + (1 - alpha) * g`` and ``v~ = v - g_avg**2`` (Graves,
    2013), else ``v~ = v``; ``d = g / (sqrt(v~) + eps)``; with momentum ``b = momentum * b + d``
    and ``theta -= lr * b``, else ``theta -= lr * d``.

    The centered ``v - g_avg**2`` is mathematically >= 0; it is clipped at 0 so that float
    rounding on a constant gradient cannot make its square root NaN (torch would return NaN
    there; everywhere else the results are identical).

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    alpha : float
        Decay of the running averages, >= 0.
    eps : float
        Added to the square root, outside it.
    momentum : float
    centered : bool
    weight_decay : float
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        centered: bool = False,
        weight_decay: float = 0.0,
    ):
        self.alpha = float(check_non_negative("alpha", alpha))
        self.eps = float(check_non_negative("eps", eps))
        self.momentum = float(check_non_negative("momentum", momentum))
        self.centered = check_bool("centered", centered)
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        super().__init__(params, lr)
        self._square_avg = self._state()
        self._grad_avg = self._state() if self.centered else None
        self._buf = self._state() if self.momentum else None
        self._decayed = self._state() if self.weight_decay else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        alpha = self.alpha
        theta, g, s, v = self._data, self._grad, self._scratch, self._square_avg
        if self.weight_decay:
            np.multiply(theta, self.weight_decay, out=self._decayed)
            self._decayed += g
            g = self._decayed
        v *= alpha
        np.multiply(g, g, out=s)
        s *= 1.0 - alpha
        v += s
        if self.centered:
            g_avg = self._grad_avg
            np.subtract(g, g_avg, out=s)
            s *= 1.0 - alpha
            g_avg += s
            np.multiply(g_avg, g_avg, out=s)
            np.subtract(v, s, out=s)
            np.maximum(s, 0.0, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(v, out=s)
        s += self.eps
        np.divide(g, s, out=s)
        if self.momentum:
            self._buf *= self.momentum
            self._buf += s
            np.multiply(self._buf, self._lr, out=s)
        else:
            s *= self._lr
        theta -= s
        self.t += 1
