"""``trajectories_2d``: 2-D optimisation paths over the loss surface's contour lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from reports.plots._common import PlotDataError
from reports.plots._kind import PlotKind


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


def _draw_contours(ax: Axes, grid: object) -> None:
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


def _draw_panel(ax: Axes, panel: dict, colors: dict) -> None:
    """Contours, every run's paths (by seed, so a label's first path is its lowest seed's,
    drawn bold), start and end marks, the minimum and the limits of one panel."""
    _draw_contours(ax, panel.get("grid"))
    drawn: set[str] = set()
    for run in panel["runs"]:
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
        _draw_panel(ax, panel, colors)
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


def caption(artifacts: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """Paths, marks and contours."""
    return "One path per trial (first seed bold); dot: start, star: end; grey: loss contours."


KIND = PlotKind(
    "trajectories_2d",
    trajectories_2d,
    frames=("artifacts",),
    options=("artifact",),
    caption=caption,
)
