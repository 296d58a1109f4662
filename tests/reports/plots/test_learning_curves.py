"""learning_curves: a per-epoch metric against epoch, mean and band per arm."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection

from reports.plots import arm_order, arm_palette
from reports.plots.learning_curves import learning_curves


def test_learning_curves_mean_line_and_ci_band_per_arm(toy_runs, drawn_lines, line_of):
    history = toy_runs.history
    palette = arm_palette(arm_order(toy_runs))
    ax = learning_curves(history, metric="val_acc", palette=palette).axes[0]
    arms = list(history["arm"].unique())
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(arms)
    assert len(drawn_lines(ax)) == len(arms)
    for arm in arms:
        expected = history[history["arm"] == arm].groupby("epoch")["val_acc"].mean()
        line = line_of(ax, palette[arm])
        np.testing.assert_allclose(line.get_xdata(), expected.index)
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == arms


def test_learning_curves_log_x_for_size_steps(toy_runs, drawn_lines):
    history = toy_runs.history.copy()
    history.loc[history["epoch"] == history["epoch"].min(), "epoch"] = 0
    ax = learning_curves(history, metric="val_acc", log_x=True, x_label="training-set size m").axes[
        0
    ]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "training-set size m"
    # step 0 cannot sit on a log axis: it is dropped, the rest are drawn
    assert all(min(line.get_xdata()) > 0 for line in drawn_lines(ax))


def test_learning_curves_mark_every_step_on_request(toy_runs, drawn_lines):
    plain = learning_curves(toy_runs.history, metric="val_acc").axes[0]
    assert {line.get_marker() for line in drawn_lines(plain)} <= {"None", "", None}
    marked = learning_curves(toy_runs.history, metric="val_acc", markers=True).axes[0]
    assert {line.get_marker() for line in drawn_lines(marked)} == {"o"}
