"""Paired comparisons across seeds: effect sizes, paired tests and their claim results.

Seed ``s`` of arm A against seed ``s`` of arm B share the data split and, as far as the trial
allows, the initialisation, so the comparison is of the paired differences ``a - b``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from dlkit.validation import check_choice
from studies.stats.intervals import bootstrap_ci, t_interval
from studies.stats.verdicts import ClaimResult, band_verdict

__all__ = [
    "DIRECTIONS",
    "TESTS",
    "cohens_d",
    "compare_paired",
    "equivalent_paired",
    "paired_d",
    "paired_p_value",
]

TESTS = ("wilcoxon", "t")
DIRECTIONS = ("lower", "higher")


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d of two independent samples: ``(mean(a) - mean(b)) / pooled SD``.

    Parameters
    ----------
    a : array_like, shape (n_a,)
    b : array_like, shape (n_b,)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return math.nan
    pooled = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    diff = float(a.mean() - b.mean())
    return _ratio(diff, math.sqrt(pooled))


def paired_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Paired effect size ``d_z = mean(a - b) / SD(a - b)``.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Paired observations (same seeds, same order).

    Returns
    -------
    float
        ``±inf`` when every difference is the same non-zero number, 0 when all are zero.
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size < 2:
        return math.nan
    return _ratio(float(d.mean()), float(d.std(ddof=1)))


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return 0.0 if num == 0 else math.copysign(math.inf, num)


def paired_p_value(
    a: Sequence[float], b: Sequence[float], *, alternative: str, test: str = "wilcoxon"
) -> float:
    """p-value of a paired test of ``a - b`` against zero.

    Parameters
    ----------
    a, b : array_like, shape (n,)
    alternative : {"less", "greater", "two-sided"}
        ``"less"``: the alternative is ``a < b``.
    test : {"wilcoxon", "t"}
        Wilcoxon signed-rank (exact for small n, zero differences dropped) or paired t-test.

    Returns
    -------
    float
        1.0 when every difference is zero (no evidence either way).
    """
    check_choice("test", test, TESTS)
    check_choice("alternative", alternative, ("less", "greater", "two-sided"))
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size == 0 or np.all(d == 0):
        return 1.0
    if test == "wilcoxon":
        return float(stats.wilcoxon(d, alternative=alternative).pvalue)
    if np.all(d == d[0]):
        # Zero variance: the t statistic is ±inf, so the p-value is 0 or 1.
        same = (d[0] < 0) if alternative == "less" else (d[0] > 0)
        return 0.0 if (alternative == "two-sided" or same) else 1.0
    return float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)


def compare_paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    better: str,
    alpha: float = 0.05,
    test: str = "wilcoxon",
    min_pairs: int = 3,
    names: tuple[str, str] = ("a", "b"),
    rng: np.random.Generator | None = None,
) -> ClaimResult:
    """Judge "``a`` is better than ``b``" on paired samples.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Paired values (finite).
    better : {"lower", "higher"}
        Which direction is better for this metric.
    alpha : float
        Significance level of each one-sided test.
    test : {"wilcoxon", "t"}
    min_pairs : int
        Fewer usable pairs give "inconclusive".
    names : (str, str)
        How ``a`` and ``b`` are called in the detail sentence.
    rng : numpy.random.Generator, optional
        For the bootstrap CI (default: seeded with :data:`BOOTSTRAP_SEED`).

    Returns
    -------
    ClaimResult
        Numbers ``n``, ``mean_a``, ``mean_b``, ``mean_diff`` (a - b), ``ci_lo``/``ci_hi``
        (95% bootstrap CI of the mean difference), ``p_value`` (claimed direction),
        ``p_opposite``, ``d_z``.
    """
    check_choice("better", better, DIRECTIONS)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = int(a.size)
    claimed, opposite = ("less", "greater") if better == "lower" else ("greater", "less")
    label = "Wilcoxon signed-rank" if test == "wilcoxon" else "paired t-test"
    statistic = f"{label}, one-sided, across {n} paired seeds (alpha={alpha:g}); paired d_z"
    if n < min_pairs:
        return ClaimResult(
            "inconclusive",
            statistic,
            {"n": float(n)},
            f"only {n} usable pair(s) of {names[0]} and {names[1]}; need {min_pairs}",
        )
    diff = a - b
    lo, hi = bootstrap_ci(diff, rng=rng)
    p = paired_p_value(a, b, alternative=claimed, test=test)
    p_opp = paired_p_value(a, b, alternative=opposite, test=test)
    numbers = {
        "n": float(n),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_diff": float(diff.mean()),
        "ci_lo": lo,
        "ci_hi": hi,
        "p_value": p,
        "p_opposite": p_opp,
        "d_z": paired_d(a, b),
    }
    word = "lower" if better == "lower" else "higher"
    if p < alpha:
        verdict = "supported"
        detail = f"{names[0]} is {word} than {names[1]} (p = {p:.3g} < {alpha:g})"
    elif p_opp < alpha:
        verdict = "not supported"
        detail = f"the opposite holds: {names[1]} is {word} (p = {p_opp:.3g} < {alpha:g})"
    else:
        verdict = "inconclusive"
        detail = (
            f"no significant difference in either direction (p = {p:.3g}, "
            f"opposite p = {p_opp:.3g}, alpha = {alpha:g})"
        )
    return ClaimResult(verdict, statistic, numbers, detail)


def equivalent_paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    margin: float,
    alpha: float = 0.05,
    min_pairs: int = 3,
    names: tuple[str, str] = ("a", "b"),
) -> ClaimResult:
    """Judge "``a`` and ``b`` differ by less than ``margin``" by a paired TOST.

    The ``1 - 2 alpha`` t-interval of the mean paired difference inside ``(-margin, margin)``
    means supported; entirely outside it means not supported; straddling a bound means the
    seeds cannot tell (inconclusive).

    Parameters
    ----------
    a, b : array_like, shape (n,)
    margin : float
        Positive equivalence margin, in the metric's units.

    Returns
    -------
    ClaimResult
        Numbers ``n``, ``mean_a``, ``mean_b``, ``mean_diff``, ``ci_lo``/``ci_hi``
        (``1 - 2 alpha`` t-interval), ``margin``, ``d_z``.
    """
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin!r}")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = int(a.size)
    level = 1 - 2 * alpha
    statistic = (
        f"paired TOST: {level:.0%} t-interval of the mean difference across {n} "
        f"seeds inside ±{margin:g}"
    )
    if n < min_pairs:
        return ClaimResult(
            "inconclusive", statistic, {"n": float(n)}, f"only {n} usable pair(s); need {min_pairs}"
        )
    diff = a - b
    mean, lo, hi = t_interval(diff, confidence=level)
    numbers = {
        "n": float(n),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_diff": mean,
        "ci_lo": lo,
        "ci_hi": hi,
        "margin": float(margin),
        "d_z": paired_d(a, b),
    }
    ci = f"[{lo:.3g}, {hi:.3g}]"
    verdict = band_verdict(lo, hi, -margin, margin)
    where = {"supported": "inside", "not supported": "outside", "inconclusive": "which crosses"}
    return ClaimResult(
        verdict,
        statistic,
        numbers,
        f"{names[0]} - {names[1]} lies in {ci}, {where[verdict]} ±{margin:g}",
    )
