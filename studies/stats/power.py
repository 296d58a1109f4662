"""Power of the one-sided paired t-test and the seeds it needs (noncentral t).

The power of a one-sided paired t-test at level ``alpha`` on ``n`` seeds with paired effect
size ``d_z`` is ``P(T > t_{1-alpha, n-1})`` for ``T`` noncentral t with ``n - 1`` degrees of
freedom and noncentrality ``d_z sqrt(n)`` — the same calculation as statsmodels'
``TTestPower`` and G*Power, here with :data:`scipy.stats.nct`.
"""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["paired_t_power", "seeds_needed"]


def _check_levels(alpha: float, power: float | None = None) -> None:
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha!r}")
    if power is not None and not alpha < power < 1:
        raise ValueError(f"power must lie in (alpha, 1) = ({alpha:g}, 1), got {power!r}")


def paired_t_power(effect_size: float, n: int, alpha: float = 0.05) -> float:
    """Power of the one-sided paired t-test in the direction of the effect.

    Parameters
    ----------
    effect_size : float
        Paired effect size ``d_z = mean(a - b) / SD(a - b)``; its magnitude is used.
    n : int
        Seeds (pairs), at least 2.
    alpha : float
        One-sided level.

    Returns
    -------
    float
        Probability that the test rejects at level ``alpha``.
    """
    _check_levels(alpha)
    if not (isinstance(n, int) and n >= 2):
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if not math.isfinite(effect_size):
        raise ValueError(f"effect_size must be finite, got {effect_size!r}")
    df = n - 1
    critical = stats.t.ppf(1 - alpha, df)
    return float(stats.nct.sf(critical, df, abs(effect_size) * math.sqrt(n)))


def seeds_needed(effect_size: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """The fewest seeds for a one-sided paired t-test to reach ``power`` at ``effect_size``.

    A fixed-sample calculation: a sequential design with O'Brien–Fleming-type boundaries needs
    a few percent more at its last look.

    Parameters
    ----------
    effect_size : float
        Paired effect size ``d_z`` (e.g. the observed one of an inconclusive claim); its
        magnitude is used.
    power : float
        Target power, in ``(alpha, 1)``.
    alpha : float
        One-sided level, in ``(0, 0.5)``.

    Returns
    -------
    int
        At least 2.

    Raises
    ------
    ValueError
        When ``effect_size`` is 0 (no number of seeds detects no effect) or not finite, or when
        ``power`` or ``alpha`` is out of range.
    """
    _check_levels(alpha, power)
    if not math.isfinite(effect_size) or effect_size == 0:
        raise ValueError(
            f"effect_size must be finite and non-zero to need a finite number of seeds, "
            f"got {effect_size!r}"
        )
    d = abs(effect_size)
    # Normal approximation as the starting point; the t-test needs a little more.
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    hi = max(2, math.ceil((z / d) ** 2))
    while paired_t_power(d, hi, alpha) < power:
        hi *= 2
    lo = 1  # invariant: power(lo) < target (or lo = 1, below the smallest valid n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid >= 2 and paired_t_power(d, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi
