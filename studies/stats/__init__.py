"""Every statistic of the studies: intervals, bootstrap, paired tests, sequential designs,
power and multiplicity.

Pure functions over arrays and small result objects (:class:`ClaimResult`, :class:`Decision`),
in the manner of ``scipy.stats``: nothing here reads a frame, a store or a study. The claim
evaluators of :mod:`studies.engine.claims`, the runner's seed aggregates, the reporter's tables
and plots and the catalogue's own claims all call these, so a number in a report is computed
once.

* Paired comparisons across seeds (seed ``s`` of arm A against seed ``s`` of arm B share the
  data split and, as far as the trial allows, the initialisation): a one-sided paired t-test
  (:func:`scipy.stats.ttest_rel`) or Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`),
  the paired effect size ``d_z`` (mean difference / SD of the differences) and a bootstrap CI
  of the mean difference (:func:`compare_paired`; module :mod:`studies.stats.paired`).
* Equivalence within a margin (two one-sided tests, TOST: the 90% t-interval of the mean
  paired difference must lie inside ``±margin`` for alpha = 0.05; :func:`equivalent_paired`).
* An interval against a threshold (:func:`interval_verdict`; :mod:`studies.stats.verdicts`).
* Group-sequential designs (:class:`SequentialDesign`, :mod:`studies.stats.sequential`): looks
  at planned seed counts with alpha-spending boundaries, so seeds are added until a claim is
  decided while the error rate of each verdict stays at most ``alpha``.
* A claim's :class:`Evidence` (per-seed :class:`Comparison` series) judged by the design at
  the look reached, with Holm's step-down across a study's claims (:func:`judge_claims`,
  :mod:`studies.stats.judge`).
* Seeds needed for a given power (:func:`seeds_needed`, :mod:`studies.stats.power`) and Holm's
  step-down across the claims of one study (:func:`holm`, :mod:`studies.stats.multiplicity`).

Verdicts: **supported** when the test rejects in the claimed direction at ``alpha``;
**not supported** when it rejects in the opposite direction (or, for equivalence, the interval
lies outside the margin); **inconclusive** otherwise — including too few usable pairs. A
sequential :class:`Decision` may also say **continue** (add seeds) before its last look.
"""

from studies.stats.intervals import (
    BOOTSTRAP_SEED,
    bootstrap_ci,
    bootstrap_distribution,
    percentile_interval,
    t_interval,
)
from studies.stats.judge import (
    COMPARISON_ALTERNATIVES,
    Comparison,
    Evidence,
    Judgement,
    judge_claims,
)
from studies.stats.multiplicity import holm, holm_adjusted, holm_levels
from studies.stats.paired import (
    DIRECTIONS,
    TESTS,
    cohens_d,
    compare_paired,
    equivalent_paired,
    paired_d,
    paired_p_value,
)
from studies.stats.power import paired_t_power, seeds_needed
from studies.stats.sequential import (
    DECISIONS,
    SEQUENTIAL_TESTS,
    SPENDINGS,
    Decision,
    SequentialDesign,
    sign_flip_p_value,
    spent_alpha,
)
from studies.stats.verdicts import (
    CLAIM_VERDICTS,
    NOT_EVALUATED,
    SIDES,
    VERDICTS,
    ClaimResult,
    band_verdict,
    interval_verdict,
    joint_verdict,
)

__all__ = [
    "BOOTSTRAP_SEED",
    "CLAIM_VERDICTS",
    "NOT_EVALUATED",
    "COMPARISON_ALTERNATIVES",
    "DECISIONS",
    "DIRECTIONS",
    "SEQUENTIAL_TESTS",
    "SIDES",
    "SPENDINGS",
    "TESTS",
    "VERDICTS",
    "ClaimResult",
    "Comparison",
    "Decision",
    "Evidence",
    "Judgement",
    "SequentialDesign",
    "band_verdict",
    "bootstrap_ci",
    "bootstrap_distribution",
    "cohens_d",
    "compare_paired",
    "equivalent_paired",
    "holm",
    "holm_adjusted",
    "holm_levels",
    "interval_verdict",
    "joint_verdict",
    "judge_claims",
    "paired_d",
    "paired_p_value",
    "paired_t_power",
    "percentile_interval",
    "seeds_needed",
    "sign_flip_p_value",
    "spent_alpha",
    "t_interval",
]
