"""Every statistic of the studies: intervals, bootstrap, paired tests, effect sizes, verdicts.

Pure functions over arrays and one result object (:class:`ClaimResult`), in the manner of
``scipy.stats``: nothing here reads a frame, a store or a study. The claim evaluators of
:mod:`studies.engine.claims`, the runner's seed aggregates, the reporter's tables and plots
and the catalogue's own claims all call these, so a number in a report is computed once.

* Paired comparisons across seeds (seed ``s`` of arm A against seed ``s`` of arm B share the
  data split and, as far as the trial allows, the initialisation): a one-sided paired t-test
  (:func:`scipy.stats.ttest_rel`) or Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`),
  the paired effect size ``d_z`` (mean difference / SD of the differences) and a bootstrap CI
  of the mean difference (:func:`compare_paired`).
* Equivalence within a margin (two one-sided tests, TOST: the 90% t-interval of the mean
  paired difference must lie inside ``±margin`` for alpha = 0.05; :func:`equivalent_paired`).
* An interval against a threshold (:func:`interval_verdict`).

Verdicts: **supported** when the test rejects in the claimed direction at ``alpha``;
**not supported** when it rejects in the opposite direction (or, for equivalence, the interval
lies outside the margin); **inconclusive** otherwise — including too few usable pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from dlkit.validation import check_choice

__all__ = [
    "BOOTSTRAP_SEED",
    "VERDICTS",
    "ClaimResult",
    "band_verdict",
    "bootstrap_ci",
    "bootstrap_distribution",
    "cohens_d",
    "compare_paired",
    "equivalent_paired",
    "interval_verdict",
    "joint_verdict",
    "paired_d",
    "paired_p_value",
    "percentile_interval",
    "t_interval",
]

VERDICTS = ("supported", "not supported", "inconclusive")
#: Seed of the bootstrap used when no generator is passed: re-evaluating a claim (e.g. by the
#: reporter, from the store) reproduces its numbers exactly.
BOOTSTRAP_SEED = 0
TESTS = ("wilcoxon", "t")
DIRECTIONS = ("lower", "higher")
SIDES = ("above", "below")


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict with the numbers behind it.

    Attributes
    ----------
    verdict : {"supported", "not supported", "inconclusive"}
    statistic : str
        The statistic used, e.g. ``"Wilcoxon signed-rank, one-sided, n=5 seeds"``.
    numbers : dict of str to float
        The figures a reader checks (means, difference, p-value, effect size, CI bounds).
    detail : str
        One or two sentences saying how the verdict follows from the numbers.
    """

    verdict: str
    statistic: str
    numbers: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, VERDICTS)


def joint_verdict(verdicts: Iterable[str]) -> str:
    """The verdict of a claim made of several conditions: supported when every condition is,
    not supported when any is not, inconclusive otherwise."""
    verdicts = list(verdicts)
    if all(v == "supported" for v in verdicts):
        return "supported"
    if "not supported" in verdicts:
        return "not supported"
    return "inconclusive"


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of the mean.

    Parameters
    ----------
    values : array_like, shape (n,)
    confidence : float

    Returns
    -------
    (mean, lo, hi) : tuple of float
        ``lo = hi = mean`` when all values are equal; ``lo = hi = nan`` when ``n < 2``.
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n < 2 or not np.all(np.isfinite(x)):
        return mean, math.nan, math.nan
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    if sem == 0.0:
        return mean, mean, mean
    lo, hi = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def bootstrap_distribution(
    samples: Sequence[Sequence[float]] | Sequence[np.ndarray],
    statistic: Callable[..., np.ndarray],
    *,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The bootstrap distribution of ``statistic`` over paired resamples of ``samples``.

    Every resample draws the same row indices for each sample, so paired observations (one
    seed's values) stay together.

    Parameters
    ----------
    samples : sequence of array_like, each of shape (n, ...)
        Paired samples (row ``i`` of each belongs to observation ``i``).
    statistic : callable
        ``statistic(*resampled) -> array of shape (n_resamples,)``, each resampled sample of
        shape (n_resamples, n, ...).
    n_resamples : int
    rng : numpy.random.Generator
        Draws the indices, one ``(n_resamples, n)`` array.

    Returns
    -------
    ndarray, shape (n_resamples,)
    """
    arrays = [np.asarray(s, dtype=float) for s in samples]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"paired samples must have equal lengths, got {[len(a) for a in arrays]}")
    idx = rng.integers(0, n, size=(n_resamples, n))
    return np.asarray(statistic(*(a[idx] for a in arrays)), dtype=float)


def percentile_interval(
    distribution: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float]:
    """Equal-tailed percentile interval of a bootstrap distribution, shape (n_resamples,)."""
    # (100 - 100 c) / 2 is exactly 2.5 for c = 0.95, where (1 - c) / 2 * 100 is not.
    tail = (100.0 - 100.0 * confidence) / 2.0
    lo, hi = np.percentile(np.asarray(distribution, dtype=float), [tail, 100.0 - tail])
    return float(lo), float(hi)


def bootstrap_ci(
    values: Sequence[float],
    *,
    statistic: Callable[..., np.ndarray] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 5000,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``statistic`` of one sample.

    Parameters
    ----------
    values : array_like, shape (n,)
    statistic : callable
        Reduces an array of shape (n_resamples, n) along ``axis=1``.
    confidence : float
    n_resamples : int
    rng : numpy.random.Generator, optional
        Defaults to ``np.random.default_rng(BOOTSTRAP_SEED)``.

    Returns
    -------
    (lo, hi) : tuple of float
        NaN when ``n < 2``.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(BOOTSTRAP_SEED) if rng is None else rng
    boot = bootstrap_distribution(
        [x], lambda r: statistic(r, axis=1), n_resamples=n_resamples, rng=rng
    )
    return percentile_interval(boot, confidence)


def interval_verdict(lo: float, hi: float, threshold: float, *, side: str) -> str:
    """Verdict of "the quantity lies ``side`` of ``threshold``" from its interval [lo, hi].

    Supported when the whole interval is on that side, not supported when the whole interval
    is on the other side, inconclusive when it contains the threshold (or is NaN).

    Parameters
    ----------
    lo, hi : float
        A confidence interval of the quantity.
    threshold : float
    side : {"above", "below"}
    """
    check_choice("side", side, SIDES)
    ok, bad = (
        (lo > threshold, hi < threshold) if side == "above" else (hi < threshold, lo > threshold)
    )
    return "supported" if ok else "not supported" if bad else "inconclusive"


def band_verdict(lo: float, hi: float, low: float, high: float) -> str:
    """Verdict of "the quantity lies inside (low, high)" from its interval [lo, hi].

    Supported when the interval lies strictly inside the band (the TOST rule), not supported
    when it lies wholly outside it, inconclusive when it straddles a bound (or is NaN).
    """
    if low < lo and hi < high:
        return "supported"
    if hi <= low or lo >= high:
        return "not supported"
    return "inconclusive"


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
