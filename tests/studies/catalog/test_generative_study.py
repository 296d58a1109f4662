"""The ``generative`` study: definition, a quick run through the runner, and its claims."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
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
        seeds = study.stage_seeds(stage, quick=False, n_seeds=None)
        # >= 50 subsamples per m: seeds x splits per seed
        assert len(seeds) * study.base_config["splits_per_seed"] >= 50
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
        a = gen.load_binary({"name": name, "options": opts}, 3)
        b = gen.load_binary({"name": name, "options": opts}, 3)
        c = gen.load_binary({"name": name, "options": opts}, 4)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        assert not np.array_equal(a[0], c[0])
        assert a[0].shape == (opts["n_pool"], opts["n_features"])
        assert 0.3 < a[1].mean() < 0.7


def test_digit_pairs_are_binary():
    X, y, X_test, y_test = gen.load_binary(gen.DATASETS["digits_3v8"], 0)
    assert set(np.unique(y)) == {0, 1} and set(np.unique(y_test)) == {0, 1}
    assert X.shape[1] == 64 and len(X) > 250


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
    mixed = _histories(
        {
            ("a", "naive_bayes"): nb,
            ("a", "logistic"): lr_behind_then_ahead,
            ("b", "naive_bayes"): nb,
            ("b", "logistic"): lr_ahead,
        },
        MS,
    )
    result = gen.nb_lead_depends_on_data(mixed, mixed)
    assert result.verdict == "supported"
    lo, hi = result.numbers["a.crossover_ci_lo"], result.numbers["a.crossover_ci_hi"]
    assert 20 <= lo <= result.numbers["a.crossover_m"] <= hi <= 80
    assert math.isnan(result.numbers["b.crossover_m"])
    uniform = _histories(
        {
            ("a", "naive_bayes"): nb,
            ("a", "logistic"): lr_ahead,
            ("b", "naive_bayes"): nb,
            ("b", "logistic"): lr_ahead,
        },
        MS,
    )
    assert gen.nb_lead_depends_on_data(uniform, uniform).verdict == "not supported"
    tie = _histories(
        {
            ("a", "naive_bayes"): nb,
            ("a", "logistic"): nb + NOISE[::-1] * 3,
            ("b", "naive_bayes"): nb,
            ("b", "logistic"): lr_ahead,
        },
        MS,
    )
    assert gen.nb_lead_depends_on_data(tie, tie).verdict == "inconclusive"


def test_gaussian_at_least_as_good_verdicts():
    lr = 0.2 - 0.01 * np.arange(len(MS)) + NOISE
    d = gen.GAUSSIAN_HOLDS

    def judge(gauss):
        frame = _histories({(d, "gaussian"): gauss, (d, "logistic"): lr}, MS)
        return gen.gaussian_at_least_as_good(frame, frame).verdict

    assert judge(lr - 0.01) == "supported"
    worse_at_small_m = lr.copy()
    worse_at_small_m[:, 0] += 0.05
    assert judge(worse_at_small_m) == "not supported"
    # differences of +-0.02 around zero: the interval straddles the margin
    alternating = np.where(np.arange(len(lr))[:, None] % 2 == 0, 0.02, -0.02)
    assert judge(lr + alternating) == "inconclusive"


def test_per_dataset_claims_combine_by_majority():
    seeds = 8
    nb_small = np.full(seeds, 0.02) + RNG.normal(0, 0.003, seeds)
    lr_small = np.full(seeds, 0.06) + RNG.normal(0, 0.003, seeds)
    frame = _summaries(
        {(d, "naive_bayes"): nb_small for d in "abc"} | {(d, "logistic"): lr_small for d in "abc"},
        "excess_small",
    )
    assert gen.nb_nearer_asymptote(frame, None).verdict == "supported"
    flipped = frame.assign(
        excess_small=np.where(
            frame["arm"].str.endswith("logistic"), nb_small.mean(), lr_small.mean()
        )
    )
    assert gen.nb_nearer_asymptote(flipped, None).verdict == "not supported"
    full = frame.rename(columns={"excess_small": "err_full"})
    # logistic's err_full (0.06) is higher than naive Bayes' (0.02) everywhere
    assert gen.logistic_wins_at_full_m(full, None).verdict == "not supported"


def test_sklearn_agreement_claim():
    frame = _summaries({("a", m): np.ones(3) for m in gen.MODELS}, "sklearn_agreement")
    assert gen.sklearn_agrees(frame, None).verdict == "supported"
    frame.loc[frame["arm"] == "a/logistic", "sklearn_agreement"] = 0.9
    assert gen.sklearn_agrees(frame, None).verdict == "not supported"
