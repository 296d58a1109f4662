"""Holm's step-down procedure across one family of claims (Holm 1979).

The claims of one study are one family. Holm compares the smallest p-value with
``alpha / m``, the next with ``alpha / (m - 1)`` and so on, stopping at the first that fails;
the family-wise error rate is at most ``alpha``. Maurer & Bretz (2013, "Multiple testing in
group sequential trials using graphical approaches") show that the same step-down carries over
to group-sequential designs: each claim runs its design at its current Holm level, and a
decided claim passes its level on to the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["holm", "holm_adjusted", "holm_levels"]


def _p_array(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional, got shape {p.shape}")
    bad = p[~((p >= 0) & (p <= 1))]
    if bad.size:
        raise ValueError(f"p-values must lie in [0, 1], got {float(bad[0])!r}")
    return p


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")


def holm_levels(p_values: Sequence[float], alpha: float = 0.05) -> list[float]:
    """The level Holm compares each p-value with, in the input order.

    Parameters
    ----------
    p_values : array_like, shape (m,)
    alpha : float
        Family-wise error rate.

    Returns
    -------
    list of float, length m
        ``alpha / (m - r)`` for the p-value of rank ``r`` (0 for the smallest; ties keep the
        input order), i.e. the raw ``alpha`` and the adjusted level side by side in a report.
    """
    _check_alpha(alpha)
    p = _p_array(p_values)
    m = p.size
    levels = np.empty(m)
    levels[np.argsort(p, kind="stable")] = alpha / (m - np.arange(m))
    return levels.tolist()


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down rejections, in the input order.

    Parameters
    ----------
    p_values : array_like, shape (m,)
    alpha : float
        Family-wise error rate.

    Returns
    -------
    list of bool, length m
        True where the hypothesis is rejected: its p-value and every smaller one are at most
        their Holm levels (:func:`holm_levels`).
    """
    levels = np.asarray(holm_levels(p_values, alpha))
    p = _p_array(p_values)
    order = np.argsort(p, kind="stable")
    passed = p[order] <= levels[order]
    # Step-down: reject in sorted order until the first failure.
    sorted_rejected = np.cumprod(passed).astype(bool)
    rejected = np.empty(p.size, dtype=bool)
    rejected[order] = sorted_rejected
    return rejected.tolist()


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order.

    ``max_{j <= r} min(1, (m - j) p_(j))`` for the p-value of rank ``r``; a hypothesis is
    rejected by :func:`holm` at ``alpha`` exactly when its adjusted p-value is at most
    ``alpha``.

    Parameters
    ----------
    p_values : array_like, shape (m,)

    Returns
    -------
    list of float, length m
    """
    p = _p_array(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled) if m else scaled
    return adjusted.tolist()
