"""``per_layer``: a per-layer statistic against layer index (log scale), one line per arm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.plots._common import (
    BAND,
    PlotDataError,
    hue_setup,
    layer_columns,
    mean_and_band,
    new_figure,
    place_legend,
    stat_name,
)
from reports.plots._kind import PlotKind
from studies.store.reader import StudyRuns


def _at_epoch(frame: pd.DataFrame, epoch: int | str) -> tuple[pd.DataFrame, str]:
    """The rows of a history at ``epoch`` (per trial for "first"/"last") and how to say it."""
    epochs = sorted(frame["epoch"].dropna().unique())
    if epoch == "last":
        return frame.loc[frame.groupby("run_id")["epoch"].idxmax()], "last epoch"
    if epoch == "first":
        return frame.loc[frame.groupby("run_id")["epoch"].idxmin()], "first epoch"
    if epoch in epochs:
        return frame[frame["epoch"] == epoch], f"epoch {epoch}"
    raise PlotDataError(
        f"epoch {epoch!r} was not logged; valid choices: first, last, "
        + ", ".join(str(int(e)) for e in epochs)
    )


def per_layer(
    frame: pd.DataFrame,
    *,
    prefix: str,
    epoch: int | str = "last",
    x_label: str = "layer index",
    title: str = "",
    palette: dict | None = None,
) -> Figure:
    """A per-layer statistic against layer index (log scale), one line per arm.

    Parameters
    ----------
    frame : DataFrame
        Either the history (with ``epoch``; one row per trial and epoch) or the trials frame
        (one row per trial); columns ``<prefix><layer index>``, e.g. ``grad_norm/layer_3``.
    prefix : str
        Column prefix before the layer index.
    epoch : int or {"first", "last"}
        Which epoch of the history to show (ignored for a per-trial frame).
    x_label : str
        The x axis's label (what the index after the prefix counts, e.g. time steps).
    title : str
    palette : dict, optional
        Colour per arm.
    """
    columns = layer_columns(frame, prefix)
    if not columns:
        raise PlotDataError(f"no metric named {prefix!r} followed by a layer index")
    data, epoch_text = _at_epoch(frame, epoch) if "epoch" in frame.columns else (frame, "")
    long = data.melt(
        id_vars=["arm", "run_id"],
        value_vars=[c for c, _ in columns],
        var_name="column",
        value_name="value",
    )
    long["layer"] = long["column"].map(dict(columns))
    long = long[np.isfinite(long["value"]) & (long["value"] > 0)]
    if long.empty:
        raise PlotDataError(f"metrics {prefix!r}* have no positive value for a log axis")
    hue_col, order, colors = hue_setup(long, "arm", palette)
    fig, ax = new_figure()
    mean_and_band(
        ax, long, x="layer", y="value", hue=hue_col, order=order, colors=colors, marker="o"
    )
    ax.set_yscale("log")
    layers = sorted(long["layer"].unique())
    # Every layer up to a dozen; beyond that every k-th, so the labels do not overlap.
    ax.set_xticks(layers[:: max(1, -(-len(layers) // 12))])
    suffix = f" ({epoch_text})" if epoch_text else ""
    ax.set(xlabel=x_label, ylabel=stat_name(prefix) + suffix, title=title)
    ax.grid(alpha=0.3, which="both")
    place_legend(ax, "arm")
    return fig


def pick_frame(runs: StudyRuns, options: Mapping[str, Any]) -> str:
    """The history when it logs the prefix per epoch, else the trials' summaries."""
    prefix = str(options.get("prefix", ""))
    return "history" if any(str(c).startswith(prefix) for c in runs.history_keys) else "trials"


def caption(frame: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """The band, one point per layer (or per x value, when the x axis is relabelled)."""
    per = "x value" if "x_label" in options else "layer"
    return f"{BAND}; one point per {per} at the chosen epoch; log scale."


KIND = PlotKind(
    "per_layer",
    per_layer,
    frames=("history", "trials"),
    options=("prefix", "epoch", "x_label"),
    caption=caption,
    pick_frame=pick_frame,
)
