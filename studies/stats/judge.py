"""A claim's evidence and its sequential verdict, with Holm's step-down across a study's claims.

A claim evaluator reduces the trials to :class:`Evidence`: one or more :class:`Comparison`\\ s,
each a per-seed series (a paired difference ``a - b``, or a value minus a threshold) with the
direction the claim asserts (or an equivalence margin) and the test to use. :func:`judge_claims`
puts every claim of a study through the :class:`~studies.stats.sequential.SequentialDesign` at
the look the study has reached, at Holm-adjusted levels:

* The claims are one family. All start at level ``alpha / m``; a claim decided (either way)
  passes its level on, and the others are judged again at ``alpha / (m - 1)`` over all looks so
  far, and so on (Holm 1979 carried over to group-sequential designs by Maurer & Bretz 2013).
* A claim of several comparisons (``"A below x and B above y"``) is an intersection-union test:
  supported when every comparison is, not supported when any is not, each at the claim's level.
* A claim still undecided at the last look is inconclusive, with the seeds a fixed-sample
  paired t-test would need for 80% power at the observed effect size (:func:`seeds_needed`).

An evaluator may still return a finished :class:`ClaimResult` (a fixed-sample verdict of its
own); such a claim is left out of the family and gets no seeds added.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlkit.validation import check_choice
from studies.stats.intervals import bootstrap_ci
from studies.stats.power import seeds_needed
from studies.stats.sequential import SEQUENTIAL_TESTS, Decision, SequentialDesign
from studies.stats.verdicts import ClaimResult

__all__ = [
    "COMPARISON_ALTERNATIVES",
    "Comparison",
    "Evidence",
    "Judgement",
    "judge_claims",
]

COMPARISON_ALTERNATIVES = ("greater", "less", "equivalence")
TARGET_POWER = 0.8
# Figures of each comparison copied into ClaimResult.numbers (prefixed by the part's name).
NUMBER_KEYS = (
    "n",
    "mean",
    "ci_lo",
    "ci_hi",
    "boot_ci_lo",
    "boot_ci_hi",
    "d_z",
    "p_value",
    "p_opposite",
    "statistic",
    "boundary",
)
_TEST_NAMES = {"t": "t-test of the per-seed values", "permutation": "sign-flip permutation test"}
_SPENDING_NAMES = {
    "obrien_fleming": "O'Brien-Fleming-type",
    "pocock": "Pocock-type",
    "bonferroni": "Bonferroni",
}


@dataclass(frozen=True)
class Comparison:
    """One sequential test of a claim: a per-seed series whose mean the claim is about.

    Attributes
    ----------
    values : tuple of float
        Per seed, in seed order: the paired difference ``a - b`` (or a value minus
        ``reference``). Finite; a seed without a usable value is left out.
    seeds : tuple of int
        The seed of each value, strictly increasing.
    alternative : {"greater", "less", "equivalence"}
        The claim: the mean lies above 0, below 0, or within ``±margin``.
    test : {"t", "permutation"}
        Paired t-test, or the sign-flip permutation test where the values are far from
        normal (a censored count, a heavy tail).
    margin : float, optional
        Equivalence margin (``alternative="equivalence"`` only), in the values' units.
    min_effect : float, optional
        For a directional claim, the smallest effect it is about (> 0, in the values'
        units): "not supported" then means the mean is significantly short of it (a futility
        stop, see :meth:`studies.stats.SequentialDesign.decide`), not only on the wrong side
        of 0.
    reference : float
        What was subtracted from the quantity before the test (a threshold; 0 for a paired
        difference); reports add it back to the mean and its interval.
    label : str
        What the series is, e.g. ``"adam - sgd epochs_to_target"``.
    arms : tuple of str
        The arms whose seeds it uses: the runner adds seeds to them while it is undecided.
    name : str
        The part's name in a claim of several comparisons.
    """

    values: Sequence[float]
    seeds: Sequence[int]
    alternative: str
    test: str = "t"
    margin: float | None = None
    reference: float = 0.0
    label: str = ""
    arms: Sequence[str] = ()
    name: str = ""
    min_effect: float | None = None

    def __post_init__(self) -> None:
        check_choice("alternative", self.alternative, COMPARISON_ALTERNATIVES)
        check_choice("test", self.test, SEQUENTIAL_TESTS)
        values = tuple(float(v) for v in np.asarray(self.values, dtype=float).ravel())
        seeds = tuple(int(s) for s in self.seeds)
        if len(values) != len(seeds):
            raise ValueError(f"{len(values)} values but {len(seeds)} seeds in {self.label!r}")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"values of {self.label!r} must be finite, got {values}")
        if any(b <= a for a, b in zip(seeds, seeds[1:])):
            raise ValueError(f"seeds must be strictly increasing, got {seeds}")
        if (self.alternative == "equivalence") != (self.margin is not None):
            raise ValueError("give margin exactly when alternative='equivalence'")
        if self.margin is not None and not (math.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be finite and > 0, got {self.margin!r}")
        if self.min_effect is not None:
            if self.alternative == "equivalence":
                raise ValueError("min_effect is for a directional claim, not an equivalence")
            if not (math.isfinite(self.min_effect) and self.min_effect > 0):
                raise ValueError(f"min_effect must be finite and > 0, got {self.min_effect!r}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "arms", tuple(self.arms))

    def sizes(self, looks: Sequence[int], reached: int) -> tuple[int, ...]:
        """Usable values at each of the first ``reached`` looks (seeds below ``looks[k]``)."""
        seeds = np.asarray(self.seeds, dtype=int)
        return tuple(int(np.count_nonzero(seeds < n)) for n in looks[:reached])

    def decide(self, design: SequentialDesign, reached: int) -> Decision:
        """The design's decision on the values of the first ``reached`` looks."""
        sizes = self.sizes(design.looks, reached)
        values = np.asarray(self.values[: sizes[-1]], dtype=float)
        if self.alternative == "equivalence":
            return design.equivalence(values, self.margin, self.test, sizes=sizes)
        return design.decide(
            values, self.alternative, self.test, sizes=sizes, min_effect=self.min_effect
        )


@dataclass(frozen=True)
class Evidence:
    """What a claim evaluator hands to the sequential design.

    Attributes
    ----------
    comparisons : tuple of Comparison
        All must be supported for the claim to be (intersection-union).
    numbers : dict of str to float
        Descriptive figures besides the tests' own (arm means, a ratio), for the details.
    detail : str
        A sentence of context appended to the verdict's explanation.
    """

    comparisons: Sequence[Comparison]
    numbers: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""

    def __post_init__(self) -> None:
        comparisons = tuple(self.comparisons)
        if not comparisons or not all(isinstance(c, Comparison) for c in comparisons):
            raise ValueError("Evidence needs at least one Comparison")
        names = [c.name for c in comparisons]
        if len(comparisons) > 1 and (len(set(names)) != len(names) or "" in names):
            raise ValueError(f"comparisons of one claim need distinct names, got {names}")
        object.__setattr__(self, "comparisons", comparisons)

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for c in self.comparisons for a in c.arms))


@dataclass(frozen=True)
class Judgement:
    """A claim at the look reached: its status and the result a report shows.

    Attributes
    ----------
    status : {"supported", "not supported", "continue", "inconclusive", "not evaluated"}
        "continue": undecided before the last look, so its ``arms`` need the next seeds.
    result : ClaimResult
        Verdict "inconclusive" while the status is "continue".
    arms : tuple of str
        Arms whose seeds the undecided comparisons use (empty once decided).
    """

    status: str
    result: ClaimResult
    arms: tuple[str, ...] = ()


def judge_claims(
    outcomes: Sequence[Evidence | ClaimResult],
    design: SequentialDesign,
    *,
    reached: int,
    statistics: Sequence[str] | None = None,
) -> list[Judgement]:
    """Judge a study's claims at look ``reached`` with Holm's step-down across them.

    Parameters
    ----------
    outcomes : sequence of Evidence or ClaimResult
        What each claim's evaluator returned; a ClaimResult is taken as it is.
    design : SequentialDesign
        Its ``alpha`` is the family's (per direction).
    reached : int
        The looks run so far, ``1 .. len(design.looks)``. The looks are replayed in order, as
        the runner took them: a claim keeps the verdict of the look that decided it.
    statistics : sequence of str, optional
        Each claim's own description of its statistic, prefixed to the design's.

    Returns
    -------
    list of Judgement, in the order of ``outcomes``.
    """
    if not 1 <= reached <= len(design.looks):
        raise ValueError(f"reached must be a look in 1..{len(design.looks)}, got {reached!r}")
    statistics = list(statistics) if statistics is not None else [""] * len(outcomes)
    family = [i for i, o in enumerate(outcomes) if isinstance(o, Evidence)]
    m = len(family)
    state: dict[int, tuple[str, list[Decision], float, int]] = {}
    final: set[int] = set()
    # The looks are replayed in order: a claim decided at a look keeps that verdict; the
    # others are judged at the next look at their (possibly raised) Holm level.
    for look in range(1, reached + 1):
        active = [i for i in family if i not in final]
        while active:
            level = design.alpha / len(active)
            at_level = dataclasses.replace(design, alpha=level)
            step = m - len(active) + 1
            decided = []
            for i in active:
                decisions = [c.decide(at_level, look) for c in outcomes[i].comparisons]
                status = _joint_status([d.verdict for d in decisions])
                state[i] = (status, decisions, level, step)
                if status in ("supported", "not supported"):
                    decided.append(i)
            if not decided:
                break
            final.update(decided)
            active = [i for i in active if i not in final]

    judgements = []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, ClaimResult):
            judgements.append(Judgement(outcome.verdict, outcome))
            continue
        status, decisions, level, step = state[i]
        result = _result(outcome, decisions, status, design, level, m, step, statistics[i])
        undecided = [c for c, d in zip(outcome.comparisons, decisions) if d.verdict == "continue"]
        arms = tuple(dict.fromkeys(a for c in undecided for a in c.arms))
        judgements.append(Judgement(status, result, arms if status == "continue" else ()))
    return judgements


def _joint_status(verdicts: Sequence[str]) -> str:
    if "not supported" in verdicts:
        return "not supported"
    if all(v == "supported" for v in verdicts):
        return "supported"
    return "continue" if "continue" in verdicts else "inconclusive"


def _seeds_needed(c: Comparison, d: Decision, level: float) -> int | None:
    """Seeds a fixed-sample paired t-test needs for 80% power at the observed effect (and,
    for a sign-flip test, at least the seeds whose smallest p-value is below ``level``)."""
    if not (d.n >= 2 and math.isfinite(d.d_z)):
        return None
    if c.alternative == "equivalence":
        sd = abs(d.mean_diff / d.d_z) if d.d_z else math.nan
        effect = (c.margin - abs(d.mean_diff)) / sd if sd > 0 else math.nan
    else:
        effect = d.d_z
    if not math.isfinite(effect) or effect == 0:
        return None
    needed = seeds_needed(effect, power=TARGET_POWER, alpha=level)
    if c.test == "permutation":
        # A sign-flip test of n seeds cannot go below p = 2^-n, whatever the effect.
        needed = max(needed, math.ceil(math.log2(1 / level)))
    return needed


def _part(c: Comparison, d: Decision, design: SequentialDesign, level: float) -> dict[str, Any]:
    at_level = dataclasses.replace(design, alpha=level)
    n = d.n
    values = np.asarray(c.values[:n], dtype=float)
    boot_lo, boot_hi = bootstrap_ci(values) if n >= 2 else (math.nan, math.nan)
    return {
        "name": c.name,
        "label": c.label,
        "alternative": c.alternative,
        "margin": c.margin,
        "min_effect": c.min_effect,
        "reference": c.reference,
        "test": d.test,
        "verdict": d.verdict,
        "look": d.look,
        "n": n,
        "looks": list(design.looks),
        "sizes": list(c.sizes(design.looks, d.look)),
        "statistics": [float(s) for s in d.statistics],
        "boundaries": [float(b) for b in at_level.t_boundaries],
        "boundary": d.boundary,
        "statistic": d.statistic,
        "p_value": d.p_value,
        "p_opposite": d.p_opposite,
        "nominal_alpha": d.nominal_alpha,
        "mean": d.mean_diff + c.reference,
        "ci_lo": d.ci_lo + c.reference,
        "ci_hi": d.ci_hi + c.reference,
        "ci_level": 1.0 - 2.0 * d.nominal_alpha,
        "boot_ci_lo": boot_lo + c.reference,
        "boot_ci_hi": boot_hi + c.reference,
        "d_z": d.d_z,
        # A power search per part: only for a verdict that is final and undecided.
        "seeds_needed": _seeds_needed(c, d, level) if d.verdict == "inconclusive" else None,
    }


def _statistic(evidence: Evidence, design: SequentialDesign, m: int, own: str) -> str:
    tests = sorted({_TEST_NAMES[c.test] for c in evidence.comparisons})
    looks = "/".join(str(n) for n in design.looks)
    text = (
        f"{' and '.join(tests)}, one-sided per direction; group-sequential with "
        f"{_SPENDING_NAMES[design.spending]} boundaries at {looks} seeds; "
        f"Holm across {m} claim{'s' if m != 1 else ''} (family alpha {design.alpha:g})"
    )
    return f"{own}. {text}" if own else text


def _describe(c: Comparison, p: Mapping[str, Any]) -> str:
    where = f"{p['label'] or 'mean'} = {p['mean']:.4g} [{p['ci_lo']:.4g}, {p['ci_hi']:.4g}]"
    if c.alternative == "equivalence":
        claim = f"within ±{c.margin:g}"
    else:
        claim = f"{'above' if c.alternative == 'greater' else 'below'} {c.reference:g}"
        if c.min_effect is not None:
            claim += f", smallest effect of interest {c.min_effect:g}"
    if p["verdict"] == "not supported" and c.min_effect is not None:
        how = (
            f"the interval lies short of the smallest effect of interest (futility: t against "
            f"{c.min_effect:g} crossed the boundary ±{p['boundary']:.3g})"
        )
    elif p["verdict"] in ("supported", "not supported"):
        crossed = "the boundary" if p["verdict"] == "supported" else "the opposite boundary"
        how = f"t = {p['statistic']:.3g} crossed {crossed} ±{p['boundary']:.3g}"
    else:
        how = f"t = {p['statistic']:.3g} within ±{p['boundary']:.3g}"
    head = f"{p['name']}: " if p["name"] else ""
    return f"{head}{where} (claimed {claim}); {how} at look {p['look']} ({p['n']} seeds)"


def _result(
    evidence: Evidence,
    decisions: Sequence[Decision],
    status: str,
    design: SequentialDesign,
    level: float,
    m: int,
    step: int,
    own_statistic: str,
) -> ClaimResult:
    parts = [_part(c, d, design, level) for c, d in zip(evidence.comparisons, decisions)]
    verdict = "inconclusive" if status == "continue" else status
    numbers: dict[str, float] = {}
    for p in parts:
        prefix = f"{p['name']}." if p["name"] else ""
        for key in NUMBER_KEYS:
            numbers[prefix + key] = float(p[key])
    numbers.update({k: float(v) for k, v in evidence.numbers.items()})
    # A supported claim is decided when its last part is, a refuted one when its first
    # refuted part is; an undecided one is at the look reached.
    if verdict == "not supported":
        look = min(p["look"] for p in parts if p["verdict"] == "not supported")
    else:
        look = max(p["look"] for p in parts)
    seeds = max(p["n"] for p in parts)
    needed = [p["seeds_needed"] for p in parts if p["seeds_needed"] is not None]
    holm = f"Holm level {level:.3g} of alpha {design.alpha:g} ({m} claims, step {step})"
    lines = "; ".join(_describe(c, p) for c, p in zip(evidence.comparisons, parts))
    if status == "continue":
        head = f"undecided at look {look}: more seeds are being added"
    elif verdict == "inconclusive":
        head = f"undecided after the last look ({seeds} seeds)"
        if needed:
            head += f"; about {max(needed)} seeds would decide it with 80% power"
    else:
        head = f"{verdict} at look {look} ({seeds} seeds)"
    detail = f"{head}. {lines}. {holm}."
    if evidence.detail:
        detail += f" {evidence.detail}"
    return ClaimResult(
        verdict,
        _statistic(evidence, design, m, own_statistic),
        numbers,
        detail,
        seeds=seeds,
        look=look,
        level=level,
        alpha=design.alpha,
        family=m,
        test="+".join(sorted({p["test"] for p in parts})),
        seeds_needed=max(needed) if needed and verdict == "inconclusive" else None,
        parts=tuple(parts),
    )
