"""The ``mnist1d`` study: models as in the paper, a short trial, and the claim evaluators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_plots

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
    assert len(study.stage_seeds(stage, quick=False, n_seeds=None)) >= 3
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
    model = mnist1d.build_model(kind, np.random.default_rng(0))
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


def _frame(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"arm": arm, "seed": seed, "status": "ok", "stage": "main", "final_test_acc": v}
        for arm, vs in values.items()
        for seed, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("accs", "verdict"),
    [
        ([0.93, 0.94, 0.95], "supported"),
        ([0.80, 0.81, 0.79], "not supported"),
        ([0.86, 0.95, 0.90], "inconclusive"),
    ],
)
def test_matches_published_verdicts(accs, verdict):
    evaluate = mnist1d.matches_published("cnn", published=0.94, tolerance=0.05)
    assert evaluate(_frame({"cnn": accs}), None).verdict == verdict


@pytest.mark.parametrize(
    ("shuffled", "verdict"),
    [
        ([0.55, 0.56, 0.57], "supported"),
        ([0.90, 0.91, 0.92], "not supported"),
        ([0.60, 0.80, 0.70], "inconclusive"),
    ],
)
def test_shuffle_costs_cnn_verdicts(shuffled, verdict):
    frame = _frame({"cnn": [0.93, 0.94, 0.95], "cnn_shuffled": shuffled})
    claim = next(c for c in mnist1d.STUDY.claims if c.id == "shuffle_hurts_cnn")
    result = claim.evaluate(frame, None)
    assert result.verdict == verdict
    assert result.numbers["mean_diff"] == pytest.approx(0.94 - np.mean(shuffled))


def test_shuffle_harmless_uses_paired_tost():
    frame = _frame({"mlp": [0.65, 0.66, 0.67], "mlp_shuffled": [0.651, 0.659, 0.671]})
    assert mnist1d.shuffle_harmless("mlp")(frame, None).verdict == "supported"
    frame = _frame({"mlp": [0.65, 0.66, 0.67], "mlp_shuffled": [0.55, 0.56, 0.57]})
    assert mnist1d.shuffle_harmless("mlp")(frame, None).verdict == "not supported"
