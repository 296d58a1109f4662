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
