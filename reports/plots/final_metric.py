"""``final_metric``: one row per arm, a box over seeds and every trial as a point."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.plots._common import (
    FIG_SIZE,
    new_figure,
    place_legend,
    require_values,
    resolve_column,
    seed_counts,
)
from reports.plots._kind import PlotKind

STATUS_COLORS = {"ok": "black", "diverged": "#cf222e", "failed": "#9a6700"}


def _boxes(ax: Axes, data: pd.DataFrame, column: str, order: list, colors: dict) -> None:
    sns.boxplot(
        data=data,
        x=column,
        y="arm",
        hue="arm",
        order=order,
        hue_order=order,
        palette=colors,
        showfliers=False,
        boxprops={"alpha": 0.35},
        legend=False,
        ax=ax,
    )


def final_metric(
    trials: pd.DataFrame, *, metric: str, title: str = "", palette: dict | None = None
) -> Figure:
    """One row per arm: a box over the seeds that finished, plus every trial as a point.

    Parameters
    ----------
    trials : DataFrame, shape (n_trials, n_columns)
        Columns ``arm``, ``status`` and ``metric`` (see ``StudyRuns.trials``).
    metric : str
        Summary figure, e.g. ``"test_acc"``.
    title : str
    palette : dict, optional
        Colour per arm.
    """
    column = resolve_column(trials, metric, "metric")
    data = require_values(trials, column, "metric")
    order = [a for a in (palette or {}) if a in set(data["arm"])]
    order += sorted(a for a in data["arm"].unique() if a not in order)
    colors = {a: (palette or {}).get(a, "grey") for a in order}
    fig, ax = new_figure((FIG_SIZE[0], max(2.2, 0.55 * len(order) + 1.2)))
    with warnings.catch_warnings():
        # seaborn 0.13 still passes `vert` to Axes.bxp, deprecated since Matplotlib 3.11.
        warnings.filterwarnings("ignore", message=".*vert.*", category=DeprecationWarning)
        _boxes(ax, data, column, order, colors)
    statuses = [s for s in STATUS_COLORS if s in set(data["status"])]
    sns.stripplot(
        data=data,
        x=column,
        y="arm",
        order=order,
        hue="status",
        hue_order=statuses,
        palette=STATUS_COLORS,
        size=5,
        jitter=0.15,
        ax=ax,
        legend=len(statuses) > 1,
    )
    ax.set(xlabel=column, ylabel="", title=title)
    ax.grid(axis="x", alpha=0.3)
    place_legend(ax, "trial status")
    return fig


def caption(trials: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """Box, points and the number of seeds per arm."""
    return (
        f"Box: quartiles over trials; points: every trial "
        f"({seed_counts(trials, options.get('metric', ''))}); red points: diverged trials."
    )


KIND = PlotKind(
    "final_metric", final_metric, frames=("trials",), options=("metric",), caption=caption
)
