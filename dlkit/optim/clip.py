"""Gradient clipping, as ``torch.nn.utils``."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.validation import check_non_negative


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Rescale gradients in place so their global 2-norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: ``total`` is the 2-norm of all gradients taken
    together, and every gradient is multiplied by ``min(1, max_norm / (total + 1e-6))``.

    Parameters
    ----------
    params : iterable of Parameter
    max_norm : float
        >= 0.

    Returns
    -------
    float
        The total norm *before* clipping.
    """
    check_non_negative("max_norm", max_norm)
    grads = list({id(p): p.grad for p in params}.values())
    total = 0.0
    for g in grads:
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    total = math.sqrt(total)
    coef = max_norm / (total + 1e-6)
    # `not coef >= 1` also catches NaN, which (as in torch) then propagates into the grads.
    if not coef >= 1.0:
        for g in grads:
            g *= coef
    return total
