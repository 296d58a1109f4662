"""per_layer: a per-layer statistic against layer index, from the history or the trials."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.plots import PlotDataError
from reports.plots.per_layer import caption, per_layer


def test_per_layer_reads_history_at_the_chosen_epoch(toy_runs):
    ax = per_layer(toy_runs.history, prefix="grad_norm/layer_", epoch=0).axes[0]
    assert ax.get_yscale() == "log"
    assert list(ax.get_xticks()) == [0, 1, 2, 3]
    assert ax.get_ylabel() == "grad_norm (epoch 0)"
    with pytest.raises(PlotDataError, match="valid choices: first, last, 0, 1"):
        per_layer(toy_runs.history, prefix="grad_norm/layer_", epoch=99)
    with pytest.raises(PlotDataError, match="grad/"):
        per_layer(toy_runs.history, prefix="grad/")


def test_per_layer_from_per_trial_summaries():
    trials = pd.DataFrame(
        {
            "arm": ["a", "a", "b"],
            "run_id": ["1", "2", "3"],
            "w/layer_0": [1.0, 2.0, 3.0],
            "w/layer_1": [0.1, 0.2, 0.3],
        }
    )
    ax = per_layer(trials, prefix="w/layer_").axes[0]
    assert ax.get_ylabel() == "w"
    assert ax.get_xlabel() == "layer index"
    ax = per_layer(trials, prefix="w/layer_", x_label="steps back, T - 1 - t").axes[0]
    assert ax.get_xlabel() == "steps back, T - 1 - t"
    assert "one point per x value" in caption(trials, {"x_label": "steps back"})
    assert "one point per layer" in caption(trials, {})


def test_the_statistic_is_named_without_its_index_prefix():
    from reports.plots._common import stat_name

    assert stat_name("grad_norm/layer_") == "grad_norm"
    assert stat_name("act_std_layer") == "act_std"
    assert stat_name("dx_norm/lag_") == "dx_norm"
    assert stat_name("loss") == "loss"


def test_per_layer_ticks_stay_readable_on_deep_nets():
    trials = pd.DataFrame(
        [
            {"arm": "a", "run_id": str(s)} | {f"g/layer_{k}": 1.0 + k for k in range(1, 31)}
            for s in range(2)
        ]
    )
    ticks = list(per_layer(trials, prefix="g/layer_").axes[0].get_xticks())
    assert ticks == list(range(1, 31, 3))
