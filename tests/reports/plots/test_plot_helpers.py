"""What the kinds share: the band, column lookup and the arm palette."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from scipy import stats as scipy_stats

from reports.plots import PlotDataError, arm_palette, band_interval, resolve_column
from reports.plots.learning_curves import learning_curves
from studies import stats


def test_band_interval_is_the_seeded_percentile_bootstrap_of_studies_stats():
    values = np.array([0.31, 0.35, 0.29, 0.42, 0.38])
    low, high = band_interval(values)
    expected = stats.bootstrap_ci(values, n_resamples=1000, rng=np.random.default_rng(0))
    assert (low, high) == expected
    ref = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=50_000, method="percentile", random_state=0
    ).confidence_interval
    spread = values.max() - values.min()
    assert low == pytest.approx(ref.low, abs=0.03 * spread)
    assert high == pytest.approx(ref.high, abs=0.03 * spread)
    assert band_interval(values) == (low, high)  # seeded: the same band every build
    assert band_interval([0.5]) == (0.5, 0.5)  # one seed: a band of no width
    assert band_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_band_contains_the_mean_and_is_reproducible(toy_runs):
    one = toy_runs.history[toy_runs.history["arm"] == "relu-lr0.01"]
    ax = learning_curves(one, metric="val_loss", hue=None).axes[0]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = band.get_paths()[0].vertices
    means = one.groupby("epoch")["val_loss"].mean()
    for epoch, mean in means.items():
        ys = vertices[np.isclose(vertices[:, 0], epoch), 1]
        assert ys.min() <= mean + 1e-12 and ys.max() >= mean - 1e-12
    again = learning_curves(one, metric="val_loss", hue=None).axes[0]
    (band2,) = [c for c in again.collections if isinstance(c, PolyCollection)]
    np.testing.assert_array_equal(vertices, band2.get_paths()[0].vertices)


def test_line_and_band_at_every_epoch(drawn_lines):
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
    ax = learning_curves(frame, metric="m").axes[0]
    lines = drawn_lines(ax)
    assert len(lines) == 3 and all(len(line.get_xdata()) == len(epochs) for line in lines)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    for band in bands:
        xs = np.unique(band.get_paths()[0].vertices[:, 0])
        np.testing.assert_array_equal(xs, epochs)
    # The band at one epoch is band_interval of that epoch's seeds.
    one = frame[(frame["arm"] == "a0") & (frame["epoch"] == 17)]["m"]
    low, high = band_interval(one.to_numpy())
    vertices = bands[0].get_paths()[0].vertices
    ys = vertices[np.isclose(vertices[:, 0], 17), 1]
    assert ys.min() == pytest.approx(low) and ys.max() == pytest.approx(high)


def test_resolve_column_prefers_factor_then_config_then_unique_suffix(toy_runs):
    trials = toy_runs.trials
    assert resolve_column(trials, "lr", "x") == "factor.lr"
    assert resolve_column(trials, "optimizer.lr", "x") == "config.optimizer.lr"
    assert resolve_column(trials, "momentum", "x") == "config.optimizer.momentum"
    with pytest.raises(PlotDataError, match="no x 'nope'.*valid choices: .*test_acc"):
        resolve_column(trials, "nope", "x")


def test_palette_restarts_per_stage_so_each_plot_gets_distinct_colours():
    arms = [f"tune/{i}" for i in range(16)] + ["sgd", "adam"]
    stages = {a: "tune" for a in arms[:16]} | {"sgd": "final", "adam": "final"}
    palette = arm_palette(arms, stages)
    tab10 = [to_rgb(c) for c in sns.color_palette("tab10", 2)]
    assert [to_rgb(palette["sgd"]), to_rgb(palette["adam"])] == tab10
    assert len({palette[a] for a in arms[:16]}) == 16
