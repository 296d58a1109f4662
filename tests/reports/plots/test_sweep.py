"""sweep: a summary metric against a swept config value, one line per hue."""

from __future__ import annotations

import numpy as np

from reports.plots import draw_plot
from reports.plots.sweep import sweep


def test_sweep_against_config_value_with_hue(toy_runs, drawn_lines):
    ax = sweep(toy_runs.trials, x="optimizer.lr", metric="test_acc", hue="activation").axes[0]
    assert ax.get_xlabel() == "optimizer.lr"
    assert len(drawn_lines(ax)) == 2
    relu = toy_runs.trials[toy_runs.trials["factor.activation"] == "relu"].dropna(
        subset=["test_acc"]
    )
    expected = relu.groupby("config.optimizer.lr")["test_acc"].mean()
    means = [line.get_ydata() for line in drawn_lines(ax)]
    assert any(np.allclose(m, expected.to_numpy()) for m in means)


def test_sweep_accepts_a_per_epoch_metric_via_its_last_value(toy_runs, spec):
    out = draw_plot(toy_runs, spec("sweep", x="optimizer.lr", metric="val_acc"))
    assert out.error == ""
