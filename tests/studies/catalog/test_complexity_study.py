"""The ``complexity`` study: its definition, the polynomial fit against numpy's least squares,
the bias-variance decomposition on hand-made arrays and numerically on fresh fits, the claim
evaluators on hand-made frames, and a quick run through the real runner."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, summaries, verdict
from test_activations_study import check_quick_run

from studies.catalog import complexity as cx
from studies.engine import registry
from studies.engine.config import deep_merge
from studies.engine.spec import Stage

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("complexity")
    assert study is cx.STUDY
    degree, ridge = study.stages
    assert set(degree.arms) == {f"degree={d}" for d in cx.DEGREES}
    cfg = deep_merge(study.stage_base(ridge), ridge.arms["lambda=0.01"].overrides)
    assert cfg["model"] == {"degree": cx.RIDGE_DEGREE, "alpha": 0.01}
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ------------------------------------------------------------------------------- helpers


def test_stratified_design_has_one_point_per_stratum():
    x = cx.stratified_design(10, np.random.default_rng(0))
    np.testing.assert_array_equal(np.floor(x * 10), np.arange(10))


def test_fit_predict_matches_numpy_least_squares():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, 12)
    Y = rng.normal(size=(12, 3))
    x_eval = np.linspace(0, 1, 7)
    fitted, predicted = cx.fit_predict(x, Y, x_eval, degree=3, alpha=0.0)
    V = np.vander(2 * x - 1, 4)
    coef = np.linalg.lstsq(V, Y, rcond=None)[0]
    np.testing.assert_allclose(fitted, V @ coef, atol=1e-10)
    np.testing.assert_allclose(predicted, np.vander(2 * x_eval - 1, 4) @ coef, atol=1e-10)
    # ridge with the intercept unpenalised: the closed form on centred features
    alpha = 0.5
    F, y = V[:, :-1], Y[:, 0]
    Fc, yc = F - F.mean(0), y - y.mean()
    w = np.linalg.solve(Fc.T @ Fc + alpha * np.eye(3), Fc.T @ yc)
    b = y.mean() - F.mean(0) @ w
    fitted, _ = cx.fit_predict(x, Y, x_eval, degree=3, alpha=alpha)
    np.testing.assert_allclose(fitted[:, 0], F @ w + b, atol=1e-8)


def test_decompose_on_hand_made_predictions():
    truth = np.array([0.0, 1.0])
    # two fits: at x0 predictions 1 and 3 (mean 2, variance 1), at x1 both 1 (mean 1, var 0)
    predictions = np.array([[1.0, 3.0], [1.0, 1.0]])
    targets = np.array([[0.0, 0.0], [1.0, 1.0]])
    parts = cx.decompose(predictions, truth, targets, noise=0.0)
    assert parts["bias2"] == pytest.approx((2.0**2 + 0.0) / 2)
    assert parts["variance"] == pytest.approx((1.0 + 0.0) / 2)
    assert parts["test_mse"] == pytest.approx((1 + 9 + 0 + 0) / 4)
    # noiseless targets at the truth: test = bias² + variance exactly, gap 0
    assert parts["decomposition_gap"] == pytest.approx(0.0, abs=1e-12)


def test_decomposition_adds_up_numerically():
    rng = np.random.default_rng(2)
    n, m, R, sigma = 20, 300, 1000, 0.3
    x = cx.stratified_design(n, rng)
    x_test = rng.uniform(0, 1, m)
    Y = cx.target(x)[:, None] + sigma * rng.standard_normal((n, R))
    Y_test = cx.target(x_test)[:, None] + sigma * rng.standard_normal((m, R))
    for degree in (1, 3, 8):
        _, predicted = cx.fit_predict(x, Y, x_test, degree=degree, alpha=0.0)
        parts = cx.decompose(predicted, cx.target(x_test), Y_test, sigma)
        assert abs(parts["decomposition_gap"]) < 0.01, degree
    # the noise term is what a perfect predictor scores
    parts = cx.decompose(
        np.repeat(cx.target(x_test)[:, None], R, 1), cx.target(x_test), Y_test, 0.3
    )
    assert parts["bias2"] == pytest.approx(0.0, abs=1e-20)
    assert parts["variance"] == pytest.approx(0.0, abs=1e-20)
    assert parts["test_mse"] == pytest.approx(sigma**2, rel=0.01)


def test_trial_on_a_tiny_config():
    config = deep_merge(cx.BASE_CONFIG, {"data": {"resamples": 30, "n_test": 40}})
    result = cx.trial({**config, "arm": "degree=3", "seed": 0})
    assert result.status == "ok" and len(result.history) == cx.GRID + 1
    s = result.summary
    assert s["train_mse"] < s["test_mse"]
    assert abs(s["decomposition_gap"]) < 0.1


# ----------------------------------------------------------------------------- claims


frame = summaries


def claim(claim_id: str):
    return evaluator(cx.STUDY, claim_id)


def degree_frame(curve, jitter=(0.0, 0.01, -0.01, 0.02, -0.02), column="train_mse"):
    """Degree arms whose ``column`` is ``curve(d)`` times (1 + per-seed jitter)."""
    return frame(
        {f"degree={d}": {column: [curve(d) * (1 + j) for j in jitter]} for d in cx.DEGREES},
        "degree",
    )


def test_largest_training_rise():
    falling = degree_frame(lambda d: 1.0 / d)
    comparison = cx.largest_training_rise(falling)
    # the smallest fall is the last step, 1/10 - 1/9, per seed times (1 + jitter)
    np.testing.assert_allclose(
        comparison.values, (0.1 - 1 / 9) * (1 + np.array([0.0, 0.01, -0.01, 0.02, -0.02]))
    )
    assert verdict(claim("training_error_falls_with_degree")(falling, NO_HISTORY)) == "supported"
    bump = degree_frame(lambda d: 1.0 / d + (0.5 if d == 6 else 0.0))
    assert verdict(claim("training_error_falls_with_degree")(bump, NO_HISTORY)) != "supported"


@pytest.mark.parametrize(
    ("curve", "expected"),
    [(lambda d: 0.1 + 0.02 * (d - 3) ** 2, "supported"), (lambda d: 0.5 / d, "not")],
)
def test_u_shape_claim(curve, expected):
    rows = degree_frame(curve, column="test_mse")
    got = verdict(claim("test_error_is_u_shaped")(rows, NO_HISTORY))
    assert (got == "supported") == (expected == "supported")


def test_variance_slope_is_exact_on_a_geometric_curve():
    rows = degree_frame(lambda d: 0.01 * 2.0**d, jitter=(0.0,) * 5, column="variance")
    np.testing.assert_allclose(cx.log_slope(rows, "variance").values, np.log10(2.0))


@pytest.mark.parametrize(("growth", "expected"), [(1.5, "supported"), (0.7, "not")])
def test_bias_variance_claim(growth, expected):
    jitter = (0.0, 0.01, -0.01, 0.02, -0.02)
    rows = frame(
        {
            f"degree={d}": {
                "variance": [0.01 * growth**d * (1 + j) for j in jitter],
                "bias2": [0.2 / d**2 * (1 + j) for j in jitter],
            }
            for d in cx.DEGREES
        },
        "degree",
    )
    evidence = claim("variance_rises_bias_falls")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"variance", "bias"}
    assert (verdict(evidence) == "supported") == (expected == "supported")


@pytest.mark.parametrize(("scale", "expected"), [(0.005, "supported"), (0.05, "not")])
def test_decomposition_claim(scale, expected):
    signs = [1, -1, 1, -1, 1, -1, 1, -1, 1, -1]
    rows = frame(
        {
            f"degree={d}": {"decomposition_gap": [scale * s * (1 + 0.1 * k) for k in range(5)]}
            for d, s in zip(cx.DEGREES, signs, strict=True)
        },
        "degree",
    )
    comparison = cx.largest_gap(rows)
    np.testing.assert_allclose(
        comparison.values, scale * (1 + 0.1 * np.arange(5)) - cx.GAP_TOLERANCE
    )
    got = verdict(claim("decomposition_adds_up")(rows, NO_HISTORY))
    assert (got == "supported") == (expected == "supported")


@pytest.mark.parametrize(
    ("middle_test", "expected"),
    [([0.13, 0.12, 0.14, 0.13, 0.125], "supported"), ([0.7, 0.8, 0.75, 0.9, 0.7], "not")],
)
def test_ridge_claim(middle_test, expected):
    middle_train = [0.06, 0.061, 0.059, 0.06, 0.062]
    rows = frame(
        {
            "lambda=0": {"test_mse": [0.5, 0.6, 0.45, 0.7, 0.55], "train_mse": [0.04] * 5},
            "lambda=0.01": {"test_mse": middle_test, "train_mse": middle_train},
            "lambda=10": {"test_mse": [0.4, 0.41, 0.39, 0.42, 0.4], "train_mse": [0.37] * 5},
        },
        "ridge",
    )
    evidence = claim("ridge_moves_the_minimum")(rows, NO_HISTORY)
    assert len(evidence.comparisons) == 3
    assert (verdict(evidence) == "supported") == (expected == "supported")


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    # The quick arms (7 of 16, those the claims compare): every code path, and
    # check_quick_run counts a stage's ``arms``.
    stages = [Stage("degree", cx.QUICK_DEGREE_ARMS), Stage("ridge", cx.QUICK_RIDGE_ARMS)]
    outcome = check_quick_run(replace(cx.STUDY, stages=stages), store, tuple(cx.METRICS))
    assert {r.spec.stage for r in outcome.records} == {"degree", "ridge"}
