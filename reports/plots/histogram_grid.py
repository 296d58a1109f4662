"""``histogram_grid``: logged histograms (e.g. of activations), layers by arms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.plots._common import PlotDataError, panel_grid
from reports.plots._kind import PlotKind


def _histogram_layers(content: object) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Parse one histogram artifact into (layer name, edges (B + 1,), counts (B,)) triples.

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


def _merge_seeds(
    rows: pd.DataFrame, order: Sequence[str]
) -> tuple[dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], list[str]]:
    """Per arm, per layer (edges, counts summed over the seeds whose edges agree with the
    lowest seed's); and every layer name in order of first appearance."""
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
    return per_arm, layer_names


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
    per_arm, layer_names = _merge_seeds(rows, order)
    if not layer_names:
        raise PlotDataError(
            f"artifact {artifact!r} holds no histogram of the form "
            "{layer: {'edges': [...], 'counts': [...]}}"
        )
    n_rows, n_cols = len(layer_names), len(order)
    width, height = min(14.0, 1.2 + 2.3 * n_cols), min(18.0, 0.8 + 1.35 * n_rows)
    fig, axes = panel_grid(
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


def caption(artifacts: pd.DataFrame, options: Mapping[str, Any]) -> str:
    """Rows, columns and the normalisation."""
    return "Rows: layers; columns: arms; counts summed over seeds and normalised per panel."


KIND = PlotKind(
    "histogram_grid",
    histogram_grid,
    frames=("artifacts",),
    options=("artifact",),
    caption=caption,
)
