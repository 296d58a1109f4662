"""Plots of a study's report: each kind a pure function of one tidy frame returning a Figure.

One module per kind (:mod:`~reports.plots.learning_curves`, :mod:`~reports.plots.final_metric`,
:mod:`~reports.plots.sweep`, :mod:`~reports.plots.heatmap`, :mod:`~reports.plots.per_layer`,
:mod:`~reports.plots.layer_epochs`, :mod:`~reports.plots.histogram_grid`,
:mod:`~reports.plots.trajectories_2d`), each declaring a :class:`PlotKind`: its draw function,
the frame it reads (trials, history or artifacts), the options it accepts and its caption.
:mod:`~reports.plots.registry` lists them (:data:`KINDS`) and :func:`draw_plot` draws a
declared plot by looking its kind up. What the kinds share (arm order and colours, the
mean-and-band line, panel grids, legends, caption phrases) is in ``_common``.

Bands over seeds are the 95% percentile bootstrap of the mean
(:func:`studies.stats.bootstrap_ci`, 1000 resamples from a fixed seed), drawn by seaborn's
``lineplot``, so a rebuilt report draws the same band.

A kind raises :class:`PlotDataError` when the frame does not hold what the plot needs (a
metric that was never logged, an arm with no trials); the report then says so in the plot's
place instead of failing as a whole.
"""

import matplotlib

# Figures are drawn off screen; seaborn imports pyplot, which must not pick a GUI backend.
matplotlib.use("Agg")

from reports.plots._common import (  # noqa: E402
    PlotDataError,
    arm_order,
    arm_palette,
    band_interval,
    resolve_column,
)
from reports.plots._kind import FRAMES, PlotKind  # noqa: E402
from reports.plots.registry import (  # noqa: E402
    KINDS,
    PLOT_KINDS,
    TITLE_CHARS,
    PlotOutput,
    draw_plot,
    plot_kind,
    plot_specs,
    with_final_epoch,
)

__all__ = [
    "FRAMES",
    "KINDS",
    "PLOT_KINDS",
    "TITLE_CHARS",
    "PlotDataError",
    "PlotKind",
    "PlotOutput",
    "arm_order",
    "arm_palette",
    "band_interval",
    "draw_plot",
    "plot_kind",
    "plot_specs",
    "resolve_column",
    "with_final_epoch",
]
