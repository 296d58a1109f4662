"""Statistics shared by every study's claims, and builders of claim evaluators.

A claim is judged on the per-trial summaries (one row per (arm, seed)), never on a single run:

* paired comparisons across seeds (seed ``s`` of arm A against seed ``s`` of arm B share the
  data split and, as far as the trial allows, the initialisation): a one-sided paired t-test
  (:func:`scipy.stats.ttest_rel`) or Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`),
  the paired effect size ``d_z`` (mean difference / SD of the differences) and a bootstrap CI
  of the mean difference;
* equivalence within a margin (two one-sided tests, TOST: the 90% t-interval of the mean
  paired difference must lie inside ``±margin`` for alpha = 0.05);
* a threshold on a mean with its t-interval.

Verdicts: **supported** when the test rejects in the claimed direction at ``alpha``;
**not supported** when it rejects in the opposite direction (or, for equivalence, the interval
lies outside the margin); **inconclusive** otherwise — including too few usable pairs. With 5
seeds a Wilcoxon test can reach p = 1/32 at best, so "inconclusive" is a real possibility and
is reported as such rather than rounded to a yes.

Each builder (:func:`paired_comparison`, :func:`paired_columns`, :func:`paired_equivalence`,
:func:`mean_threshold`) returns ``evaluate(summaries, histories) -> ClaimResult`` for
:class:`studies.study.Claim`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from dlkit._checks import check_choice
from studies.study import ClaimResult

__all__ = [
    "BOOTSTRAP_SEED",
    "all_of",
    "bootstrap_ci",
    "cohens_d",
    "compare_paired",
    "equivalent_paired",
    "mean_threshold",
    "paired_columns",
    "paired_comparison",
    "paired_gap",
    "paired_d",
    "paired_equivalence",
    "paired_p_value",
    "paired_samples",
    "joint_verdict",
    "usable_rows",
    "t_interval",
]

#: Seed of the bootstrap used when no generator is passed: re-evaluating a claim (e.g. by the
#: reporter, from the store) reproduces its numbers exactly.
BOOTSTRAP_SEED = 0
TESTS = ("wilcoxon", "t")
DIRECTIONS = ("lower", "higher")

Evaluator = Callable[[Any, Any], ClaimResult]


def joint_verdict(verdicts: Iterable[str]) -> str:
    """The verdict of a claim made of several conditions: supported when every condition is,
    not supported when any is not, inconclusive otherwise."""
    verdicts = list(verdicts)
    if all(v == "supported" for v in verdicts):
        return "supported"
    if "not supported" in verdicts:
        return "not supported"
    return "inconclusive"


def all_of(parts: Sequence[tuple[str, ClaimResult]], statistic: str) -> ClaimResult:
    """Join sub-results of a claim that has several conditions (:func:`joint_verdict`).

    Numbers are prefixed with the part's name (``"sigmoid.mean"``); the detail lists each
    part's verdict and detail.
    """
    numbers = {f"{name}.{k}": float(v) for name, r in parts for k, v in r.numbers.items()}
    detail = "; ".join(f"{name}: {r.verdict} ({r.detail})" for name, r in parts)
    return ClaimResult(joint_verdict(r.verdict for _, r in parts), statistic, numbers, detail)


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


def bootstrap_ci(
    values: Sequence[float],
    *,
    statistic: Callable[[np.ndarray], np.ndarray] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 5000,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``statistic``.

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
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    boot = statistic(x[idx], axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(boot, [tail, 100.0 - tail])
    return float(lo), float(hi)


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
    if -margin < lo and hi < margin:
        return ClaimResult(
            "supported",
            statistic,
            numbers,
            f"{names[0]} - {names[1]} lies in {ci}, inside ±{margin:g}",
        )
    if lo >= margin or hi <= -margin:
        return ClaimResult(
            "not supported",
            statistic,
            numbers,
            f"{names[0]} - {names[1]} lies in {ci}, outside ±{margin:g}",
        )
    return ClaimResult(
        "inconclusive",
        statistic,
        numbers,
        f"{names[0]} - {names[1]} lies in {ci}, which crosses ±{margin:g}",
    )


def usable_rows(summaries: Any, *, stage: str | None = None, arm: str | None = None) -> Any:
    """The trials a claim may use: not failed, and of ``stage`` / ``arm`` when given."""
    rows = summaries[summaries["status"] != "failed"]
    if stage is not None:
        rows = rows[rows["stage"] == stage]
    if arm is not None:
        rows = rows[rows["arm"] == arm]
    return rows


def paired_samples(
    summaries: Any,
    metric: str,
    arm_a: str,
    arm_b: str,
    *,
    stage: str | None = None,
    censor: float | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Pair ``metric`` of two arms by seed.

    Parameters
    ----------
    summaries : DataFrame
        One row per trial with columns ``arm``, ``seed``, ``status`` (and ``stage``).
    metric : str
        A summary column.
    arm_a, arm_b : str
    stage : str, optional
        Keep only rows of this stage.
    censor : float, optional
        Replace ``+inf`` (e.g. a target never reached) by this value, so such trials count
        as "at least this slow" instead of being dropped.

    Returns
    -------
    a, b : ndarray, shape (n,)
        Paired finite values, by seed; failed trials and NaNs are dropped.
    seeds : list of int
    """
    if metric not in summaries.columns:
        raise ValueError(f"no summary column {metric!r}; valid: {sorted(summaries.columns)}")
    rows = usable_rows(summaries, stage=stage)
    values = {}
    for arm in (arm_a, arm_b):
        sub = rows[rows["arm"] == arm]
        values[arm] = dict(zip(sub["seed"].astype(int), sub[metric].astype(float), strict=True))
    seeds = sorted(set(values[arm_a]) & set(values[arm_b]))
    a = np.array([values[arm_a][s] for s in seeds], dtype=float)
    b = np.array([values[arm_b][s] for s in seeds], dtype=float)
    if censor is not None:
        a, b = np.where(np.isposinf(a), censor, a), np.where(np.isposinf(b), censor, b)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep], [s for s, k in zip(seeds, keep, strict=True) if k]


def paired_comparison(
    metric: str,
    arm_a: str,
    arm_b: str,
    *,
    better: str,
    stage: str | None = None,
    test: str = "wilcoxon",
    alpha: float = 0.05,
    censor: float | str | None = None,
) -> Evaluator:
    """Evaluator of "arm ``arm_a`` beats ``arm_b`` on ``metric``" (paired across seeds).

    Parameters
    ----------
    censor : float or str, optional
        Value for ``+inf`` entries, or the name of a config column (e.g.
        ``"config.train.epochs"``) whose value plus one is used.
    """
    check_choice("better", better, DIRECTIONS)
    check_choice("test", test, TESTS)

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        cut = _censor_value(summaries, censor)
        a, b, _ = paired_samples(summaries, metric, arm_a, arm_b, stage=stage, censor=cut)
        result = compare_paired(
            a,
            b,
            better=better,
            alpha=alpha,
            test=test,
            names=(f"{arm_a} {metric}", f"{arm_b} {metric}"),
        )
        return _note_censor(result, cut)

    return evaluate


def paired_columns(
    col_a: str,
    col_b: str,
    *,
    better: str,
    arm: str | None = None,
    stage: str | None = None,
    test: str = "wilcoxon",
    alpha: float = 0.05,
    censor: float | None = None,
) -> Evaluator:
    """Evaluator of "column ``col_a`` beats ``col_b``", pairing the two within each trial.

    For trials that measure several variants at once (e.g. every optimizer's escape time from
    a saddle, per seed).
    """
    check_choice("better", better, DIRECTIONS)

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        for col in (col_a, col_b):
            if col not in summaries.columns:
                raise ValueError(f"no summary column {col!r}; valid: {sorted(summaries.columns)}")
        rows = usable_rows(summaries, stage=stage, arm=arm)
        a, b = rows[col_a].to_numpy(float), rows[col_b].to_numpy(float)
        if censor is not None:
            a, b = np.where(np.isposinf(a), censor, a), np.where(np.isposinf(b), censor, b)
        keep = np.isfinite(a) & np.isfinite(b)
        result = compare_paired(
            a[keep], b[keep], better=better, alpha=alpha, test=test, names=(col_a, col_b)
        )
        return _note_censor(result, censor)

    return evaluate


def paired_equivalence(
    metric: str,
    arm_a: str,
    arm_b: str,
    *,
    margin: float,
    stage: str | None = None,
    alpha: float = 0.05,
) -> Evaluator:
    """Evaluator of "arms ``arm_a`` and ``arm_b`` differ by less than ``margin`` on
    ``metric``" (paired TOST across seeds)."""

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        a, b, _ = paired_samples(summaries, metric, arm_a, arm_b, stage=stage)
        return equivalent_paired(
            a, b, margin=margin, alpha=alpha, names=(f"{arm_a} {metric}", f"{arm_b} {metric}")
        )

    return evaluate


def mean_threshold(
    metric: str,
    *,
    threshold: float,
    above: bool,
    arm: str | None = None,
    stage: str | None = None,
    confidence: float = 0.95,
) -> Evaluator:
    """Evaluator of "the mean of ``metric`` is above (or below) ``threshold``".

    Supported when the whole t-interval is on the claimed side, not supported when it is
    entirely on the other side, inconclusive when it contains the threshold.
    """

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        if metric not in summaries.columns:
            raise ValueError(f"no summary column {metric!r}; valid: {sorted(summaries.columns)}")
        rows = usable_rows(summaries, stage=stage, arm=arm)
        x = rows[metric].to_numpy(float)
        x = x[np.isfinite(x)]
        mean, lo, hi = t_interval(x, confidence)
        side = "above" if above else "below"
        statistic = (
            f"mean over {x.size} seeds with {confidence:.0%} t-interval, {side} {threshold:g}"
        )
        numbers = {
            "n": float(x.size),
            "mean": mean,
            "ci_lo": lo,
            "ci_hi": hi,
            "threshold": float(threshold),
        }
        if x.size < 2:
            return ClaimResult("inconclusive", statistic, numbers, "fewer than 2 usable seeds")
        ok, bad = (lo > threshold, hi < threshold) if above else (hi < threshold, lo > threshold)
        ci = f"[{lo:.3g}, {hi:.3g}]"
        if ok:
            return ClaimResult(
                "supported", statistic, numbers, f"interval {ci} is {side} {threshold:g}"
            )
        if bad:
            return ClaimResult(
                "not supported",
                statistic,
                numbers,
                f"interval {ci} is on the other side of {threshold:g}",
            )
        return ClaimResult(
            "inconclusive", statistic, numbers, f"interval {ci} contains {threshold:g}"
        )

    return evaluate


def _censor_value(summaries: Any, censor: float | str | None) -> float | None:
    if censor is None or isinstance(censor, int | float):
        return censor
    if censor not in summaries.columns:
        raise ValueError(
            f"censor column {censor!r} not in summaries; valid: {sorted(summaries.columns)}"
        )
    return float(summaries[censor].astype(float).max()) + 1.0


def _note_censor(result: ClaimResult, cut: float | None) -> ClaimResult:
    if cut is None:
        return result
    numbers = {**result.numbers, "censored_at": float(cut)}
    detail = f"{result.detail}; a target never reached counts as {cut:g}"
    return ClaimResult(result.verdict, result.statistic, numbers, detail)


def paired_gap(
    metric: str, arm_a: str, arm_b: str, *, threshold: float, confidence: float = 0.95
) -> Callable[[Any, Any], ClaimResult]:
    """Evaluator of "``metric`` of ``arm_a`` exceeds ``arm_b``'s by more than ``threshold``".

    Pairs the two arms by seed; supported when the t-interval of the mean paired difference
    ``a - b`` lies above ``threshold``, not supported when it lies below, inconclusive when
    it contains it (or fewer than 2 pairs are usable).
    """

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        a, b, _ = paired_samples(summaries, metric, arm_a, arm_b)
        diff = a - b
        mean, lo, hi = t_interval(diff, confidence)
        statistic = (
            f"paired difference {arm_a} - {arm_b} of {metric} across {diff.size} seeds, "
            f"mean with {confidence:.0%} t-interval, above {threshold:g}"
        )
        numbers = {
            "n": float(diff.size),
            "mean_a": float(a.mean()) if a.size else math.nan,
            "mean_b": float(b.mean()) if b.size else math.nan,
            "mean_diff": mean,
            "ci_lo": lo,
            "ci_hi": hi,
            "threshold": float(threshold),
        }
        if diff.size < 2:
            return ClaimResult("inconclusive", statistic, numbers, "fewer than 2 usable pairs")
        ci = f"[{lo:.3g}, {hi:.3g}]"
        if lo > threshold:
            return ClaimResult("supported", statistic, numbers, f"difference {ci} > {threshold:g}")
        if hi < threshold:
            return ClaimResult(
                "not supported", statistic, numbers, f"difference {ci} < {threshold:g}"
            )
        return ClaimResult(
            "inconclusive", statistic, numbers, f"difference {ci} contains {threshold:g}"
        )

    return evaluate
