"""histogram_grid: logged histograms, one row per layer and one column per arm."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.plots import PlotDataError, arm_order
from reports.plots.histogram_grid import histogram_grid


def test_histogram_grid_layers_by_arms(toy_runs):
    fig = histogram_grid(toy_runs.artifacts, artifact="activations", arms=arm_order(toy_runs))
    n_arms = toy_runs.artifacts["arm"].nunique()
    assert len(fig.axes) == 4 * n_arms
    assert [ax.get_title() for ax in fig.axes[:n_arms]] == [
        a for a in arm_order(toy_runs) if a in set(toy_runs.artifacts["arm"])
    ]


def test_histogram_grid_rejects_a_bad_artifact():
    bad = pd.DataFrame([{"run_id": "1", "arm": "a", "seed": 0, "name": "h", "content": [1, 2]}])
    with pytest.raises(PlotDataError, match="edges"):
        histogram_grid(bad, artifact="h")
    with pytest.raises(PlotDataError, match="no trial logged"):
        histogram_grid(bad, artifact="other")
