"""The ``saddle`` study: its definition, the finite-difference Hessian against closed forms
(linear regression) and torch's autograd, the critical-point search on a function with a known
saddle and minimum, the spectrum and escape helpers on hand-made arrays, a quick run through
the real runner, and its claim evaluators on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_activations_study import check_quick_run

from dlkit import losses, nn
from studies.catalog import saddle as sd
from studies.engine import registry
from studies.stats import Evidence, SequentialDesign, judge_claims

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("saddle")
    assert study is sd.STUDY
    (stage,) = study.stages
    assert list(stage.arms) == ["newton_on_grad_norm"]
    assert {c.id for c in study.claims} == {
        "most_points_not_minima",
        "higher_loss_more_negative_eigenvalues",
        "negative_eigenvector_lowers_loss",
    }
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ------------------------------------------------------------------------- the Hessian


def test_hessian_of_linear_regression_is_the_closed_form():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = rng.standard_normal((30, 1))
    model = nn.Sequential(nn.Dense(4, 1, rng=rng))
    f = sd.gradient_function(model, losses.MSELoss(), X, y)
    theta = sd.flat_parameters(model.parameters())
    # MSE = mean((X w + b - y)^2): Hessian 2/N [X 1]^T [X 1], weight entries before the bias
    X1 = np.hstack([X, np.ones((30, 1))])
    np.testing.assert_allclose(sd.hessian(f, theta), 2 / 30 * X1.T @ X1, atol=1e-8)
    # the same anywhere: the loss is quadratic
    np.testing.assert_allclose(sd.hessian(f, theta + 3.0), 2 / 30 * X1.T @ X1, atol=1e-8)


def test_gradient_function_matches_a_hand_computed_gradient():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 3))
    y = rng.standard_normal((20, 1))
    model = nn.Sequential(nn.Dense(3, 1, rng=rng))
    f = sd.gradient_function(model, losses.MSELoss(), X, y)
    theta = rng.standard_normal(4)
    value, g = f(theta)
    residual = X @ theta[:3] + theta[3] - y[:, 0]
    assert value == pytest.approx(np.mean(residual**2))
    X1 = np.hstack([X, np.ones((20, 1))])
    np.testing.assert_allclose(g, 2 / 20 * X1.T @ residual, atol=1e-12)
    # the parameters now hold theta, in float64
    np.testing.assert_array_equal(sd.flat_parameters(model.parameters()), theta)
    assert all(p.data.dtype == np.float64 for p in model.parameters())


def test_set_parameters_checks_the_length():
    model = nn.mlp([3, 2, 2], activation="tanh", rng=np.random.default_rng(0))
    params = model.parameters()
    theta = np.arange(sum(p.size for p in params), dtype=np.float64)
    sd.set_parameters(params, theta)
    np.testing.assert_array_equal(sd.flat_parameters(params), theta)
    np.testing.assert_array_equal(params[0].data, theta[:6].reshape(3, 2))
    with pytest.raises(ValueError, match="entries"):
        sd.set_parameters(params, theta[:-1])


def test_hessian_matches_torch_autograd_on_a_tanh_net():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((25, 3))
    y = rng.integers(0, 4, 25)
    model = nn.mlp([3, 5, 4], activation="tanh", rng=rng)
    f = sd.gradient_function(model, losses.CrossEntropyLoss(), X, y)
    theta = sd.flat_parameters(model.parameters())
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss(t):
        w1, b1 = t[:15].reshape(3, 5), t[15:20]
        w2, b2 = t[20:40].reshape(5, 4), t[40:44]
        logits = torch.tanh(Xt @ w1 + b1) @ w2 + b2
        return torch.nn.functional.cross_entropy(logits, yt)

    want = torch.autograd.functional.hessian(loss, torch.tensor(theta)).numpy()
    np.testing.assert_allclose(sd.hessian(f, theta), want, atol=1e-8)


# ------------------------------------------------------------------ the critical points


def double_well(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """``(x^2 - 1)^2 + y^2``: a saddle at (0, 0), minima at (+-1, 0)."""
    x, y = theta
    return (x * x - 1) ** 2 + y * y, np.array([4 * x * (x * x - 1), 2 * y])


def test_newton_search_finds_the_saddle_and_the_minimum():
    near_saddle = sd.critical_point_search(
        double_well, np.array([0.3, 0.5]), max_hessians=30, tol=1e-10
    )
    np.testing.assert_allclose(near_saddle["theta"], [0.0, 0.0], atol=1e-9)
    assert near_saddle["grad_norm"] <= 1e-10 < near_saddle["start_grad_norm"]
    assert near_saddle["hessians"] == len(near_saddle["trace"]) - 1
    lam = np.linalg.eigvalsh(sd.hessian(double_well, near_saddle["theta"]))
    np.testing.assert_allclose(lam, [-4.0, 2.0], atol=1e-6)
    spectrum = sd.classify_spectrum(lam)
    assert spectrum["index"] == 0.5 and spectrum["min_ratio"] == 0.5
    assert not spectrum["is_minimum"]

    near_minimum = sd.critical_point_search(
        double_well, np.array([0.8, -0.4]), max_hessians=30, tol=1e-10
    )
    np.testing.assert_allclose(near_minimum["theta"], [1.0, 0.0], atol=1e-9)
    lam = np.linalg.eigvalsh(sd.hessian(double_well, near_minimum["theta"]))
    assert sd.classify_spectrum(lam)["is_minimum"]


def test_newton_search_stops_at_its_budget():
    found = sd.critical_point_search(double_well, np.array([0.3, 0.5]), max_hessians=1, tol=0.0)
    assert found["hessians"] == 1 and found["grad_norm"] < found["start_grad_norm"]


def test_classify_spectrum_counts_with_a_relative_zero_band():
    s = sd.classify_spectrum(np.array([-2.0, -1e-7, 0.0, 1e-9, 3.0]))
    assert (s["n_neg"], s["n_zero"], s["n_pos"]) == (1, 3, 1)
    assert s["index"] == pytest.approx(0.2) and s["min_ratio"] == pytest.approx(0.5)
    assert sd.classify_spectrum(np.array([1.0, 2.0, 1e-8]))["is_minimum"]
    assert math.isnan(sd.classify_spectrum(np.zeros(3))["min_ratio"])


def test_escape_ratio_on_quadratics():
    def saddle(theta):  # x^2 - y^2 / 2: eigenvalues 2 and -1
        x, y = theta
        return x * x - 0.5 * y * y, np.array([2 * x, -y])

    ratio = sd.escape_ratio(saddle, np.zeros(2), -1.0, np.array([0.0, 3.0]), step=0.5)
    assert ratio == pytest.approx(-1.0)

    def quartic(theta):  # y^4 - y^2 / 2: the quadratic model overstates the fall
        y = theta[0]
        return y**4 - 0.5 * y * y, np.array([4 * y**3 - y])

    t = 0.5  # loss change t^4 - t^2 / 2 = -1/16 against a predicted -1/8
    assert sd.escape_ratio(quartic, np.zeros(1), -1.0, np.ones(1), step=t) == pytest.approx(-0.5)
    # a step so long that the quartic wins raises the loss: ratio above 0
    assert sd.escape_ratio(quartic, np.zeros(1), -1.0, np.ones(1), step=1.0) > 0


def test_spearman_against_scipy_and_degenerate_cases():
    x = np.array([2.2, 2.1, 1.5, 1.0, 0.5])
    assert sd.spearman(x, x**2) == pytest.approx(1.0)
    assert sd.spearman(x, -x) == pytest.approx(-1.0)
    y = np.array([0.3, 0.35, 0.2, 0.1, 0.12])
    assert sd.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert sd.spearman(x, y) == pytest.approx(0.8)  # ranks 5 4 3 2 1 vs 4 5 3 1 2
    assert math.isnan(sd.spearman(x, np.ones(5)))
    assert math.isnan(sd.spearman(x[:2], y[:2]))


def test_gd_snapshots_keep_the_requested_iterates():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = nn.mlp([5, 4, 3], activation="tanh", rng=rng)
    first = sd.flat_parameters(model.parameters())
    snaps = sd.gd_snapshots(model, losses.CrossEntropyLoss(), X, y, lr=0.5, epochs=[0, 5, 20])
    assert sorted(snaps) == [0, 5, 20]
    np.testing.assert_array_equal(snaps[0][0], first)
    assert snaps[0][1] > snaps[5][1] > snaps[20][1]


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    outcome = check_quick_run(sd.STUDY, store, tuple(sd.METRICS))
    (record,) = outcome.records
    summary = record.result.summary
    assert summary["n_points"] == 3 and 0 <= summary["frac_minima"] <= 1
    assert [r["epoch"] for r in record.result.history] == [0, 1, 2]


# ----------------------------------------------------------------------------- claims


def frame(columns: dict[str, list[float]]) -> pd.DataFrame:
    """``{column: per-seed values}`` as a summaries frame of the study's one arm."""
    n = len(next(iter(columns.values())))
    rows = [
        {
            "stage": "main",
            "arm": "newton_on_grad_norm",
            "seed": seed,
            "status": "ok",
            **{c: float(v[seed]) for c, v in columns.items()},
        }
        for seed in range(n)
    ]
    return pd.DataFrame(rows)


def verdict(claim_id: str, columns: dict[str, list[float]]) -> str:
    evaluate = next(c for c in sd.STUDY.claims if c.id == claim_id).evaluate
    evidence = evaluate(frame(columns), NO_HISTORY)
    assert isinstance(evidence, Evidence)
    n = len(next(iter(columns.values())))
    (judgement,) = judge_claims([evidence], SequentialDesign(looks=(max(n, 2),)), reached=1)
    return judgement.status


@pytest.mark.parametrize(
    ("claim_id", "column", "values", "expected"),
    [
        ("most_points_not_minima", "frac_minima", [0.0, 0.2, 0.0, 0.2, 0.0], "supported"),
        ("most_points_not_minima", "frac_minima", [1.0, 0.8, 1.0, 0.8, 1.0], "not supported"),
        (
            "higher_loss_more_negative_eigenvalues",
            "index_loss_spearman",
            [1.0, 0.9, 1.0, 0.7, 1.0],
            "supported",
        ),
        (
            "higher_loss_more_negative_eigenvalues",
            "index_loss_spearman",
            [-1.0, -0.9, -1.0, -0.7, -0.8],
            "not supported",
        ),
        (
            "negative_eigenvector_lowers_loss",
            "escape_ratio_max",
            [-0.8, -0.6, -0.9, -0.7, -0.75],
            "supported",
        ),
        (
            "negative_eigenvector_lowers_loss",
            "escape_ratio_max",
            [0.5, 0.6, 0.4, 0.7, 0.55],
            "not supported",
        ),
    ],
)
def test_claims_on_hand_made_frames(claim_id, column, values, expected):
    assert verdict(claim_id, {column: values}) == expected
