"""Plot builders on fixture frames (no MLflow): every kind draws, bad input says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from reports import plots
from reports.plots import (
    PLOT_KINDS,
    PlotDataError,
    arm_order,
    arm_palette,
    draw_plot,
    plot_specs,
    resolve_column,
)


def _spec(kind: str, **options) -> dict:
    return {"kind": kind, "title": kind, "options": options}


def _drawn_lines(ax) -> list:
    """Visible data lines (the band's own zero-width line and legend handles excluded)."""
    return [
        line for line in ax.get_lines() if len(line.get_xdata()) > 0 and line.get_linewidth() > 0
    ]


def _line_of(ax, color) -> object:
    """The visible line drawn in ``color``."""
    (line,) = [line for line in _drawn_lines(ax) if np.allclose(to_rgb(line.get_color()), color)]
    return line


def test_every_declared_kind_draws(toy_runs):
    palette = arm_palette(arm_order(toy_runs))
    specs = plot_specs(toy_runs)
    assert {s["kind"] for s in specs} == set(PLOT_KINDS)
    for spec in specs:
        out = draw_plot(toy_runs, spec, palette)
        assert out.error == "", (spec, out.error)
        assert isinstance(out.figure, Figure)
        assert out.caption
        assert any(ax.has_data() for ax in out.figure.axes)


def test_learning_curves_mean_line_and_ci_band_per_arm(toy_runs):
    history = toy_runs.history
    palette = arm_palette(arm_order(toy_runs))
    ax = plots.learning_curves(history, metric="val_acc", palette=palette).axes[0]
    arms = list(history["arm"].unique())
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(arms)
    assert len(_drawn_lines(ax)) == len(arms)
    for arm in arms:
        expected = history[history["arm"] == arm].groupby("epoch")["val_acc"].mean()
        line = _line_of(ax, palette[arm])
        np.testing.assert_allclose(line.get_xdata(), expected.index)
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == arms


def test_band_contains_the_mean_and_is_reproducible(toy_runs):
    one = toy_runs.history[toy_runs.history["arm"] == "relu-lr0.01"]
    fig = plots.learning_curves(one, metric="val_loss", hue=None)
    ax = fig.axes[0]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = band.get_paths()[0].vertices
    means = one.groupby("epoch")["val_loss"].mean()
    for epoch, mean in means.items():
        ys = vertices[np.isclose(vertices[:, 0], epoch), 1]
        assert ys.min() <= mean + 1e-12 and ys.max() >= mean - 1e-12
    # Same seed, same band: the report is reproducible.
    again = plots.learning_curves(one, metric="val_loss", hue=None).axes[0]
    (band2,) = [c for c in again.collections if isinstance(c, PolyCollection)]
    np.testing.assert_array_equal(vertices, band2.get_paths()[0].vertices)


def test_bootstrap_ci_matches_scipy_percentile_bootstrap():
    from scipy import stats

    values = np.array([0.31, 0.35, 0.29, 0.42, 0.38])
    low, high = plots.bootstrap_ci(values)
    ref = stats.bootstrap(
        (values,), np.mean, n_resamples=50_000, method="percentile", random_state=0
    ).confidence_interval
    spread = values.max() - values.min()
    assert low == pytest.approx(ref.low, abs=0.03 * spread)
    assert high == pytest.approx(ref.high, abs=0.03 * spread)
    assert plots.bootstrap_ci(values) == (low, high)  # seeded: the same band every build
    assert plots.bootstrap_ci([0.5]) == (0.5, 0.5)
    assert plots.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_line_and_band_at_every_epoch():
    rng = np.random.default_rng(0)
    epochs = np.arange(200)
    frame = pd.DataFrame(
        [
            {"arm": f"a{a}", "seed": s, "run_id": f"{a}-{s}", "epoch": e, "m": rng.random()}
            for a in range(3)
            for s in range(3)
            for e in epochs
        ]
    )
    ax = plots.learning_curves(frame, metric="m").axes[0]
    lines = _drawn_lines(ax)
    assert len(lines) == 3 and all(len(line.get_xdata()) == len(epochs) for line in lines)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    for band in bands:
        xs = np.unique(band.get_paths()[0].vertices[:, 0])
        np.testing.assert_array_equal(xs, epochs)
    # The band at one epoch is bootstrap_ci of that epoch's seeds.
    one = frame[(frame["arm"] == "a0") & (frame["epoch"] == 17)]["m"]
    low, high = plots.bootstrap_ci(one.to_numpy())
    vertices = bands[0].get_paths()[0].vertices
    ys = vertices[np.isclose(vertices[:, 0], 17), 1]
    assert ys.min() == pytest.approx(low) and ys.max() == pytest.approx(high)


def test_final_metric_one_box_row_per_arm_and_status_legend(toy_runs):
    fig = plots.final_metric(toy_runs.trials, metric="test_acc")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    finished = toy_runs.trials.dropna(subset=["test_acc"])["arm"].unique()
    assert sorted(labels) == sorted(finished)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ok", "diverged"]


def test_sweep_against_config_value_with_hue(toy_runs):
    fig = plots.sweep(toy_runs.trials, x="optimizer.lr", metric="test_acc", hue="activation")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "optimizer.lr"
    assert len(_drawn_lines(ax)) == 2
    relu = toy_runs.trials[toy_runs.trials["factor.activation"] == "relu"].dropna(
        subset=["test_acc"]
    )
    expected = relu.groupby("config.optimizer.lr")["test_acc"].mean()
    means = [line.get_ydata() for line in _drawn_lines(ax)]
    assert any(np.allclose(m, expected.to_numpy()) for m in means)


def test_heatmap_cells_are_seed_means(toy_runs):
    fig = plots.heatmap(toy_runs.trials, row="activation", col="lr", metric="test_acc")
    texts = [t.get_text() for t in fig.axes[0].texts]
    mean = toy_runs.trials.query("arm == 'tanh-lr0.01'")["test_acc"].mean()
    assert f"{mean:.3g}\nn=3" in texts
    assert any(t.endswith("n=2") for t in texts)  # relu-lr0.1 lost a seed (failed)


def test_per_layer_reads_history_at_the_chosen_epoch(toy_runs):
    ax = plots.per_layer(toy_runs.history, prefix="grad_norm/layer_", epoch=0).axes[0]
    assert ax.get_yscale() == "log"
    assert list(ax.get_xticks()) == [0, 1, 2, 3]
    with pytest.raises(PlotDataError, match="valid choices: first, last, 0, 1"):
        plots.per_layer(toy_runs.history, prefix="grad_norm/layer_", epoch=99)
    with pytest.raises(PlotDataError, match="grad/"):
        plots.per_layer(toy_runs.history, prefix="grad/")


def test_per_layer_from_per_trial_summaries():
    trials = pd.DataFrame(
        {
            "arm": ["a", "a", "b"],
            "run_id": ["1", "2", "3"],
            "w/layer_0": [1.0, 2.0, 3.0],
            "w/layer_1": [0.1, 0.2, 0.3],
        }
    )
    ax = plots.per_layer(trials, prefix="w/layer_").axes[0]
    assert ax.get_ylabel() == "w"


def test_per_layer_ticks_stay_readable_on_deep_nets():
    trials = pd.DataFrame(
        [
            {"arm": "a", "run_id": str(s)} | {f"g/layer_{k}": 1.0 + k for k in range(1, 31)}
            for s in range(2)
        ]
    )
    ticks = list(plots.per_layer(trials, prefix="g/layer_").axes[0].get_xticks())
    assert ticks == list(range(1, 31, 3))


def test_histogram_grid_layers_by_arms(toy_runs):
    fig = plots.histogram_grid(toy_runs.artifacts, artifact="activations", arms=arm_order(toy_runs))
    n_arms = toy_runs.artifacts["arm"].nunique()
    assert len(fig.axes) == 4 * n_arms
    assert [ax.get_title() for ax in fig.axes[:n_arms]] == [
        a for a in arm_order(toy_runs) if a in set(toy_runs.artifacts["arm"])
    ]


def _layer_epoch_history(log_values: bool = False) -> pd.DataFrame:
    """Arms a, b; seeds 0, 1; epochs 0-3; layers 1-3 with value
    layer / 10 + epoch / 100 + seed / 50 (+ 0.5 for arm b); epoch 2 measures no layer."""
    rows = []
    for arm, shift in (("a", 0.0), ("b", 0.5)):
        for seed in (0, 1):
            for epoch in range(4):
                row = {"arm": arm, "run_id": f"{arm}{seed}", "seed": seed, "epoch": epoch}
                for layer in (1, 2, 3):
                    value = layer / 10 + epoch / 100 + seed / 50 + shift
                    row[f"dead/layer_{layer}"] = np.nan if epoch == 2 else value
                rows.append(row)
    return pd.DataFrame(rows)


def test_layer_epochs_cells_are_seed_means_by_layer_and_epoch():
    fig = plots.layer_epochs(_layer_epoch_history(), prefix="dead/layer_", arms=["b", "a"])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["b", "a"]
    for ax, shift in zip(panels, (0.5, 0.0), strict=True):
        cells = np.asarray(ax.collections[0].get_array()).reshape(3, 3)
        epochs = np.array([0, 1, 3])
        expected = np.arange(1, 4)[:, None] / 10 + epochs[None, :] / 100 + 0.01 + shift
        np.testing.assert_allclose(cells, expected, rtol=1e-6)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "3"]
        clim = ax.collections[0].get_clim()
        assert clim == pytest.approx((0.11, 0.84))


def test_layer_epochs_log_colour_and_fixed_scale():
    history = _layer_epoch_history()
    fig = plots.layer_epochs(history, prefix="dead/layer_", log_color=True, vmin=-2, vmax=0)
    ax = [ax for ax in fig.axes if ax.get_title() == "a"][0]
    cells = np.asarray(ax.collections[0].get_array()).reshape(3, 3)
    assert cells[0, 0] == pytest.approx(np.mean(np.log10([0.1, 0.12])))
    assert ax.collections[0].get_clim() == (-2, 0)
    assert "log10 dead" in fig.axes[-1].get_ylabel()


def test_layer_epochs_says_what_is_missing():
    history = _layer_epoch_history()
    with pytest.raises(PlotDataError, match="grad_norm/layer_"):
        plots.layer_epochs(history, prefix="grad_norm/layer_")
    history[[f"dead/layer_{k}" for k in (1, 2, 3)]] = -1.0
    with pytest.raises(PlotDataError, match="no positive value"):
        plots.layer_epochs(history, prefix="dead/layer_", log_color=True)


def test_histogram_grid_rejects_a_bad_artifact():
    bad = pd.DataFrame([{"run_id": "1", "arm": "a", "seed": 0, "name": "h", "content": [1, 2]}])
    with pytest.raises(PlotDataError, match="edges"):
        plots.histogram_grid(bad, artifact="h")
    with pytest.raises(PlotDataError, match="no trial logged"):
        plots.histogram_grid(bad, artifact="other")


def test_trajectories_draw_every_trial_path(toy_runs):
    fig = plots.trajectories_2d(toy_runs.artifacts, artifact="trajectory")
    ax = fig.axes[0]
    paths = toy_runs.artifacts[toy_runs.artifacts["name"] == "trajectory"]
    long_lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 20]
    assert len(long_lines) == len(paths)
    assert ax.collections, "contour lines missing"
    # Every arm in the legend, once; its lowest seed's path bold, the others faint.
    (legend,) = fig.legends
    assert sorted(t.get_text() for t in legend.get_texts()) == sorted(paths["arm"].unique())
    bold = [line for line in long_lines if line.get_linewidth() == 1.5]
    assert len(bold) == paths["arm"].nunique()


def test_resolve_column_prefers_factor_then_config_then_unique_suffix(toy_runs):
    trials = toy_runs.trials
    assert resolve_column(trials, "lr", "x") == "factor.lr"
    assert resolve_column(trials, "optimizer.lr", "x") == "config.optimizer.lr"
    assert resolve_column(trials, "momentum", "x") == "config.optimizer.momentum"
    with pytest.raises(PlotDataError, match="no x 'nope'.*valid choices: .*test_acc"):
        resolve_column(trials, "nope", "x")


def test_missing_data_becomes_a_message_not_a_crash(toy_runs):
    out = draw_plot(toy_runs, _spec("learning_curves", metric="grad_norm/layer_9"))
    assert out.figure is None and "no metric 'grad_norm/layer_9'" in out.error
    out = draw_plot(toy_runs, _spec("violin", metric="x"))
    assert "unknown plot kind 'violin'" in out.error and "learning_curves" in out.error
    out = draw_plot(toy_runs, _spec("final_metric", metric="test_acc", colour="red"))
    assert "unknown option(s) colour" in out.error
    out = draw_plot(toy_runs, _spec("sweep", metric="test_acc"))
    assert "missing option(s) x" in out.error


def test_stage_option_restricts_the_trials(toy_runs):
    out = draw_plot(toy_runs, _spec("final_metric", metric="test_acc", stage="main"))
    assert out.error == ""
    out = draw_plot(toy_runs, _spec("final_metric", metric="test_acc", stage="tune"))
    assert "no trial of stage 'tune'; valid choices: main" in out.error


def test_stage_option_takes_a_list_of_stages(toy_runs):
    import dataclasses

    first = arm_order(toy_runs)[0]
    stage = np.where(toy_runs.trials["arm"] == first, "other", "main")
    runs = dataclasses.replace(toy_runs, trials=toy_runs.trials.assign(stage=stage))

    def arms_drawn(stages) -> set[str]:
        out = draw_plot(runs, _spec("final_metric", metric="test_acc", stage=stages))
        assert out.error == ""
        return {t.get_text() for t in out.figure.axes[0].get_yticklabels()}

    everything = set(toy_runs.trials["arm"])
    assert arms_drawn(["main"]) == everything - {first}
    assert arms_drawn(["other"]) == {first}
    assert arms_drawn(["main", "other"]) == everything
    out = draw_plot(runs, _spec("final_metric", metric="test_acc", stage=["main", "tune"]))
    assert "no trial of stage 'tune'; valid choices: main, other" in out.error


def test_sweep_accepts_a_per_epoch_metric_via_its_last_value(toy_runs):
    out = draw_plot(toy_runs, _spec("sweep", x="optimizer.lr", metric="val_acc"))
    assert out.error == ""


def test_defaults_when_a_study_declares_no_plot(toy_runs):
    import dataclasses

    bare = dataclasses.replace(toy_runs, study={})
    kinds = [(s["kind"], s["options"]["metric"]) for s in plot_specs(bare)]
    assert kinds == [("learning_curves", "val_acc"), ("final_metric", "epochs_to_target")]


def test_trajectories_from_a_multi_function_artifact():
    grid = {"x": [-2, 0, 2], "y": [-2, 0, 2], "z": [[8, 4, 8], [4, 0, 4], [8, 4, 8]]}

    def content(seed):
        shift = 0.1 * seed
        path = [[-1.5, 1.5 + shift], [-0.5, 0.5], [0.0, 0.0]]
        return {
            "functions": [
                {
                    "name": "bowl",
                    "title": "Bowl",
                    "grid": grid,
                    "minimum": [0, 0],
                    "xlim": [-2, 2],
                    "ylim": [-2, 2],
                    "paths": {"sgd": path, "adam": path[:2]},
                },
                {
                    "name": "saddle",
                    "title": "Saddle",
                    "grid": {**grid, "levels": [1, 2, 3]},
                    "minimum": None,
                    "paths": {"sgd": path},
                },
            ]
        }

    artifacts = pd.DataFrame(
        [
            {"run_id": str(s), "arm": "paths", "seed": s, "name": "t", "content": content(s)}
            for s in range(2)
        ]
    )
    fig = plots.trajectories_2d(artifacts, artifact="t", title="Paths")
    bowl, saddle = fig.axes[:2]
    assert (bowl.get_title(), saddle.get_title()) == ("Bowl", "Saddle")
    assert bowl.get_xlim() == (-2, 2)
    paths = [line for line in bowl.get_lines() if len(line.get_xdata()) > 1]
    assert len(paths) == 2 * 2  # two optimizers, two seeds
    (legend,) = fig.legends
    assert sorted(t.get_text() for t in legend.get_texts()) == ["adam", "sgd"]
    with pytest.raises(PlotDataError, match="holds no path"):
        plots.trajectories_2d(artifacts.assign(content=[{"functions": []}] * 2), artifact="t")


def test_palette_restarts_per_stage_so_each_plot_gets_distinct_colours():
    arms = [f"tune/{i}" for i in range(16)] + ["sgd", "adam"]
    stages = {a: "tune" for a in arms[:16]} | {"sgd": "final", "adam": "final"}
    palette = arm_palette(arms, stages)
    tab10 = [to_rgb(c) for c in sns.color_palette("tab10", 2)]
    assert [to_rgb(palette["sgd"]), to_rgb(palette["adam"])] == tab10
    assert len({palette[a] for a in arms[:16]}) == 16


def test_caption_counts_trials_that_never_reached_a_target(toy_runs):
    out = draw_plot(toy_runs, _spec("final_metric", metric="epochs_to_target"))
    n_inf = int(np.isinf(toy_runs.trials["epochs_to_target"]).sum())
    assert n_inf > 0
    assert f"{n_inf} trial(s) with an infinite value (never reached) are not shown." in out.caption


def test_learning_curves_log_x_for_size_steps(toy_runs):
    history = toy_runs.history.copy()
    history.loc[history["epoch"] == history["epoch"].min(), "epoch"] = 0
    ax = plots.learning_curves(
        history, metric="val_acc", log_x=True, x_label="training-set size m"
    ).axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "training-set size m"
    # step 0 cannot sit on a log axis: it is dropped, the rest are drawn
    assert all(min(line.get_xdata()) > 0 for line in _drawn_lines(ax))


def test_long_titles_are_wrapped_not_cut(toy_runs):
    title = "Gradient norm per layer at initialization (common Xavier initializer)"
    spec = {"kind": "final_metric", "title": title, "options": {"metric": "test_acc"}}
    out = draw_plot(toy_runs, spec)
    shown = out.figure.axes[0].get_title()
    assert shown.replace("\n", " ") == title
    assert max(len(line) for line in shown.splitlines()) <= plots.TITLE_CHARS
    assert out.title == title
