"""The ``regularization`` study: definition, model, a quick run through the runner, claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
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
    assert len(study.stage_seeds(stage, quick=False, n_seeds=None)) >= 5
    assert study.base_config["model"]["hidden"] == [100] * 6
    check_plots(study)


def test_split_sizes_and_scaling():
    X, y, X_val, y_val, X_test, y_test = reg.split_digits(0)
    assert (len(y), len(y_val), len(y_test)) == (300, 500, 997)
    assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    assert set(np.unique(y)) == set(range(10))


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
    assert reg.overfits_without_regularization(fits, None).verdict == "supported"
    small_gap = _frame(
        {"final_train_acc": {"none": _around(0.995)}, "final_gap": {"none": _around(0.06)}}
    )
    assert reg.overfits_without_regularization(small_gap, None).verdict == "not supported"


def test_gap_shrink_claim():
    gaps = {"none": _around(0.10), reg.L2_ARM: _around(0.05), reg.DROPOUT_ARM: _around(0.06)}
    assert reg.both_shrink_gap(_frame({"final_gap": gaps}), None).verdict == "supported"
    gaps[reg.DROPOUT_ARM] = _around(0.09)  # only 10% smaller
    result = reg.both_shrink_gap(_frame({"final_gap": gaps}), None)
    assert result.verdict == "not supported"
    assert result.numbers[f"{reg.DROPOUT_ARM}.mean_shrink"] == pytest.approx(0.1)


def test_best_regularized_arm_is_chosen_on_validation_not_test():
    frame = _frame(
        {
            "final_val_acc": {"none": _around(0.90), "a": _around(0.95), "b": _around(0.91)},
            "final_test_acc": {"none": _around(0.90), "a": _around(0.93), "b": _around(0.99)},
        }
    )
    result = reg.best_regularized_beats_none(frame, None)
    assert result.verdict == "supported" and "(a)" in result.statistic
    frame.loc[frame["arm"] == "a", "final_test_acc"] = 0.85
    assert reg.best_regularized_beats_none(frame, None).verdict == "not supported"
