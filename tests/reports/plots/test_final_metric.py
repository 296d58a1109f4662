"""final_metric: a box per arm over seeds, every trial a point coloured by status."""

from __future__ import annotations

from reports.plots.final_metric import final_metric


def test_final_metric_one_box_row_per_arm_and_status_legend(toy_runs):
    ax = final_metric(toy_runs.trials, metric="test_acc").axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    finished = toy_runs.trials.dropna(subset=["test_acc"])["arm"].unique()
    assert sorted(labels) == sorted(finished)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ok", "diverged"]
