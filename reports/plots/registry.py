"""The plot kinds a study can declare, and :func:`draw_plot`, which looks one up and draws it.

Each kind lives in its own module and declares a :class:`~reports.plots._kind.PlotKind`: its
draw function, the frame it reads, the options it accepts and its caption. :data:`KINDS`
lists them; the engine's :data:`studies.engine.spec.PLOT_KINDS` names the same kinds (the
engine cannot import the reporter; a test keeps the two equal).
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.plots._common import PlotDataError, not_shown
from reports.plots._kind import PlotKind
from reports.plots.final_metric import KIND as FINAL_METRIC
from reports.plots.heatmap import KIND as HEATMAP
from reports.plots.histogram_grid import KIND as HISTOGRAM_GRID
from reports.plots.layer_epochs import KIND as LAYER_EPOCHS
from reports.plots.learning_curves import KIND as LEARNING_CURVES
from reports.plots.per_layer import KIND as PER_LAYER
from reports.plots.sweep import KIND as SWEEP
from reports.plots.trajectories_2d import KIND as TRAJECTORIES_2D
from studies.store.reader import StudyRuns

#: Every plot kind, by name, in the engine's order.
KINDS: dict[str, PlotKind] = {
    kind.name: kind
    for kind in (
        LEARNING_CURVES,
        FINAL_METRIC,
        SWEEP,
        HEATMAP,
        PER_LAYER,
        HISTOGRAM_GRID,
        LAYER_EPOCHS,
        TRAJECTORIES_2D,
    )
}
#: Each kind's draw function, by name.
PLOT_KINDS: dict[str, Callable[..., Figure]] = {name: kind.draw for name, kind in KINDS.items()}
#: The option every kind accepts: restrict the plot to the trials of some stages.
STAGE_OPTION = "stage"
# Characters per line of an axes title (about the width of a 7-inch figure's axes).
TITLE_CHARS = 48


@dataclass
class PlotOutput:
    """One declared plot, drawn or not.

    Attributes
    ----------
    kind, title : str
        As declared by the study.
    figure : Figure or None
        The drawing, or None when ``error`` says why it could not be drawn.
    caption : str
        What the marks and bands mean, in one or two sentences.
    error : str
        Empty when the plot was drawn.
    """

    kind: str
    title: str
    figure: Figure | None
    caption: str
    error: str = ""


def plot_kind(name: str) -> PlotKind:
    """The registered kind called ``name``.

    Raises
    ------
    ValueError
        Naming ``name`` and the valid kinds.
    """
    if name not in KINDS:
        raise ValueError(f"unknown plot kind {name!r}; valid choices: {', '.join(sorted(KINDS))}")
    return KINDS[name]


def plot_specs(runs: StudyRuns) -> list[dict]:
    """The study's declared plots as ``{"kind", "title", "options"}``, or defaults.

    ``study.json`` may store a plot as ``{"kind", "title", "options": {...}}`` or with its
    options flat beside ``kind`` and ``title``. A study that declares none gets learning curves
    of its first validation (else first) per-epoch metric and the spread of its first summary
    figure, so a report always shows its data.
    """
    specs = []
    for plot in runs.study.get("plots") or []:
        if not isinstance(plot, dict):
            continue
        options = plot.get("options")
        if not isinstance(options, dict):
            options = {k: v for k, v in plot.items() if k not in ("kind", "title")}
        kind, title = str(plot.get("kind", "")), str(plot.get("title", ""))
        specs.append({"kind": kind, "title": title, "options": options})
    if specs:
        return specs
    if runs.history_keys:
        preferred = [k for k in ("val_acc", "val_loss", "train_loss") if k in runs.history_keys]
        metric = (preferred or runs.history_keys)[0]
        specs.append({"kind": "learning_curves", "title": metric, "options": {"metric": metric}})
    if runs.summary_keys:
        metric = runs.summary_keys[0]
        specs.append({"kind": "final_metric", "title": metric, "options": {"metric": metric}})
    return specs


def with_final_epoch(trials: pd.DataFrame, history: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Add a per-epoch metric's last logged finite value to ``trials`` (if not already a column).

    Parameters
    ----------
    trials : DataFrame, shape (n_trials, n_columns)
    history : DataFrame, shape (n_trials * n_epochs, n_columns)
    metric : str

    Returns
    -------
    DataFrame, shape (n_trials, n_columns + 1)
    """
    if metric in trials.columns or metric not in history.columns:
        return trials
    finite = history[np.isfinite(history[metric])]
    last = finite.loc[finite.groupby("run_id")["epoch"].idxmax(), ["run_id", metric]]
    return trials.merge(last, on="run_id", how="left")


def read_frame(runs: StudyRuns, name: str, options: Mapping[str, Any]) -> pd.DataFrame:
    """The frame a kind reads: ``history`` and ``artifacts`` as loaded; ``trials`` with the
    last finite value of a per-epoch ``metric`` option added (see :func:`with_final_epoch`),
    so a summary plot can show where training ended."""
    if name == "trials":
        return with_final_epoch(runs.trials, runs.history, str(options.get("metric", "")))
    return runs.history if name == "history" else runs.artifacts


def _only_stages(runs: StudyRuns, stages: Sequence[str]) -> StudyRuns:
    """``runs`` with only the trials (and their epochs and artifacts) of ``stages``."""
    trials = runs.trials[runs.trials["stage"].isin(list(stages))]
    keep = set(trials["run_id"])
    return dataclasses.replace(
        runs,
        trials=trials.reset_index(drop=True),
        history=runs.history[runs.history["run_id"].isin(keep)].reset_index(drop=True),
        artifacts=runs.artifacts[runs.artifacts["run_id"].isin(keep)].reset_index(drop=True),
    )


def _stage_problem(runs: StudyRuns, stage: str | Sequence[str]) -> tuple[list[str], str]:
    """The stages a ``stage`` option names, or why it names none the store holds."""
    stages = sorted(set(runs.trials["stage"])) if "stage" in runs.trials else []
    wanted = [stage] if isinstance(stage, str) else list(stage)
    absent = [s for s in wanted if s not in stages]
    if absent or not wanted:
        return wanted, (
            f"no trial of stage {', '.join(map(repr, absent or wanted))}; "
            f"valid choices: {', '.join(map(str, stages))}"
        )
    return wanted, ""


def draw_plot(runs: StudyRuns, spec: dict, palette: dict | None = None) -> PlotOutput:
    """Draw one declared plot from the study's frames; never raises for missing data.

    Parameters
    ----------
    runs : StudyRuns
    spec : dict
        ``{"kind": str, "title": str, "options": dict}`` (see :func:`plot_specs`); the
        option ``stage`` (any kind; a stage name or a list of them) restricts the plot to
        those stages' trials.
    palette : dict, optional
        Colour per arm.

    Returns
    -------
    PlotOutput
        With ``error`` set (and no figure) when the kind or options are unknown or the data
        lack what the plot needs.
    """
    name, title, options = spec["kind"], spec["title"], dict(spec["options"])
    stage = options.pop(STAGE_OPTION, None)
    if stage is not None:
        wanted, problem = _stage_problem(runs, stage)
        if problem:
            return PlotOutput(name, title, None, "", problem)
        runs = _only_stages(runs, wanted)
    try:
        kind = plot_kind(name)
        kind.check_options(options)
    except ValueError as exc:
        return PlotOutput(name, title, None, "", str(exc))
    frame = read_frame(runs, kind.frame_name(runs, options), options)
    try:
        figure = kind.draw(frame, **options, **kind.context(title, palette))
    except PlotDataError as exc:
        return PlotOutput(name, title, None, "", str(exc))
    _wrap_titles(figure)
    caption = kind.caption(frame, options) + not_shown(frame, options.get("metric", ""))
    return PlotOutput(name, title, figure, caption)


def _wrap_titles(figure: Figure) -> None:
    """Break axes titles longer than :data:`TITLE_CHARS` over several lines: a title wider
    than its axes (narrowed by a legend outside) would be cut at the figure's edge."""
    for ax in figure.axes:
        text = ax.get_title()
        if len(text) > TITLE_CHARS:
            ax.set_title(textwrap.fill(text, TITLE_CHARS))
