"""``sweep``: a summary metric against a swept config value, mean and 95% band over seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.plots._common import (
    BAND,
    PlotDataError,
    label,
    mean_curves,
    require_values,
    resolve_column,
    seed_counts,
)
from reports.plots._kind import PlotKind


def sweep(
    trials: pd.DataFrame,
    *,
    x: str,
    metric: str,
    hue: str | None = None,
    log_x: bool = False,
    title: str = "",
    palette: dict | None = None,
) -> Figure:
    """Metric against a swept config value: mean with a 95% CI band over seeds.

    Parameters
    ----------
    trials : DataFrame, shape (n_trials, n_columns)
        One row per trial with the swept column and ``metric``.
    x : str
        Swept config key (``"lr"`` finds ``config.optimizer.lr``) or factor label.
    metric : str
        Summary figure per trial.
    hue : str, optional
        Column separating lines (e.g. ``"optimizer.name"`` or ``"arm"``).
    log_x : bool
        Log-scale x axis.
    title : str
    palette : dict, optional
        Colour per arm, used when ``hue`` is the arm.
    """
    x_col = resolve_column(trials, x, "swept value")
    column = resolve_column(trials, metric, "metric")
    data = require_values(trials, column, "metric").copy()
    data[x_col] = pd.to_numeric(data[x_col], errors="coerce")
    data = data[np.isfinite(data[x_col])]
    if log_x:
        data = data[data[x_col] > 0]
    if data.empty:
        raise PlotDataError(f"swept value {x_col!r} has no numeric value to plot against")
    return mean_curves(
        data,
        x=x_col,
        y=column,
        hue=hue,
        palette=palette,
        xlabel=label(x_col),
        title=title,
        marker="o",
        log_x=log_x,
    )


def caption(trials: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """The band and the number of seeds per arm."""
    return f"{BAND}; {seed_counts(trials, options.get('metric', ''))}."


KIND = PlotKind(
    "sweep", sweep, frames=("trials",), options=("x", "metric", "hue", "log_x"), caption=caption
)
