"""``final_metric``: one row per arm, a box over seeds and every trial as a point."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
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
#: Half-height of the vertical scatter of a row's points, and the seed it is drawn with.
JITTER = 0.15
JITTER_SEED = 0


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
    # Seeded jitter (seaborn's stripplot draws it from NumPy's global state), so the same
    # store always gives the same picture.
    jitter = np.random.default_rng(JITTER_SEED).uniform(-JITTER, JITTER, size=len(data))
    rows = data["arm"].map({arm: i for i, arm in enumerate(order)}).to_numpy(float) + jitter
    for status in statuses:
        mine = (data["status"] == status).to_numpy()
        ax.scatter(
            data.loc[mine, column],
            rows[mine],
            s=25,
            color=STATUS_COLORS[status],
            label=status if len(statuses) > 1 else None,
            zorder=3,
        )
    ax.set(xlabel=column, ylabel="", title=title)
    ax.grid(axis="x", alpha=0.3)
    if len(statuses) > 1:
        ax.legend()
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
