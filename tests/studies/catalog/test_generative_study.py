"""The ``generative`` study: definition, data, trial, a quick run through the runner, and
its claims on small hand-built frames."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
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
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected in ("supported", "not supported")


def _config(dataset: str, model: str, **overrides) -> dict:
    stage = next(s for s in gen.STUDY.stages if s.name == dataset)
    arm = gen.arm_name(dataset, model)
    config = deep_merge(gen.STUDY.base_config, normalize_arms(stage.arms)[arm].overrides)
    return {**config, "arm": arm, **overrides}


def test_m_grid_is_log_spaced_and_ends_at_the_pool():
    grid = gen.m_grid(455, 10, 10)
    assert grid[0] == 10 and grid[-1] == 455 and grid == sorted(set(grid))
    ratios = np.diff(np.log(grid))
    assert np.allclose(ratios, ratios.mean(), atol=0.05)
    with pytest.raises(ValueError, match="m_min"):
        gen.m_grid(20, 30, 5)


def test_band_and_large_sizes_are_in_units_of_d():
    grid = [10, 19, 37, 72, 139, 268, 518, 1000]
    assert gen.band_sizes(grid, 30, 1000) == [72, 139]  # 60 <= m <= 180
    assert gen.band_sizes(grid, 6, 1000) == [19]  # 12 <= m <= 36
    # the whole pool is never part of the band: its excess over err_full would be 0
    assert gen.band_sizes(grid, 64, 268) == [139]
    assert gen.large_sizes(grid, 30) == [518, 1000]
    assert gen.large_sizes(grid, 64) == [1000]
    assert gen.large_sizes(grid, 200) == []


def test_synthetic_sets_are_reproducible_and_as_specified():
    for dataset in ("independent", "redundant", "gaussian_shared"):
        spec = gen.DATASETS[dataset]
        opts = spec["options"]
        a = gen.load_binary(spec, np.random.default_rng(3))
        b = gen.load_binary(spec, np.random.default_rng(3))
        c = gen.load_binary(spec, np.random.default_rng(4))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        assert not np.array_equal(a[0], c[0])
        assert a[0].shape == (opts["n_pool"], opts["n_features"])
        assert a[2].shape == (opts["n_test"], opts["n_features"])
        assert 0.4 < a[1].mean() < 0.6
    # a large sample shows the specified structure: the class-mean difference has
    # Mahalanobis length 2.5 under the shared within-class covariance, and only the
    # redundant set has correlated features
    for dataset, corr in (("independent", 0.0), ("redundant", 0.9)):
        options = {**gen.DATASETS[dataset]["options"], "n_pool": 40_000, "n_test": 2}
        x, y, _, _ = gen.load_binary(
            {"name": "gaussian_blocks", "options": options}, np.random.default_rng(0)
        )
        diff = x[y == 1].mean(axis=0) - x[y == 0].mean(axis=0)
        within = np.cov(np.vstack([x[y == k] - x[y == k].mean(axis=0) for k in (0, 1)]).T)
        assert math.sqrt(diff @ np.linalg.solve(within, diff)) == pytest.approx(2.5, abs=0.05)
        k = options["n_redundant"]
        np.testing.assert_allclose(np.diag(within), 1.0, atol=0.03)
        if k:
            block = within[:k, :k][~np.eye(k, dtype=bool)]
            np.testing.assert_allclose(block, corr, atol=0.02)
        rest = within[k:, k:][~np.eye(30 - k, dtype=bool)]
        assert np.abs(rest).max() < 0.05


def test_digit_pairs_are_binary():
    X, y, X_test, y_test = gen.load_binary(gen.DATASETS["digits_3v8"], np.random.default_rng(0))
    assert set(np.unique(y)) == {0, 1} and set(np.unique(y_test)) == {0, 1}
    assert X.shape[1] == 64 and len(X) > 250
    # the generator draws the train/test split
    other = gen.load_binary(gen.DATASETS["digits_3v8"], np.random.default_rng(1))[0]
    assert other.shape[1] == 64 and not np.array_equal(np.sort(X, axis=0), np.sort(other, axis=0))


def test_trial_models_see_the_same_subsamples():
    """Paired design: with the same seed, a deterministic model gives the same curve."""
    config = _config("breast_cancer", "naive_bayes", m_points=4, splits_per_seed=2, seed=1)
    first, second = gen.trial(config), gen.trial(config)
    assert first.history == second.history
    grid = gen.m_grid(455, 10, 4)
    assert [r["epoch"] for r in first.history] == grid
    assert first.summary["sklearn_agreement"] == 1.0
    err = {r["epoch"]: r["test_err"] for r in first.history}
    band = gen.band_sizes(grid, 30, 455)
    assert first.summary["err_band"] == pytest.approx(np.mean([err[m] for m in band]))
    assert first.summary["excess_band"] == pytest.approx(
        first.summary["err_band"] - first.summary["err_full"]
    )


def test_faithful_arm_is_the_unpenalized_maximum_likelihood_fit():
    """The ``logistic`` arm is scikit-learn's LogisticRegression(C=inf) (no penalty) run to its
    tolerance: on non-separable data the gradient of the unpenalized log-likelihood vanishes
    at its weights; the regularized contrast arm stops far from that point."""
    x, y, _, _ = gen.load_binary(gen.DATASETS["gaussian_shared"], np.random.default_rng(0))
    x, y = x[:200], y[:200]
    faithful = gen.build_model({"name": "logistic", "hyper": gen.LOGISTIC})
    assert isinstance(faithful, LogisticRegression) and np.isposinf(faithful.C)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        faithful.fit(x, y)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(faithful.coef_, reference.coef_, rtol=1e-3, atol=1e-4)

    def gradient(coef, intercept):
        residual = expit(x @ coef.ravel() + intercept[0]) - y
        return np.concatenate([x.T @ residual, [residual.sum()]]) / len(y)

    assert np.abs(gradient(faithful.coef_, faithful.intercept_)).max() < 1e-5
    contrast = gen.build_model({"name": "logistic_l2", "hyper": gen.LOGISTIC_L2}).fit(x, y)
    assert np.abs(gradient(contrast.coef_, contrast.intercept_)).max() > 1e-3
    assert np.linalg.norm(contrast.coef_) < np.linalg.norm(faithful.coef_)


def test_logistic_trial_logs_convergence_and_no_sklearn_check():
    config = _config("gaussian_shared", "logistic", splits_per_seed=2, seed=0)
    summary = gen.trial(config).summary
    assert summary["unconverged_fraction"] == 0.0
    assert "sklearn_agreement" not in summary
    assert {"err_band", "err_large", "err_full"} <= set(summary)


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
    assert len(outcome.records) == 2 * len(gen.MODELS) * 2
    client = MlflowClient(store)
    for record in outcome.records:
        assert record.result.status == "ok"
        run = client.get_run(record.run_id)
        assert {"err_full", "err_band", "excess_band"} <= set(run.data.metrics)
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


def _summaries(values: dict[tuple[str, str], dict[str, np.ndarray]]) -> pd.DataFrame:
    """One row per (data set, model, seed) from ``{(dataset, model): {metric: per seed}}``."""
    rows = []
    for (dataset, model), metrics in values.items():
        n = len(next(iter(metrics.values())))
        for seed in range(n):
            row = {"stage": dataset, "arm": gen.arm_name(dataset, model), "seed": seed}
            rows.append({**row, "status": "ok", **{k: float(v[seed]) for k, v in metrics.items()}})
    return pd.DataFrame(rows)


MS = [10, 20, 40, 80, 160]
RNG = np.random.default_rng(0)
SEEDS = 8
NOISE = RNG.normal(0, 0.002, size=(SEEDS, len(MS)))


def _noisy(mean: float, sd: float = 0.003) -> np.ndarray:
    return mean + RNG.normal(0, sd, SEEDS)


def test_crossover_is_where_the_lead_of_naive_bayes_ends():
    assert gen.crossover_m([10, 20, 40, 80], np.array([0.05, 0.02, -0.01, -0.02])) == (
        pytest.approx(20 * 2 ** (2 / 3))
    )
    # naive Bayes behind at the smallest m, ahead in the middle, behind again at the end
    assert gen.crossover_m([10, 20, 40, 80], np.array([-0.05, 0.02, 0.02, -0.02])) == (
        pytest.approx(40 * 2**0.5)
    )
    assert math.isnan(gen.crossover_m([10, 20], np.array([-0.01, -0.02])))
    assert math.isnan(gen.crossover_m([10, 20], np.array([0.03, 0.01])))


def test_nb_leads_where_assumption_holds_verdicts():
    d = gen.NB_HOLDS

    def evaluate(lr_band):
        frame = _summaries(
            {
                (d, "naive_bayes"): {"err_band": nb, "err_smallest": nb + 0.1},
                (d, "logistic"): {"err_band": lr_band, "err_smallest": nb},
                (d, "logistic_l2"): {"err_band": nb + 0.005, "err_smallest": nb},
            }
        )
        return gen.nb_leads_where_assumption_holds(frame, None)

    nb = _noisy(0.15)
    lr_behind = _noisy(0.19)
    evidence = evaluate(lr_behind)
    (comparison,) = evidence.comparisons
    # per seed: logistic's minus naive Bayes' band error, claimed above 0
    np.testing.assert_allclose(comparison.values, lr_behind - nb)
    assert comparison.alternative == "greater"
    assert comparison.arms == (gen.arm_name(d, "logistic"), gen.arm_name(d, "naive_bayes"))
    assert verdict(evidence) == "supported"
    assert evidence.numbers[f"{d}.lead_band"] == pytest.approx(np.mean(lr_behind - nb))
    # naive Bayes behind at the smallest m is reported, not judged
    assert evidence.numbers[f"{d}.lead_smallest"] == pytest.approx(-0.1)
    assert evidence.numbers[f"{d}.l2_lead_band"] == pytest.approx(0.005)
    assert math.isnan(evidence.numbers[f"{d}.lead_full"])
    assert verdict(evaluate(nb - 0.03)) == "not supported"


def test_two_regimes_needs_both_regimes():
    d = gen.NB_BIASED
    nb_band, nb_full = _noisy(0.17), _noisy(0.15)

    def frames(lr_band, lr_full):
        summaries = _summaries(
            {
                (d, "naive_bayes"): {"err_band": nb_band, "err_full": nb_full},
                (d, "logistic"): {"err_band": lr_band, "err_full": lr_full},
            }
        )
        nb_curve = np.array([0.30, 0.20, 0.17, 0.16, 0.155]) + NOISE
        lr_curve = np.array([0.25, 0.23, 0.19, 0.14, 0.11]) + NOISE[::-1]
        return summaries, _histories({(d, "naive_bayes"): nb_curve, (d, "logistic"): lr_curve}, MS)

    summaries, histories = frames(nb_band + 0.02, nb_full - 0.03)
    evidence = gen.two_regimes(summaries, histories)
    small, full = part(evidence, "small_m"), part(evidence, "full_pool")
    np.testing.assert_allclose(small.values, 0.02)
    np.testing.assert_allclose(full.values, -0.03)
    assert (small.alternative, full.alternative) == ("greater", "less")
    assert verdict(evidence) == "supported"
    # mean curves: naive Bayes behind at m = 10, ahead at 20..40, behind from 80 on
    lo, hi = evidence.numbers[f"{d}.crossover_ci_lo"], evidence.numbers[f"{d}.crossover_ci_hi"]
    assert evidence.numbers[f"{d}.crossover_m"] == pytest.approx(40 * 2**0.5, rel=0.05)
    assert 40 <= lo <= evidence.numbers[f"{d}.crossover_m"] <= hi <= 80
    assert "lead ends near m =" in evidence.detail
    # no asymptotic advantage of logistic regression: one regime only
    assert verdict(gen.two_regimes(*frames(nb_band + 0.02, nb_full + 0.01))) == "not supported"
    assert verdict(gen.two_regimes(*frames(nb_band - 0.02, nb_full - 0.03))) == "not supported"


def test_real_data_claims_need_every_real_data_set():
    nb_band, lr_band = _noisy(0.08), _noisy(0.05)
    nb_full, lr_full = _noisy(0.06), _noisy(0.03)
    values = {}
    for d in gen.REAL:
        values[(d, "naive_bayes")] = {"err_band": nb_band, "err_full": nb_full}
        values[(d, "logistic")] = {"err_band": lr_band, "err_full": lr_full}
    frame = _summaries(values)
    leads = gen.nb_leads_on_real_data(frame, None)
    assert [c.name for c in leads.comparisons] == list(gen.REAL)
    for c in leads.comparisons:
        np.testing.assert_allclose(c.values, lr_band - nb_band)
        assert c.alternative == "greater" and c.seeds == tuple(range(SEEDS))
    # logistic regression ahead at small m on every real set refutes the claim
    assert verdict(leads) == "not supported"
    asymptote = gen.logistic_lower_asymptotic_error(frame, None)
    assert [c.alternative for c in asymptote.comparisons] == ["less"] * len(gen.REAL)
    np.testing.assert_allclose(asymptote.comparisons[0].values, lr_full - nb_full)
    assert verdict(asymptote) == "supported"
    # one data set where naive Bayes is better on the whole pool refutes "every one"
    flipped = frame.copy()
    on_last = flipped["arm"] == gen.arm_name(gen.REAL[-1], "logistic")
    flipped.loc[on_last, "err_full"] = nb_full + 0.03
    assert verdict(gen.logistic_lower_asymptotic_error(flipped, None)) == "not supported"
    # and where naive Bayes leads on every real set, the small-m claim holds
    swapped = frame.copy()
    is_lr = swapped["arm"].str.endswith("/logistic")
    swapped.loc[is_lr, "err_band"] = np.tile(nb_band + 0.03, len(gen.REAL))
    assert verdict(gen.nb_leads_on_real_data(swapped, None)) == "supported"


@pytest.mark.parametrize(
    ("evaluate", "datasets"),
    [
        (gen.nb_nearer_asymptote, gen.SYNTHETIC_SETS),
        (gen.nb_nearer_asymptote_real, gen.REAL),
    ],
)
def test_nb_nearer_asymptote_on_every_data_set_of_its_group(evaluate, datasets):
    nb, lr = _noisy(0.01), _noisy(0.05)
    values = {(d, "naive_bayes"): {"excess_band": nb} for d in gen.DATASETS}
    values |= {(d, "logistic"): {"excess_band": lr} for d in gen.DATASETS}
    frame = _summaries(values)
    evidence = evaluate(frame, None)
    # only the data sets of its group, each claimed on its own
    assert [c.name for c in evidence.comparisons] == list(datasets)
    for c in evidence.comparisons:
        np.testing.assert_allclose(c.values, nb - lr)
        assert c.alternative == "less"
        assert c.arms == (f"{c.name}/naive_bayes", f"{c.name}/logistic")
    assert verdict(evidence) == "supported"
    assert evidence.numbers[f"{datasets[0]}.mean_naive_bayes"] == pytest.approx(np.mean(nb))
    # logistic regression nearer on one data set of the group refutes "every one"
    flipped = frame.copy()
    flipped.loc[flipped["arm"] == f"{datasets[-1]}/naive_bayes", "excess_band"] = lr + 0.04
    assert verdict(evaluate(flipped, None)) == "not supported"
    # a data set outside the group does not count
    outside = next(d for d in gen.DATASETS if d not in datasets)
    other = frame.copy()
    other.loc[other["arm"] == f"{outside}/naive_bayes", "excess_band"] = lr + 0.04
    assert verdict(evaluate(other, None)) == "supported"


def test_gaussian_beats_logistic_large_m_verdicts():
    d = gen.GAUSSIAN_HOLDS
    lr = _noisy(0.12)

    def evaluate(gauss, other=None):
        values = {(d, "gaussian"): {"err_large": gauss}, (d, "logistic"): {"err_large": lr}}
        if other is not None:
            values |= {("redundant", "gaussian"): {"err_large": other}}
            values |= {("redundant", "logistic"): {"err_large": lr}}
        return gen.gaussian_beats_logistic_large_m(_summaries(values), None)

    better = lr - 0.004 + RNG.normal(0, 0.001, SEEDS)
    evidence = evaluate(better, other=lr + 0.01)
    (comparison,) = evidence.comparisons
    np.testing.assert_allclose(comparison.values, better - lr)
    assert comparison.alternative == "less"
    assert verdict(evidence) == "supported"
    # the other data sets are reported, not judged
    assert evidence.numbers["redundant.gaussian_minus_logistic"] == pytest.approx(0.01)
    assert verdict(evaluate(lr + 0.004 + RNG.normal(0, 0.001, SEEDS))) == "not supported"
    # a trial-less data set gives an empty comparison that names no arm
    empty = gen.gaussian_beats_logistic_large_m(
        _summaries({("redundant", "gaussian"): {"err_large": lr}}), None
    )
    assert empty.comparisons[0].seeds == () and empty.comparisons[0].arms == ()


def test_sklearn_agreement_claim():
    frame = _summaries(
        {(d, m): {"sklearn_agreement": np.ones(3)} for d in ("a", "b") for m in gen.DLKIT_MODELS}
    )
    frame.loc[(frame["arm"] == "b/logistic_l2") & (frame["seed"] == 1), "sklearn_agreement"] = 0.996
    evidence = gen.sklearn_agrees(frame, None)
    assert [c.name for c in evidence.comparisons] == list(gen.DLKIT_MODELS)
    logistic = part(evidence, "logistic_l2")
    # per seed: the mean over data sets, minus the required agreement
    np.testing.assert_allclose(logistic.values, np.array([1.0, 0.998, 1.0]) - gen.AGREEMENT)
    assert (logistic.alternative, logistic.arms) == ("greater", ("a/logistic_l2", "b/logistic_l2"))
    assert verdict(evidence) == "supported"
    frame.loc[frame["arm"] == "a/logistic_l2", "sklearn_agreement"] = 0.9
    assert verdict(gen.sklearn_agrees(frame, None)) == "not supported"
