"""layer_epochs: one layers-by-epochs heatmap per arm, cells the seed means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.plots import PlotDataError
from reports.plots.layer_epochs import layer_epochs


def _layer_epoch_history() -> pd.DataFrame:
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
    fig = layer_epochs(_layer_epoch_history(), prefix="dead/layer_", arms=["b", "a"])
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
    fig = layer_epochs(history, prefix="dead/layer_", log_color=True, vmin=-2, vmax=0)
    ax = [ax for ax in fig.axes if ax.get_title() == "a"][0]
    cells = np.asarray(ax.collections[0].get_array()).reshape(3, 3)
    assert cells[0, 0] == pytest.approx(np.mean(np.log10([0.1, 0.12])))
    assert ax.collections[0].get_clim() == (-2, 0)
    assert "log10 dead" in fig.axes[-1].get_ylabel()


def test_layer_epochs_says_what_is_missing():
    history = _layer_epoch_history()
    with pytest.raises(PlotDataError, match="grad_norm/layer_"):
        layer_epochs(history, prefix="grad_norm/layer_")
    history[[f"dead/layer_{k}" for k in (1, 2, 3)]] = -1.0
    with pytest.raises(PlotDataError, match="no positive value"):
        layer_epochs(history, prefix="dead/layer_", log_color=True)
