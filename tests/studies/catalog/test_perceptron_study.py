"""The ``perceptron`` study: its definition, the perceptron rule against scikit-learn's
Perceptron, Novikoff's bound on hand-made and random separable data, the batched XOR trainer
against dlkit's own training loop, its claim evaluators on hand-made frames, and a quick run
through the real runner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, summaries, verdict
from plot_checks import check_metrics_declared
from sklearn.linear_model import Perceptron

from dlkit import losses, nn, optim, train
from studies.catalog import perceptron as pc
from studies.engine import registry

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("perceptron")
    assert study is pc.STUDY
    assert [s.name for s in study.stages] == ["xor", "novikoff", "width"]
    xor, novikoff, width = study.stages
    assert set(xor.arms) == {"perceptron", "logistic", "mlp"}
    assert set(novikoff.arms) == {f"gamma={g:g}" for g in pc.MARGINS}
    assert set(width.arms) == {f"width={h}" for h in pc.WIDTHS}
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ------------------------------------------------------------------------ perceptron rule


def test_perceptron_epoch_updates_only_on_mistakes():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = np.array([1.0, -1.0, -1.0])
    w, mistakes = pc.perceptron_epoch(np.zeros(2), X, y, np.arange(3))
    # x0: 0 <= 0, update to (1, 0); x1: -1 * 0 <= 0, update to (1, -1); x2: -1 * -1 > 0
    np.testing.assert_array_equal(w, [1.0, -1.0])
    assert mistakes == 2


def test_perceptron_matches_scikit_learn_epoch_by_epoch():
    rng = np.random.default_rng(0)
    X, y, _ = pc.separable_data(40, 3, 0.05, rng)
    reference = Perceptron(fit_intercept=False, shuffle=False, eta0=1.0, penalty=None)
    w = np.zeros(3)
    for _ in range(5):
        reference.partial_fit(X, y, classes=np.array([-1.0, 1.0]))
        w, _ = pc.perceptron_epoch(w, X, y, np.arange(len(y)))
        np.testing.assert_allclose(w, reference.coef_[0], atol=1e-12)


def test_novikoff_bound_by_hand():
    X = np.array([[1.0, 0.0], [-0.5, 0.5]])
    y = np.array([1.0, -1.0])
    bound, radius, margin = pc.novikoff_bound(X, y, np.array([2.0, 0.0]))
    assert radius == pytest.approx(1.0) and margin == pytest.approx(0.5)
    assert bound == pytest.approx(4.0)
    assert pc.novikoff_bound(X, y, np.array([0.0, 1.0]))[0] == math.inf


@pytest.mark.parametrize("margin", [0.05, 0.2])
def test_separable_data_and_the_bound_holds(margin):
    for seed in range(5):
        data_rng, order_rng = np.random.default_rng(seed).spawn(2)
        X, y, u = pc.separable_data(60, 4, margin, data_rng)
        assert X.shape == (60, 4) and np.linalg.norm(u) == pytest.approx(1.0)
        assert np.all(np.linalg.norm(X, axis=1) <= 1.0)
        assert np.all(y * (X @ u) >= margin)
        w, mistakes, epochs = pc.perceptron_until_separated(X, y, order_rng, 1000)
        assert np.all(y * (X @ w) > 0) and epochs < 1000
        bound, _, _ = pc.novikoff_bound(X, y, u)
        assert 0 < mistakes <= bound


def test_perceptron_never_gets_xor_right():
    for seed in range(10):
        accs = pc.perceptron_xor(50, np.random.default_rng(seed))
        assert len(accs) == 51 and max(accs) <= 0.75
        assert set(accs) <= {0.0, 0.25, 0.5, 0.75}


# ---------------------------------------------------------------------- batched XOR nets


def test_batched_trainer_matches_dlkit():
    hidden, steps, lr = 3, 40, 0.5
    params = pc.init_mlps(2, hidden, np.random.default_rng(0))
    net = nn.mlp([2, hidden, 1], activation="tanh", rng=np.random.default_rng(1))
    first, out = net.layers[0], net.layers[-1]
    first.weight.data[...] = params["W1"][1]
    out.weight.data[...] = params["w2"][1][:, None]
    train.fit(
        net,
        losses.BCEWithLogitsLoss(),
        optim.build("sgd", net.parameters(), lr=lr),
        pc.XOR_X,
        pc.XOR_Y.astype(np.float32)[:, None],
        epochs=steps,
        batch_size=4,
        rng=np.random.default_rng(2),
    )
    pc.train_mlps(params, pc.XOR_X, pc.XOR_Y, steps=steps, lr=lr)
    np.testing.assert_allclose(params["W1"][1], first.weight.data, atol=1e-5)
    np.testing.assert_allclose(params["b1"][1], first.bias.data, atol=1e-5)
    np.testing.assert_allclose(params["w2"][1], out.weight.data[:, 0], atol=1e-5)
    np.testing.assert_allclose(params["b2"][1], out.bias.data[0], atol=1e-5)


def test_solved_on_a_hand_built_solution():
    # h1 = tanh(5 (x1 + x2 + 1)), h2 = tanh(5 (x1 + x2 - 1)), z = h1 - h2 - 1
    params = {
        "W1": np.full((2, 2, 2), 5.0, dtype=np.float32),
        "b1": np.array([[5.0, -5.0], [5.0, -5.0]], dtype=np.float32),
        "w2": np.array([[1.0, -1.0], [0.0, 0.0]], dtype=np.float32),
        "b2": np.array([-1.0, 0.0], dtype=np.float32),
    }
    np.testing.assert_array_equal(pc.solved(params, pc.XOR_X, pc.XOR_Y), [True, False])


def test_init_mlps_draws_independent_xavier_nets():
    params = pc.init_mlps(50, 2, np.random.default_rng(0))
    bound = math.sqrt(6 / 4)
    assert np.abs(params["W1"]).max() <= bound and not np.any(params["b1"])
    assert len({tuple(w.ravel()) for w in params["W1"]}) == 50


# ----------------------------------------------------------------------------- quick run


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    from mlflow import MlflowClient
    from threadpoolctl import threadpool_limits

    from studies.engine.runner import run_study

    with threadpool_limits(limits=1):
        outcome = run_study(
            pc.STUDY, quick=True, n_seeds=1, jobs=1, tracking_uri=store, progress_bar=False
        )
    check_metrics_declared(pc.STUDY, outcome)
    stages = [r.spec.stage for r in outcome.records]
    assert [stages.count(s) for s in ("xor", "novikoff", "width")] == [3, 3, 4]
    plotted = {}
    for plot in pc.STUDY.plots:
        plotted.setdefault(plot.options["stage"], set()).add(plot.options["metric"])
    client = MlflowClient(store)
    for record in outcome.records:
        result = record.result
        assert result.status == "ok", record.spec.arm
        keys = set(result.summary) | set().union(*(r.keys() for r in result.history))
        assert plotted[record.spec.stage] <= keys
        assert set(result.summary) <= set(client.get_run(record.run_id).data.metrics)
    verdicts = {claim.id: result for claim, result in outcome.claims}
    assert set(verdicts) == {c.id for c in pc.STUDY.claims}
    assert all("could not be evaluated" not in r.detail for r in verdicts.values())


# ----------------------------------------------------------------------------- claims


def frame(stage: str, values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """``{arm: {column: per-seed values}}`` of one stage as a summaries frame."""
    return summaries(values, stage)


def claim(claim_id: str):
    return evaluator(pc.STUDY, claim_id)


@pytest.mark.parametrize(
    ("perceptron", "mlp", "expected"),
    [
        ([0.75, 0.5, 0.75, 0.75, 0.5], [1.0] * 5, "supported"),
        ([1.0, 1.0, 1.0, 0.75, 1.0], [1.0] * 5, "not as a whole"),
        ([0.75, 0.5, 0.75, 0.75, 0.5], [0.75, 0.5, 0.75, 0.5, 0.75], "not as a whole"),
    ],
)
def test_xor_claim_needs_every_part(perceptron, mlp, expected):
    rows = frame(
        "xor",
        {
            "perceptron": {"best_acc": perceptron},
            "logistic": {"best_acc": [0.5, 0.25, 0.75, 0.5, 0.5]},
            "mlp": {"best_acc": mlp},
        },
    )
    evidence = claim("single_layer_cannot_learn_xor")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"perceptron", "logistic", "mlp"}
    if expected == "supported":
        assert verdict(evidence) == "supported"
    else:
        assert verdict(evidence) != "supported"


def test_novikoff_claim_checks_every_margin():
    ratios = {
        arm: {"mistakes_over_bound": [0.1, 0.05, 0.2, 0.12, 0.08]} for arm in pc.NOVIKOFF_ARMS
    }
    assert verdict(claim("novikoff_bound_holds")(frame("novikoff", ratios), NO_HISTORY)) == (
        "supported"
    )
    ratios["gamma=0.2"] = {"mistakes_over_bound": [1.2, 1.5, 1.1, 1.3, 1.4]}
    assert verdict(claim("novikoff_bound_holds")(frame("novikoff", ratios), NO_HISTORY)) != (
        "supported"
    )


def test_width_claims():
    rows = frame(
        "width",
        {
            "width=2": {"solved_fraction": [0.65, 0.7, 0.75, 0.7, 0.725]},
            "width=8": {"solved_fraction": [1.0, 1.0, 0.975, 1.0, 1.0]},
        },
    )
    assert verdict(claim("two_hidden_units_sometimes_stuck")(rows, NO_HISTORY)) == "supported"
    evidence = claim("wider_hidden_layer_solves_xor_more_often")(rows, NO_HISTORY)
    np.testing.assert_allclose(evidence.comparisons[0].values, [0.35, 0.3, 0.225, 0.3, 0.275])
    assert verdict(evidence) == "supported"
    always = frame("width", {"width=2": {"solved_fraction": [1.0] * 5}})
    assert verdict(claim("two_hidden_units_sometimes_stuck")(always, NO_HISTORY)) != "supported"
