"""The ``regularization`` study: definition, model, a quick run through the runner, claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
from test_activations_study import part, verdict
from threadpoolctl import threadpool_limits

from dlkit import nn
from studies.catalog import regularization as reg
from studies.engine import registry
from studies.engine.spec import normalize_arms


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Train in-process with one BLAS thread, as the pool workers do (more threads only fight
    over the cores of a shared machine: 100x100 products ran 100x slower at load 5)."""
    with threadpool_limits(limits=1):
        yield


def test_study_definition_is_valid():
    study = registry.load_study("regularization")
    assert study is reg.STUDY
    stage = study.stages[0]
    arms = normalize_arms(stage.arms)
    study.check_arms(stage, arms)
    assert {"none", reg.L2_ARM, reg.DROPOUT_ARM, f"l1_{reg.L1_LAM:g}"} <= set(arms)
    factors = {arm.factors["regularizer"] for arm in arms.values()}
    assert factors == {"none", "l2", "dropout", "both", "l1"}
    assert not stage.fixed_seeds  # seeds come from the study's sequential design
    assert study.base_config["model"]["hidden"] == [100] * 6
    check_plots(study)


def test_split_sizes_and_scaling():
    X, y, X_val, y_val, X_test, y_test = reg.split_digits(np.random.default_rng(0))
    assert (len(y), len(y_val), len(y_test)) == (300, 500, 997)
    assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    assert set(np.unique(y)) == set(range(10))
    again = reg.split_digits(np.random.default_rng(0))
    np.testing.assert_array_equal(X_test, again[4])
    # each seed's generator draws its own split
    assert not np.array_equal(y_val, reg.split_digits(np.random.default_rng(1))[3])


def test_model_is_six_hidden_layers_with_dropout_after_each_relu():
    model = reg.build_model([100] * 6, 0.2, np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Dense") == 7 and kinds.count("ReLU") == 6 and kinds.count("Dropout") == 6
    assert all(kinds[i + 1] == "Dropout" for i, k in enumerate(kinds) if k == "ReLU")
    plain = reg.build_model([100] * 6, 0.0, np.random.default_rng(0))
    assert not any(isinstance(layer, nn.Dropout) for layer in plain.layers)
    norms = reg.weight_norms(plain)
    # Kaiming normal: E|W|^2 = fan_out * 2 = 200 for a (100, 100) layer
    assert len(norms) == 7 and norms[1] == pytest.approx(np.sqrt(200), rel=0.1)


def test_trial_records_curves_gap_and_weight_norms():
    config = {
        **reg.STUDY.base_config,
        "train": {"epochs": 4, "batch_size": 100},
        "eval_every": 2,
        "seed": 0,
        "arm": "l2",
        "regularizer": {"l2": 0.01, "l1": 0.0},
    }
    result = reg.trial(config)
    assert [r["epoch"] for r in result.history] == [2, 4]
    for r in result.history:
        assert {"train_loss", "train_acc", "val_acc"} <= set(r)
        assert r["gap"] == pytest.approx(r["train_eval_acc"] - r["test_acc"])
        assert all(f"weight_norm/layer_{k}" in r for k in range(7))
    assert set(result.summary) == {
        "final_train_acc",
        "final_val_acc",
        "final_test_acc",
        "final_gap",
        "weight_norm",
        "best_val_acc",
    }
    # summary names never collide with history names (they share one MLflow key space)
    assert not set(result.summary) & {k for r in result.history for k in r}
    with pytest.raises(ValueError, match="one of l2 or l1"):
        reg.trial({**config, "regularizer": {"l2": 0.1, "l1": 0.1}})


def test_quick_run_logs_the_declared_metrics(store):
    from mlflow import MlflowClient

    from studies.engine.runner import run_study

    arms = {
        k: v
        for k, v in normalize_arms(reg.STUDY.arms).items()
        if k in ("none", reg.L2_ARM, reg.DROPOUT_ARM)
    }
    study = dataclasses.replace(reg.STUDY, arms=arms, stages=(), quick={"train": {"epochs": 6}})
    outcome = run_study(study, quick=True, tracking_uri=store, jobs=1, progress_bar=False)
    check_metrics_declared(study, outcome)
    assert len(outcome.records) == 3 * 2
    client = MlflowClient(store)
    for record in outcome.records:
        assert record.result.status == "ok"
        metrics = client.get_run(record.run_id).data.metrics
        assert {"final_gap", "weight_norm", "train_loss", "test_acc", "weight_norm/layer_6"} <= set(
            metrics
        )
        steps = [m.step for m in client.get_metric_history(record.run_id, "gap")]
        assert steps == [5, 6]
    verdicts = {claim.id: result for claim, result in outcome.claims}
    assert set(verdicts) == {c.id for c in reg.STUDY.claims}
    for result in verdicts.values():
        assert "could not be evaluated" not in result.detail


# ----------------------------------------------------------------------------- claims


def _frame(columns: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """One row per (arm, seed) from ``{metric: {arm: [per seed]}}``."""
    rows = {}
    for metric, by_arm in columns.items():
        for arm, values in by_arm.items():
            for seed, v in enumerate(values):
                rows.setdefault(
                    (arm, seed), {"stage": "main", "arm": arm, "seed": seed, "status": "ok"}
                )[metric] = v
    return pd.DataFrame(list(rows.values()))


SEEDS = 6


def _around(value: float) -> list[float]:
    return list(value + 0.002 * np.linspace(-1, 1, SEEDS))


def test_overfitting_claim():
    fits = _frame(
        {"final_train_acc": {"none": _around(0.995)}, "final_gap": {"none": _around(0.15)}}
    )
    evidence = reg.overfits_without_regularization(fits, None)
    train_acc, gap = part(evidence, "train_acc"), part(evidence, "gap")
    np.testing.assert_allclose(train_acc.values, np.array(_around(0.995)) - 0.98)
    np.testing.assert_allclose(gap.values, np.array(_around(0.15)) - 0.10)
    for c in (train_acc, gap):
        assert (c.alternative, c.arms, c.seeds) == ("greater", ("none",), tuple(range(SEEDS)))
    assert verdict(evidence) == "supported"
    small_gap = _frame(
        {"final_train_acc": {"none": _around(0.995)}, "final_gap": {"none": _around(0.06)}}
    )
    assert verdict(reg.overfits_without_regularization(small_gap, None)) == "not supported"


def test_gap_shrink_claim():
    gaps = {"none": _around(0.10), reg.L2_ARM: _around(0.05), reg.DROPOUT_ARM: _around(0.06)}
    evidence = reg.both_shrink_gap(_frame({"final_gap": gaps}), None)
    for arm in (reg.L2_ARM, reg.DROPOUT_ARM):
        c = part(evidence, arm)
        # per seed: gap_arm - 0.7 gap_none, claimed below 0
        np.testing.assert_allclose(c.values, np.array(gaps[arm]) - 0.7 * np.array(gaps["none"]))
        assert (c.alternative, c.arms) == ("less", (arm, "none"))
    assert verdict(evidence) == "supported"
    gaps[reg.DROPOUT_ARM] = _around(0.09)  # only 10% smaller
    evidence = reg.both_shrink_gap(_frame({"final_gap": gaps}), None)
    assert verdict(evidence) == "not supported"
    assert evidence.numbers[f"{reg.DROPOUT_ARM}.mean_shrink"] == pytest.approx(0.1)


def test_l2_shrinks_weights_claim():
    norms = {"none": _around(35.0), reg.L2_ARM: _around(16.0), reg.DROPOUT_ARM: _around(34.0)}
    claim = next(c for c in reg.STUDY.claims if c.id == "l2_shrinks_weights")
    evidence = claim.evaluate(_frame({"weight_norm": norms}), None)
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, np.full(SEEDS, -19.0))
    assert (c.alternative, c.test, c.arms) == ("less", "t", (reg.L2_ARM, "none"))
    assert verdict(evidence) == "supported"


def test_best_regularized_arm_is_chosen_per_seed_on_validation_not_test():
    def frame(test_a: float) -> pd.DataFrame:
        return _frame(
            {
                "final_val_acc": {"none": _around(0.90), "a": _around(0.95), "b": _around(0.91)},
                "final_test_acc": {
                    "none": _around(0.90),
                    "a": _around(test_a),
                    "b": _around(0.99),
                },
            }
        )

    # a has the best validation accuracy in every seed, b the best test accuracy
    assert verdict(reg.best_regularized_beats_none(frame(0.85), None)) == "not supported"
    tilted = frame(0.93)
    # in seed 0, b has the best validation accuracy: its test accuracy is used there
    tilted.loc[(tilted["arm"] == "b") & (tilted["seed"] == 0), "final_val_acc"] = 0.97
    evidence = reg.best_regularized_beats_none(tilted, None)
    (c,) = evidence.comparisons
    expected = np.array(_around(0.93)) - np.array(_around(0.90))
    expected[0] = _around(0.99)[0] - _around(0.90)[0]
    np.testing.assert_allclose(c.values, expected)
    assert c.alternative == "greater" and c.seeds == tuple(range(SEEDS))
    assert set(c.arms) == {"none", "a", "b"}
    assert evidence.numbers == {"chosen.b": 1.0, "chosen.a": SEEDS - 1.0}
    assert verdict(evidence) == "supported"
