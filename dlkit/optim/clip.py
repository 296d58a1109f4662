"""Gradient clipping, as ``torch.nn.utils``: by global norm (:func:`clip_grad_norm`) or by
value (:func:`clip_grad_value`)."""

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
    total = grad_norm_of(grads)
    coef = max_norm / (total + 1e-6)
    # `not coef >= 1` also catches NaN, which (as in torch) then propagates into the grads.
    if not coef >= 1.0:
        for g in grads:
            g *= coef
    return total


def clip_grad_value(params: Iterable[Parameter], clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    As ``torch.nn.utils.clip_grad_value_``: each element is clipped on its own, so unlike
    :func:`clip_grad_norm` the direction of the gradient changes whenever some (but not all)
    elements are clipped. NaN elements stay NaN, as in torch.

    Parameters
    ----------
    params : iterable of Parameter
    clip_value : float
        >= 0.
    """
    clip_value = check_non_negative("clip_value", clip_value)
    for g in list({id(p): p.grad for p in params}.values()):
        np.clip(g, -clip_value, clip_value, out=g)


def grad_norm_of(grads: Iterable[np.ndarray]) -> float:
    """The global 2-norm of the arrays ``grads`` taken together (what
    :func:`clip_grad_norm` measures before clipping)."""
    total = 0.0
    for g in grads:
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return math.sqrt(total)
