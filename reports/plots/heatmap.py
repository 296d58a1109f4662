"""``heatmap``: the seed mean of a summary metric over a two-factor grid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.plots._common import label, new_figure, require_values, resolve_column
from reports.plots._kind import PlotKind


def heatmap(trials: pd.DataFrame, *, row: str, col: str, metric: str, title: str = "") -> Figure:
    """Mean of ``metric`` over seeds for every cell of a two-factor grid.

    Parameters
    ----------
    trials : DataFrame, shape (n_trials, n_columns)
        One row per trial with the two factor columns and ``metric``.
    row, col : str
        Factor labels or config keys giving the grid's rows and columns.
    metric : str
        Summary figure per trial.
    title : str

    Notes
    -----
    A cell with no finished trial is left blank; each cell shows its mean and, below it, the
    number of seeds averaged.
    """
    row_col = resolve_column(trials, row, "row factor")
    col_col = resolve_column(trials, col, "column factor")
    column = resolve_column(trials, metric, "metric")
    data = require_values(trials, column, "metric")
    grouped = data.groupby([row_col, col_col])[column]
    means = grouped.mean().unstack(col_col)
    counts = grouped.count().unstack(col_col).reindex_like(means)
    labels = means.map(lambda v: "" if pd.isna(v) else f"{v:.3g}") + counts.map(
        lambda n: "" if pd.isna(n) else f"\nn={int(n)}"
    )
    width = min(12.0, 2.0 + 1.2 * means.shape[1])
    height = min(10.0, 1.5 + 0.7 * means.shape[0])
    fig, ax = new_figure((max(width, 4.5), max(height, 3.0)))
    sns.heatmap(
        means.astype(float),
        annot=labels.to_numpy(),
        fmt="",
        cmap="viridis",
        linewidths=0.5,
        cbar_kws={"label": f"{column} (mean over seeds)"},
        ax=ax,
    )
    ax.set(xlabel=label(col_col), ylabel=label(row_col), title=title)
    return fig


def caption(trials: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """What a cell shows."""
    return "Cell: mean over seeds; n = number of seeds averaged; blank = no trial."


KIND = PlotKind(
    "heatmap", heatmap, frames=("trials",), options=("row", "col", "metric"), caption=caption
)
