"""Builders of claim evaluators: which trials, which columns, which comparison.

Each builder (:func:`paired_comparison`, :func:`paired_columns`, :func:`paired_equivalence`,
:func:`mean_threshold`, :func:`paired_gap`) returns ``evaluate(summaries, histories) ->
Evidence`` for :class:`studies.engine.spec.Claim`: the per-seed series the claim is about
(:class:`studies.stats.Comparison`), the direction it asserts and the arms it uses.
:func:`all_of` joins the evidence of a claim with several conditions. They select rows of the
frames (:func:`usable_rows`, :func:`paired_samples`); the verdict comes from the study's
sequential design (:func:`studies.stats.judge_claims`), which computes every number.
"""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from dlkit.validation import check_choice
from studies.engine.overrides import arm_selected
from studies.stats import (
    DIRECTIONS,
    NOT_EVALUATED,
    SEQUENTIAL_TESTS,
    ClaimResult,
    Comparison,
    Evidence,
    Judgement,
    SequentialDesign,
    judge_claims,
)

__all__ = [
    "all_of",
    "judge_study",
    "mean_threshold",
    "paired_columns",
    "paired_comparison",
    "paired_equivalence",
    "paired_gap",
    "paired_samples",
    "rows_by_seed",
    "usable_rows",
]

log = logging.getLogger(__name__)

Evaluator = Callable[[Any, Any], Evidence | ClaimResult]


def judge_study(
    claims: Sequence[Any],
    summaries: Any,
    histories: Any,
    design: SequentialDesign,
    *,
    reached: int,
    selected_arms: Collection[str] | None = None,
) -> list[Judgement]:
    """Evaluate every claim on the frames and judge them at look ``reached``.

    The one place a study's verdicts come from: the runner after each look, and the reporter
    when it checks the logged verdicts against the store. A claim whose evaluator raises (or
    returns neither Evidence nor a ClaimResult) is inconclusive, with the error in its
    detail; the others go through :func:`studies.stats.judge_claims` (Holm across them).

    ``selected_arms`` (a run of some arms only, ``--arms``): a claim that compares an arm not
    among them, or whose evaluator cannot find the rows it needs, is "not evaluated" and
    leaves the Holm family, instead of ending inconclusive for want of trials never run.
    """
    outcomes: list[Evidence | ClaimResult] = []
    for claim in claims:
        try:
            outcome = claim.evaluate(summaries, histories)
            if not isinstance(outcome, Evidence | ClaimResult):
                raise TypeError(
                    f"evaluate returned {type(outcome).__name__}; expected Evidence "
                    "(or a ClaimResult)"
                )
        except Exception as err:
            if selected_arms is not None:
                outcome = _not_evaluated(claim, selected_arms, f"{type(err).__name__}: {err}")
            else:
                log.warning(
                    "claim %r could not be evaluated:\n%s", claim.id, traceback.format_exc()
                )
                outcome = ClaimResult(
                    "inconclusive",
                    claim.statistic,
                    {},
                    f"could not be evaluated: {type(err).__name__}: {err}",
                )
        if selected_arms is not None and isinstance(outcome, Evidence):
            missing = [a for a in outcome.arms if not arm_selected(a, list(selected_arms))]
            if missing:
                outcome = _not_evaluated(claim, selected_arms, f"it compares {missing}")
        outcomes.append(outcome)
    statistics = [c.statistic for c in claims]
    return judge_claims(outcomes, design, reached=reached, statistics=statistics)


def _not_evaluated(claim: Any, selected: Collection[str], why: str) -> ClaimResult:
    return ClaimResult(
        NOT_EVALUATED,
        claim.statistic,
        {},
        f"this run has only the arms {', '.join(selected)} (--arms) and the "
        f"claim needs others ({why})",
    )


def all_of(parts: Sequence[tuple[str, Evidence]]) -> Evidence:
    """Join the evidence of a claim that has several conditions: supported when every
    condition is (an intersection-union test, each at the claim's level).

    Comparisons are renamed by their part (``"sigmoid"``, or ``"sigmoid.<name>"`` for a part
    of several); numbers are prefixed the same way.
    """
    comparisons, numbers, details = [], {}, []
    for name, evidence in parts:
        for c in evidence.comparisons:
            comparisons.append(replace(c, name=f"{name}.{c.name}" if c.name else name))
        numbers.update({f"{name}.{k}": float(v) for k, v in evidence.numbers.items()})
        if evidence.detail:
            details.append(f"{name}: {evidence.detail}")
    return Evidence(comparisons, numbers=numbers, detail=" ".join(details))


def usable_rows(summaries: Any, *, stage: str | None = None, arm: str | None = None) -> Any:
    """The trials a claim may use: not failed, and of ``stage`` / ``arm`` when given."""
    rows = summaries[summaries["status"] != "failed"]
    if stage is not None:
        rows = rows[rows["stage"] == stage]
    if arm is not None:
        rows = rows[rows["arm"] == arm]
    return rows


def rows_by_seed(
    summaries: Any,
    columns: Sequence[str],
    *,
    stage: str | None = None,
    arm: str | None = None,
) -> Any:
    """The usable trials of ``stage`` / ``arm`` in seed order, one per seed.

    For a claim whose per-seed values come from single trials (a threshold on one arm, two
    columns of one trial).

    Raises
    ------
    ValueError
        For a column not in ``summaries``, or two trials of one seed (rows of several arms:
        give ``arm``).
    """
    for col in columns:
        if col not in summaries.columns:
            raise ValueError(f"no summary column {col!r}; valid: {sorted(summaries.columns)}")
    rows = usable_rows(summaries, stage=stage, arm=arm).sort_values("seed")
    if rows["seed"].duplicated().any():
        raise ValueError(
            f"{list(columns)} need one trial per seed; give arm= (arms: {sorted(set(rows['arm']))})"
        )
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


def _alternative(better: str) -> str:
    """The sequential test's alternative for "a beats b" on a metric where ``better`` wins."""
    check_choice("better", better, DIRECTIONS)
    return "less" if better == "lower" else "greater"


def paired_comparison(
    metric: str,
    arm_a: str,
    arm_b: str,
    *,
    better: str,
    stage: str | None = None,
    test: str = "t",
    censor: float | str | None = None,
    min_effect: float | None = None,
) -> Evaluator:
    """Evaluator of "arm ``arm_a`` beats ``arm_b`` on ``metric``" (paired across seeds).

    Parameters
    ----------
    metric : str
        A summary column.
    arm_a, arm_b : str
    better : {"lower", "higher"}
        Which direction of ``metric`` is better.
    stage : str, optional
    test : {"t", "permutation"}
        Paired t-test (default), or the sign-flip permutation test for differences far from
        normal (a censored count such as epochs-to-target).
    censor : float or str, optional
        Value for ``+inf`` entries, or the name of a config column (e.g.
        ``"config.train.epochs"``) whose value plus one is used.
    min_effect : float, optional
        The smallest effect the claim is about, in the metric's units (> 0): a mean
        significantly short of it ends the claim "not supported" (a futility stop) instead of
        running it to an inconclusive last look. State why that size matters in the claim's
        statistic.

    Returns
    -------
    callable
        ``evaluate(summaries, histories) -> Evidence`` of one comparison, ``a - b`` per seed.
    """
    alternative = _alternative(better)
    check_choice("test", test, SEQUENTIAL_TESTS)

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        cut = _censor_value(summaries, censor)
        comparison, means = _arm_pair(
            summaries,
            metric,
            arm_a,
            arm_b,
            alternative,
            test,
            stage=stage,
            censor=cut,
            min_effect=min_effect,
        )
        return _censored(Evidence([comparison], numbers=means), cut)

    return evaluate


def paired_columns(
    col_a: str,
    col_b: str,
    *,
    better: str,
    arm: str | None = None,
    stage: str | None = None,
    test: str = "t",
    censor: float | None = None,
) -> Evaluator:
    """Evaluator of "column ``col_a`` beats ``col_b``", pairing the two within each trial.

    For trials that measure several variants at once (e.g. every optimizer's escape time from
    a saddle, per seed). The rows (of ``arm`` and ``stage`` when given) must have one trial
    per seed.
    """
    alternative = _alternative(better)
    check_choice("test", test, SEQUENTIAL_TESTS)

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        rows = rows_by_seed(summaries, (col_a, col_b), stage=stage, arm=arm)
        seeds = rows["seed"].astype(int).to_numpy()
        a, b = rows[col_a].to_numpy(float), rows[col_b].to_numpy(float)
        if censor is not None:
            a, b = np.where(np.isposinf(a), censor, a), np.where(np.isposinf(b), censor, b)
        keep = np.isfinite(a) & np.isfinite(b)
        comparison = Comparison(
            a[keep] - b[keep],
            seeds[keep],
            alternative,
            test,
            label=f"{col_a} - {col_b}",
            arms=tuple(dict.fromkeys(rows["arm"])),
        )
        return _censored(Evidence([comparison], numbers=_means(a[keep], b[keep])), censor)

    return evaluate


def paired_equivalence(
    metric: str,
    arm_a: str,
    arm_b: str,
    *,
    margin: float,
    stage: str | None = None,
    test: str = "t",
) -> Evaluator:
    """Evaluator of "arms ``arm_a`` and ``arm_b`` differ by less than ``margin`` on
    ``metric``" (sequential paired TOST across seeds)."""
    check_choice("test", test, SEQUENTIAL_TESTS)

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        comparison, means = _arm_pair(
            summaries, metric, arm_a, arm_b, "equivalence", test, stage=stage, margin=margin
        )
        return Evidence([comparison], numbers={**means, "margin": float(margin)})

    return evaluate


def mean_threshold(
    metric: str,
    *,
    threshold: float,
    above: bool,
    arm: str | None = None,
    stage: str | None = None,
    test: str = "t",
    min_effect: float | None = None,
) -> Evaluator:
    """Evaluator of "the mean of ``metric`` is above (or below) ``threshold``".

    A one-sample sequential test of ``metric - threshold`` across seeds; the rows (of ``arm``
    and ``stage`` when given) must have one trial per seed. ``min_effect``: as for
    :func:`paired_comparison` (the smallest distance from ``threshold`` that matters).
    """
    check_choice("test", test, SEQUENTIAL_TESTS)

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        rows = rows_by_seed(summaries, (metric,), stage=stage, arm=arm)
        seeds = rows["seed"].astype(int).to_numpy()
        x = rows[metric].to_numpy(float)
        keep = np.isfinite(x)
        comparison = Comparison(
            x[keep] - threshold,
            seeds[keep],
            "greater" if above else "less",
            test,
            reference=float(threshold),
            label=f"{arm + ' ' if arm else ''}{metric}",
            arms=tuple(dict.fromkeys(rows["arm"])),
            min_effect=min_effect,
        )
        return Evidence([comparison], numbers={"threshold": float(threshold)})

    return evaluate


def _censor_value(summaries: Any, censor: float | str | None) -> float | None:
    if censor is None or isinstance(censor, int | float):
        return censor
    if censor not in summaries.columns:
        raise ValueError(
            f"censor column {censor!r} not in summaries; valid: {sorted(summaries.columns)}"
        )
    return float(summaries[censor].astype(float).max()) + 1.0


def _censored(evidence: Evidence, cut: float | None) -> Evidence:
    if cut is None:
        return evidence
    return Evidence(
        evidence.comparisons,
        numbers={**evidence.numbers, "censored_at": float(cut)},
        detail=f"A target never reached counts as {cut:g}.",
    )


def _arm_pair(
    summaries: Any,
    metric: str,
    arm_a: str,
    arm_b: str,
    alternative: str,
    test: str,
    *,
    stage: str | None,
    censor: float | None = None,
    margin: float | None = None,
    reference: float = 0.0,
    min_effect: float | None = None,
) -> tuple[Comparison, dict[str, float]]:
    """The comparison of ``metric`` between two arms, paired by seed: ``a - b - reference``
    per seed, and the two arms' means."""
    a, b, seeds = paired_samples(summaries, metric, arm_a, arm_b, stage=stage, censor=censor)
    comparison = Comparison(
        a - b - reference,
        seeds,
        alternative,
        test,
        margin=margin,
        reference=float(reference),
        label=f"{arm_a} - {arm_b} {metric}",
        arms=(arm_a, arm_b),
        min_effect=min_effect,
    )
    return comparison, _means(a, b)


def _means(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {
        "mean_a": float(a.mean()) if a.size else math.nan,
        "mean_b": float(b.mean()) if b.size else math.nan,
    }


def paired_gap(
    metric: str,
    arm_a: str,
    arm_b: str,
    *,
    threshold: float,
    stage: str | None = None,
    test: str = "t",
) -> Evaluator:
    """Evaluator of "``metric`` of ``arm_a`` exceeds ``arm_b``'s by more than ``threshold``".

    A sequential test of the paired difference ``a - b`` minus ``threshold`` against 0.
    """
    check_choice("test", test, SEQUENTIAL_TESTS)

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        comparison, means = _arm_pair(
            summaries, metric, arm_a, arm_b, "greater", test, stage=stage, reference=threshold
        )
        return Evidence([comparison], numbers={**means, "threshold": float(threshold)})

    return evaluate
