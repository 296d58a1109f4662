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
from test_activations_study import part, verdict
from threadpoolctl import threadpool_limits

from studies.catalog import optimizers
from studies.catalog._toy2d import FUNCTIONS, contour_grid, escape_step, optimizer_path
from studies.catalog.optimizers import (
    GRID_CENTER,
    OPTIMIZERS,
    STUDY,
    TASKS,
    TUNED,
    best_rates,
    good_range_decades,
    lr_grid,
    mlp_trial,
    on_both_tasks,
    sensitivity_arms,
    toy2d_trial,
    wider_range,
)


def _stage(name: str):
    return next(s for s in STUDY.stages if s.name == name)


def _claim(claim_id: str):
    return next(c for c in STUDY.claims if c.id == claim_id).evaluate


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
    config = {**_stage("toy2d").base_config, "arm": "trajectories", "seed": 3}
    result = toy2d_trial(config)
    artifact = result.artifacts["trajectories_2d"]
    assert [f["name"] for f in artifact["functions"]] == ["quadratic", "rosenbrock", "saddle"]
    for fn in artifact["functions"]:
        assert set(fn["paths"]) == set(OPTIMIZERS)
        assert fn["paths"]["sgd"][0] == pytest.approx(fn["start"], rel=1e-3)
    assert 1e-3 <= abs(artifact["saddle_y0"]) < 2e-3
    assert set(result.summary) >= {f"saddle_escape_steps/{o}" for o in OPTIMIZERS}
    json.dumps(artifact)  # plain JSON


def test_grid_is_half_decades_two_decades_each_side_of_the_centre():
    for task, name in [(task, name) for task in TASKS for name in TUNED]:
        grid = lr_grid(task, name)
        assert len(grid) == 9 and grid == list(range(grid[0], grid[0] + 9))
        rates = np.log10([10 ** (k / 2) for k in grid])
        np.testing.assert_allclose(np.diff(rates), 0.5)
        centre = GRID_CENTER[task][name] / 2
        assert rates[0] == pytest.approx(centre - 2) and rates[-1] == pytest.approx(centre + 2)
        assert lr_grid(task, name, quick=True) == [grid[2], grid[4], grid[6]]


def test_sensitivity_arms_name_every_rate_once():
    arms = sensitivity_arms("digits")
    assert len(arms) == 9 * len(TUNED)
    adam = arms["digits/adam/lr=10^-2.5"]  # centre 10^-2, 10^-4 .. 10^0
    assert adam.overrides == {"optimizer": {"name": "adam", "lr": pytest.approx(10**-2.5)}}
    assert adam.factors == {"task": "digits", "optimizer": "adam", "log10_lr": "-2.5"}
    assert len(sensitivity_arms("mnist1d", quick=True)) == 3 * len(TUNED)


def _sweep(values: dict[str, dict[int, list[float]]], *, stage="sens_mnist1d", status=None):
    """A sweep frame: ``values[optimizer][seed]`` lists final_val_loss over the rates."""
    rows = []
    for name, per_seed in values.items():
        for seed, losses in per_seed.items():
            for i, loss in enumerate(losses):
                log10_lr = -3.0 + 0.5 * i
                rows.append(
                    {
                        "stage": stage,
                        "arm": f"{stage.removeprefix('sens_')}/{name}/lr=10^{log10_lr:g}",
                        "seed": seed,
                        "status": (status or {}).get((name, seed, i), "ok"),
                        "factor.optimizer": name,
                        "config.optimizer.lr": 10**log10_lr,
                        "final_val_loss": loss,
                        "min_val_loss": min(loss, 5.0),
                    }
                )
    return pd.DataFrame(rows)


def test_good_range_counts_rates_within_the_tolerance_of_each_seeds_best():
    frame = _sweep(
        {
            # best 1.0: 1.2 and 1.25 are within 25%, 1.26 and inf are not -> 3 rates
            "adam": {0: [2.0, 1.2, 1.0, 1.25, 1.26, math.inf], 1: [1.0] * 6},
            "sgd": {0: [3.0, 2.0, 0.5, 0.6, math.inf, math.inf], 1: [0.1, 9, 9, 9, 9, 9]},
        }
    )
    adam = good_range_decades(frame, stage="sens_mnist1d", optimizer="adam")
    np.testing.assert_allclose(adam.to_numpy(), [1.5, 3.0])
    assert adam.index.tolist() == [0, 1]
    sgd = good_range_decades(frame, stage="sens_mnist1d", optimizer="sgd")
    np.testing.assert_allclose(sgd.to_numpy(), [1.0, 0.5])
    wide = good_range_decades(frame, stage="sens_mnist1d", optimizer="sgd", tolerance=4.0)
    np.testing.assert_allclose(wide.to_numpy(), [1.5, 0.5])  # 3.0 > 0.5 x 5 >= 2.0
    with pytest.raises(ValueError, match="tolerance"):
        good_range_decades(frame, stage="sens_mnist1d", optimizer="sgd", tolerance=0.0)


def test_good_range_skips_a_seed_with_a_failed_rate_and_counts_diverged_as_bad():
    losses = {"adam": {0: [1.0, 1.1, 1.2], 1: [1.0, 1.1, 1.2], 2: [1.0, 1.1, math.nan]}}
    frame = _sweep(losses, status={("adam", 0, 1): "failed", ("adam", 1, 2): "diverged"})
    widths = good_range_decades(frame, stage="sens_mnist1d", optimizer="adam")
    # seed 0 lost a rate; seed 1's diverged rate is bad; seed 2's NaN loss is bad
    assert widths.to_dict() == {1: 1.0, 2: 1.0}


def test_range_claim_pairs_widths_by_seed_on_both_tasks():
    adam_wide = {s: [1.0, 1.1, 1.0, 1.2, 1.1, 3.0] for s in range(6)}
    sgd_narrow = {s: [3.0, 1.0, 2.0, 3.0, math.inf, math.inf] for s in range(6)}
    frames = [
        _sweep({"adam": adam_wide, "sgd": sgd_narrow}, stage=f"sens_{task}") for task in TASKS
    ]
    evidence = wider_range("adam", "sgd")(pd.concat(frames, ignore_index=True), None)
    for task in TASKS:
        c = part(evidence, task)
        np.testing.assert_allclose(c.values, [2.5 - 0.5] * 6)
        assert c.alternative == "greater" and c.seeds == tuple(range(6))
        assert len(c.arms) == 12 and all(a.startswith(f"{task}/") for a in c.arms)
        assert not any("/momentum/" in a for a in c.arms)
    # Equal widths everywhere: the differences are all 0 and nothing is decided.
    frames[1] = _sweep({"adam": adam_wide, "sgd": adam_wide}, stage="sens_digits")
    evidence = wider_range("adam", "sgd")(pd.concat(frames, ignore_index=True), None)
    np.testing.assert_allclose(part(evidence, "digits").values, 0.0)
    assert verdict(evidence) != "supported"
    # SGD wider on digits on every seed: the joint claim is not supported.
    adam_narrow = {s: [3.0, 1.0, 2.0 - 0.9 * (s % 2), 3.0, math.inf, math.inf] for s in range(6)}
    frames[1] = _sweep({"adam": adam_narrow, "sgd": adam_wide}, stage="sens_digits")
    evidence = wider_range("adam", "sgd")(pd.concat(frames, ignore_index=True), None)
    np.testing.assert_allclose(part(evidence, "digits").values, [-2.0, -1.5] * 3)
    assert verdict(evidence) == "not supported"


def _previous(task: str = "mnist1d") -> pd.DataFrame:
    """Sweep summaries over four rates and two seeds: rate 0 is best on seed 0 but diverged
    on seed 1; rate 1 is best on seed 0 among the rest; rate 2 has the lowest mean."""
    losses = {0: (0.5, 1.0, 1.1, 1.3), 1: (math.inf, 1.4, 1.2, 1.3)}
    rows = []
    for name in TUNED:
        for i, k in enumerate(lr_grid(task, name)[:4]):
            for seed in (0, 1):
                rows.append(
                    {
                        "stage": f"sens_{task}",
                        "status": "diverged" if (i == 0 and seed == 1) else "ok",
                        "seed": seed,
                        "factor.optimizer": name,
                        "config.optimizer.lr": 10 ** (k / 2),
                        "min_val_loss": losses[seed][i],
                    }
                )
    return pd.DataFrame(rows)


def test_best_rates_take_the_lowest_mean_over_tuning_seeds_and_rerun_on_fresh_seeds():
    arms = best_rates("digits", _previous("digits"))
    assert list(arms) == [f"digits/{name}" for name in TUNED]
    for name in TUNED:
        arm = arms[f"digits/{name}"]
        k = lr_grid("digits", name)[2]
        assert arm.overrides == {
            "optimizer": {"name": name, "lr": 10 ** (k / 2)},
            "train": {"evaluate_test": True},
            "seed_stream": 1,
        }
        assert arm.factors == {"task": "digits", "optimizer": name, "log10_lr": f"{k / 2:g}"}
    with pytest.raises(ValueError, match="no finished"):
        best_rates("mnist1d", _previous("digits"))


def test_an_optimizer_whose_tuning_trials_all_failed_is_left_out(caplog):
    previous = _previous("digits")
    lost = previous["factor.optimizer"] == TUNED[0]
    previous.loc[lost, "status"] = "failed"
    with caplog.at_level("WARNING"):
        arms = best_rates("digits", previous)
    assert list(arms) == [f"digits/{name}" for name in TUNED[1:]]
    assert any(f"= {TUNED[0]!r}" in r.getMessage() for r in caplog.records)


def test_trials_never_touch_the_test_set_while_tuning(monkeypatch):
    seen = []
    original = optimizers.train.evaluate

    def spy(model, loss, X, y, **kwargs):
        seen.append(len(X))
        return original(model, loss, X, y, **kwargs)

    monkeypatch.setattr(optimizers.train, "evaluate", spy)
    config = {**STUDY.base_config, "arm": "x", "seed": 0}
    config["train"] = {**config["train"], "epochs": 2}
    config["optimizer"] = {"name": "adam", "lr": 10**-2.5}
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    assert [r["epoch"] for r in result.history] == [0, 1, 2]
    assert set(result.history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert "test_acc" not in result.summary and 1000 not in seen  # MNIST-1D test set: 1000 rows
    s = result.summary
    assert s["auc_train_loss"] == pytest.approx(
        np.mean([r["train_loss"] for r in result.history[1:]])
    )
    assert s["final_val_loss_capped"] == min(s["final_val_loss"], 1.5 * math.log(10))
    config["train"]["evaluate_test"] = True
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    assert 0.0 <= result.summary["test_acc"] <= 1.0 and 1000 in seen
    assert result.summary["min_val_loss"] <= result.summary["final_val_loss"]


def test_a_diverged_trial_sits_at_the_plot_cap():
    config = {**optimizers.DIGITS_CONFIG, "arm": "x", "seed": 0}
    config["optimizer"] = {"name": "sgd", "lr": 10.0**3}
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    assert result.status == "diverged"
    assert result.summary["final_val_loss"] == math.inf
    assert result.summary["final_val_loss_capped"] == pytest.approx(1.5 * math.log(10))


def test_split_follows_the_seed_and_stream_and_is_shared_by_arms(monkeypatch):
    """Seed s of stream t draws the validation split; every optimizer of it gets the same rows."""
    seen = []
    original = optimizers.train.fit

    def spy(model, loss, opt, X, y, **kwargs):
        seen.append((X.copy(), kwargs["X_val"].copy()))
        return original(model, loss, opt, X[:64], y[:64], **{**kwargs, "epochs": 1})

    monkeypatch.setattr(optimizers.train, "fit", spy)
    config = {**STUDY.base_config, "arm": "x"}
    with threadpool_limits(limits=1):
        for seed, stream, name in [(0, 0, "sgd"), (0, 0, "adam"), (1, 0, "sgd"), (0, 1, "sgd")]:
            mlp_trial(
                {
                    **config,
                    "seed": seed,
                    "seed_stream": stream,
                    "optimizer": {"name": name, "lr": 0.01},
                }
            )
    (X0, V0), (X0_adam, V0_adam), (_, V1), (_, V0_rerun) = seen
    np.testing.assert_array_equal(V0, V0_adam)
    np.testing.assert_array_equal(X0, X0_adam)
    assert V0.shape == V1.shape == (800, 40) and not np.array_equal(V0, V1)
    assert not np.array_equal(V0, V0_rerun)


def _final(values: dict[str, list[float]], metric: str) -> pd.DataFrame:
    rows = [
        {
            "stage": f"final_{arm.split('/')[0]}",
            "arm": arm,
            "seed": seed,
            "status": "ok",
            metric: v,
        }
        for arm, per_seed in values.items()
        for seed, v in enumerate(per_seed)
    ]
    return pd.DataFrame(rows)


def test_tuned_rate_claims_pair_by_seed_on_both_tasks():
    adam, nesterov = [0.50, 0.52, 0.49, 0.55, 0.51], [0.60, 0.65, 0.61, 0.66, 0.62]
    frame = _final(
        {
            "mnist1d/adam": adam,
            "mnist1d/nesterov": nesterov,
            "digits/adam": [0.1] * 5,
            "digits/nesterov": [0.2, 0.21, 0.19, 0.22, 0.2],
        },
        "auc_train_loss",
    )
    evidence = _claim("adam_trains_faster_than_nesterov")(frame, None)
    c = part(evidence, "mnist1d")
    np.testing.assert_allclose(c.values, np.array(adam) - np.array(nesterov))
    assert (c.alternative, c.arms) == ("less", ("mnist1d/adam", "mnist1d/nesterov"))
    assert part(evidence, "digits").arms == ("digits/adam", "digits/nesterov")
    assert verdict(evidence) == "supported"
    frame = _final(
        {
            "mnist1d/momentum": [0.60, 0.62, 0.61, 0.63, 0.60],
            "mnist1d/adam": [0.58, 0.60, 0.58, 0.60, 0.59],
            "digits/momentum": [0.95, 0.96, 0.95, 0.97, 0.96],
            "digits/adam": [0.95, 0.97, 0.94, 0.97, 0.96],
        },
        "test_acc",
    )
    evidence = on_both_tasks("test_acc", "momentum", "adam", better="higher")(frame, None)
    assert part(evidence, "digits").alternative == "greater"
    np.testing.assert_allclose(part(evidence, "digits").values, [0, -0.01, 0.01, 0, 0], atol=1e-12)
    assert verdict(evidence) == "inconclusive"  # holds on MNIST-1D, not shown on digits


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
    for task in TASKS:
        assert stages.count(f"sens_{task}") == 3 * len(TUNED) * 2
        assert stages.count(f"final_{task}") == len(TUNED) * 2
    assert stages.count("toy2d") == 2
    assert all(r.result.status in ("ok", "diverged") for r in outcome.records)
    final = [r for r in outcome.records if r.spec.stage.startswith("final_")]
    assert all(r.spec.config["train"]["epochs"] == 3 for r in final)
    assert all(r.spec.config["seed_stream"] == 1 for r in final)
    assert all("test_acc" in r.result.summary for r in final)
    verdicts = {c.id: r.verdict for c, r in outcome.claims}
    assert set(verdicts) == {c.id for c in STUDY.claims}
    # Two seeds of a sign-flip test can never reach alpha: the saddle claim stays open.
    assert verdicts["sgd_leaves_saddle_slower"] == "inconclusive"

    client = MlflowClient(store)
    exp = client.get_experiment_by_name("optimizers")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    kinds = pd.Series([r.data.tags["kind"] for r in runs]).value_counts().to_dict()
    assert kinds == {"trial": 66, "arm": 9, "stage": 2, "summary": 1}
    toy = next(r for r in outcome.records if r.spec.stage == "toy2d")
    local = client.download_artifacts(toy.run_id, "trajectories_2d.json")
    assert len(json.loads(Path(local).read_text())["functions"]) == 3
