"""``layer_epochs``: a per-layer statistic over training, one layers-by-epochs heatmap per arm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.plots._common import PlotDataError, layer_columns, panel_grid, stat_name
from reports.plots._kind import PlotKind


def layer_epochs(
    history: pd.DataFrame,
    *,
    prefix: str,
    log_color: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str = "",
    arms: Sequence[str] = (),
) -> Figure:
    """A per-layer statistic over training: one heatmap per arm, layers by epochs.

    Parameters
    ----------
    history : DataFrame, shape (n_trials * n_epochs, n_columns)
        Columns ``arm``, ``epoch`` and ``<prefix><layer index>`` (e.g. ``dead/layer_3``).
    prefix : str
        Column prefix before the layer index.
    log_color : bool
        Colour by log10 of the value (for statistics spanning decades, e.g. gradient norms);
        non-positive values are left blank.
    vmin, vmax : float, optional
        Ends of the colour scale shared by every panel (in log10 units with ``log_color``);
        default: the data's range.
    title : str
    arms : sequence of str
        Panel order (arms absent from ``history`` are skipped).

    Notes
    -----
    Each cell is the mean over seeds of layer K (row, layer 1 at the top) at one epoch
    (column). Epochs at which no layer was measured are left out; a blank cell is one no
    seed measured.
    """
    columns = layer_columns(history, prefix)
    if not columns:
        raise PlotDataError(f"no metric named {prefix!r} followed by a layer index")
    names = [c for c, _ in columns]
    values = history[["arm", "epoch", *names]].copy()
    values[names] = values[names].apply(pd.to_numeric, errors="coerce")
    if log_color:
        with np.errstate(divide="ignore", invalid="ignore"):
            values[names] = np.log10(values[names].where(values[names] > 0))
    values[names] = values[names].where(np.isfinite(values[names]))
    values = values.dropna(subset=names, how="all")
    if values.empty:
        what = "positive" if log_color else "finite"
        raise PlotDataError(f"metrics {prefix!r}* have no {what} value at any epoch")
    means = values.groupby(["arm", "epoch"])[names].mean()
    present = set(means.index.get_level_values("arm"))
    order = [a for a in arms if a in present] + sorted(a for a in present if a not in arms)
    low = float(np.nanmin(means.to_numpy())) if vmin is None else vmin
    high = float(np.nanmax(means.to_numpy())) if vmax is None else vmax
    n_cols = min(4, len(order))
    n_rows = -(-len(order) // n_cols)
    n_epochs = means.index.get_level_values("epoch").nunique()
    panel_w = min(3.4, 1.2 + 0.12 * n_epochs)
    panel_h = min(3.2, 0.9 + 0.16 * len(columns))
    width, height = min(14.0, 1.6 + panel_w * n_cols), 0.9 + panel_h * n_rows
    fig, axes = panel_grid(
        (width, height), (n_rows, n_cols), (0.55, 1.05, 0.45), title=title, sharey=True
    )
    mesh = None
    for i, ax in enumerate(axes.flat):
        if i >= len(order):
            ax.set_visible(False)
            continue
        grid = means.loc[order[i]]
        grid = grid.set_axis([layer for _, layer in columns], axis=1).T
        grid.index.name, grid.columns.name = "layer", "epoch"
        sns.heatmap(grid, vmin=low, vmax=high, cmap="magma", cbar=False, ax=ax)
        mesh = ax.collections[0]
        ax.set_title(order[i], fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set(xlabel="epoch" if i // n_cols == n_rows - 1 else "", ylabel="")
        if i % n_cols == 0:
            ax.set_ylabel("layer", fontsize=8)
    name = stat_name(prefix)
    label = f"log10 {name}" if log_color else name
    cax = fig.add_axes((1 - 0.8 / width, 0.45 / height, 0.15 / width, 1 - 1.2 / height))
    fig.colorbar(mesh, cax=cax, label=f"{label} (mean over seeds)")
    if title:
        fig.suptitle(title, y=1 - 0.2 / height, va="top")
    return fig


def caption(history: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """Panels, rows, columns and the colour scale."""
    scale = "log10 colour scale" if options.get("log_color") else "linear colour scale"
    return (
        "One panel per arm; rows: layers (1 = next to the input), columns: epochs "
        f"(0 = at initialization); cell: mean over seeds; one {scale} shared by all panels."
    )


KIND = PlotKind(
    "layer_epochs",
    layer_epochs,
    frames=("history",),
    options=("prefix", "log_color", "vmin", "vmax"),
    caption=caption,
)
