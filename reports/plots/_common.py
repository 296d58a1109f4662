"""What every plot kind shares: arm order and colours, column lookup, figures and panel grids,
legends, the mean-and-band line, per-layer columns and the caption phrases."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from studies import stats
from studies.store.reader import StudyRuns, declared_arms
from studies.store.schema import CONFIG_PREFIX, FACTOR_PREFIX

CI_LEVEL = 95
# Fixed bootstrap seed: every band's resamples come from it, so bands are reproducible.
BOOT_SEED = 0
N_BOOT = 1000
FIG_SIZE = (7.0, 3.9)

BAND = (
    f"line: mean over seeds; band: {CI_LEVEL}% bootstrap confidence interval of the mean "
    f"(percentile bootstrap, {N_BOOT} resamples)"
)


class PlotDataError(ValueError):
    """The frame lacks what a plot needs; the message says what is missing."""


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


def label(column: str) -> str:
    """An axis or legend label: the column without its ``config.``/``factor.`` prefix."""
    for prefix in (CONFIG_PREFIX, FACTOR_PREFIX):
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def require_values(frame: pd.DataFrame, column: str, what: str) -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` is finite; PlotDataError if there is none."""
    finite = frame[np.isfinite(pd.to_numeric(frame[column], errors="coerce"))]
    if finite.empty:
        raise PlotDataError(f"{what} {column!r} has no finite value in any trial")
    return finite


def new_figure(size: tuple[float, float] = FIG_SIZE) -> tuple[Figure, Axes]:
    """A one-axes figure with constrained layout."""
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def panel_grid(
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

    Returns
    -------
    figure : Figure
    axes : ndarray of Axes, shape (rows, columns)
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


def place_legend(ax: Axes, title: str | None = None) -> None:
    """Title the axes' legend (if any); past four entries, move it outside, to the right."""
    if ax.get_legend() is None:
        return
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 4:
        ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(handles, labels, title=title)


def hue_setup(
    frame: pd.DataFrame, hue: str | None, palette: dict | None
) -> tuple[str | None, list | None, dict | None]:
    """The column, order and colours of the lines a ``hue`` option separates.

    Arms keep the report's palette; numeric values get viridis in increasing order; other
    values are sorted and coloured by seaborn.
    """
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


def band_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The band at one x position: 95% percentile-bootstrap interval of the mean over seeds.

    :func:`studies.stats.bootstrap_ci` with :data:`N_BOOT` resamples drawn from
    ``np.random.default_rng(BOOT_SEED)`` (seaborn's ``errorbar=("ci", 95)`` rule, with the
    resamples drawn as one array and a fixed seed, so a rebuilt report draws the same band).

    Parameters
    ----------
    values : array-like, shape (n,)
        One x position's finite values over seeds.

    Returns
    -------
    (low, high) : tuple of float
        ``(v, v)`` for a single value: one seed draws its line with a band of no width.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 1:
        return float(x[0]), float(x[0])
    return stats.bootstrap_ci(
        x,
        confidence=CI_LEVEL / 100,
        n_resamples=N_BOOT,
        rng=np.random.default_rng(BOOT_SEED),
    )


def _mean(values: np.ndarray) -> float:
    """Plain mean as seaborn's estimator (``np.mean`` on a Series costs twice as much)."""
    return np.add.reduce(values) / len(values)


def mean_and_band(
    ax: Axes,
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str | None,
    order: list | None,
    colors: dict | None,
    marker: str | None = None,
) -> None:
    """Mean over seeds at every x with its 95% bootstrap CI band (:func:`band_interval`),
    drawn by seaborn."""
    sns.lineplot(
        data=data,
        x=x,
        y=y,
        hue=hue,
        hue_order=order,
        palette=colors,
        estimator=_mean,
        errorbar=band_interval,
        marker=marker,
        ax=ax,
    )


def mean_curves(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    hue: str | None,
    palette: dict | None,
    xlabel: str,
    title: str,
    marker: str | None = None,
    log_x: bool = False,
    log_y: bool = False,
) -> Figure:
    """One figure of mean-over-seeds curves of ``y`` against ``x`` with 95% bands, one per
    ``hue`` value (:func:`mean_and_band`), labelled, gridded, with its legend placed."""
    hue_col, order, colors = hue_setup(data, hue, palette)
    fig, ax = new_figure()
    mean_and_band(ax, data, x=x, y=y, hue=hue_col, order=order, colors=colors, marker=marker)
    if log_y:
        ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=y, title=title)
    ax.grid(alpha=0.3)
    place_legend(ax, label(hue_col) if hue_col else None)
    return fig


def stat_name(prefix: str) -> str:
    """The statistic a per-layer (or per-step) prefix names: ``"grad_norm/layer_"`` ->
    ``"grad_norm"``, ``"dx_norm/lag_"`` -> ``"dx_norm"``."""
    name = re.sub(r"[/_.]?layers?[_.]?$", "", prefix)
    return re.sub(r"/[A-Za-z]+[_.]?$", "", name) or prefix


def layer_columns(frame: pd.DataFrame, prefix: str) -> list[tuple[str, int]]:
    """Columns ``<prefix><index>`` as (column, layer index), in index order."""
    found = []
    for column in frame.columns:
        if isinstance(column, str) and column.startswith(prefix):
            match = re.fullmatch(r"\d+", column[len(prefix) :])
            if match:
                found.append((column, int(match.group())))
    return sorted(found, key=lambda item: item[1])


def seed_counts(frame: pd.DataFrame, column: str) -> str:
    """Caption phrase: how many seeds per arm have a finite ``column`` (odd arms named)."""
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


def not_shown(frame: pd.DataFrame, metric: str) -> str:
    """Caption sentence on trials whose ``metric`` is infinite (e.g. a target never reached)."""
    if metric not in frame:
        return ""
    values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(dtype=float)
    n_inf = int(np.isinf(values).sum())
    if not n_inf:
        return ""
    return f" {n_inf} trial(s) with an infinite value (never reached) are not shown."
