"""The ``recurrent`` study: its definition, the adding problem, the decay slope, the
bidirectional GRU against torch, a quick run through the real runner, and its claim
evaluators on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, summaries, verdict
from plot_checks import check_metrics_declared

from studies.catalog import recurrent as rec
from studies.engine import registry

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("recurrent")
    assert study is rec.STUDY
    assert [s.name for s in study.stages] == ["mnist1d", "adding", "exploding"]
    names = [name for s in study.stages for name in s.arms]
    assert len(names) == len(set(names)) == 8 + 3 + 2
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ----------------------------------------------------------------------------- helpers


def test_adding_problem_targets_are_the_marked_sums():
    x, y = rec.adding_problem(200, 12, np.random.default_rng(0))
    assert x.shape == (200, 12, 2) and y.shape == (200, 1) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :6].sum(axis=1) == 1) and np.all(markers[:, 6:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    # predicting 1 gives about the chance MSE 1/6 (variance of the sum of two U(0, 1))
    _, y_big = rec.adding_problem(20000, 10, np.random.default_rng(1))
    assert np.mean((y_big - 1.0) ** 2) == pytest.approx(rec.CHANCE_MSE, rel=0.05)


def test_decay_slope_of_a_geometric_sequence():
    # the last step (lag 0) largest, each step back a factor 10 smaller
    norms = np.array([1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert rec.decay_slope(norms) == pytest.approx(-1.0)
    assert rec.decay_slope(norms[::-1]) == pytest.approx(1.0)
    for bad in ([1.0], [1.0, 0.0], [np.nan, 1.0]):
        assert math.isnan(rec.decay_slope(bad))


def test_set_spectral_radius():
    w = np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32)
    rec.set_spectral_radius(w, 3.0)
    assert np.max(np.abs(np.linalg.eigvals(w.astype(np.float64)))) == pytest.approx(3.0, rel=1e-5)


def test_bidirectional_gru_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    model = rec.BiGRUClassifier(7, 3, 4, rng)
    ref = torch.nn.GRU(1, 3, batch_first=True, bidirectional=True)
    lin = torch.nn.Linear(7 * 6, 4)
    with torch.no_grad():
        for suffix, gru in (("", model.fwd), ("_reverse", model.bwd)):
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                getattr(ref, name + suffix).copy_(torch.from_numpy(getattr(gru, name).data))
        lin.weight.copy_(torch.from_numpy(model.head.weight.data.T.copy()))
        lin.bias.copy_(torch.from_numpy(model.head.bias.data))
    x = rng.normal(size=(5, 7)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0])
    xt = torch.from_numpy(x).requires_grad_(False)
    out, _ = ref(xt[:, :, None])
    logits_ref = lin(out.reshape(5, -1))
    logits = model.forward(x, train=True)
    np.testing.assert_allclose(logits, logits_ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    torch.nn.functional.cross_entropy(logits_ref, torch.from_numpy(y)).backward()
    from dlkit import losses

    loss = losses.CrossEntropyLoss()
    for p in model.params:
        p.grad[...] = 0
    loss.forward(logits, y)
    model.backward(loss.backward())
    np.testing.assert_allclose(
        model.bwd.weight_hh_l0.grad, ref.weight_hh_l0_reverse.grad.numpy(), rtol=1e-3, atol=1e-6
    )
    np.testing.assert_allclose(
        model.fwd.weight_ih_l0.grad, ref.weight_ih_l0.grad.numpy(), rtol=1e-3, atol=1e-6
    )


def test_input_grad_norms_match_torch_rnn():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    model = rec.LastStepRegressor("rnn", 2, 4, rng)
    x, y = rec.adding_problem(6, 9, rng)
    ref = torch.nn.RNN(2, 4, batch_first=True)
    lin = torch.nn.Linear(4, 1)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(ref, name).copy_(torch.from_numpy(getattr(model.cell, name).data))
        lin.weight.copy_(torch.from_numpy(model.head.weight.data.T.copy()))
        lin.bias.copy_(torch.from_numpy(model.head.bias.data))
    xt = torch.from_numpy(x).requires_grad_(True)
    _, h_n = ref(xt)
    torch.nn.functional.mse_loss(lin(h_n[-1]), torch.from_numpy(y)).backward()
    expected = np.linalg.norm(xt.grad.numpy().astype(np.float64), axis=(0, 2))
    np.testing.assert_allclose(rec.input_grad_norms(model, x, y), expected, rtol=1e-4)
    assert all(np.all(p.grad == 0) for p in model.params)


# ----------------------------------------------------------------------------- quick run


@pytest.mark.slow
def test_quick_run_logs_every_stage(store):
    from threadpoolctl import threadpool_limits

    from studies.engine.runner import run_study

    with threadpool_limits(limits=1):
        outcome = run_study(
            rec.STUDY, quick=True, n_seeds=1, jobs=1, tracking_uri=store, progress_bar=False
        )
    check_metrics_declared(rec.STUDY, outcome)
    by_stage = {}
    for record in outcome.records:
        assert record.result.status == "ok", record.spec.arm
        by_stage.setdefault(record.spec.stage, []).append(record.result)
    assert {k: len(v) for k, v in by_stage.items()} == {"mnist1d": 8, "adding": 3, "exploding": 2}
    for result in by_stage["mnist1d"]:
        assert "final_test_acc" in result.summary and "test_acc" in result.history[-1]
    for result in by_stage["adding"] + by_stage["exploding"]:
        assert {"grad_slope_init", "final_loss_capped", "diverged_flag"} <= set(result.summary)
        assert any(k.startswith("dx_norm/lag_") for k in result.history[0])
        assert "test_mse" in result.history[-1]
    for claim, result in outcome.claims:
        assert "could not be evaluated" not in result.detail, claim.id


# ----------------------------------------------------------------------------- claims


def claim(claim_id: str):
    return evaluator(rec.STUDY, claim_id)


def test_gru_claims_on_hand_made_frames():
    good = [0.9, 0.91, 0.92, 0.9, 0.91]
    rows = summaries(
        {"gru": {"final_test_acc": good}, "gru_shuffled": {"final_test_acc": [0.55] * 5}},
        stage="mnist1d",
    )
    assert verdict(claim("gru_matches_paper")(rows, NO_HISTORY)) == "supported"
    assert verdict(claim("shuffle_hurts_gru")(rows, NO_HISTORY)) == "supported"
    rows = summaries(
        {
            "gru": {"final_test_acc": [0.7, 0.71, 0.72, 0.7, 0.69]},
            "gru_shuffled": {"final_test_acc": [0.6, 0.62, 0.61, 0.6, 0.6]},
        },
        stage="mnist1d",
    )
    assert verdict(claim("gru_matches_paper")(rows, NO_HISTORY)) == "not supported"
    assert verdict(claim("shuffle_hurts_gru")(rows, NO_HISTORY)) == "not supported"


@pytest.mark.parametrize(
    ("rnn", "expected"),
    [([-0.3, -0.25, -0.28, -0.3, -0.27], "supported"), ([0.0, 0.01, -0.01, 0.0, 0.0], "other")],
)
def test_vanishing_claim(rnn, expected):
    rows = summaries(
        {
            "rnn_T50": {"grad_slope_trained": rnn},
            "lstm_T50": {"grad_slope_trained": [-0.05, -0.04, -0.06, -0.05, -0.03]},
            "gru_T50": {"grad_slope_trained": [-0.02, -0.03, -0.01, -0.02, -0.04]},
        },
        stage="adding",
    )
    result = verdict(claim("rnn_gradient_vanishes")(rows, NO_HISTORY))
    assert (result == "supported") == (expected == "supported")


@pytest.mark.parametrize(
    ("lstm", "expected"),
    [([0.001, 0.002, 0.004, 0.001, 0.003], "supported"), ([0.16, 0.17, 0.15, 0.16, 0.17], "no")],
)
def test_long_memory_claim(lstm, expected):
    rows = summaries(
        {
            "rnn_T50": {"final_test_mse": [0.168, 0.17, 0.166, 0.169, 0.171]},
            "lstm_T50": {"final_test_mse": lstm},
            "gru_T50": {"final_test_mse": [0.001, 0.0005, 0.002, 0.001, 0.001]},
        },
        stage="adding",
    )
    result = verdict(claim("gated_cells_solve_adding")(rows, NO_HISTORY))
    assert (result == "supported") == (expected == "supported")


@pytest.mark.parametrize(
    ("growth", "expected"),
    [([0.15, 0.2, 0.18, 0.17, 0.19], "supported"), ([-0.1, -0.12, -0.09, -0.1, -0.11], "no")],
)
def test_exploding_claim_needs_growth_and_clipping(growth, expected):
    rows = summaries(
        {
            "rnn_radius3": {"grad_slope_init": growth, "final_loss_capped": [10.0] * 5},
            "rnn_radius3_clip": {
                "grad_slope_init": growth,
                "final_loss_capped": [0.17, 0.18, 0.16, 0.2, 0.17],
            },
        },
        stage="exploding",
    )
    result = verdict(claim("clipping_tames_exploding_rnn")(rows, NO_HISTORY))
    assert (result == "supported") == (expected == "supported")
