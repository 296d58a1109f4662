"""trajectories_2d: optimisation paths over contour lines, one panel per test function."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.plots import PlotDataError
from reports.plots.trajectories_2d import trajectories_2d


def test_trajectories_draw_every_trial_path(toy_runs):
    fig = trajectories_2d(toy_runs.artifacts, artifact="trajectory")
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
    fig = trajectories_2d(artifacts, artifact="t", title="Paths")
    bowl, saddle = fig.axes[:2]
    assert (bowl.get_title(), saddle.get_title()) == ("Bowl", "Saddle")
    assert bowl.get_xlim() == (-2, 2)
    paths = [line for line in bowl.get_lines() if len(line.get_xdata()) > 1]
    assert len(paths) == 2 * 2  # two optimizers, two seeds
    (legend,) = fig.legends
    assert sorted(t.get_text() for t in legend.get_texts()) == ["adam", "sgd"]
    with pytest.raises(PlotDataError, match="holds no path"):
        trajectories_2d(artifacts.assign(content=[{"functions": []}] * 2), artifact="t")
