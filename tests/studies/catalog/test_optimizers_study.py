"""The optimizers study: its pieces on known inputs, and one quick run end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from plot_checks import check_metrics_declared
from test_activations_study import verdict
from threadpoolctl import threadpool_limits

from studies.catalog import optimizers
from studies.catalog._toy2d import FUNCTIONS, contour_grid, escape_step, optimizer_path
from studies.catalog.optimizers import (
    LR_GRID_LOG2,
    OPTIMIZERS,
    STUDY,
    best_rates,
    late_progress,
    mlp_trial,
    toy2d_trial,
)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_match_central_differences(name):
    fn = FUNCTIONS[name]
    rng = np.random.default_rng(0)
    for x, y in rng.uniform(-1.5, 1.5, size=(5, 2)):
        h = 1e-6
        gx = (fn.f(x + h, y) - fn.f(x - h, y)) / (2 * h)
        gy = (fn.f(x, y + h) - fn.f(x, y - h)) / (2 * h)
        np.testing.assert_allclose(fn.grad(x, y), (gx, gy), rtol=1e-6, atol=1e-6)


def test_sgd_path_on_the_bowl_is_the_closed_form():
    # Gradient descent on x²/20 + y² scales x by (1 - lr/10) and y by (1 - 2 lr) per step.
    path = optimizer_path(FUNCTIONS["quadratic"], "sgd", 0.1, 5)
    steps = np.arange(6)
    np.testing.assert_allclose(path[:, 0], -7.0 * 0.99**steps)
    np.testing.assert_allclose(path[:, 1], 2.0 * 0.8**steps)


def test_saddle_escape_is_counted_in_steps():
    # On x² - y², SGD multiplies y by (1 + 2 lr): from 1e-3 with lr 0.05, |y| >= 1 after
    # ceil(log(1000) / log(1.1)) = 73 steps.
    path = optimizer_path(FUNCTIONS["saddle"], "sgd", 0.05, 200, (1.0, 1e-3), stop_radius=1.0)
    assert escape_step(path, 1.0) == 73.0
    assert escape_step(path[:50], 1.0) == math.inf
    momentum = optimizer_path(
        FUNCTIONS["saddle"], "momentum", 0.05, 200, (1.0, 1e-3), stop_radius=1.0
    )
    assert escape_step(momentum, 1.0) < 73.0


def test_contour_grid_shape_and_levels():
    grid = contour_grid(FUNCTIONS["rosenbrock"], n=20)
    assert np.shape(grid["z"]) == (20, 20) and len(grid["x"]) == 20
    assert grid["levels"] == sorted(grid["levels"]) and grid["levels"][0] > 0


def test_toy2d_trial_logs_every_optimizer_path():
    config = {**STUDY.stages[2].base_config, "arm": "trajectories", "seed": 3}
    result = toy2d_trial(config)
    artifact = result.artifacts["trajectories_2d"]
    assert [f["name"] for f in artifact["functions"]] == ["quadratic", "rosenbrock", "saddle"]
    for fn in artifact["functions"]:
        assert set(fn["paths"]) == set(OPTIMIZERS)
        assert fn["paths"]["sgd"][0] == pytest.approx(fn["start"], rel=1e-3)
    assert 1e-3 <= abs(artifact["saddle_y0"]) < 2e-3
    assert set(result.summary) >= {f"saddle_escape_steps/{o}" for o in OPTIMIZERS}
    json.dumps(artifact)  # plain JSON


def test_late_progress():
    assert late_progress([4.0, 2.0, 1.0, 0.5]) == pytest.approx(math.log(4.0))


def test_best_rates_picks_the_lowest_validation_loss_and_skips_diverged():
    rows = []
    for name in OPTIMIZERS:
        for i, k in enumerate(LR_GRID_LOG2[name]):
            rows.append(
                {
                    "stage": "tune",
                    "status": "diverged" if i == 0 else "ok",
                    "factor.optimizer": name,
                    "factor.log2_lr": str(k),
                    "config.optimizer.lr": 2.0**k,
                    # The first rate would win but diverged; then the third is best.
                    "min_val_loss": {0: 0.5, 1: 1.3, 2: 1.1, 3: 1.2}[i],
                }
            )
    arms = best_rates(pd.DataFrame(rows))
    assert list(arms) == list(OPTIMIZERS)
    for name, arm in arms.items():
        assert arm.overrides["optimizer"] == {"name": name, "lr": 2.0 ** LR_GRID_LOG2[name][2]}
        assert arm.overrides["train"] == {"evaluate_test": True}
    with pytest.raises(ValueError, match="no finished tuning trial"):
        best_rates(pd.DataFrame(rows[:4]))


def test_mlp_trial_never_touches_the_test_set_while_tuning(monkeypatch):
    config = {**STUDY.base_config, "arm": "x", "seed": 0}
    config["train"] = {**config["train"], "epochs": 2}
    config["optimizer"] = {"name": "adam", "lr": 2.0**-8}
    seen = []
    original = optimizers.train.evaluate

    def spy(model, loss, X, y, **kwargs):
        seen.append(len(X))
        return original(model, loss, X, y, **kwargs)

    monkeypatch.setattr(optimizers.train, "evaluate", spy)
    # One BLAS thread, as in the pool workers: on a busy machine threads only contend.
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    assert [r["epoch"] for r in result.history] == [0, 1, 2]
    assert set(result.history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert "test_acc" not in result.summary and 1000 not in seen  # MNIST-1D test set: 1000 rows
    config["train"]["evaluate_test"] = True
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    assert 0.0 <= result.summary["test_acc"] <= 1.0 and 1000 in seen
    assert result.summary["min_val_loss"] <= result.summary["final_val_loss"]


def test_split_follows_the_seed_and_is_shared_by_arms(monkeypatch):
    """Seed s draws the validation split; every optimizer of that seed gets the same rows."""
    seen = []
    original = optimizers.train.fit

    def spy(model, loss, opt, X, y, **kwargs):
        seen.append((X.copy(), kwargs["X_val"].copy()))
        return original(model, loss, opt, X[:64], y[:64], **{**kwargs, "epochs": 1})

    monkeypatch.setattr(optimizers.train, "fit", spy)
    config = {**STUDY.base_config, "arm": "x"}
    with threadpool_limits(limits=1):
        for seed, name in [(0, "sgd"), (0, "adam"), (1, "sgd")]:
            mlp_trial({**config, "seed": seed, "optimizer": {"name": name, "lr": 0.01}})
    (X0, V0), (X0_adam, V0_adam), (_, V1) = seen
    np.testing.assert_array_equal(V0, V0_adam)
    np.testing.assert_array_equal(X0, X0_adam)
    assert V0.shape == V1.shape == (800, 40) and not np.array_equal(V0, V1)


def _final_frame(values: dict[str, list[float]], metric: str) -> pd.DataFrame:
    rows = [
        {
            "stage": "final",
            "arm": arm,
            "seed": seed,
            "status": "ok",
            "config.train.epochs": 45,
            metric: v,
        }
        for arm, per_seed in values.items()
        for seed, v in enumerate(per_seed)
    ]
    return pd.DataFrame(rows)


def _claim(claim_id: str):
    return next(c for c in STUDY.claims if c.id == claim_id).evaluate


def test_adam_faster_claim_is_a_sign_flip_test_of_censored_epochs():
    adam, sgd = [2.5, 2.7, 2.4, 3.5, math.inf], [3.8, 4.1, 4.3, 3.0, 4.2]
    frame = _final_frame({"adam": adam, "sgd": sgd, "momentum": [1.0] * 5}, "epochs_to_target")
    evidence = _claim("adam_faster_than_sgd")(frame, None)
    (c,) = evidence.comparisons
    # never reached counts as epochs + 1 = 46
    np.testing.assert_allclose(c.values, [2.5 - 3.8, 2.7 - 4.1, 2.4 - 4.3, 0.5, 46 - 4.2])
    assert (c.alternative, c.test, c.arms) == ("less", "permutation", ("adam", "sgd"))
    assert evidence.numbers["censored_at"] == 46.0
    assert verdict(evidence) == "inconclusive"
    adam[3:] = [2.6, 2.9]
    frame = _final_frame({"adam": adam, "sgd": sgd}, "epochs_to_target")
    assert verdict(_claim("adam_faster_than_sgd")(frame, None)) == "supported"


def test_momentum_adam_equivalence_and_late_progress_claims():
    momentum, adam = [0.59, 0.54, 0.57, 0.54, 0.62], [0.61, 0.58, 0.59, 0.62, 0.60]
    evidence = _claim("momentum_adam_same_test_acc")(
        _final_frame({"momentum": momentum, "adam": adam}, "test_acc"), None
    )
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, np.array(momentum) - np.array(adam))
    assert (c.alternative, c.margin, c.arms) == ("equivalence", 0.02, ("momentum", "adam"))
    adagrad, rmsprop = [1.47, 1.60, 1.53, 1.37, 1.41], [3.29, 1.10, 1.00, 4.53, 4.05]
    evidence = _claim("adagrad_late_progress_slower")(
        _final_frame({"adagrad": adagrad, "rmsprop": rmsprop}, "late_progress"), None
    )
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, np.array(adagrad) - np.array(rmsprop))
    assert (c.alternative, c.test, c.arms) == ("less", "permutation", ("adagrad", "rmsprop"))
    assert verdict(evidence) == "inconclusive"  # two of five seeds go the other way


def test_saddle_claim_pairs_escape_steps_within_each_toy_trial():
    rows = [
        {
            "stage": "toy2d",
            "arm": "trajectories",
            "seed": seed,
            "status": "ok",
            "saddle_escape_steps/sgd": sgd,
            "saddle_escape_steps/momentum": momentum,
        }
        for seed, (sgd, momentum) in enumerate([(68, 25), (69, 26), (71, 26), (72, math.inf)])
    ]
    evidence = _claim("sgd_leaves_saddle_slower")(pd.DataFrame(rows), None)
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, [25 - 68, 26 - 69, 26 - 71, 201 - 72])
    assert (c.alternative, c.test, c.arms, c.seeds) == (
        "less",
        "permutation",
        ("trajectories",),
        (0, 1, 2, 3),
    )


def test_quick_run_end_to_end(store):
    from studies.engine.runner import run_study

    outcome = run_study(STUDY, quick=True, tracking_uri=store, jobs=2, progress_bar=False)
    check_metrics_declared(STUDY, outcome)
    stages = [r.spec.stage for r in outcome.records]
    assert stages.count("tune") == 16 and stages.count("final") == 16
    assert stages.count("toy2d") == 2
    assert all(r.result.status == "ok" for r in outcome.records)
    final = [r for r in outcome.records if r.spec.stage == "final"]
    assert all(r.spec.config["train"]["epochs"] == 4 for r in final)
    assert all("test_acc" in r.result.summary for r in final)
    verdicts = {c.id: r.verdict for c, r in outcome.claims}
    assert set(verdicts) == {c.id for c in STUDY.claims}
    # Two quick seeds are too few for any paired test: every claim says so.
    assert set(verdicts.values()) == {"inconclusive"}

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("optimizers")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    kinds = pd.Series([r.data.tags["kind"] for r in runs]).value_counts().to_dict()
    assert kinds == {"trial": 34, "arm": 9, "stage": 1, "summary": 1}
    toy = next(r for r in outcome.records if r.spec.stage == "toy2d")
    local = client.download_artifacts(toy.run_id, "artifacts/trajectories_2d.json")
    assert len(json.loads(Path(local).read_text())["functions"]) == 3
