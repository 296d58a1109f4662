"""The ``generative`` study: definition, a quick run through the runner, and its claims."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
from test_activations_study import part, verdict
from threadpoolctl import threadpool_limits

from studies.catalog import generative as gen
from studies.engine import registry
from studies.engine.config import deep_merge
from studies.engine.spec import normalize_arms


def test_study_definition_is_valid():
    study = registry.load_study("generative")
    assert study is gen.STUDY
    assert [s.name for s in study.stages] == list(gen.DATASETS)
    names = []
    for stage in study.stages:
        arms = normalize_arms(stage.arms)
        assert set(arms) == {gen.arm_name(stage.name, m) for m in gen.MODELS}
        study.check_arms(stage, arms)
        names += list(arms)
        # every data set runs the study's sequential design
        assert not stage.fixed_seeds
        seeds = study.stage_seeds(stage, quick=False, n_seeds=None, design=study.design)
        assert seeds == list(range(study.design.looks[0]))
    assert len(set(names)) == len(names), "arm names must be unique across stages"
    check_plots(study)


def test_m_grid_is_log_spaced_and_ends_at_the_pool():
    grid = gen.m_grid(455, 10, 10)
    assert grid[0] == 10 and grid[-1] == 455 and grid == sorted(set(grid))
    ratios = np.diff(np.log(grid))
    assert np.allclose(ratios, ratios.mean(), atol=0.05)
    with pytest.raises(ValueError, match="m_min"):
        gen.m_grid(20, 30, 5)


def test_synthetic_sets_are_reproducible_and_balanced():
    opts = dict(gen.SYNTHETIC)
    for name in ("gaussian_shared", "logistic_skewed"):
        a = gen.load_binary({"name": name, "options": opts}, np.random.default_rng(3))
        b = gen.load_binary({"name": name, "options": opts}, np.random.default_rng(3))
        c = gen.load_binary({"name": name, "options": opts}, np.random.default_rng(4))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        assert not np.array_equal(a[0], c[0])
        assert a[0].shape == (opts["n_pool"], opts["n_features"])
        assert 0.3 < a[1].mean() < 0.7


def test_digit_pairs_are_binary():
    X, y, X_test, y_test = gen.load_binary(gen.DATASETS["digits_3v8"], np.random.default_rng(0))
    assert set(np.unique(y)) == {0, 1} and set(np.unique(y_test)) == {0, 1}
    assert X.shape[1] == 64 and len(X) > 250
    # the generator draws the train/test split
    other = gen.load_binary(gen.DATASETS["digits_3v8"], np.random.default_rng(1))[0]
    assert other.shape[1] == 64 and not np.array_equal(np.sort(X, axis=0), np.sort(other, axis=0))


def test_trial_models_see_the_same_subsamples():
    """Paired design: with the same seed, a deterministic model gives the same curve."""
    stage = next(s for s in gen.STUDY.stages if s.name == "breast_cancer")
    arm = gen.arm_name("breast_cancer", "naive_bayes")
    config = deep_merge(gen.STUDY.base_config, normalize_arms(stage.arms)[arm].overrides)
    config = {**config, "m_points": 4, "splits_per_seed": 2, "seed": 1, "arm": arm}
    first, second = gen.trial(config), gen.trial(config)
    assert first.history == second.history
    assert [r["epoch"] for r in first.history] == gen.m_grid(455, 10, 4)
    assert first.summary["sklearn_agreement"] == 1.0


def test_quick_run_logs_the_declared_metrics(store):
    from mlflow import MlflowClient

    from studies.engine.runner import run_study

    keep = ("breast_cancer", "gaussian_shared")
    study = dataclasses.replace(gen.STUDY, stages=[s for s in gen.STUDY.stages if s.name in keep])
    # In-process trials: one BLAS thread, as the pool workers use (more threads only fight
    # over the cores of a shared machine).
    with threadpool_limits(limits=1):
        outcome = run_study(study, quick=True, tracking_uri=store, jobs=1, progress_bar=False)
    check_metrics_declared(study, outcome)
    assert len(outcome.records) == 2 * 3 * 2
    client = MlflowClient(store)
    for record in outcome.records:
        assert record.result.status == "ok"
        run = client.get_run(record.run_id)
        assert {"err_full", "excess_small", "sklearn_agreement"} <= set(run.data.metrics)
        steps = [m.step for m in client.get_metric_history(record.run_id, "test_err")]
        assert steps == [r["epoch"] for r in record.result.history]
    verdicts = {claim.id: result for claim, result in outcome.claims}
    assert set(verdicts) == {c.id for c in gen.STUDY.claims}
    for result in verdicts.values():
        assert "could not be evaluated" not in result.detail


# ----------------------------------------------------------------------------- claims


def _histories(curves: dict[tuple[str, str], np.ndarray], ms: list[int]) -> pd.DataFrame:
    """Rows (stage, arm, seed, epoch=m, test_err) from ``{(dataset, model): (seeds, m)}``."""
    rows = []
    for (dataset, model), errors in curves.items():
        for seed, curve in enumerate(errors):
            for m, err in zip(ms, curve, strict=True):
                rows.append(
                    {
                        "stage": dataset,
                        "arm": gen.arm_name(dataset, model),
                        "seed": seed,
                        "epoch": m,
                        "test_err": float(err),
                    }
                )
    return pd.DataFrame(rows)


def _summaries(values: dict[tuple[str, str], np.ndarray], metric: str) -> pd.DataFrame:
    rows = []
    for (dataset, model), per_seed in values.items():
        for seed, v in enumerate(per_seed):
            rows.append(
                {
                    "stage": dataset,
                    "arm": gen.arm_name(dataset, model),
                    "seed": seed,
                    "status": "ok",
                    metric: float(v),
                }
            )
    return pd.DataFrame(rows)


MS = [10, 20, 40, 80, 160]
RNG = np.random.default_rng(0)
NOISE = RNG.normal(0, 0.002, size=(8, len(MS)))


def test_crossover_is_interpolated_in_log_m():
    assert gen.crossover_m([10, 20, 40, 80], np.array([0.05, 0.02, -0.01, -0.02])) == (
        pytest.approx(20 * 2 ** (2 / 3))
    )
    assert math.isnan(gen.crossover_m([10, 20], np.array([-0.01, -0.02])))
    assert math.isnan(gen.crossover_m([10, 20], np.array([0.03, 0.01])))


def test_nb_lead_depends_on_data_verdicts():
    nb = 0.20 - 0.01 * np.arange(len(MS)) + NOISE
    lr_behind_then_ahead = 0.25 - 0.03 * np.arange(len(MS)) + NOISE[::-1]
    lr_ahead = nb - 0.03
    favoured, other = gen.NB_FAVOURED, gen.LOGISTIC_FAVOURED

    def frame(nb_favoured_lr, other_lr):
        curves = {
            (favoured, "naive_bayes"): nb,
            (favoured, "logistic"): nb_favoured_lr,
            (other, "naive_bayes"): nb,
            (other, "logistic"): other_lr,
            ("digits_3v8", "naive_bayes"): nb,
            ("digits_3v8", "logistic"): lr_ahead,
        }
        return _histories(curves, MS)

    mixed = frame(lr_behind_then_ahead, lr_ahead)
    evidence = gen.nb_lead_depends_on_data(mixed, mixed)
    leads, trails = part(evidence, "nb_leads"), part(evidence, "logistic_leads")
    # per seed at the smallest m: logistic's minus naive Bayes' error on the two data sets
    np.testing.assert_allclose(leads.values, lr_behind_then_ahead[:, 0] - nb[:, 0])
    np.testing.assert_allclose(trails.values, lr_ahead[:, 0] - nb[:, 0])
    assert (leads.alternative, trails.alternative) == ("greater", "less")
    assert leads.arms == (gen.arm_name(favoured, "naive_bayes"), gen.arm_name(favoured, "logistic"))
    assert trails.arms == (gen.arm_name(other, "naive_bayes"), gen.arm_name(other, "logistic"))
    assert leads.seeds == trails.seeds == tuple(range(len(NOISE)))
    assert verdict(evidence) == "supported"
    lo, hi = (
        evidence.numbers[f"{favoured}.crossover_ci_lo"],
        evidence.numbers[f"{favoured}.crossover_ci_hi"],
    )
    assert 20 <= lo <= evidence.numbers[f"{favoured}.crossover_m"] <= hi <= 80
    assert math.isnan(evidence.numbers[f"{other}.crossover_m"])
    assert evidence.numbers["digits_3v8.nb_lead"] == pytest.approx(-0.03)
    uniform = frame(lr_ahead, lr_ahead)
    assert verdict(gen.nb_lead_depends_on_data(uniform, uniform)) == "not supported"
    tie = frame(nb + NOISE[::-1] * 3, lr_ahead)
    assert verdict(gen.nb_lead_depends_on_data(tie, tie)) == "inconclusive"
    # a data set without trials gives an empty series that names no arm
    absent = mixed[~mixed["arm"].str.startswith(other)]
    evidence = gen.nb_lead_depends_on_data(absent, absent)
    assert (
        part(evidence, "logistic_leads").seeds == () and part(evidence, "logistic_leads").arms == ()
    )


def test_gaussian_at_least_as_good_verdicts():
    lr = 0.2 - 0.01 * np.arange(len(MS)) + NOISE
    d = gen.GAUSSIAN_HOLDS

    def evaluate(gauss):
        frame = _histories({(d, "gaussian"): gauss, (d, "logistic"): lr}, MS)
        return gen.gaussian_at_least_as_good(frame, frame)

    better = lr - 0.01
    evidence = evaluate(better)
    assert [c.name for c in evidence.comparisons] == [f"m={m}" for m in MS]
    for j, c in enumerate(evidence.comparisons):
        # per m and seed: the error difference minus the margin, claimed below 0
        np.testing.assert_allclose(c.values, better[:, j] - lr[:, j] - gen.MARGIN)
        assert (c.alternative, c.reference) == ("less", gen.MARGIN)
        assert c.arms == (gen.arm_name(d, "gaussian"), gen.arm_name(d, "logistic"))
    assert verdict(evidence) == "supported"
    worse_at_small_m = lr.copy()
    worse_at_small_m[:, 0] += 0.05
    assert verdict(evaluate(worse_at_small_m)) == "not supported"
    # differences of +-0.02 around zero: the interval straddles the margin
    alternating = np.where(np.arange(len(lr))[:, None] % 2 == 0, 0.02, -0.02)
    assert verdict(evaluate(lr + alternating)) == "inconclusive"


def test_per_dataset_claims_need_every_data_set():
    seeds = 8
    nb_small = np.full(seeds, 0.02) + RNG.normal(0, 0.003, seeds)
    lr_small = np.full(seeds, 0.06) + RNG.normal(0, 0.003, seeds)
    frame = _summaries(
        {(d, "naive_bayes"): nb_small for d in "abc"} | {(d, "logistic"): lr_small for d in "abc"},
        "excess_small",
    )
    evidence = gen.nb_nearer_asymptote(frame, None)
    assert [c.name for c in evidence.comparisons] == ["a", "b", "c"]
    for c in evidence.comparisons:
        np.testing.assert_allclose(c.values, nb_small - lr_small)
        assert c.alternative == "less" and c.seeds == tuple(range(seeds))
        assert c.arms == (f"{c.name}/naive_bayes", f"{c.name}/logistic")
    assert verdict(evidence) == "supported"
    # logistic nearer on one data set out of three refutes the claim
    one_flipped = frame.copy()
    on_c = one_flipped["arm"].str.startswith("c/")
    one_flipped.loc[on_c, "excess_small"] = np.where(
        one_flipped.loc[on_c, "arm"].str.endswith("logistic"), 0.01, 0.05
    ) + RNG.normal(0, 0.003, on_c.sum())
    assert verdict(gen.nb_nearer_asymptote(one_flipped, None)) == "not supported"
    full = frame.rename(columns={"excess_small": "err_full"})
    evidence = gen.logistic_wins_at_full_m(full, None)
    np.testing.assert_allclose(evidence.comparisons[0].values, lr_small - nb_small)
    # logistic's err_full (0.06) is higher than naive Bayes' (0.02) everywhere
    assert verdict(evidence) == "not supported"


def test_sklearn_agreement_claim():
    frame = _summaries(
        {(d, m): np.ones(3) for d in ("a", "b") for m in gen.MODELS}, "sklearn_agreement"
    )
    frame.loc[(frame["arm"] == "b/logistic") & (frame["seed"] == 1), "sklearn_agreement"] = 0.996
    evidence = gen.sklearn_agrees(frame, None)
    assert [c.name for c in evidence.comparisons] == list(gen.MODELS)
    logistic = part(evidence, "logistic")
    # per seed: the mean over data sets, minus the required agreement
    np.testing.assert_allclose(logistic.values, np.array([1.0, 0.998, 1.0]) - gen.AGREEMENT)
    assert (logistic.alternative, logistic.arms) == ("greater", ("a/logistic", "b/logistic"))
    assert verdict(evidence) == "supported"
    frame.loc[frame["arm"] == "a/logistic", "sklearn_agreement"] = 0.9
    assert verdict(gen.sklearn_agrees(frame, None)) == "not supported"
