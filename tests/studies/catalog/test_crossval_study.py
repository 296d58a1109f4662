"""The ``crossval`` study: definition, splitters, a quick run through the runner, claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
from sklearn.model_selection import KFold, cross_val_score
from test_activations_study import part, verdict
from threadpoolctl import threadpool_limits

from dlkit import classic
from studies.catalog import crossval as cv
from studies.engine import registry
from studies.engine.spec import normalize_arms


def test_study_definition_is_valid():
    study = registry.load_study("crossval")
    assert study is cv.STUDY
    assert [s.name for s in study.stages] == ["estimators", "selection", "folds", "refit"]
    arms = normalize_arms(study.stages[0].arms)
    assert {"holdout", "sholdout", "loo"} <= set(arms)
    assert {f"{p}kfold_{k}" for p in ("", "s") for k in cv.K_GRID} <= set(arms)
    for stage in study.stages:
        if not callable(stage.arms):
            study.check_arms(stage, normalize_arms(stage.arms))
        if stage.quick_arms is not None:
            study.check_arms(stage, normalize_arms(stage.quick_arms))
    folds = study.stages[2]
    assert folds.fixed_seeds and study.stage_seeds(folds, quick=False, n_seeds=9) == list(
        range(cv.N_FOLDS)
    )
    check_plots(study)


def _dataset(n=40, seed=0):
    X, y = cv.gaussian_pool(
        {"n_features": 5, "prior": 0.3, "mahalanobis": 2.0, "pool_size": 2000, "param_seed": 0}
    )
    idx = np.random.default_rng(seed).choice(len(y), n, replace=False)
    return X[idx], y[idx]


def test_kfold_estimate_equals_sklearn_cross_val_score():
    X, y = _dataset()
    rng = np.random.default_rng(5)
    value, naive = cv.estimate({"kind": "kfold", "k": 5, "stratified": False}, X, y, rng)
    seed = int(np.random.default_rng(5).integers(2**32))
    folds = KFold(5, shuffle=True, random_state=seed)
    scores = cross_val_score(classic.GaussianGenerative(), X, y, cv=folds)
    # 40 samples in 5 folds of 8: the pooled error is the mean fold error
    assert value == pytest.approx(1 - scores.mean())
    assert naive == pytest.approx(np.var(1 - scores, ddof=1) / 5)


def test_loo_and_holdout_estimates():
    X, y = _dataset()
    loo, naive = cv.estimate(
        {"kind": "loo", "k": 40, "stratified": False}, X, y, np.random.default_rng(0)
    )
    assert 0 <= loo <= 1 and loo * 40 == pytest.approx(round(loo * 40))
    assert naive == pytest.approx(loo * (1 - loo) * 40 / 39 / 40)
    hold, nan = cv.estimate(
        {"kind": "holdout", "stratified": True, "test_fraction": 0.25},
        X,
        y,
        np.random.default_rng(0),
    )
    assert hold * 10 == pytest.approx(round(hold * 10)) and np.isnan(nan)
    with pytest.raises(ValueError, match="valid choices"):
        cv.splitter({"kind": "bootstrap"}, np.random.default_rng(0))


def test_estimator_trial_pairs_data_sets_across_arms():
    base = {**cv.STUDY.base_config, "datasets_per_seed": 3, "seed": 2, "arm": "x"}
    a = cv.estimator_trial(
        {**base, "estimator": {"kind": "kfold", "k": 2, "stratified": False, "test_fraction": None}}
    )
    b = cv.estimator_trial(
        {**base, "estimator": {"kind": "loo", "k": 40, "stratified": False, "test_fraction": None}}
    )
    assert a.summary["mean_true_error"] == b.summary["mean_true_error"]
    assert a.summary["naive_var_ratio"] == pytest.approx(
        a.summary["naive_var"] / a.summary["variance"]
    )


def test_selection_protocols_choose_from_the_grid():
    config = {
        **cv.SELECTION_CONFIG,
        "reps_per_seed": 1,
        "n_fresh": 200,
        "seed": 0,
        "arm": "x",
        "model": {"lr": 0.5, "epochs": 20},
    }
    for name in cv.PROTOCOLS:
        result = cv.selection_trial({**config, "protocol": {**config["protocol"], "name": name}})
        lam = 10 ** result.summary["log10_lambda"]
        assert min(abs(lam - g) for g in cv.LAMBDAS) < 1e-9
        if name == "test_set":
            assert result.summary["reported_acc"] == result.summary["selection_score"]


def test_refit_best_takes_the_best_mean_fold_accuracy():
    previous = pd.DataFrame(
        {
            "stage": ["folds"] * 4 + ["selection"],
            "status": ["ok"] * 5,
            "config.l2": [0.1, 0.1, 1.0, 1.0, np.nan],
            "val_acc": [0.875, 0.9375, 0.90625, 0.90625, 0.99],
        }
    )
    # a tie: the larger (simpler) strength wins
    assert list(cv.refit_best(previous)) == ["refit/l2=1"]
    previous.loc[0, "val_acc"] = 0.97
    assert list(cv.refit_best(previous)) == ["refit/l2=0.1"]


def test_quick_run_logs_folds_as_child_runs(store):
    from mlflow import MlflowClient

    from studies.engine.runner import run_study

    stages = cv.STUDY.stages
    study = dataclasses.replace(cv.STUDY, stages=[stages[1], stages[2], stages[3]])
    # In-process trials: one BLAS thread, as the pool workers use (more threads only fight
    # over the cores of a shared machine).
    with threadpool_limits(limits=1):
        outcome = run_study(study, quick=True, tracking_uri=store, jobs=1, progress_bar=False)
    check_metrics_declared(study, outcome)
    client = MlflowClient(store)
    folds = [r for r in outcome.records if r.spec.stage == "folds"]
    assert sorted({r.spec.seed for r in folds}) == list(range(cv.N_FOLDS))
    # Each fold is a child run named and tagged by its fold; `seed` stays for the frames.
    for record in folds:
        child = client.get_run(record.run_id)
        assert child.info.run_name == f"{record.spec.arm}/fold={record.spec.seed}"
        assert child.data.tags["fold"] == child.data.tags["seed"] == str(record.spec.seed)
    refit = [r for r in outcome.records if r.spec.stage == "refit"]
    assert client.get_run(refit[0].run_id).info.run_name.endswith("/seed=0")
    for record in outcome.records:
        assert record.result.status == "ok"
        run = client.get_run(record.run_id)
        expected = {"selection": "optimism", "folds": "val_acc", "refit": "test_acc"}
        assert expected[record.spec.stage] in run.data.metrics
    parent = client.get_run(client.get_run(folds[0].run_id).data.tags["mlflow.parentRunId"])
    assert "val_acc_mean" in parent.data.metrics
    verdicts = {claim.id: result for claim, result in outcome.claims}
    assert verdicts["test_tuning_optimistic"].verdict == "inconclusive"  # 2 seeds only


# ----------------------------------------------------------------------------- claims


def _frame(values: dict[str, list[float]], metric: str, **extra) -> pd.DataFrame:
    rows = []
    for arm, per_seed in values.items():
        for seed, v in enumerate(per_seed):
            row = {"stage": "estimators", "arm": arm, "seed": seed, "status": "ok", metric: v}
            row.update({k: val[arm][seed] for k, val in extra.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def test_bias_claim():
    small = [0.005, -0.004, 0.006, 0.003, -0.002, 0.004]
    large = [0.03, 0.025, 0.035, 0.028, 0.031, 0.027]
    evidence = cv.abs_bias_shrinks(_frame({"kfold_10": small, "kfold_2": large}, "bias"), None)
    closer, same_side = (part(evidence, name) for name in ("closer", "same_side"))
    # per seed: b2 - b10 > 0 and b2 + b10 > 0, i.e. |b10| < b2
    np.testing.assert_allclose(closer.values, np.array(large) - np.array(small))
    np.testing.assert_allclose(same_side.values, np.array(large) + np.array(small))
    for c in (closer, same_side):
        assert (c.alternative, c.arms, c.seeds) == (
            "greater",
            ("kfold_2", "kfold_10"),
            tuple(range(6)),
        )
    assert evidence.numbers["bias_k2"] == pytest.approx(np.mean(large))
    assert verdict(evidence) == "supported"
    flipped = _frame({"kfold_10": large, "kfold_2": small}, "bias")
    assert verdict(cv.abs_bias_shrinks(flipped, None)) == "not supported"
    # 10-fold overshoots to the optimistic side by more than 2-fold's pessimism
    overshoot = _frame({"kfold_10": [-v - 0.01 for v in large], "kfold_2": large}, "bias")
    assert verdict(cv.abs_bias_shrinks(overshoot, None)) == "not supported"
    noisy = _frame({"kfold_10": small, "kfold_2": [v + 0.001 for v in small[::-1]]}, "bias")
    assert verdict(cv.abs_bias_shrinks(noisy, None)) == "inconclusive"


def test_stratified_variance_claim():
    plain = {f"kfold_{k}": [0.004 + 0.0001 * s for s in range(3)] for k in cv.K_GRID}
    plain["holdout"] = [0.01, 0.012, 0.011]
    strat = {f"skfold_{k}": [0.003 + 0.0001 * s for s in range(3)] for k in cv.K_GRID}
    strat["sholdout"] = [0.008, 0.009, 0.0095]
    evidence = cv.stratified_variance_lower(_frame(plain | strat, "variance"), None)
    (c,) = evidence.comparisons
    # per seed: the mean over the five estimators of log(stratified / unstratified variance)
    expected = np.mean(
        [np.log(np.array(strat[f"s{p}"]) / np.array(plain[p])) for p in plain], axis=0
    )
    np.testing.assert_allclose(c.values, expected)
    assert c.seeds == (0, 1, 2) and c.alternative == "less"
    assert set(c.arms) == set(plain) | set(strat)
    assert verdict(evidence) == "supported"
    # stratification helps in one seed and hurts in the next: no clear direction
    factor = [0.8, 1.2, 1.05]
    mixed = plain | {f"s{k}": [v * f for v, f in zip(vs, factor)] for k, vs in plain.items()}
    evidence = cv.stratified_variance_lower(_frame(mixed, "variance"), None)
    np.testing.assert_allclose(evidence.comparisons[0].values, np.log(factor))
    assert verdict(evidence) == "inconclusive"


def test_naive_variance_claim():
    arms = [f"kfold_{k}" for k in cv.K_GRID]
    variance = {a: [0.004, 0.005, 0.0045, 0.0042, 0.0048] for a in arms}

    def evaluate(ratios):
        naive = {a: [r * v for r, v in zip(ratios, variance[a])] for a in arms}
        return cv.naive_variance_underestimates(_frame(variance, "variance", naive_var=naive), None)

    ratios = [0.5, 0.6, 0.55, 0.7, 0.65]
    evidence = evaluate(ratios)
    (c,) = evidence.comparisons
    # per seed: the mean over k of log(naive / variance), here log of the seed's ratio
    np.testing.assert_allclose(c.values, np.log(ratios))
    assert (c.alternative, c.arms, c.seeds) == ("less", tuple(arms), tuple(range(5)))
    for k in cv.K_GRID:
        assert evidence.numbers[f"k={k}.ratio"] == pytest.approx(
            np.dot(ratios, variance[f"kfold_{k}"]) / np.sum(variance[f"kfold_{k}"])
        )
    assert verdict(evidence) == "supported"
    assert verdict(evaluate([1.5, 1.6, 1.4, 1.7, 1.55])) == "not supported"
    assert verdict(evaluate([0.8, 1.2, 0.9, 1.1, 1.0])) == "inconclusive"
    # a seed with a zero variance has no finite log ratio and is left out
    variance["kfold_5"][2] = 0.0
    assert evaluate(ratios).comparisons[0].seeds == (0, 1, 3, 4)


def test_test_tuning_claim_pairs_columns_within_the_test_set_arm():
    rows = [
        {
            "stage": "selection",
            "arm": arm,
            "seed": s,
            "status": "ok",
            "reported_acc": 0.78 + 0.01 * s,
            "fresh_acc": 0.75 + 0.005 * s,
        }
        for arm in ("select_kfold", "select_test_set")
        for s in range(4)
    ]
    claim = next(c for c in cv.STUDY.claims if c.id == "test_tuning_optimistic")
    evidence = claim.evaluate(pd.DataFrame(rows), None)
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, [0.03 + 0.005 * s for s in range(4)])
    assert (c.alternative, c.arms, c.seeds) == ("greater", ("select_test_set",), (0, 1, 2, 3))
    assert verdict(evidence) == "supported"
