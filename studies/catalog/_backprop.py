"""What the studies of exploding and vanishing gradients share: how fast a gradient's norm
grows or decays going back through a net's layers (or a recurrent net's time steps), and a
final loss that counts a diverged run as "at least this bad"."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: A diverged run's loss (or a loss above it) counts as this in a paired comparison.
LOSS_CAP = 10.0


def log10_slope_back(norms: Sequence[float]) -> float:
    """Least-squares slope of ``log10(norms[i])`` against the steps back from the last entry
    (``len(norms) - 1 - i``: 0 for the output layer, or the last time step).

    Parameters
    ----------
    norms : sequence of float
        Gradient norms, the entry nearest the input (or the first time step) first, the one
        nearest the loss last.

    Returns
    -------
    float
        log10 of the geometric growth factor per step back (> 0: the gradient explodes going
        back, < 0: it vanishes); NaN when a norm is not finite and positive or there are
        fewer than two entries.
    """
    values = np.asarray(norms, dtype=np.float64)
    if values.size < 2 or not np.all(np.isfinite(values) & (values > 0)):
        return math.nan
    steps_back = np.arange(values.size - 1, -1, -1, dtype=np.float64)
    slope, _ = np.polyfit(steps_back, np.log10(values), 1)
    return float(slope)


def capped_loss(value: float, cap: float = LOSS_CAP) -> float:
    """A final loss for a paired comparison: ``min(value, cap)``, and ``cap`` for a diverged
    run's NaN or infinite loss (so it counts as "at least this bad" instead of dropping)."""
    return min(float(value), cap) if math.isfinite(value) else cap
