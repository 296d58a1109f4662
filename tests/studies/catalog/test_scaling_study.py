"""The ``scaling`` study: its definition, the scaling / spectrum / descent helpers against
scikit-learn, numpy and closed forms, the claim evaluators on hand-made frames, and a quick run
through the real runner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, summaries, verdict
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from test_activations_study import check_quick_run

from studies.catalog import scaling as sc
from studies.engine import registry
from studies.engine.config import deep_merge

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("scaling")
    assert study is sc.STUDY
    (stage,) = study.stages
    assert {"diabetes/raw", "diabetes/standardized", "synthetic/kappa=1000"} <= set(stage.arms)
    cfg = deep_merge(study.stage_base(stage), stage.arms["synthetic/kappa=100"].overrides)
    assert cfg["data"]["name"] == "synthetic" and cfg["data"]["kappa"] == 100.0
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ------------------------------------------------------------------------------- helpers


def test_scale_features_matches_scikit_learn():
    X = np.random.default_rng(0).normal([1.0, 50.0, -3.0], [1.0, 100.0, 0.01], (40, 3))
    np.testing.assert_allclose(sc.scale_features(X, "raw"), X)
    np.testing.assert_allclose(
        sc.scale_features(X, "minmax"), MinMaxScaler().fit_transform(X), atol=1e-12
    )
    np.testing.assert_allclose(
        sc.scale_features(X, "standardized"), StandardScaler().fit_transform(X), atol=1e-12
    )
    with pytest.raises(ValueError, match="scaling"):
        sc.scale_features(X, "whiten")


def test_hessian_spectrum_of_a_diagonal_design():
    # A = [1, x] with x = ±s: H = diag(1, s²), eigenvalues 1 and s²
    x = np.array([3.0, -3.0, 3.0, -3.0])
    A = sc.design_matrix(x[:, None])
    np.testing.assert_allclose(sc.hessian_spectrum(A), [1.0, 9.0])
    A = np.random.default_rng(1).normal(size=(30, 4))
    np.testing.assert_allclose(
        sc.hessian_spectrum(A), np.sort(np.linalg.eigvals(A.T @ A / 30).real)
    )


def test_theory_steps_bound_and_first_reach():
    assert sc.theory_steps_bound(1.0, 0.01) == 1.0
    # (1 - 1/2)^(2t) <= 0.01 first at t = 4 (0.0039); at t = 3 it is 0.0156
    assert sc.theory_steps_bound(2.0, 0.01) == 4.0
    assert sc.theory_steps_bound(1000.0, 0.01) == math.ceil(
        math.log(0.01) / (2 * math.log(1 - 1e-3))
    )
    assert sc.first_reach(np.array([1.0, 0.5, 0.009, 0.001]), 0.01) == 2.0
    assert sc.first_reach(np.array([1.0, 0.5]), 0.01) == math.inf


def test_log_steps_starts_at_zero_and_ends_at_the_budget():
    steps = sc.log_steps(3000, 60)
    assert steps[:3] == [0, 1, 2] and steps[-1] == 3000
    assert steps == sorted(set(steps)) and len(steps) <= 61


def test_gradient_descent_matches_the_closed_form():
    # H = diag(1, 9), w* = (1, 0.5): w_t - w* = (I - lr H)^t (w_0 - w*)
    x = np.array([3.0, -3.0, 3.0, -3.0])
    A = sc.design_matrix(x[:, None])
    w_star = np.array([1.0, 0.5])
    y = A @ w_star
    lr, steps = 0.1, 5
    path = sc.descend(A, y, np.zeros(2), optimizer="sgd", lr=lr, steps=steps)
    for t in range(steps + 1):
        err = (1 - lr * np.array([1.0, 9.0])) ** t * (-w_star)
        want = 0.5 * (err[0] ** 2 * 1.0 + err[1] ** 2 * 9.0)
        assert path[t] == pytest.approx(want, rel=1e-5)
    # above 2 / lambda_max = 2/9 the steep direction grows until the loss overflows
    blown = sc.descend(A, y, np.zeros(2), optimizer="sgd", lr=0.25, steps=2000)
    assert blown[10] > blown[0] and math.isinf(blown[-1])


def test_adagrad_first_step_moves_every_weight_by_the_rate():
    x = np.array([3.0, -3.0, 3.0, -3.0])
    A = sc.design_matrix(x[:, None])
    y = A @ np.array([1.0, 0.5])
    path = sc.descend(A, y, np.zeros(2), optimizer="adagrad", lr=0.2, steps=1)
    # g / sqrt(g²) = sign(g): w_1 = (0.2, 0.2) whatever the scales
    assert path[1] == pytest.approx(sc.mse_half(A, y, np.array([0.2, 0.2])), rel=1e-5)
    with pytest.raises(ValueError, match="optimizer"):
        sc.descend(A, y, np.zeros(2), optimizer="adam", lr=0.1, steps=1)


def test_largest_stable_step_is_two_over_lambda_max():
    rng = np.random.default_rng(2)
    A = sc.design_matrix(rng.normal(size=(50, 2)) * [1.0, 10.0])
    y = A @ rng.normal(size=3)
    ratio = sc.largest_stable_step(A, y, np.zeros(3), steps=200, bisections=12, low=0.5, high=1.5)
    assert ratio == pytest.approx(1.0, abs=0.01)


def test_synthetic_design_has_the_asked_condition_number_and_obeys_the_bound():
    X, y = sc.synthetic_data(4000, 5, 100.0, 0.5, np.random.default_rng(3))
    cov = np.cov(X, rowvar=False)
    eig = np.linalg.eigvalsh(cov)
    assert eig[-1] / eig[0] == pytest.approx(100.0, rel=0.15)
    A = sc.design_matrix(X[:300])
    spectrum = sc.hessian_spectrum(A)
    kappa = spectrum[-1] / spectrum[0]
    path = sc.descend(A, y[:300], np.zeros(6), optimizer="sgd", lr=1 / spectrum[-1], steps=600)
    best = sc.mse_half(A, y[:300], np.linalg.lstsq(A, y[:300], rcond=None)[0])
    excess = (path - best) / (path[0] - best)
    assert sc.first_reach(excess, 0.01) <= sc.theory_steps_bound(kappa, 0.01)


# ----------------------------------------------------------------------------- claims


frame = summaries


def claim(claim_id: str):
    return evaluator(sc.STUDY, claim_id)


def kappa_frame(exponent: float, jitter: list[float]) -> pd.DataFrame:
    """Synthetic arms whose steps are 5 κ^exponent times a per-seed jitter."""
    arms = {}
    for k in sc.KAPPAS:
        logk = [math.log10(k) + 0.01 * j for j in jitter]
        steps = [5 * (10**lk) ** exponent * (1 + 0.02 * j) for lk, j in zip(logk, jitter)]
        arms[f"synthetic/kappa={k:g}"] = {"steps_to_target": steps, "log10_kappa": logk}
    return frame(arms)


def test_kappa_slope_is_exact_on_a_power_law():
    comparison = sc.kappa_slope(kappa_frame(1.0, [0.0] * 5))
    np.testing.assert_allclose(comparison.values, 0.0, atol=1e-12)
    half = sc.kappa_slope(kappa_frame(0.5, [0.0] * 5))
    np.testing.assert_allclose(half.values, -0.5, atol=1e-12)


def test_kappa_slope_drops_a_seed_that_missed_the_target():
    rows = kappa_frame(1.0, [0.0, 1.0, -1.0, 0.5, -0.5])
    rows.loc[(rows["arm"] == "synthetic/kappa=1000") & (rows["seed"] == 2), "steps_to_target"] = (
        math.inf
    )
    assert sc.kappa_slope(rows).seeds == (0, 1, 3, 4)


@pytest.mark.parametrize(("exponent", "expected"), [(1.0, "supported"), (0.5, "not supported")])
def test_condition_number_claim(exponent, expected):
    rows = kappa_frame(exponent, [0.0, 1.0, -1.0, 0.5, -0.5, 0.3, -0.3])
    got = verdict(claim("steps_grow_with_condition_number")(rows, NO_HISTORY))
    assert got == expected if expected == "supported" else got != "supported"


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [([1.0001, 1.0, 1.0002, 1.0001, 1.0], "supported"), ([0.5, 0.51, 0.5, 0.49, 0.5], "not")],
)
def test_stable_step_claim(ratios, expected):
    rows = frame(
        {
            "diabetes/raw": {"stable_step_ratio": ratios},
            "synthetic/kappa=1": {"stable_step_ratio": [1.002, 1.001, 1.003, 1.0, 1.002]},
        }
    )
    evidence = claim("largest_stable_step_is_2_over_lambda_max")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"diabetes", "kappa1"}
    assert (verdict(evidence) == "supported") == (expected == "supported")


@pytest.mark.parametrize(
    ("minmax", "expected"),
    [([-3.3, -3.4, -3.2, -3.35, -3.3], "supported"), ([-1.0, -1.1, -0.9, -1.0, -1.2], "not")],
)
def test_scaling_claim_needs_both_orderings(minmax, expected):
    rows = frame(
        {
            "diabetes/raw": {"log10_final_excess": [-1.7, -1.8, -1.75, -1.8, -1.7]},
            "diabetes/minmax": {"log10_final_excess": minmax},
            "diabetes/standardized": {"log10_final_excess": [-8.0, -8.8, -8.5, -9.0, -8.1]},
        }
    )
    evidence = claim("scaling_speeds_up_gradient_descent")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"minmax_vs_raw", "standardized_vs_minmax"}
    assert (verdict(evidence) == "supported") == (expected == "supported")


@pytest.mark.parametrize(
    ("adagrad", "expected"),
    [
        ([-2.0, -2.1, -2.05, -2.1, -2.0], "supported"),
        # Adagrad as good as standardized GD: a full, not a partial, compensation
        ([-9.0, -9.8, -9.5, -10.0, -9.1], "not"),
        ([-1.0, -1.1, -0.9, -1.0, -1.2], "not"),
    ],
)
def test_adagrad_claim_is_partial_compensation(adagrad, expected):
    rows = frame(
        {
            "diabetes/raw": {"log10_final_excess": [-1.7, -1.8, -1.75, -1.8, -1.7]},
            "diabetes/raw/adagrad": {"log10_final_excess": adagrad},
            "diabetes/standardized": {"log10_final_excess": [-8.0, -8.8, -8.5, -9.0, -8.1]},
        }
    )
    evidence = claim("adagrad_partly_compensates")(rows, NO_HISTORY)
    assert (verdict(evidence) == "supported") == (expected == "supported")


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    check_quick_run(sc.STUDY, store, tuple(sc.METRICS))
