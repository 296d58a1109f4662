"""heatmap: the seed mean of a summary metric in every cell of a two-factor grid."""

from __future__ import annotations

from reports.plots.heatmap import heatmap


def test_heatmap_cells_are_seed_means(toy_runs):
    fig = heatmap(toy_runs.trials, row="activation", col="lr", metric="test_acc")
    texts = [t.get_text() for t in fig.axes[0].texts]
    mean = toy_runs.trials.query("arm == 'tanh-lr0.01'")["test_acc"].mean()
    assert f"{mean:.3g}\nn=3" in texts
    assert any(t.endswith("n=2") for t in texts)  # relu-lr0.1 lost a seed (failed)
