"""The ``mnist1d`` study: models as in the paper, a short trial, and the claim evaluators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_plots
from test_activations_study import verdict

from studies.catalog import _mnist1d as shared
from studies.catalog import mnist1d
from studies.engine import registry
from studies.engine.spec import normalize_arms


def test_definition_is_valid_and_plots_are_drawable():
    study = registry.load_study("mnist1d")
    stage = study.stages[0]
    arms = normalize_arms(stage.arms)
    assert set(arms) == {
        "logistic",
        "logistic_shuffled",
        "mlp",
        "mlp_shuffled",
        "cnn",
        "cnn_shuffled",
    }
    # one stage run by the study's sequential design, from its first look
    assert not stage.fixed_seeds
    assert study.stage_seeds(stage, quick=False, n_seeds=None, design=study.design) == list(
        range(study.design.looks[0])
    )
    check_plots(study)


@pytest.mark.parametrize(
    ("kind", "shape", "n_params"),
    [
        ("logistic", (7, 40), 40 * 10 + 10),
        ("mlp", (7, 40), 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10),
        ("cnn", (7, 1, 40), (5 * 25 + 25) + 2 * (25 * 25 * 3 + 25) + 125 * 10 + 10),
    ],
)
def test_models_have_the_papers_shapes(kind, shape, n_params):
    model = shared.build_model(kind, np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    assert model.forward(x, train=False).shape == (7, 10)
    assert sum(p.size for p in model.parameters()) == n_params


def test_trial_logs_test_curves_and_final_figures():
    config = {**mnist1d.STUDY.base_config, "model": "mlp", "epochs": 2, "seed": 0, "arm": "mlp"}
    result = mnist1d.trial(config)
    assert result.status == "ok" and [r["epoch"] for r in result.history] == [1, 2]
    assert {"train_loss", "test_loss", "test_acc"} <= set(result.history[-1])
    assert not any(k.startswith("val_") for k in result.history[-1])
    # summary keys never reuse a curve's name
    assert not set(result.summary) & set(result.history[-1])
    assert result.summary["final_test_acc"] == result.history[-1]["test_acc"]
    assert set(result.summary) <= set(mnist1d.STUDY.metrics)  # every figure has a direction


def test_every_seed_draws_its_own_split_shared_by_both_sequences():
    config = {**mnist1d.STUDY.base_config, "shuffle_seq": False}
    X, y, X_test, y_test = shared.split(config, np.random.default_rng(0))
    assert X.shape == (4000, 40) and X_test.shape == (1000, 40)
    assert np.bincount(y_test).min() >= 95  # stratified: about 100 per class
    again = shared.split(config, np.random.default_rng(0))
    np.testing.assert_array_equal(X_test, again[2])
    other = shared.split(config, np.random.default_rng(1))
    assert not np.array_equal(y_test, other[3])
    shuffled = shared.split({**config, "shuffle_seq": True}, np.random.default_rng(0))
    # the same rows, their positions permuted
    np.testing.assert_array_equal(y_test, shuffled[3])
    np.testing.assert_allclose(np.sort(X_test, axis=1), np.sort(shuffled[2], axis=1))


def _frame(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"arm": arm, "seed": seed, "status": "ok", "stage": "main", "final_test_acc": v}
        for arm, vs in values.items()
        for seed, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("accs", "expected"),
    [
        ([0.93, 0.94, 0.95, 0.935, 0.945], "supported"),
        ([0.80, 0.81, 0.79, 0.80, 0.805], "not supported"),
        ([0.86, 0.95, 0.90, 0.99, 0.88], "inconclusive"),
    ],
)
def test_matches_published_verdicts(accs, expected):
    evaluate = mnist1d.matches_published("cnn", published=0.94, tolerance=0.05)
    frame = _frame({"cnn": accs, "mlp": [0.1] * 5})
    evidence = evaluate(frame, None)
    (c,) = evidence.comparisons
    # per seed: accuracy minus the published value, claimed within the tolerance
    np.testing.assert_allclose(c.values, np.array(accs) - 0.94)
    assert (c.alternative, c.margin, c.reference) == ("equivalence", 0.05, 0.94)
    assert c.arms == ("cnn",) and c.seeds == (0, 1, 2, 3, 4)
    assert verdict(evidence) == expected
    diverged = frame.copy()
    diverged.loc[(frame["arm"] == "cnn") & (frame["seed"] == 2), "final_test_acc"] = np.nan
    assert evaluate(diverged, None).comparisons[0].seeds == (0, 1, 3, 4)


@pytest.mark.parametrize(
    ("shuffled", "expected"),
    [
        ([0.55, 0.56, 0.57, 0.555, 0.565], "supported"),
        ([0.90, 0.91, 0.92, 0.905, 0.915], "not supported"),
        ([0.60, 0.80, 0.70, 0.62, 0.78], "inconclusive"),
    ],
)
def test_shuffle_costs_cnn_verdicts(shuffled, expected):
    original = [0.93, 0.94, 0.95, 0.935, 0.945]
    frame = _frame({"cnn": original, "cnn_shuffled": shuffled})
    claim = next(c for c in mnist1d.STUDY.claims if c.id == "shuffle_hurts_cnn")
    evidence = claim.evaluate(frame, None)
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, np.array(original) - np.array(shuffled) - 0.20)
    assert (c.alternative, c.reference, c.arms) == ("greater", 0.20, ("cnn", "cnn_shuffled"))
    assert verdict(evidence) == expected


def test_shuffle_harmless_uses_paired_tost():
    original = [0.65, 0.66, 0.67, 0.655, 0.665]
    frame = _frame({"mlp": original, "mlp_shuffled": [0.651, 0.659, 0.671, 0.654, 0.666]})
    evidence = mnist1d.shuffle_harmless("mlp")(frame, None)
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, [-0.001, 0.001, -0.001, 0.001, -0.001], atol=1e-12)
    assert (c.alternative, c.margin, c.arms) == ("equivalence", 0.03, ("mlp", "mlp_shuffled"))
    assert verdict(evidence) == "supported"
    frame = _frame({"mlp": original, "mlp_shuffled": [0.55, 0.56, 0.57, 0.555, 0.565]})
    assert verdict(mnist1d.shuffle_harmless("mlp")(frame, None)) == "not supported"
