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
    assert {"none", reg.BOOK_L2_ARM, reg.BOOK_DROPOUT_ARM, *reg.LARGE_ARMS.values()} <= set(arms)
    assert set(reg.L2_ARMS) | set(reg.DROPOUT_ARMS) <= set(arms)
    # the book's strengths are in the grids (ch06/overfit_weight_decay.py, overfit_dropout.py)
    assert reg.BOOK_L2 == 0.1 and reg.BOOK_DROPOUT == 0.2
    assert not stage.fixed_seeds  # seeds come from the study's sequential design
    base = study.base_config
    assert base["model"]["hidden"] == [100] * 6 and base["data"]["n_train"] == 300
    assert base["optimizer"] == {"name": "sgd", "lr": 0.01}
    assert base["train"]["batch_size"] == 100
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"
    check_plots(study)


def test_split_sizes_are_disjoint_and_drawn_per_seed():
    X, y, X_val, y_val, X_test, y_test = reg.split_mnist1d(
        np.random.default_rng(0), n_train=300, n_val=500
    )
    assert (X.shape, len(y_val), len(y_test)) == ((300, 40), 500, 1000)
    assert X.dtype == np.float32
    assert np.abs(np.bincount(y, minlength=10) - 30).max() <= 1  # stratified
    # training and validation rows are disjoint draws from the MNIST-1D training part
    rows = {r.tobytes() for r in X}
    assert not rows & {r.tobytes() for r in X_val}
    again = reg.split_mnist1d(np.random.default_rng(0), n_train=300, n_val=500)
    np.testing.assert_array_equal(X, again[0])
    other = reg.split_mnist1d(np.random.default_rng(1), n_train=300, n_val=500)
    assert not np.array_equal(X, other[0])
    np.testing.assert_array_equal(X_test, other[4])  # one fixed test set


def test_model_is_six_hidden_layers_with_dropout_after_each_relu():
    model = reg.build_model([100] * 6, 0.2, np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Dense") == 7 and kinds.count("ReLU") == 6 and kinds.count("Dropout") == 6
    assert all(kinds[i + 1] == "Dropout" for i, k in enumerate(kinds) if k == "ReLU")
    plain = reg.build_model([100] * 6, 0.0, np.random.default_rng(0))
    assert not any(isinstance(layer, nn.Dropout) for layer in plain.layers)
    norms = reg.weight_norms(plain)
    # He normal: E|W|^2 = fan_out * 2 = 200 for a (100, 100) layer
    assert len(norms) == 7 and norms[1] == pytest.approx(np.sqrt(200), rel=0.1)


def test_trial_records_curves_gap_and_weight_norms():
    config = {
        **reg.STUDY.base_config,
        "train": {"epochs": 4, "batch_size": 100},
        "eval_every": 2,
        "seed": 0,
        "arm": "l2",
        "regularizer": {"l2": 0.01},
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
    # the penalty acts: the same seed without it ends with larger weights
    plain = reg.trial({**config, "regularizer": {"l2": 0.0}})
    assert result.summary["weight_norm"] < plain.summary["weight_norm"]


def test_quick_run_logs_the_declared_metrics(store):
    from mlflow import MlflowClient

    from studies.engine.runner import run_study

    keep = ("none", *reg.L2_ARMS, *reg.DROPOUT_ARMS)  # the 1000-sample arms are slower
    arms = {k: v for k, v in normalize_arms(reg.STUDY.arms).items() if k in keep}
    study = dataclasses.replace(
        reg.STUDY,
        arms=arms,
        stages=(),
        quick={"train": {"epochs": 6}, "eval_every": 5},
        claims=[c for c in reg.STUDY.claims if "n1000" not in c.id],
    )
    outcome = run_study(study, quick=True, tracking_uri=store, jobs=1, progress_bar=False)
    check_metrics_declared(study, outcome)
    assert len(outcome.records) == len(keep) * 2
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
    assert set(verdicts) == {c.id for c in study.claims}
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


def _claim(claim_id: str):
    return next(c for c in reg.STUDY.claims if c.id == claim_id)


def test_overfitting_claim():
    fits = _frame(
        {"final_train_acc": {"none": _around(0.995)}, "final_gap": {"none": _around(0.70)}}
    )
    evidence = reg.overfits_without_regularization(fits, None)
    train_acc, gap = part(evidence, "train_acc"), part(evidence, "gap")
    np.testing.assert_allclose(train_acc.values, np.array(_around(0.995)) - reg.FITS_TRAIN_ACC)
    np.testing.assert_allclose(gap.values, np.array(_around(0.70)) - reg.LARGE_GAP)
    for c in (train_acc, gap):
        assert (c.alternative, c.arms, c.seeds) == ("greater", ("none",), tuple(range(SEEDS)))
    assert verdict(evidence) == "supported"
    small_gap = _frame(
        {"final_train_acc": {"none": _around(0.995)}, "final_gap": {"none": _around(0.10)}}
    )
    assert verdict(reg.overfits_without_regularization(small_gap, None)) == "not supported"


def _family_frame(val: dict, metric: str, values: dict) -> pd.DataFrame:
    return _frame({"final_val_acc": val, metric: values})


def test_choice_is_per_seed_on_validation_never_test():
    a, b, c = reg.L2_ARMS
    val = {"none": _around(0.25), a: _around(0.27), b: _around(0.30), c: _around(0.26)}
    # b wins on validation everywhere except seed 0, where c does
    val[c][0] = 0.40
    test = {"none": _around(0.25), a: _around(0.99), b: _around(0.28), c: _around(0.26)}
    frame = _family_frame(val, "final_test_acc", test)
    chosen = reg.choose_on_validation(frame, reg.L2_ARMS)
    assert chosen.index.tolist() == list(range(SEEDS))
    assert chosen.tolist() == [c] + [b] * (SEEDS - 1)
    evidence = reg.chosen_vs_none(reg.L2_ARMS, "final_test_acc", better="higher", name="l2")(
        frame, None
    )
    (comp,) = evidence.comparisons
    expected = np.array(test[b]) - np.array(test["none"])
    expected[0] = test[c][0] - test["none"][0]
    np.testing.assert_allclose(comp.values, expected)
    assert comp.alternative == "greater" and set(comp.arms) == {*reg.L2_ARMS, "none"}
    assert evidence.numbers[f"chosen.{b}"] == SEEDS - 1 and evidence.numbers[f"chosen.{c}"] == 1
    assert f"chosen.{a}" not in evidence.numbers  # a never chosen, despite its test accuracy
    assert verdict(evidence) == "supported"


def test_choice_ties_go_to_the_weakest_and_incomplete_seeds_are_left_out():
    a, b, c = reg.DROPOUT_ARMS
    val = {"none": _around(0.25), a: _around(0.30), b: _around(0.30), c: _around(0.30)}
    frame = _family_frame(val, "final_gap", {k: _around(0.5) for k in val})
    frame = frame[~((frame["arm"] == c) & (frame["seed"] == 2))]
    chosen = reg.choose_on_validation(frame, reg.DROPOUT_ARMS)
    assert chosen.index.tolist() == [s for s in range(SEEDS) if s != 2]
    assert set(chosen) == {a}


def test_gap_claim_needs_the_book_strength_and_the_chosen_strength():
    claim = _claim("weight_decay_shrinks_gap")
    a, b, book = reg.L2_ARMS
    val = {"none": _around(0.25), a: _around(0.28), b: _around(0.26), book: _around(0.26)}
    gaps = {"none": _around(0.74), a: _around(0.70), b: _around(0.65), book: _around(0.05)}
    evidence = claim.evaluate(_family_frame(val, "final_gap", gaps), None)
    np.testing.assert_allclose(
        part(evidence, "book").values, np.array(gaps[book]) - np.array(gaps["none"])
    )
    np.testing.assert_allclose(
        part(evidence, "chosen").values, np.array(gaps[a]) - np.array(gaps["none"])
    )
    assert part(evidence, "chosen").alternative == "less"
    assert verdict(evidence) == "supported"
    # the chosen strength widening the gap refutes the claim, whatever the book's strength does
    gaps[a] = _around(0.80)
    evidence = claim.evaluate(_family_frame(val, "final_gap", gaps), None)
    assert verdict(evidence) == "not supported"


def test_weight_claim_uses_the_chosen_l2_arm():
    claim = _claim("weight_decay_shrinks_weights")
    a, b, book = reg.L2_ARMS
    val = {"none": _around(0.25), a: _around(0.24), b: _around(0.29), book: _around(0.26)}
    norms = {"none": _around(35.0), a: _around(34.0), b: _around(30.0), book: _around(15.0)}
    (c,) = claim.evaluate(_family_frame(val, "weight_norm", norms), None).comparisons
    np.testing.assert_allclose(c.values, np.full(SEEDS, -5.0), atol=1e-9)
    assert c.alternative == "less"


def test_larger_training_set_claim_needs_both_regularizers():
    arms = reg.LARGE_ARMS
    test = {arms["none"]: _around(0.35), arms["l2"]: _around(0.42), arms["dropout"]: _around(0.40)}
    evidence = reg.raises_test_acc_with_more_data(_frame({"final_test_acc": test}), None)
    np.testing.assert_allclose(part(evidence, "l2").values, np.full(SEEDS, 0.07), atol=1e-9)
    assert part(evidence, "dropout").arms == (arms["dropout"], arms["none"])
    assert verdict(evidence) == "supported"
    test[arms["dropout"]] = _around(0.30)
    evidence = reg.raises_test_acc_with_more_data(_frame({"final_test_acc": test}), None)
    assert verdict(evidence) == "not supported"
