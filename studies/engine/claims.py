"""Builders of claim evaluators: which trials, which columns, which statistic.

Each builder (:func:`paired_comparison`, :func:`paired_columns`, :func:`paired_equivalence`,
:func:`mean_threshold`, :func:`paired_gap`) returns ``evaluate(summaries, histories) ->
ClaimResult`` for :class:`studies.engine.spec.Claim`. They select rows of the frames
(:func:`usable_rows`, :func:`paired_samples`) and hand the arrays to :mod:`studies.stats`,
which computes every number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlkit.validation import check_choice
from studies.stats import (
    DIRECTIONS,
    TESTS,
    ClaimResult,
    compare_paired,
    equivalent_paired,
    interval_verdict,
    joint_verdict,
    t_interval,
)

__all__ = [
    "all_of",
    "mean_threshold",
    "paired_columns",
    "paired_comparison",
    "paired_equivalence",
    "paired_gap",
    "paired_samples",
    "usable_rows",
]

Evaluator = Callable[[Any, Any], ClaimResult]


def all_of(parts: Sequence[tuple[str, ClaimResult]], statistic: str) -> ClaimResult:
    """Join sub-results of a claim that has several conditions (:func:`joint_verdict`).

    Numbers are prefixed with the part's name (``"sigmoid.mean"``); the detail lists each
    part's verdict and detail.
    """
    numbers = {f"{name}.{k}": float(v) for name, r in parts for k, v in r.numbers.items()}
    detail = "; ".join(f"{name}: {r.verdict} ({r.detail})" for name, r in parts)
    return ClaimResult(joint_verdict(r.verdict for _, r in parts), statistic, numbers, detail)


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
        verdict = interval_verdict(lo, hi, threshold, side=side)
        ci = f"[{lo:.3g}, {hi:.3g}]"
        detail = {
            "supported": f"interval {ci} is {side} {threshold:g}",
            "not supported": f"interval {ci} is on the other side of {threshold:g}",
            "inconclusive": f"interval {ci} contains {threshold:g}",
        }[verdict]
        return ClaimResult(verdict, statistic, numbers, detail)

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
        verdict = interval_verdict(lo, hi, threshold, side="above")
        relation = {"supported": ">", "not supported": "<", "inconclusive": "contains"}[verdict]
        return ClaimResult(verdict, statistic, numbers, f"difference {ci} {relation} {threshold:g}")

    return evaluate
