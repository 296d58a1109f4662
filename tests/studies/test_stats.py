"""studies.stats: intervals, bootstrap, paired tests, effect sizes and verdict rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from studies.stats import (
    band_verdict,
    bootstrap_ci,
    bootstrap_distribution,
    cohens_d,
    compare_paired,
    equivalent_paired,
    interval_verdict,
    paired_d,
    paired_p_value,
    percentile_interval,
    t_interval,
)


def test_t_interval_matches_the_textbook_formula():
    mean, lo, hi = t_interval([1, 2, 3, 4, 5])
    half = stats.t.ppf(0.975, 4) * math.sqrt(2.5) / math.sqrt(5)  # t * s / sqrt(n)
    assert mean == 3.0
    assert lo == pytest.approx(3.0 - half) and hi == pytest.approx(3.0 + half)
    assert half == pytest.approx(1.9632, abs=1e-4)


def test_t_interval_is_scipys_to_the_bit():
    rng = np.random.default_rng(5)
    for n, confidence in [(2, 0.95), (5, 0.9), (12, 0.99), (40, 0.5)]:
        x = rng.normal(3.0, 2.0, size=n)
        sem = x.std(ddof=1) / math.sqrt(n)
        lo, hi = stats.t.interval(confidence, n - 1, loc=x.mean(), scale=sem)
        assert t_interval(x, confidence) == (float(x.mean()), float(lo), float(hi))


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


def test_bootstrap_distribution_resamples_pairs_together():
    a = np.arange(6.0)
    b = 10 * np.arange(6.0)
    boot = bootstrap_distribution(
        (a, b),
        lambda ra, rb: (rb - 10 * ra).max(axis=1),
        n_resamples=200,
        rng=np.random.default_rng(1),
    )
    assert boot.shape == (200,)
    assert np.all(boot == 0)  # row i of a always travels with row i of b
    with pytest.raises(ValueError, match="equal lengths"):
        bootstrap_distribution((a, b[:3]), np.mean, n_resamples=5, rng=np.random.default_rng(0))


def test_bootstrap_ci_is_the_percentile_interval_of_its_distribution():
    x = np.random.default_rng(3).normal(size=12)
    boot = bootstrap_distribution(
        [x], lambda r: r.mean(axis=1), n_resamples=500, rng=np.random.default_rng(7)
    )
    assert bootstrap_ci(x, n_resamples=500, rng=np.random.default_rng(7)) == percentile_interval(
        boot
    )
    assert percentile_interval(np.arange(101.0), confidence=0.9) == pytest.approx((5.0, 95.0))


@pytest.mark.parametrize(
    ("lo", "hi", "side", "verdict"),
    [
        (1.5, 2.0, "above", "supported"),
        (0.0, 0.5, "above", "not supported"),
        (0.5, 1.5, "above", "inconclusive"),
        (1.0, 2.0, "above", "inconclusive"),  # touching the threshold decides nothing
        (0.0, 0.5, "below", "supported"),
        (1.5, 2.0, "below", "not supported"),
        (math.nan, math.nan, "below", "inconclusive"),
    ],
)
def test_interval_verdict(lo, hi, side, verdict):
    assert interval_verdict(lo, hi, 1.0, side=side) == verdict


def test_interval_verdict_rejects_an_unknown_side():
    with pytest.raises(ValueError, match="side 'over'"):
        interval_verdict(0.0, 1.0, 0.5, side="over")


def test_band_verdict():
    assert band_verdict(-0.1, 0.1, -0.2, 0.2) == "supported"
    assert band_verdict(0.2, 0.4, -0.2, 0.2) == "not supported"
    assert band_verdict(-0.5, -0.2, -0.2, 0.2) == "not supported"
    assert band_verdict(0.1, 0.3, -0.2, 0.2) == "inconclusive"


def test_interval_verdict_false_positive_rate_under_the_null():
    """A 95% t-interval judged against the true mean says "supported" (one side) in about
    2.5% of samples: simulated, 4000 samples of 8."""
    rng = np.random.default_rng(11)
    verdicts = []
    for sample in rng.normal(loc=1.0, size=(4000, 8)):
        _, lo, hi = t_interval(sample)
        verdicts.append(interval_verdict(lo, hi, 1.0, side="above"))
    rate = verdicts.count("supported") / len(verdicts)
    assert 0.015 < rate < 0.035
