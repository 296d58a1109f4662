"""``learning_curves``: a per-epoch metric against epoch, mean and 95% band over seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from reports.plots._common import (
    BAND,
    PlotDataError,
    mean_curves,
    require_values,
    resolve_column,
    seed_counts,
)
from reports.plots._kind import PlotKind


def learning_curves(
    history: pd.DataFrame,
    *,
    metric: str,
    hue: str = "arm",
    log_y: bool = False,
    log_x: bool = False,
    x_label: str = "epoch",
    markers: bool = False,
    title: str = "",
    palette: dict | None = None,
) -> Figure:
    """Metric against epoch, one line per ``hue`` value: mean with a 95% CI band over seeds.

    Parameters
    ----------
    history : DataFrame, shape (n_trials * n_epochs, n_columns)
        Columns ``epoch``, ``metric`` and ``hue`` (see ``StudyRuns.history``).
    metric : str
        Per-epoch metric, e.g. ``"val_loss"``.
    hue : str
        Column (or factor / config key) that separates the lines.
    log_y : bool
        Log-scale y axis (non-positive values are dropped).
    log_x : bool
        Log-scale x axis, for curves whose step is a size (e.g. training-set size m) rather
        than an epoch; non-positive steps are dropped.
    x_label : str
        What the step means, ``"epoch"`` unless the study logs something else as its step.
    markers : bool
        A dot at every logged step, for curves whose single points matter (a category read
        off per step, a short grid).
    title : str
    palette : dict, optional
        Colour per arm, so every plot of a report shows an arm in the same colour.
    """
    column = resolve_column(history, metric, "metric")
    data = require_values(history, column, "metric")
    if log_y:
        data = data[data[column] > 0]
        if data.empty:
            raise PlotDataError(f"metric {column!r} has no positive value for a log axis")
    if log_x:
        data = data[data["epoch"] > 0]
        if data.empty:
            raise PlotDataError(f"metric {column!r} has no positive step for a log x axis")
    return mean_curves(
        data,
        x="epoch",
        y=column,
        hue=hue,
        palette=palette,
        xlabel=x_label,
        title=title,
        marker="o" if markers else None,
        log_x=log_x,
        log_y=log_y,
    )


def caption(history: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """The band and the number of seeds per arm."""
    return f"{BAND}; {seed_counts(history, options.get('metric', ''))}."


KIND = PlotKind(
    "learning_curves",
    learning_curves,
    frames=("history",),
    options=("metric", "hue", "log_y", "log_x", "x_label", "markers"),
    caption=caption,
)
