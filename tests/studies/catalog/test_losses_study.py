"""The ``losses`` study: its definition, the gradient and stability helpers against closed forms,
finite differences and dlkit's own backward pass, its claim evaluators on hand-made frames, and
a quick run through the real runner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, summaries, verdict
from test_activations_study import check_quick_run

from dlkit import losses, nn
from studies.catalog import losses as ls
from studies.engine import registry
from studies.engine.config import deep_merge

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("losses")
    assert study is ls.STUDY
    (stage,) = study.stages
    assert set(stage.arms) == {
        "ce/normal",
        "mse_softmax/normal",
        "ce/bad",
        "mse_softmax/bad",
        "mse_identity/normal",
    }
    bad = deep_merge(study.stage_base(stage), stage.arms["mse_softmax/bad"].overrides)
    assert bad["loss"] == "squared_error" and bad["model"]["output_gain"] == ls.BAD_GAIN
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ------------------------------------------------------------------------------- helpers


def squared_error_of_logits(z: np.ndarray, y: np.ndarray) -> float:
    """Per-sample ||softmax(z) - onehot(y)||^2 summed over the rows (float64)."""
    return float(np.sum((ls.softmax(z) - ls.one_hot(y, z.shape[1])) ** 2))


def test_logit_gradients_match_closed_form_and_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (4, 5))
    y = np.array([0, 3, 1, 4])
    ce, se = ls.logit_gradients(z, y)
    np.testing.assert_allclose(ce, ls.softmax(z) - ls.one_hot(y, 5), atol=1e-12)
    # the cross-entropy's gradient is dlkit's (which averages over the batch)
    loss = losses.CrossEntropyLoss()
    loss.forward(z, y)
    np.testing.assert_allclose(ce / len(y), loss.backward(), atol=1e-12)
    numeric = np.zeros_like(z)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            step = np.zeros_like(z)
            step[i, j] = 1e-6
            numeric[i, j] = (
                squared_error_of_logits(z + step, y) - squared_error_of_logits(z - step, y)
            ) / 2e-6
    np.testing.assert_allclose(se, numeric, atol=1e-7)


def test_squared_error_gradient_vanishes_when_confidently_wrong():
    z = np.array([[20.0, 0.0, 0.0]])  # class 0 at ~1, the label (2) at ~2e-9
    ce, se = ls.logit_gradients(z, np.array([2]))
    assert np.linalg.norm(ce) > 1.0
    assert np.linalg.norm(se) < 1e-7


def test_output_gradient_norms_equal_dlkit_backward():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    model = {"hidden": 8, "activation": "tanh", "output_gain": 3.0}
    for loss_name, loss, target, index in (
        ("cross_entropy", losses.CrossEntropyLoss(), y, 0),
        ("squared_error", ls.SumSquaredError(), ls.one_hot(y, 4), 1),
    ):
        net = ls.build_model(6, 4, model, loss_name, np.random.default_rng(2))
        z, hidden = ls.logits_and_hidden(net, X)
        want = ls.output_gradient_norms(hidden, z, y)[index]
        for p in net.parameters():
            p.grad[...] = 0
        loss.forward(net.forward(X, train=True), target)
        net.backward(loss.backward())
        dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)][-1]
        assert np.linalg.norm(dense.weight.grad) == pytest.approx(want, rel=1e-4)
    assert all(math.isnan(v) for v in ls.output_gradient_norms(hidden[:0], z[:0], y[:0]))


def test_identity_output_gradient_is_the_squared_errors_on_the_logits():
    rng = np.random.default_rng(6)
    hidden = rng.standard_normal((5, 3))
    z = rng.normal(0, 10, (5, 4))
    y = rng.integers(0, 4, 5)
    # d/dW of mean_i ||h_i W - onehot(y_i)||^2 at W with h W = z: 2 h^T (z - onehot) / N
    want = np.linalg.norm(2 * hidden.T @ (z - ls.one_hot(y, 4)) / 5)
    assert ls.output_gradient_norms(hidden, z, y)[2] == pytest.approx(want)


def test_sum_squared_error_is_classes_times_mse():
    rng = np.random.default_rng(3)
    pred = rng.random((5, 4)).astype(np.float32)
    target = ls.one_hot(rng.integers(0, 4, 5), 4)
    loss = ls.SumSquaredError()
    assert loss.forward(pred, target) == pytest.approx(np.sum((pred - target) ** 2) / 5, rel=1e-6)
    np.testing.assert_allclose(loss.backward(), 2 * (pred - target) / 5, rtol=1e-6)


def test_build_model_scales_the_output_layer_and_appends_softmax():
    cfg = {"hidden": 8, "activation": "tanh", "output_gain": 1.0}
    base = ls.build_model(5, 3, cfg, "cross_entropy", np.random.default_rng(4))
    bad = ls.build_model(
        5, 3, {**cfg, "output_gain": 25.0}, "squared_error", np.random.default_rng(4)
    )
    assert isinstance(bad.layers[-1], nn.Softmax) and not isinstance(base.layers[-1], nn.Softmax)
    np.testing.assert_allclose(bad.layers[-2].weight.data, 25 * base.layers[-1].weight.data)
    np.testing.assert_array_equal(bad.layers[0].weight.data, base.layers[0].weight.data)
    X = np.random.default_rng(5).standard_normal((7, 5)).astype(np.float32)
    np.testing.assert_allclose(bad.forward(X, train=False).sum(axis=1), 1.0, rtol=1e-5)


def test_fused_loss_is_finite_at_large_logits_and_the_naive_one_is_not():
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype=np.float32)
    y = np.array([1, 1])
    np.testing.assert_allclose(ls.fused_cross_entropy(z, y), [2000.0, 0.0])
    assert not np.any(np.isfinite(ls.naive_cross_entropy(z, y)))
    small = np.array([[1.0, 2.0, 0.5]], dtype=np.float32)
    assert ls.naive_cross_entropy(small, np.array([0]))[0] == pytest.approx(
        ls.fused_cross_entropy(small, np.array([0]))[0], rel=1e-6
    )


def test_stability_check():
    large = ls.stability_check(32, 10, 1000.0, np.random.default_rng(0))
    assert large["fused_ce_finite"] == 1.0 and large["naive_ce_finite"] < 0.5
    assert large["fused_ce_max_rel_error"] < ls.REL_TOLERANCE
    small = ls.stability_check(32, 10, 3.0, np.random.default_rng(0))
    assert small["naive_ce_finite"] == 1.0


def test_log10_ratio():
    assert ls.log10_ratio(0.01, 1.0) == pytest.approx(-2.0)
    assert ls.log10_ratio(0.0, 1.0) == -math.inf
    assert math.isnan(ls.log10_ratio(1.0, 0.0)) and math.isnan(ls.log10_ratio(math.nan, 1.0))


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    check_quick_run(ls.STUDY, store, tuple(ls.METRICS))


# ----------------------------------------------------------------------------- claims


def frame(values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """``{arm: {column: per-seed values}}`` as a summaries frame (30-epoch budget)."""
    return summaries(values, **{"config.train.epochs": 30.0})


def claim(claim_id: str):
    return evaluator(ls.STUDY, claim_id)


def test_gap_claim_takes_the_difference_of_the_paired_gaps():
    inf = math.inf
    rows = frame(
        {
            "ce/normal": {"epochs_to_target": [1.0] * 10},
            "mse_softmax/normal": {"epochs_to_target": [3.0] * 9 + [2.0]},
            "ce/bad": {"epochs_to_target": [1.0] * 10},
            "mse_softmax/bad": {"epochs_to_target": [10.0, inf, 12.0, inf, 9.0] * 2},
        }
    )
    evidence = claim("ce_lead_largest_from_bad_start")(rows, NO_HISTORY)
    (comparison,) = evidence.comparisons
    want = np.array([9.0, 30.0, 11.0, 30.0, 8.0] * 2) - np.array([2.0] * 9 + [1.0])
    np.testing.assert_allclose(comparison.values, want)  # inf censored at epochs + 1 = 31
    assert verdict(evidence) == "supported"
    assert verdict(claim("ce_faster_from_bad_start")(rows, NO_HISTORY)) == "supported"
    # the same lead at both starts is no larger gap
    same = rows.copy()
    bad = same["arm"] == "mse_softmax/bad"
    same.loc[bad, "epochs_to_target"] = same.loc[
        same["arm"] == "mse_softmax/normal", "epochs_to_target"
    ].to_numpy()
    assert verdict(claim("ce_lead_largest_from_bad_start")(same, NO_HISTORY)) != "supported"


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ([-2.1, -2.0, -2.2, -1.9, -2.05], "supported"),
        ([-0.3, -0.2, -0.4, -0.25, -0.3], "not supported"),
    ],
)
def test_vanishing_claim_reads_the_bad_start(ratios, expected):
    rows = frame(
        {"ce/bad": {"log10_grad_ratio": ratios}, "ce/normal": {"log10_grad_ratio": [math.nan] * 5}}
    )
    assert (
        verdict(claim("mse_gradient_vanishes_when_confidently_wrong")(rows, NO_HISTORY)) == expected
    )


def test_stability_claim_needs_both_parts():
    good = frame(
        {"ce/normal": {"fused_ce_max_rel_error": [6e-8] * 5, "naive_ce_finite": [0.0] * 5}}
    )
    assert verdict(claim("fused_log_softmax_is_finite")(good, NO_HISTORY)) == "supported"
    naive_ok = frame(
        {"ce/normal": {"fused_ce_max_rel_error": [6e-8] * 5, "naive_ce_finite": [1.0] * 5}}
    )
    assert verdict(claim("fused_log_softmax_is_finite")(naive_ok, NO_HISTORY)) != "supported"


def test_identity_claim_is_an_equivalence():
    rows = frame(
        {
            "ce/normal": {"final_val_acc": [0.96, 0.97, 0.965, 0.97, 0.96] * 2},
            "mse_identity/normal": {"final_val_acc": [0.962, 0.969, 0.966, 0.968, 0.961] * 2},
        }
    )
    evidence = claim("mse_on_identity_outputs_matches_ce")(rows, NO_HISTORY)
    assert evidence.comparisons[0].alternative == "equivalence"
    assert verdict(evidence) == "supported"
    worse = rows.copy()
    worse.loc[worse["arm"] == "mse_identity/normal", "final_val_acc"] -= 0.05
    assert verdict(claim("mse_on_identity_outputs_matches_ce")(worse, NO_HISTORY)) != "supported"
