"""judge_claims: comparisons at the look reached, joint claims, Holm across a study."""

from __future__ import annotations

import numpy as np
import pytest

from studies.stats import (
    ClaimResult,
    Comparison,
    Evidence,
    SequentialDesign,
    judge_claims,
    seeds_needed,
)

DESIGN = SequentialDesign(looks=(5, 10, 15, 20))


def series(mean: float, n: int = 20, seed: int = 0, sd: float = 1.0) -> np.ndarray:
    return mean + sd * np.random.default_rng(seed).normal(size=n)


def comparison(values, alternative="greater", **kw) -> Comparison:
    return Comparison(values, range(len(values)), alternative, **kw)


def test_a_comparison_sees_only_the_seeds_of_the_looks_reached():
    c = comparison(series(0.0), arms=("a", "b"))
    assert c.sizes(DESIGN.looks, 2) == (5, 10)
    gappy = Comparison([1.0, 2.0, 3.0, 4.0], [0, 1, 3, 6], "greater")
    assert gappy.sizes(DESIGN.looks, 3) == (3, 4, 4)
    d = c.decide(DESIGN, 2)
    assert d.n == 10 and len(d.statistics) == 2


def test_sizes_with_missing_pairs_use_the_actual_counts():
    x = series(0.2, n=9)
    d = DESIGN.decide(x, "greater", sizes=(4, 9))
    assert d.n == 9 and d.look == 2 and d.verdict == "continue"
    with pytest.raises(ValueError, match="sizes must be non-decreasing"):
        DESIGN.decide(x, "greater", sizes=(6, 9))  # more than the first look holds
    assert DESIGN.decide([0.3], "greater", sizes=(1,)).verdict == "continue"


def test_joint_claim_needs_every_part_and_fails_on_any():
    strong = comparison(series(3.0, sd=0.1), name="up", arms=("a",))
    null = comparison(series(0.0, seed=1), name="flat", arms=("b",))
    wrong = comparison(series(-3.0, sd=0.1), name="down", arms=("c",))
    (j,) = judge_claims([Evidence([strong, null])], DESIGN, reached=1)
    assert j.status == "continue" and j.arms == ("b",)  # only the undecided part's arm
    (j,) = judge_claims([Evidence([strong, wrong])], DESIGN, reached=1)
    assert j.status == "not supported" and j.result.verdict == "not supported"
    (j,) = judge_claims([Evidence([strong, null])], DESIGN, reached=4)
    assert j.result.verdict == "inconclusive" and j.result.look == 4


def test_a_fixed_result_passes_through_outside_the_family():
    fixed = ClaimResult("supported", "own test", {"p": 0.001}, "by its own rule")
    ev = Evidence([comparison(series(0.0, seed=2))])
    out = judge_claims([fixed, ev], DESIGN, reached=1)
    assert out[0].result is fixed and out[0].status == "supported"
    assert out[1].result.family == 1 and out[1].result.level == pytest.approx(0.05)


def test_a_claim_keeps_the_look_that_decided_it_when_others_raise_its_level():
    early = Evidence([comparison(series(2.0, sd=0.3, seed=3))])
    late = Evidence([comparison(series(0.25, seed=4, n=20))])
    first = judge_claims([early, late], DESIGN, reached=2)
    assert first[0].status == "supported"
    again = judge_claims([early, late], DESIGN, reached=4)
    assert (again[0].result.look, again[0].result.level) == (
        first[0].result.look,
        first[0].result.level,
    )
    assert again[1].result.level == pytest.approx(0.05)  # the decided claim passed it on


def test_an_inconclusive_claim_reports_the_seeds_it_would_need():
    (j,) = judge_claims([Evidence([comparison(series(0.1, seed=5))])], DESIGN, reached=4)
    part = j.result.parts[0]
    assert j.result.verdict == "inconclusive"
    assert j.result.seeds_needed == seeds_needed(part["d_z"], alpha=0.05)
    assert "seeds would decide it" in j.result.detail


def test_threshold_reference_is_added_back_for_display():
    values = series(0.9, sd=0.01)
    c = Comparison(values - 0.8, range(20), "greater", reference=0.8, label="acc")
    (j,) = judge_claims([Evidence([c])], DESIGN, reached=1)
    part = j.result.parts[0]
    assert j.result.verdict == "supported"
    assert part["mean"] == pytest.approx(values[:5].mean())
    assert part["ci_lo"] < part["mean"] < part["ci_hi"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"values": [1.0], "seeds": [0, 1], "alternative": "greater"}, "1 values but 2 seeds"),
        ({"values": [1.0, 2.0], "seeds": [1, 0], "alternative": "greater"}, "increasing"),
        ({"values": [1.0], "seeds": [0], "alternative": "bigger"}, "bigger"),
        ({"values": [1.0], "seeds": [0], "alternative": "equivalence"}, "margin"),
        ({"values": [np.inf], "seeds": [0], "alternative": "less"}, "finite"),
    ],
)
def test_bad_comparisons_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Comparison(**kwargs)


def test_reached_must_be_a_look():
    with pytest.raises(ValueError, match="reached must be a look in 1..4"):
        judge_claims([], DESIGN, reached=5)


def test_a_sign_flip_claim_never_needs_fewer_seeds_than_its_smallest_p_allows():
    from studies.stats import Comparison, Evidence, SequentialDesign, judge_claims

    huge = Comparison([-2.0, -2.5], [0, 1], "less", test="permutation", label="a - b")
    (judged,) = judge_claims([Evidence([huge])], SequentialDesign(looks=(2,)), reached=1)
    assert judged.result.verdict == "inconclusive"
    assert judged.result.seeds_needed >= 5  # 2^-5 < 0.05 > 2^-4
