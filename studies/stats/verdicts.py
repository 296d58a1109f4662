"""Verdicts and the claim result object: the three verdict words and the interval rules.

A judged claim ends in one of :data:`VERDICTS`; a claim a run left out ends "not evaluated"
(:data:`NOT_EVALUATED`). :func:`interval_verdict` and :func:`band_verdict`
read a verdict off a confidence interval; :func:`joint_verdict` combines the verdicts of a
claim made of several conditions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dlkit.validation import check_choice

__all__ = [
    "SIDES",
    "CLAIM_VERDICTS",
    "NOT_EVALUATED",
    "VERDICTS",
    "ClaimResult",
    "band_verdict",
    "interval_verdict",
    "joint_verdict",
]

VERDICTS = ("supported", "not supported", "inconclusive")
#: A claim left out of a run (``--arms`` did not select the arms it compares): no verdict.
NOT_EVALUATED = "not evaluated"
#: Every verdict a claim's result may carry.
CLAIM_VERDICTS = (*VERDICTS, NOT_EVALUATED)
SIDES = ("above", "below")


@dataclass(frozen=True)
class ClaimResult:
    """A claim's verdict with the numbers behind it.

    Attributes
    ----------
    verdict : {"supported", "not supported", "inconclusive", "not evaluated"}
        "not evaluated": the run did not include the arms the claim compares (``--arms``).
    statistic : str
        The statistic used, e.g. ``"Wilcoxon signed-rank, one-sided, n=5 seeds"``.
    numbers : dict of str to float
        The figures a reader checks (means, difference, p-value, effect size, CI bounds).
    detail : str
        One or two sentences saying how the verdict follows from the numbers.
    seeds : int, optional
        Seeds (pairs) the verdict rests on; set by the sequential design
        (:func:`studies.stats.judge_claims`), like the fields below.
    look : int, optional
        1-based look at which the claim was decided (or the look reached, if undecided).
    level : float, optional
        The per-direction level the verdict used: Holm's ``alpha / (claims left)``.
    alpha : float, optional
        The family's (raw) alpha.
    family : int, optional
        Claims in the Holm family.
    test : str, optional
        ``"t"``, ``"permutation"`` (or both, ``"permutation+t"``).
    seeds_needed : int, optional
        For an inconclusive claim: seeds a fixed-sample paired t-test needs for 80% power at
        the observed effect size.
    parts : tuple of dict
        One per comparison of the claim: its verdict, look, seeds, the statistic at each look
        and the boundaries (a monitoring chart), the mean with its repeated confidence
        interval and the bootstrap interval, ``d_z``, p-values.
    """

    verdict: str
    statistic: str
    numbers: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    seeds: int | None = None
    look: int | None = None
    level: float | None = None
    alpha: float | None = None
    family: int | None = None
    test: str | None = None
    seeds_needed: int | None = None
    parts: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, CLAIM_VERDICTS)


def joint_verdict(verdicts: Iterable[str]) -> str:
    """The verdict of a claim made of several conditions: supported when every condition is,
    not supported when any is not, inconclusive otherwise."""
    verdicts = list(verdicts)
    if all(v == "supported" for v in verdicts):
        return "supported"
    if "not supported" in verdicts:
        return "not supported"
    return "inconclusive"


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
