"""The claims statistics on hand-made data whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from studies.engine.claims import (
    mean_threshold,
    paired_columns,
    paired_comparison,
    paired_equivalence,
    paired_samples,
)
from studies.stats import (
    bootstrap_ci,
    cohens_d,
    compare_paired,
    equivalent_paired,
    paired_d,
    paired_p_value,
    t_interval,
)


def test_t_interval_matches_the_textbook_formula():
    mean, lo, hi = t_interval([1, 2, 3, 4, 5])
    half = stats.t.ppf(0.975, 4) * math.sqrt(2.5) / math.sqrt(5)  # t * s / sqrt(n)
    assert mean == 3.0
    assert lo == pytest.approx(3.0 - half) and hi == pytest.approx(3.0 + half)
    assert half == pytest.approx(1.9632, abs=1e-4)


def test_t_interval_degenerate_cases():
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    mean, lo, hi = t_interval([4.0])
    assert mean == 4.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(v) for v in t_interval([]))


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    x = np.arange(20, dtype=float)
    lo, hi = bootstrap_ci(x)
    assert lo < x.mean() < hi
    assert (lo, hi) == bootstrap_ci(x)  # same default seed, same interval
    assert bootstrap_ci(x, rng=np.random.default_rng(1)) != (lo, hi)
    # The bootstrap distribution of the mean has SD ~ s / sqrt(n): the 95% interval is close
    # to mean ± 1.96 s / sqrt(n) for 20 evenly spread values.
    half = 1.96 * x.std(ddof=0) / math.sqrt(x.size)
    assert hi - lo == pytest.approx(2 * half, rel=0.1)
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))


def test_effect_sizes():
    assert cohens_d([1, 2, 3], [2, 3, 4]) == pytest.approx(-1.0)  # pooled SD 1
    assert cohens_d([0, 2], [0, 2]) == 0.0
    assert paired_d([2, 4, 6], [1, 2, 3]) == pytest.approx(2.0)  # diffs 1, 2, 3: mean 2, SD 1
    assert paired_d([2, 3, 4], [1, 2, 3]) == math.inf  # constant positive difference
    assert paired_d([1, 2], [1, 2]) == 0.0


def test_paired_p_values():
    a, b = np.array([2.0, 3, 4, 5, 6]), np.zeros(5)
    # All five differences positive: the exact one-sided Wilcoxon p is 1 / 2^5.
    assert paired_p_value(a, b, alternative="greater") == pytest.approx(1 / 32)
    assert paired_p_value(a, b, alternative="less") == pytest.approx(1.0)
    expected = stats.ttest_rel(a, b, alternative="greater").pvalue
    assert paired_p_value(a, b, alternative="greater", test="t") == pytest.approx(expected)
    assert paired_p_value(b, b, alternative="less") == 1.0
    assert paired_p_value(a + 1, a, alternative="greater", test="t") == 0.0
    with pytest.raises(ValueError, match="valid choices: t, wilcoxon"):
        paired_p_value(a, b, alternative="less", test="anova")


def test_compare_paired_verdicts():
    base = np.array([10.0, 12, 11, 13, 9, 10])
    faster = base - np.array([3.0, 2, 4, 3, 2, 3])
    result = compare_paired(faster, base, better="lower")
    assert result.verdict == "supported"
    assert result.numbers["mean_diff"] == pytest.approx(-17 / 6)
    assert result.numbers["ci_lo"] <= result.numbers["mean_diff"] <= result.numbers["ci_hi"]
    assert result.numbers["p_value"] == pytest.approx(1 / 64)
    assert compare_paired(base, faster, better="lower").verdict == "not supported"
    assert compare_paired(faster, base, better="higher").verdict == "not supported"
    noise = base + np.array([1.0, -1, 0.5, -0.5, 1, -1])
    assert compare_paired(noise, base, better="lower").verdict == "inconclusive"
    few = compare_paired(faster[:2], base[:2], better="lower")
    assert few.verdict == "inconclusive" and "only 2 usable" in few.detail


def test_equivalence_verdicts():
    a = np.array([0.60, 0.62, 0.61, 0.63, 0.60])
    close = a + np.array([0.002, -0.001, 0.003, 0.0, 0.001])
    assert equivalent_paired(a, close, margin=0.02).verdict == "supported"
    far = a + 0.10 + np.array([0.002, -0.001, 0.003, 0.0, 0.001])
    result = equivalent_paired(a, far, margin=0.02)
    assert result.verdict == "not supported"
    assert result.numbers["ci_hi"] < -0.02
    wide = a + np.array([0.05, -0.05, 0.04, -0.04, 0.0])
    assert equivalent_paired(a, wide, margin=0.02).verdict == "inconclusive"
    with pytest.raises(ValueError, match="margin"):
        equivalent_paired(a, a, margin=0)


def summaries(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["arm", "seed", "status", "epochs_to_target"])
    frame["stage"] = "final"
    frame["config.train.epochs"] = 10
    return frame


def test_paired_samples_pairs_by_seed_and_censors_inf():
    frame = summaries(
        [
            ("adam", 0, "ok", 3.0),
            ("adam", 1, "ok", 4.0),
            ("adam", 2, "failed", np.nan),
            ("adam", 3, "ok", 5.0),
            ("sgd", 3, "ok", math.inf),
            ("sgd", 1, "ok", 6.0),
            ("sgd", 0, "ok", 7.0),
            ("sgd", 2, "ok", 8.0),
        ]
    )
    a, b, seeds = paired_samples(frame, "epochs_to_target", "adam", "sgd", censor=11.0)
    assert seeds == [0, 1, 3]  # seed 2 failed for adam: no pair
    np.testing.assert_array_equal(a, [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(b, [7.0, 6.0, 11.0])
    a, b, seeds = paired_samples(frame, "epochs_to_target", "adam", "sgd")
    assert seeds == [0, 1]  # without censoring the never-reached trial is dropped
    with pytest.raises(ValueError, match="no summary column 'nope'"):
        paired_samples(frame, "nope", "adam", "sgd")


def test_claim_builders_on_frames():
    rows = [("adam", s, "ok", 3.0 + s % 2) for s in range(5)]
    rows += [("sgd", s, "ok", 7.0 + s) for s in range(4)] + [("sgd", 4, "ok", math.inf)]
    frame = summaries(rows)
    result = paired_comparison(
        "epochs_to_target", "adam", "sgd", better="lower", censor="config.train.epochs"
    )(frame, None)
    assert result.verdict == "supported"
    assert result.numbers["n"] == 5 and result.numbers["censored_at"] == 11.0

    equiv = paired_equivalence("epochs_to_target", "adam", "sgd", margin=0.5)(frame[:8], None)
    assert equiv.verdict == "not supported"

    wide = pd.DataFrame(
        {
            "stage": "toy",
            "arm": "t",
            "seed": range(5),
            "status": "ok",
            "steps/sgd": [70.0, 72, 75, 71, 69],
            "steps/momentum": [27.0, 28, 30, 26, 27],
        }
    )
    cols = paired_columns("steps/momentum", "steps/sgd", better="lower", stage="toy")(wide, None)
    assert cols.verdict == "supported" and cols.numbers["p_value"] == pytest.approx(1 / 32)


def test_mean_threshold():
    frame = pd.DataFrame({"arm": "a", "status": "ok", "acc": [0.90, 0.91, 0.92, 0.90, 0.91]})
    assert mean_threshold("acc", threshold=0.8, above=True)(frame, None).verdict == "supported"
    assert mean_threshold("acc", threshold=0.95, above=True)(frame, None).verdict == (
        "not supported"
    )
    assert mean_threshold("acc", threshold=0.905, above=True)(frame, None).verdict == (
        "inconclusive"
    )
    assert mean_threshold("acc", threshold=0.95, above=False)(frame, None).verdict == "supported"
