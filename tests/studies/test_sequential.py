"""studies.stats sequential designs, power and multiplicity: tested by simulation.

Error rates are checked under nulls whose paired differences are symmetric about 0 (normal,
heavy-tailed t(3), the difference of two identically distributed lognormals) over 4,000
simulated sequential runs each, against ``alpha + 3`` Monte Carlo standard errors.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from studies import stats as st
from studies.stats import (
    DECISIONS,
    VERDICTS,
    Comparison,
    Decision,
    SequentialDesign,
    holm,
    holm_adjusted,
    holm_levels,
    paired_t_power,
    seeds_needed,
    sign_flip_p_value,
    spent_alpha,
)

RUNS = 4000
ALPHA = 0.05
# Rate of a wrong verdict allowed by the simulations: alpha plus 3 Monte Carlo SEs.
LIMIT = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)
MARGIN = 1.0
DESIGN = SequentialDesign()


def _null(name: str, rng: np.random.Generator, runs: int = RUNS) -> np.ndarray:
    """Paired differences of two identically distributed arms, shape (runs, 20)."""
    if name == "normal":
        return rng.standard_normal((runs, 20))
    if name == "t3":
        return rng.standard_t(3, (runs, 20))
    return rng.lognormal(size=(runs, 20)) - rng.lognormal(size=(runs, 20))


def _rates(verdicts: list[str]) -> dict[str, float]:
    v = np.asarray(verdicts)
    return {word: float(np.mean(v == word)) for word in DECISIONS}


# --- boundaries -------------------------------------------------------------------------


def test_obrien_fleming_boundaries_match_gsdesign():
    # gsDesign::gsDesign(k=4, test.type=1, alpha=0.025, sfu=sfLDOF)$upper$bound
    design = SequentialDesign(looks=(5, 10, 15, 20), alpha=0.025)
    assert design.z_boundaries == pytest.approx((4.3326, 2.9631, 2.3590, 2.0141), abs=1e-4)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_boundaries_spend_alpha_on_brownian_motion(spending):
    # Look statistics Z_k = S(t_k) / sqrt(t_k) of a Brownian motion: the crossing probability
    # by each look is the alpha spent by it (unequal spacing on purpose).
    design = SequentialDesign(looks=(3, 8, 10, 16), alpha=0.05, spending=spending)
    t = np.asarray(design.fractions)
    rng = np.random.default_rng(11)
    steps = rng.standard_normal((400_000, t.size)) * np.sqrt(np.diff(t, prepend=0.0))
    z = np.cumsum(steps, axis=1) / np.sqrt(t)
    crossed = np.maximum.accumulate(z >= np.asarray(design.z_boundaries), axis=1).mean(axis=0)
    assert crossed == pytest.approx(spent_alpha(t, 0.05, spending), abs=1.5e-3)


def test_bonferroni_boundaries_are_alpha_over_k_per_look():
    design = SequentialDesign(looks=(5, 10), spending="bonferroni")
    assert design.nominal_alpha == pytest.approx((0.025, 0.025))


# --- error rates and power --------------------------------------------------------------


@pytest.mark.parametrize("name", ["normal", "t3", "lognormal"])
def test_wrong_verdicts_stay_within_alpha_under_the_null(name):
    x = _null(name, np.random.default_rng(1))
    rates = _rates([DESIGN.decide(row, alternative="greater").verdict for row in x])
    assert rates["supported"] <= LIMIT
    assert rates["not supported"] <= LIMIT
    assert rates["continue"] == 0.0
    # Equivalence claimed where the true difference sits on the margin: a wrong "supported".
    shifted = np.where(np.arange(RUNS)[:, None] % 2 == 0, x + MARGIN, x - MARGIN)
    equivalent = _rates([DESIGN.equivalence(row, MARGIN).verdict for row in shifted])
    assert equivalent["supported"] <= LIMIT


@pytest.mark.parametrize("spending", ["pocock", "bonferroni"])
def test_other_spending_rules_hold_alpha_under_a_normal_null(spending):
    design = SequentialDesign(spending=spending)
    x = _null("normal", np.random.default_rng(12))
    rates = _rates([design.decide(row).verdict for row in x])
    assert rates["supported"] <= LIMIT
    assert rates["not supported"] <= LIMIT


def test_equivalence_is_rarely_rejected_when_the_arms_are_equivalent():
    x = np.random.default_rng(2).standard_normal((RUNS, 20))
    rates = _rates([DESIGN.equivalence(row, MARGIN).verdict for row in x])
    assert rates["not supported"] <= LIMIT
    # Power of the equivalence form at a margin of 1 SD of the differences and no difference.
    assert rates["supported"] >= 0.8


def test_an_effect_of_dz_0_8_is_supported_by_the_last_look():
    rng = np.random.default_rng(3)
    x = 0.8 + rng.standard_normal((RUNS, 20))
    decisions = [DESIGN.decide(-row, alternative="less") for row in x]
    rates = _rates([d.verdict for d in decisions])
    assert rates["supported"] >= 0.8
    assert rates["not supported"] <= 1e-3
    # Most are decided before the last look.
    assert np.mean([d.look < 4 for d in decisions]) > 0.5


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_a_futility_stop_holds_alpha_at_the_smallest_effect_and_has_power_at_zero(alternative):
    # min_effect = 0.8 SD: "not supported" now means "short of 0.8". At a true effect of
    # exactly 0.8 it is a wrong verdict (rate <= alpha); at a true effect of 0 it is the right
    # one, reached by the last look in >= 80% of runs; "supported" under 0 stays <= alpha.
    sign = 1.0 if alternative == "greater" else -1.0
    rng = np.random.default_rng(5)
    runs = 2000
    limit = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    at_edge = sign * (0.8 + rng.standard_normal((runs, 20)))
    edge = _rates([DESIGN.decide(r, alternative, min_effect=0.8).verdict for r in at_edge])
    assert edge["not supported"] <= limit
    null = rng.standard_normal((runs, 20))
    decisions = [DESIGN.decide(r, alternative, min_effect=0.8) for r in null]
    rates = _rates([d.verdict for d in decisions])
    assert rates["not supported"] >= 0.8
    assert rates["supported"] <= limit
    assert all(d.min_effect == 0.8 for d in decisions)


def test_min_effect_must_be_positive_and_directional():
    with pytest.raises(ValueError, match="min_effect must be finite and > 0"):
        DESIGN.decide(np.ones(5), min_effect=0.0)
    with pytest.raises(ValueError, match="directional claim"):
        Comparison(np.zeros(5), range(5), "equivalence", margin=1.0, min_effect=0.5)


def test_sign_flip_design_holds_alpha_under_a_skewed_free_null():
    runs = 600
    x = _null("lognormal", np.random.default_rng(4), runs)
    rates = _rates([DESIGN.decide(row, test="permutation").verdict for row in x])
    limit = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    assert rates["supported"] <= limit
    assert rates["not supported"] <= limit


# --- decisions --------------------------------------------------------------------------


def test_continue_before_the_last_look_and_inconclusive_at_it():
    x = np.random.default_rng(5).standard_normal(20) * 10.0 + 0.01
    early = DESIGN.decide(x[:5])
    assert (early.verdict, early.look, early.n) == ("continue", 1, 5)
    last = DESIGN.decide(np.tile([1.0, -1.0], 10))
    assert (last.verdict, last.look, last.n) == ("inconclusive", 4, 20)
    assert len(last.statistics) == 4 and last.statistic == last.statistics[-1] == 0.0


def test_a_decision_reached_early_is_kept_at_later_looks():
    x = np.r_[np.full(5, 1.0) + np.linspace(-0.01, 0.01, 5), -np.ones(15)]
    decision = DESIGN.decide(x, alternative="greater")
    assert (decision.verdict, decision.look, decision.n) == ("supported", 1, 5)
    assert decision.statistic >= decision.boundary
    opposite = DESIGN.decide(x, alternative="less")
    assert (opposite.verdict, opposite.look) == ("not supported", 1)
    assert opposite.statistic <= -opposite.boundary


def test_decision_numbers_agree_with_scipy():
    x = np.random.default_rng(6).normal(0.3, 1.0, 10)
    d = DESIGN.decide(x, alternative="greater")
    assert (d.look, d.n) == (2, 10)
    res = stats.ttest_1samp(x, 0.0, alternative="greater")
    assert d.statistic == pytest.approx(res.statistic)
    assert d.p_value == pytest.approx(res.pvalue)
    assert d.boundary == pytest.approx(stats.t.isf(d.nominal_alpha, 9))
    two_sided = stats.ttest_1samp(x, 0.0)
    lo, hi = two_sided.confidence_interval(1 - 2 * d.nominal_alpha)
    assert (d.ci_lo, d.ci_hi) == pytest.approx((lo, hi))
    assert d.d_z == pytest.approx(x.mean() / x.std(ddof=1))
    assert isinstance(d, Decision) and d.test == "t" and d.alternative == "greater"


def test_equivalence_verdicts_follow_the_repeated_interval():
    x = np.random.default_rng(7).normal(0.0, 0.2, 10)
    inside = DESIGN.equivalence(x, 1.0)
    assert inside.verdict == "supported"
    assert inside.ci_lo > -1.0 and inside.ci_hi < 1.0
    outside = DESIGN.equivalence(x + 5.0, 1.0)
    assert outside.verdict == "not supported" and outside.ci_lo > 1.0
    assert outside.alternative == "equivalence"
    by_signs = DESIGN.equivalence(x, 1.0, test="permutation")
    assert (by_signs.verdict, by_signs.test) == ("supported", "permutation")
    assert DESIGN.equivalence(x + 5.0, 1.0, test="permutation").verdict == "not supported"


def test_verdicts_of_claims_are_unchanged_and_continue_is_a_decision_only():
    assert VERDICTS == ("supported", "not supported", "inconclusive")
    assert set(DECISIONS) == {*VERDICTS, "continue"}


# --- sign-flip test ---------------------------------------------------------------------


def test_exact_sign_flip_p_value_enumerates_every_pattern():
    x = np.array([0.5, -0.2, 1.3, 0.7, 0.1, -0.4, 0.9])
    sums = np.array([np.dot(s, np.abs(x)) for s in itertools.product([-1, 1], repeat=x.size)])
    assert sign_flip_p_value(x, "greater") == pytest.approx(np.mean(sums >= x.sum() - 1e-12))
    assert sign_flip_p_value(x, "less") == pytest.approx(np.mean(sums <= x.sum() + 1e-12))
    assert sign_flip_p_value(np.ones(5), "greater") == 1 / 32


def test_sign_flip_p_value_beyond_20_pairs_is_seeded_monte_carlo():
    x = np.random.default_rng(8).normal(0.2, 1.0, 30)
    p = sign_flip_p_value(x, rng=np.random.default_rng(0))
    assert p == sign_flip_p_value(x)  # the default generator is seeded the same
    exact = stats.ttest_1samp(x, 0.0, alternative="greater").pvalue
    assert p == pytest.approx(exact, abs=0.03)


# --- bad inputs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: DESIGN.decide(np.ones(7)), r"len\(differences\) = 7 .* \(5, 10, 15, 20\)"),
        (lambda: SequentialDesign(spending="haybittle"), r"'haybittle'.*bonferroni"),
        (lambda: DESIGN.decide(np.ones(5), alternative="two-sided"), "'two-sided'"),
        (lambda: DESIGN.decide(np.ones(5), test="wilcoxon"), "'wilcoxon'"),
        (lambda: DESIGN.decide([1.0, 2.0, math.nan, 1.0, 1.0]), "nan"),
        (lambda: DESIGN.equivalence(np.ones(5), 0.0), "margin.*0.0"),
        (lambda: SequentialDesign(looks=(10, 5)), r"\(10, 5\)"),
        (lambda: SequentialDesign(looks=(1, 5)), r"\(1, 5\)"),
        (lambda: SequentialDesign(alpha=0.7), "0.7"),
        (lambda: seeds_needed(0.0), "effect_size.*0.0"),
        (lambda: seeds_needed(math.nan), "nan"),
        (lambda: seeds_needed(0.5, power=1.2), "1.2"),
        (lambda: holm([0.01, 1.5]), "1.5"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- seeds needed -----------------------------------------------------------------------


def test_power_matches_the_issue_numbers_two_sided():
    # The issue's d_z (80% power at 5, 10, 20 seeds) are for the two-sided test at 0.05,
    # i.e. one-sided at 0.025; one-sided at 0.05 needs 1.36, 0.85 and 0.58.
    for d, n in [(1.68, 5), (1.0, 10), (0.66, 20)]:
        assert paired_t_power(d, n, alpha=0.025) == pytest.approx(0.8, abs=0.01)
    assert [seeds_needed(d, alpha=0.025) for d in (1.69, 1.0, 0.67)] == [5, 10, 20]
    assert [seeds_needed(d) for d in (1.36, 0.86, 0.58)] == [5, 10, 20]
    assert seeds_needed(-1.56) == seeds_needed(1.56) >= 2
    assert seeds_needed(50.0) == 2


def test_seeds_needed_reaches_the_power_by_simulation():
    n = seeds_needed(0.5)
    rng = np.random.default_rng(9)

    def simulated_power(seeds: int) -> float:
        x = 0.5 + rng.standard_normal((RUNS, seeds))
        t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / math.sqrt(seeds))
        return float(np.mean(t > stats.t.isf(0.05, seeds - 1)))

    se = math.sqrt(0.8 * 0.2 / RUNS)
    assert simulated_power(n) >= 0.8 - 3 * se
    assert simulated_power(n - 2) < 0.8


# --- Holm -------------------------------------------------------------------------------


def test_holm_on_four_claims():
    p = [0.01, 0.02, 0.03, 0.04]
    assert holm(p) == [True, False, False, False]
    assert holm_levels(p) == pytest.approx([0.0125, 0.05 / 3, 0.025, 0.05])
    assert holm_adjusted(p) == pytest.approx([0.04, 0.06, 0.06, 0.06])
    assert holm([0.04, 0.012, 0.01, 0.02]) == [True, True, True, True]
    assert holm([0.03, 0.01, 0.04, 0.02], alpha=0.1) == [True, True, True, True]
    assert holm([0.2, 0.01]) == [False, True]
    assert holm([]) == []


def test_holm_agrees_with_its_adjusted_p_values():
    p = np.random.default_rng(10).uniform(0, 0.1, size=(200, 6))
    for row in p:
        adjusted = np.asarray(holm_adjusted(row))
        assert holm(row) == (adjusted <= 0.05).tolist()


def test_public_names_are_reachable_from_the_module():
    for name in ("SequentialDesign", "Decision", "seeds_needed", "holm", "compare_paired"):
        assert getattr(st, name) is not None


def test_holm_matches_statsmodels_when_installed():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(13).uniform(0, 0.08, size=7)
    rejected, adjusted, _, _ = multitest.multipletests(p, alpha=0.05, method="holm")
    assert holm(p) == rejected.tolist()
    assert holm_adjusted(p) == pytest.approx(adjusted.tolist())
