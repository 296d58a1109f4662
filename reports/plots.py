"""Plot builders: each is a pure function of a tidy frame returning a matplotlib Figure.

The kinds a study can declare (by name, in ``Plot(kind, title, **options)``) are the keys of
:data:`PLOT_KINDS`. Confidence bands over seeds are drawn by seaborn's ``lineplot``; the
interval is seaborn's ``("ci", 95)`` rule -- the 2.5 and 97.5 percentiles of
:data:`N_BOOT` bootstrap means -- computed by :func:`bootstrap_ci` with the resamples drawn as
one array (seaborn's own bootstrap loops in Python, about 20 us per resample and point) from a
fixed seed, so a rebuilt report draws the same picture.

A builder raises :class:`PlotDataError` when the frame does not hold what the plot needs (a
metric that was never logged, an arm with no trials); the report then says so in the plot's
place instead of failing as a whole.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from studies.store.reader import CONFIG_PREFIX, FACTOR_PREFIX, StudyRuns, declared_arms  # noqa: E402

CI_LEVEL = 95
# Fixed bootstrap seed: every band's resamples come from it, so bands are reproducible.
BOOT_SEED = 0
N_BOOT = 1000
FIG_SIZE = (7.0, 3.9)
# Characters per line of an axes title (about the width of a 7-inch figure's axes).
TITLE_CHARS = 48


class PlotDataError(ValueError):
    """The frame lacks what a plot needs; the message says what is missing."""


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


def arm_order(runs: StudyRuns) -> list[str]:
    """Arms in the order the study declares them, then any other arm found in the store."""
    seen = list(declared_arms(runs.study))
    for frame in (runs.trials, runs.arms):
        if "arm" in frame:
            seen += [a for a in sorted(frame["arm"].dropna().unique()) if a not in seen]
    return seen


def arm_palette(arms: Sequence[str], stages: dict[str, str] | None = None) -> dict[str, tuple]:
    """One fixed colour per arm, shared by every plot of a report.

    Colours are assigned stage by stage (``stages`` maps arm -> stage): plots show one stage
    at a time, so each stage gets the whole of tab10 (husl past ten arms) and its arms stay
    easy to tell apart even when the study has dozens of arms in all.
    """
    stages = stages or {}
    groups: dict[str, list[str]] = {}
    for arm in arms:
        groups.setdefault(stages.get(arm, ""), []).append(arm)
    palette = {}
    for members in groups.values():
        name = "tab10" if len(members) <= 10 else "husl"
        palette.update(zip(members, sns.color_palette(name, len(members)), strict=True))
    return palette


def resolve_column(frame: pd.DataFrame, name: str, what: str) -> str:
    """Find the column a plot option names.

    ``name`` may be a column itself, a factor label (``factor.<name>``), a dotted config key
    (``config.<key>``) or the unique last part of one (``"lr"`` for ``config.optimizer.lr``).

    Raises
    ------
    PlotDataError
        Naming ``name`` and the columns that would have matched.
    """
    for candidate in (name, FACTOR_PREFIX + name, CONFIG_PREFIX + name):
        if candidate in frame.columns:
            return candidate
    suffix = [c for c in frame.columns if c.startswith(CONFIG_PREFIX) and c.endswith("." + name)]
    if len(suffix) == 1:
        return suffix[0]
    choices = sorted(str(c) for c in frame.columns)
    hint = f" (ambiguous: {', '.join(suffix)})" if suffix else ""
    raise PlotDataError(
        f"no {what} {name!r} in the data{hint}; valid choices: {', '.join(choices)}"
    )


def _label(column: str) -> str:
    for prefix in (CONFIG_PREFIX, FACTOR_PREFIX):
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def _require_values(frame: pd.DataFrame, column: str, what: str) -> pd.DataFrame:
    finite = frame[np.isfinite(pd.to_numeric(frame[column], errors="coerce"))]
    if finite.empty:
        raise PlotDataError(f"{what} {column!r} has no finite value in any trial")
    return finite


def _new_figure(size: tuple[float, float] = FIG_SIZE) -> tuple[Figure, plt.Axes]:
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _panel_grid(
    size: tuple[float, float],
    shape: tuple[int, int],
    margins: tuple[float, float, float],
    *,
    title: str,
    **share: str | bool,
) -> tuple[Figure, np.ndarray]:
    """A figure of ``shape`` (rows, columns) panels with fixed margins: ``margins`` are the
    left, right and bottom margins in inches; the top leaves room for ``title``.

    Fixed margins, because constrained layout costs seconds on a grid of dozens of panels.
    """
    width, height = size
    left, right, bottom = margins
    fig = Figure(figsize=size)
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - (0.75 if title else 0.45) / height,
        wspace=0.15,
        hspace=0.45,
    )
    return fig, fig.subplots(*shape, squeeze=False, **share)


def _place_legend(ax: plt.Axes, title: str | None = None) -> None:
    if ax.get_legend() is None:
        return
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 4:
        ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(handles, labels, title=title)


def _hue_setup(
    frame: pd.DataFrame, hue: str | None, palette: dict | None
) -> tuple[str | None, list | None, dict | None]:
    if hue is None:
        return None, None, None
    column = resolve_column(frame, hue, "hue")
    present = list(pd.unique(frame[column].dropna()))
    if column == "arm" and palette:
        order = [a for a in palette if a in present] + [a for a in present if a not in palette]
        return column, order, {a: palette.get(a, "grey") for a in order}
    if pd.api.types.is_numeric_dtype(frame[column]):
        order = sorted(present)
        colors = sns.color_palette("viridis", len(order))
        return column, order, dict(zip(order, colors, strict=True))
    return column, sorted(present, key=str), None


def bootstrap_ci(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean (seaborn's ``errorbar=("ci", 95)``).

    Parameters
    ----------
    values : array-like, shape (n,)
        One x position's values over seeds.

    Returns
    -------
    (low, high) : tuple of float
        The 2.5 and 97.5 percentiles of :data:`N_BOOT` means of resamples drawn with
        replacement from ``np.random.default_rng(BOOT_SEED)``; (v, v) for one value.
    """
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(BOOT_SEED)
    means = x[rng.integers(0, len(x), size=(N_BOOT, len(x)))].mean(axis=1)
    edge = (100 - CI_LEVEL) / 2
    low, high = np.nanpercentile(means, [edge, 100 - edge])
    return float(low), float(high)


def _mean(values: np.ndarray) -> float:
    """Plain mean as seaborn's estimator (``np.mean`` on a Series costs twice as much)."""
    return np.add.reduce(values) / len(values)


def _mean_and_band(
    ax: plt.Axes,
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str | None,
    order: list | None,
    colors: dict | None,
    marker: str | None = None,
) -> None:
    """Mean over seeds at every x with its 95% bootstrap CI band (:func:`bootstrap_ci`),
    drawn by seaborn."""
    sns.lineplot(
        data=data,
        x=x,
        y=y,
        hue=hue,
        hue_order=order,
        palette=colors,
        estimator=_mean,
        errorbar=bootstrap_ci,
        marker=marker,
        ax=ax,
    )


def learning_curves(
    history: pd.DataFrame,
    *,
    metric: str,
    hue: str = "arm",
    log_y: bool = False,
    log_x: bool = False,
    x_label: str = "epoch",
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
    title : str
    palette : dict, optional
        Colour per arm, so every plot of a report shows an arm in the same colour.
    """
    column = resolve_column(history, metric, "metric")
    data = _require_values(history, column, "metric")
    if log_y:
        data = data[data[column] > 0]
        if data.empty:
            raise PlotDataError(f"metric {column!r} has no positive value for a log axis")
    if log_x:
        data = data[data["epoch"] > 0]
        if data.empty:
            raise PlotDataError(f"metric {column!r} has no positive step for a log x axis")
    hue_col, order, colors = _hue_setup(data, hue, palette)
    fig, ax = _new_figure()
    _mean_and_band(ax, data, x="epoch", y=column, hue=hue_col, order=order, colors=colors)
    if log_y:
        ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=x_label, ylabel=column, title=title)
    ax.grid(alpha=0.3)
    _place_legend(ax, _label(hue_col) if hue_col else None)
    return fig


def _boxes(ax: plt.Axes, data: pd.DataFrame, column: str, order: list, colors: dict) -> None:
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
    data = _require_values(trials, column, "metric")
    order = [a for a in (palette or {}) if a in set(data["arm"])]
    order += sorted(a for a in data["arm"].unique() if a not in order)
    colors = {a: (palette or {}).get(a, "grey") for a in order}
    fig, ax = _new_figure((FIG_SIZE[0], max(2.2, 0.55 * len(order) + 1.2)))
    with warnings.catch_warnings():
        # seaborn 0.13 still passes `vert` to Axes.bxp, deprecated since Matplotlib 3.11.
        warnings.filterwarnings("ignore", message=".*vert.*", category=DeprecationWarning)
        _boxes(ax, data, column, order, colors)
    statuses = [s for s in ("ok", "diverged", "failed") if s in set(data["status"])]
    sns.stripplot(
        data=data,
        x=column,
        y="arm",
        order=order,
        hue="status",
        hue_order=statuses,
        palette={"ok": "black", "diverged": "#cf222e", "failed": "#9a6700"},
        size=5,
        jitter=0.15,
        ax=ax,
        legend=len(statuses) > 1,
    )
    ax.set(xlabel=column, ylabel="", title=title)
    ax.grid(axis="x", alpha=0.3)
    _place_legend(ax, "trial status")
    return fig


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
    data = _require_values(trials, column, "metric").copy()
    data[x_col] = pd.to_numeric(data[x_col], errors="coerce")
    data = data[np.isfinite(data[x_col])]
    if log_x:
        data = data[data[x_col] > 0]
    if data.empty:
        raise PlotDataError(f"swept value {x_col!r} has no numeric value to plot against")
    hue_col, order, colors = _hue_setup(data, hue, palette)
    fig, ax = _new_figure()
    _mean_and_band(ax, data, x=x_col, y=column, hue=hue_col, order=order, colors=colors, marker="o")
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=_label(x_col), ylabel=column, title=title)
    ax.grid(alpha=0.3)
    _place_legend(ax, _label(hue_col) if hue_col else None)
    return fig


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
    data = _require_values(trials, column, "metric")
    grouped = data.groupby([row_col, col_col])[column]
    means = grouped.mean().unstack(col_col)
    counts = grouped.count().unstack(col_col).reindex_like(means)
    labels = means.map(lambda v: "" if pd.isna(v) else f"{v:.3g}") + counts.map(
        lambda n: "" if pd.isna(n) else f"\nn={int(n)}"
    )
    width = min(12.0, 2.0 + 1.2 * means.shape[1])
    height = min(10.0, 1.5 + 0.7 * means.shape[0])
    fig, ax = _new_figure((max(width, 4.5), max(height, 3.0)))
    sns.heatmap(
        means.astype(float),
        annot=labels.to_numpy(),
        fmt="",
        cmap="viridis",
        linewidths=0.5,
        cbar_kws={"label": f"{column} (mean over seeds)"},
        ax=ax,
    )
    ax.set(xlabel=_label(col_col), ylabel=_label(row_col), title=title)
    return fig


def _stat_name(prefix: str) -> str:
    """The statistic a per-layer prefix names: ``"grad_norm/layer_"`` -> ``"grad_norm"``."""
    return re.sub(r"[/_.]?layers?[_.]?$", "", prefix) or prefix


def _layer_columns(frame: pd.DataFrame, prefix: str) -> list[tuple[str, int]]:
    """Columns ``<prefix><index>`` as (column, layer index), in index order."""
    found = []
    for column in frame.columns:
        if isinstance(column, str) and column.startswith(prefix):
            match = re.fullmatch(r"\d+", column[len(prefix) :])
            if match:
                found.append((column, int(match.group())))
    return sorted(found, key=lambda item: item[1])


def per_layer(
    frame: pd.DataFrame,
    *,
    prefix: str,
    epoch: int | str = "last",
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
    title : str
    palette : dict, optional
        Colour per arm.
    """
    columns = _layer_columns(frame, prefix)
    if not columns:
        raise PlotDataError(f"no metric named {prefix!r} followed by a layer index")
    data = frame
    if "epoch" in frame.columns:
        epochs = sorted(frame["epoch"].dropna().unique())
        if epoch == "last":
            data = frame.loc[frame.groupby("run_id")["epoch"].idxmax()]
            epoch_text = "last epoch"
        elif epoch == "first":
            data = frame.loc[frame.groupby("run_id")["epoch"].idxmin()]
            epoch_text = "first epoch"
        elif epoch in epochs:
            data = frame[frame["epoch"] == epoch]
            epoch_text = f"epoch {epoch}"
        else:
            raise PlotDataError(
                f"epoch {epoch!r} was not logged; valid choices: first, last, "
                + ", ".join(str(int(e)) for e in epochs)
            )
    else:
        epoch_text = ""
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
    hue_col, order, colors = _hue_setup(long, "arm", palette)
    fig, ax = _new_figure()
    _mean_and_band(
        ax, long, x="layer", y="value", hue=hue_col, order=order, colors=colors, marker="o"
    )
    ax.set_yscale("log")
    layers = sorted(long["layer"].unique())
    # Every layer up to a dozen; beyond that every k-th, so the labels do not overlap.
    ax.set_xticks(layers[:: max(1, -(-len(layers) // 12))])
    suffix = f" ({epoch_text})" if epoch_text else ""
    ax.set(xlabel="layer index", ylabel=_stat_name(prefix) + suffix, title=title)
    ax.grid(alpha=0.3, which="both")
    _place_legend(ax, "arm")
    return fig


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
    columns = _layer_columns(history, prefix)
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
    fig, axes = _panel_grid(
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
    name = _stat_name(prefix)
    label = f"log10 {name}" if log_color else name
    cax = fig.add_axes((1 - 0.8 / width, 0.45 / height, 0.15 / width, 1 - 1.2 / height))
    fig.colorbar(mesh, cax=cax, label=f"{label} (mean over seeds)")
    if title:
        fig.suptitle(title, y=1 - 0.2 / height, va="top")
    return fig


def _histogram_layers(content: object) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Parse one histogram artifact into (layer name, edges, counts) triples.

    Accepted forms: ``{"<layer>": {"edges": [...], "counts": [...]}, ...}``,
    ``{"layers": [{"name": ..., "edges": ..., "counts": ...}, ...]}`` or that list alone.
    """
    if isinstance(content, dict) and isinstance(content.get("layers"), list):
        content = content["layers"]
    if isinstance(content, dict):
        items = [dict(v, name=k) for k, v in content.items() if isinstance(v, dict)]
    elif isinstance(content, list):
        items = [v for v in content if isinstance(v, dict)]
    else:
        items = []
    layers = []
    for i, item in enumerate(items):
        edges = item.get("edges", item.get("bins"))
        counts = item.get("counts")
        if edges is None or counts is None:
            continue
        edges = np.asarray(edges, dtype=float)
        counts = np.asarray(counts, dtype=float)
        if edges.ndim == 1 and counts.ndim == 1 and edges.size == counts.size + 1:
            layers.append((str(item.get("name", item.get("layer", i))), edges, counts))
    return layers


def histogram_grid(
    artifacts: pd.DataFrame, *, artifact: str, title: str = "", arms: Sequence[str] = ()
) -> Figure:
    """Histograms (e.g. of activations) in a grid: one row per layer, one column per arm.

    Parameters
    ----------
    artifacts : DataFrame, shape (n_loaded, 5)
        ``StudyRuns.artifacts``: columns ``arm``, ``seed``, ``name``, ``content``.
    artifact : str
        Artifact name; its content maps layer -> ``{"edges": (B + 1,), "counts": (B,)}``.
    title : str
    arms : sequence of str
        Column order (arms absent from ``artifacts`` are skipped).

    Notes
    -----
    Counts of an arm's seeds are summed when their bin edges agree; otherwise the lowest
    seed is shown.
    """
    rows = artifacts[artifacts["name"] == artifact].sort_values("seed")
    if rows.empty:
        raise PlotDataError(f"no trial logged the artifact {artifact!r}")
    order = [a for a in arms if a in set(rows["arm"])] + sorted(
        a for a in rows["arm"].unique() if a not in arms
    )
    per_arm: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    layer_names: list[str] = []
    for arm in order:
        merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for content in rows.loc[rows["arm"] == arm, "content"]:
            for name, edges, counts in _histogram_layers(content):
                if name not in merged:
                    merged[name] = (edges, counts.copy())
                elif merged[name][0].shape == edges.shape and np.allclose(merged[name][0], edges):
                    merged[name] = (edges, merged[name][1] + counts)
                if name not in layer_names:
                    layer_names.append(name)
        per_arm[arm] = merged
    if not layer_names:
        raise PlotDataError(
            f"artifact {artifact!r} holds no histogram of the form "
            "{layer: {'edges': [...], 'counts': [...]}}"
        )
    n_rows, n_cols = len(layer_names), len(order)
    width, height = min(14.0, 1.2 + 2.3 * n_cols), min(18.0, 0.8 + 1.35 * n_rows)
    fig, axes = _panel_grid(
        (width, height), (n_rows, n_cols), (0.5, 0.1, 0.35), title=title, sharex="row"
    )
    for r, layer in enumerate(layer_names):
        for c, arm in enumerate(order):
            ax = axes[r][c]
            if layer in per_arm[arm]:
                edges, counts = per_arm[arm][layer]
                total = counts.sum()
                ax.stairs(counts / total if total else counts, edges, fill=True, alpha=0.75)
            else:
                ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(arm, fontsize=9)
            if c == 0:
                ax.set_ylabel(layer, fontsize=8)
    if title:
        fig.suptitle(title, y=1 - 0.2 / height, va="top")
    return fig


def _points(value: object) -> np.ndarray | None:
    """``[[x, y], ...]`` as an array of shape (T, 2), or None if it is not one."""
    try:
        points = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return points if points.ndim == 2 and points.shape[1] == 2 and len(points) else None


def _panels(content: object, arm: str) -> list[dict]:
    """Parse one trajectory artifact into panels ``{"name", "title", "grid", "paths", ...}``.

    Accepted forms:

    * ``{"functions": [{"name", "title", "grid": {"x", "y", "z", "levels"?}, "paths":
      {label: [[x, y], ...]}, "minimum"?, "xlim"?, "ylim"?}, ...]}`` — one panel per
      function, one path per label (e.g. per optimizer);
    * ``{"path": [[x, y], ...], "contour": {"x", "y", "z"}}`` — one panel, the path labelled
      with the trial's arm (``"trajectory"``/``"points"`` and ``"grid"`` are synonyms).

    Grids hold ``x`` (nx,), ``y`` (ny,) and ``z`` (ny, nx) with ``z[i][j] = f(x[j], y[i])``.
    """
    if not isinstance(content, dict):
        return []
    if isinstance(content.get("functions"), list):
        panels = []
        for i, fn in enumerate(content["functions"]):
            if not isinstance(fn, dict) or not isinstance(fn.get("paths"), dict):
                continue
            paths = {}
            for label, value in fn["paths"].items():
                points = _points(value)
                if points is not None:
                    paths[str(label)] = points
            panels.append({**fn, "name": str(fn.get("name", i)), "paths": paths})
        return panels
    path = next((content[k] for k in ("path", "trajectory", "points") if k in content), None)
    points = _points(path)
    grid = next((content[k] for k in ("contour", "grid") if k in content), None)
    paths = {arm: points} if points is not None else {}
    return [{"name": "", "title": "", "grid": grid, "paths": paths}]


def _draw_contours(ax: plt.Axes, grid: object) -> None:
    if not (isinstance(grid, dict) and {"x", "y", "z"} <= set(grid)):
        return
    x, y, z = (np.asarray(grid[k], dtype=float) for k in ("x", "y", "z"))
    levels = grid.get("levels")
    if levels is None:
        finite = z[np.isfinite(z)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
            levels = np.geomspace(finite.min(), finite.max(), 20)
        else:
            levels = 20
    ax.contour(x, y, z, levels=levels, colors="grey", linewidths=0.6, alpha=0.7)


def trajectories_2d(
    artifacts: pd.DataFrame,
    *,
    artifact: str,
    title: str = "",
    palette: dict | None = None,
) -> Figure:
    """2-D optimisation paths drawn over the loss surface's contour lines.

    One panel per test function in the artifact (see :func:`_panels` for the formats); in
    each, one colour per path label (optimizer or arm), the lowest seed's path bold and the
    other seeds' paths faint. A dot marks the start, a star the end, a cross the minimum.

    Parameters
    ----------
    artifacts : DataFrame, shape (n_loaded, 5)
        ``StudyRuns.artifacts``: columns ``arm``, ``seed``, ``name``, ``content``.
    artifact : str
    title : str
    palette : dict, optional
        Colour per arm (used when paths are labelled by arm).
    """
    rows = artifacts[artifacts["name"] == artifact].sort_values(["seed", "arm"])
    if rows.empty:
        raise PlotDataError(f"no trial logged the artifact {artifact!r}")
    panels: dict[str, dict] = {}
    for row in rows.itertuples():
        for panel in _panels(row.content, row.arm):
            merged = panels.setdefault(panel["name"], {**panel, "runs": []})
            merged["runs"].append(panel["paths"])
    panels = {k: v for k, v in panels.items() if any(v["runs"])}
    if not panels:
        raise PlotDataError(
            f"artifact {artifact!r} holds no path: expected {{'path': [[x, y], ...]}} or "
            "{'functions': [{'paths': {label: [[x, y], ...]}, 'grid': ...}]}"
        )
    labels = sorted({label for p in panels.values() for run in p["runs"] for label in run})
    # tab10 without its grey, which the contour lines use.
    distinct = [c for i, c in enumerate(sns.color_palette("tab10")) if i != 7]
    if len(labels) > len(distinct):
        distinct = sns.color_palette("husl", len(labels))
    colors = dict(zip(labels, distinct, strict=False))
    colors.update({k: v for k, v in (palette or {}).items() if k in colors})
    n_cols = min(3, len(panels))
    n_rows = -(-len(panels) // n_cols)
    fig = Figure(figsize=(3.9 * n_cols + 0.4, 3.7 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax, panel in zip(axes.flat, panels.values(), strict=False):
        _draw_contours(ax, panel.get("grid"))
        drawn: set[str] = set()
        for run in panel["runs"]:  # by seed, so a label's first path is its lowest seed's
            for label, points in run.items():
                first = label not in drawn
                drawn.add(label)
                ax.plot(
                    points[:, 0],
                    points[:, 1],
                    color=colors[label],
                    alpha=0.95 if first else 0.3,
                    lw=1.5 if first else 0.8,
                    label=label if first else None,
                )
                ax.plot(*points[-1], "*", color=colors[label], ms=9, mec="black", mew=0.4)
                ax.plot(*points[0], "o", color="black", ms=3)
        if _points([panel.get("minimum")]) is not None:
            ax.plot(*panel["minimum"], "x", color="black", ms=8, mew=1.5)
        for key, setter in (("xlim", ax.set_xlim), ("ylim", ax.set_ylim)):
            if isinstance(panel.get(key), list) and len(panel[key]) == 2:
                setter(*panel[key])
        ax.set_title(str(panel.get("title") or panel["name"]), fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    if len(labels) > 1:
        handles = {}
        for ax in axes.flat:
            handles.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncols=min(len(handles), 4),
            fontsize=9,
        )
    if title:
        fig.suptitle(title)
    return fig


PLOT_KINDS: dict[str, Callable[..., Figure]] = {
    "learning_curves": learning_curves,
    "final_metric": final_metric,
    "sweep": sweep,
    "heatmap": heatmap,
    "per_layer": per_layer,
    "histogram_grid": histogram_grid,
    "layer_epochs": layer_epochs,
    "trajectories_2d": trajectories_2d,
}

_BAND = (
    f"line: mean over seeds; band: 95% bootstrap confidence interval of the mean "
    f"(percentile bootstrap, {N_BOOT} resamples)"
)


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


def _seed_counts(frame: pd.DataFrame, column: str) -> str:
    if "arm" not in frame or column not in frame:
        return ""
    finite = frame[np.isfinite(pd.to_numeric(frame[column], errors="coerce"))]
    counts = finite.groupby("arm")["run_id"].nunique()
    if counts.empty:
        return ""
    common = int(counts.mode().iloc[0])
    odd = [f"{arm}: {int(n)}" for arm, n in counts.items() if n != common]
    text = f"seeds per arm: {common}"
    if common == 1:
        text += " (a single seed: no band)"
    return text + (f" ({', '.join(odd)})" if odd else "")


def _not_shown(frame: pd.DataFrame, metric: str) -> str:
    """A note on trials whose ``metric`` is infinite (e.g. a target never reached)."""
    if metric not in frame:
        return ""
    values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)
    n_inf = int(np.isinf(values).sum())
    if not n_inf:
        return ""
    return f" {n_inf} trial(s) with an infinite value (never reached) are not shown."


def _caption(kind: str, frame: pd.DataFrame, options: dict) -> str:
    metric = options.get("metric", "")
    return _kind_caption(kind, frame, options) + _not_shown(frame, metric)


def _kind_caption(kind: str, frame: pd.DataFrame, options: dict) -> str:
    metric = options.get("metric", "")
    if kind in ("learning_curves", "sweep"):
        return f"{_BAND}; {_seed_counts(frame, metric)}."
    if kind == "per_layer":
        return f"{_BAND}; one point per layer at the chosen epoch; log scale."
    if kind == "final_metric":
        return (
            f"Box: quartiles over trials; points: every trial ({_seed_counts(frame, metric)}); "
            "red points: diverged trials."
        )
    if kind == "heatmap":
        return "Cell: mean over seeds; n = number of seeds averaged; blank = no trial."
    if kind == "histogram_grid":
        return "Rows: layers; columns: arms; counts summed over seeds and normalised per panel."
    if kind == "layer_epochs":
        scale = "log10 colour scale" if options.get("log_color") else "linear colour scale"
        return (
            "One panel per arm; rows: layers (1 = next to the input), columns: epochs "
            f"(0 = at initialization); cell: mean over seeds; one {scale} shared by all panels."
        )
    return "One path per trial (first seed bold); dot: start, star: end; grey: loss contours."


def _some_stages(runs: StudyRuns, stages: Sequence[str]) -> StudyRuns:
    """``runs`` with only the trials (and their epochs and artifacts) of ``stages``."""
    trials = runs.trials[runs.trials["stage"].isin(list(stages))]
    keep = set(trials["run_id"])
    return dataclasses.replace(
        runs,
        trials=trials.reset_index(drop=True),
        history=runs.history[runs.history["run_id"].isin(keep)].reset_index(drop=True),
        artifacts=runs.artifacts[runs.artifacts["run_id"].isin(keep)].reset_index(drop=True),
    )


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
    kind, title, options = spec["kind"], spec["title"], dict(spec["options"])
    stage = options.pop("stage", None)
    if stage is not None:
        stages = sorted(set(runs.trials["stage"])) if "stage" in runs.trials else []
        wanted = [stage] if isinstance(stage, str) else list(stage)
        absent = [s for s in wanted if s not in stages]
        if absent or not wanted:
            message = (
                f"no trial of stage {', '.join(map(repr, absent or wanted))}; "
                f"valid choices: {', '.join(map(str, stages))}"
            )
            return PlotOutput(kind, title, None, "", message)
        runs = _some_stages(runs, wanted)
    if kind not in PLOT_KINDS:
        message = f"unknown plot kind {kind!r}; valid choices: {', '.join(sorted(PLOT_KINDS))}"
        return PlotOutput(kind, title, None, "", message)
    builder = PLOT_KINDS[kind]
    params = list(inspect.signature(builder).parameters.values())[1:]
    accepted = {p.name for p in params} - {"title", "palette", "arms"}
    required = {p.name for p in params if p.default is inspect.Parameter.empty}
    unknown, missing = sorted(set(options) - accepted), sorted(required - set(options))
    if unknown or missing:
        problem = f"unknown option(s) {', '.join(unknown)}" if unknown else ""
        problem = problem or f"missing option(s) {', '.join(missing)}"
        message = (
            f"{problem} for plot kind {kind!r}; valid options: {', '.join(sorted(accepted))} "
            f"(required: {', '.join(sorted(required))})"
        )
        return PlotOutput(kind, title, None, "", message)
    extra: dict = {}
    if kind == "learning_curves":
        frame = runs.history
        extra["palette"] = palette
    elif kind in ("final_metric", "sweep", "heatmap"):
        frame = with_final_epoch(runs.trials, runs.history, str(options.get("metric", "")))
        if kind != "heatmap":
            extra["palette"] = palette
    elif kind == "per_layer":
        prefix = str(options.get("prefix", ""))
        in_history = any(str(c).startswith(prefix) for c in runs.history_keys)
        frame = runs.history if in_history else runs.trials
        extra["palette"] = palette
    elif kind == "histogram_grid":
        frame = runs.artifacts
        extra["arms"] = list(palette or {})
    elif kind == "layer_epochs":
        frame = runs.history
        extra["arms"] = list(palette or {})
    else:
        frame = runs.artifacts
        extra["palette"] = palette
    try:
        figure = builder(frame, title=title, **options, **extra)
    except PlotDataError as exc:
        return PlotOutput(kind, title, None, "", str(exc))
    _wrap_titles(figure)
    return PlotOutput(kind, title, figure, _caption(kind, frame, options))


def _wrap_titles(figure: Figure) -> None:
    """Break axes titles longer than :data:`TITLE_CHARS` over several lines: a title wider
    than its axes (narrowed by a legend outside) would be cut at the figure's edge."""
    for ax in figure.axes:
        text = ax.get_title()
        if len(text) > TITLE_CHARS:
            ax.set_title(textwrap.fill(text, TITLE_CHARS))
