"""final_metric: a box per arm over seeds, every trial a point coloured by status."""

from __future__ import annotations

import numpy as np

from reports.plots.final_metric import final_metric


def test_final_metric_one_box_row_per_arm_and_status_legend(toy_runs):
    ax = final_metric(toy_runs.trials, metric="test_acc").axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    finished = toy_runs.trials.dropna(subset=["test_acc"])["arm"].unique()
    assert sorted(labels) == sorted(finished)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ok", "diverged"]


def test_final_metric_points_are_the_same_every_time(toy_runs):
    """The jitter is seeded: one store, one picture (no draw from NumPy's global state)."""

    def points():
        ax = final_metric(toy_runs.trials, metric="test_acc").axes[0]
        return np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])

    np.random.seed(1)  # noqa: NPY002 - the global state is what must not matter
    first = points()
    np.random.seed(2)  # noqa: NPY002
    assert np.array_equal(first, points())
    rows = np.round(first[:, 1])
    assert np.all(np.abs(first[:, 1] - rows) <= 0.15)  # each point stays on its arm's row
