"""Two-dimensional test functions and optimizer paths over them.

The picture from "Deep Learning from Scratch" (ch. 6): every optimizer started at (-7, 2) on
the elongated bowl ``x²/20 + y²``; plus Rosenbrock's banana valley and the saddle
``x² - y²``, whose origin is a stationary point that plain gradient descent leaves only as
fast as the tiny initial ``y`` grows. The optimizers are dlkit's own, stepping a two-element
``Parameter`` in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dlkit import optim
from dlkit.nn.base import Parameter

__all__ = ["FUNCTIONS", "TestFunction", "contour_grid", "escape_step", "optimizer_path"]


@dataclass(frozen=True)
class TestFunction:
    """A 2-D function with its gradient, a start point and a plotting window.

    Attributes
    ----------
    name, title : str
    f : callable
        ``f(x, y)`` on arrays of any (equal) shape.
    grad : callable
        ``grad(x, y) -> (df/dx, df/dy)`` for scalars.
    start : (float, float)
    minimum : (float, float) or None
        None for the saddle (unbounded below).
    xlim, ylim : (float, float)
    log_levels : bool
        Contours spaced geometrically (Rosenbrock's range spans many decades).
    """

    name: str
    title: str
    f: Callable
    grad: Callable
    start: tuple[float, float]
    minimum: tuple[float, float] | None
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log_levels: bool = False


FUNCTIONS: dict[str, TestFunction] = {
    "quadratic": TestFunction(
        "quadratic",
        "x²/20 + y²",
        lambda x, y: x**2 / 20.0 + y**2,
        lambda x, y: (x / 10.0, 2.0 * y),
        (-7.0, 2.0),
        (0.0, 0.0),
        (-10.0, 10.0),
        (-5.0, 5.0),
    ),
    "rosenbrock": TestFunction(
        "rosenbrock",
        "(1 - x)² + 100 (y - x²)²",
        lambda x, y: (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2,
        lambda x, y: (-2.0 * (1.0 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)),
        (-1.5, 2.0),
        (1.0, 1.0),
        (-2.0, 2.0),
        (-1.0, 3.0),
        True,
    ),
    "saddle": TestFunction(
        "saddle",
        "x² - y²",
        lambda x, y: x**2 - y**2,
        lambda x, y: (2.0 * x, -2.0 * y),
        (1.0, 0.0),
        None,
        (-1.5, 1.5),
        (-1.5, 1.5),
    ),
}


def optimizer_path(
    fn: TestFunction,
    name: str,
    lr: float,
    steps: int,
    start: tuple[float, float] | None = None,
    *,
    stop_radius: float | None = None,
) -> np.ndarray:
    """Positions of ``optim.build(name, ...)`` descending ``fn`` from ``start``.

    Parameters
    ----------
    fn : TestFunction
    name : str
        A :data:`dlkit.optim.NAMES` entry.
    lr : float
    steps : int
    start : (float, float), optional
        Default ``fn.start``.
    stop_radius : float, optional
        Stop once ``|y|`` reaches this (the saddle: the path has left).

    Returns
    -------
    ndarray, shape (n_steps + 1, 2)
        The start and every iterate; shorter when stopped early or when an iterate became
        non-finite (which is then not included).
    """
    point = Parameter(np.array(start or fn.start, dtype=np.float64), name="xy")
    opt = optim.build(name, [point], lr=lr)
    path = [point.data.copy()]
    for _ in range(steps):
        gx, gy = fn.grad(float(point.data[0]), float(point.data[1]))
        opt.zero_grad()
        point.grad[0], point.grad[1] = gx, gy
        opt.step()
        if not np.all(np.isfinite(point.data)):
            break
        path.append(point.data.copy())
        if stop_radius is not None and abs(point.data[1]) >= stop_radius:
            break
    return np.array(path)


def escape_step(path: np.ndarray, radius: float) -> float:
    """First step at which ``|y| >= radius`` (``inf`` if the path never gets there).

    Parameters
    ----------
    path : ndarray, shape (n, 2)
    radius : float
    """
    hits = np.flatnonzero(np.abs(path[:, 1]) >= radius)
    return float(hits[0]) if hits.size else math.inf


def contour_grid(fn: TestFunction, n: int = 60) -> dict:
    """Function values on an ``n x n`` grid over the plotting window, plus contour levels.

    Returns
    -------
    dict
        ``x`` (n,), ``y`` (n,), ``z`` (n, n) with ``z[i][j] = f(x[j], y[i])`` (4 significant
        digits), and ``levels`` (15 increasing values).
    """
    xs = np.linspace(*fn.xlim, n)
    ys = np.linspace(*fn.ylim, n)
    z = fn.f(xs[None, :], ys[:, None])
    if fn.log_levels:
        levels = np.geomspace(max(float(z.min()), 1e-2), float(z.max()), 15)
    else:
        levels = np.linspace(float(z.min()), float(z.max()), 17)[1:-1]
    return {
        "x": _round(xs),
        "y": _round(ys),
        "z": _round(z),
        "levels": _round(levels),
    }


def paths_artifact(
    lrs: Mapping[str, Mapping[str, float]],
    steps: Mapping[str, int],
    saddle_y0: float,
    radius: float,
) -> tuple[dict, dict[str, float]]:
    """Every optimizer's path on every function, and the figures the claims read.

    Parameters
    ----------
    lrs : dict
        ``lrs[function][optimizer]`` learning rates.
    steps : dict
        ``steps[function]`` step budgets.
    saddle_y0 : float
        Initial ``y`` on the saddle (its sign and size come from the trial's seed).
    radius : float
        ``|y|`` at which a path has left the saddle.

    Returns
    -------
    artifact : dict
        ``{"functions": [{"name", "title", "xlim", "ylim", "minimum", "start", "grid",
        "lr", "paths": {optimizer: [[x, y], ...]}}]}`` — the ``trajectories_2d`` format.
    summary : dict
        ``saddle_escape_steps/<optimizer>`` (``inf`` = never left) and
        ``<function>_final_dist/<optimizer>`` (distance of the last iterate to the minimum).
    """
    functions, summary = [], {}
    for fname, per_opt in lrs.items():
        fn = FUNCTIONS[fname]
        start = (fn.start[0], saddle_y0) if fname == "saddle" else fn.start
        paths = {}
        for opt_name, lr in per_opt.items():
            path = optimizer_path(
                fn,
                opt_name,
                lr,
                steps[fname],
                start,
                stop_radius=radius if fname == "saddle" else None,
            )
            paths[opt_name] = _round(path)
            if fn.minimum is None:
                summary[f"saddle_escape_steps/{opt_name}"] = escape_step(path, radius)
            else:
                dist = float(np.hypot(*(path[-1] - np.asarray(fn.minimum))))
                full = len(path) == steps[fname] + 1
                summary[f"{fname}_final_dist/{opt_name}"] = dist if full else math.inf
        functions.append(
            {
                "name": fname,
                "title": fn.title,
                "xlim": list(fn.xlim),
                "ylim": list(fn.ylim),
                "minimum": list(fn.minimum) if fn.minimum is not None else None,
                "start": list(start),
                "grid": contour_grid(fn),
                "lr": dict(per_opt),
                "paths": paths,
            }
        )
    return {"functions": functions}, summary


def _round(a: np.ndarray) -> list:
    """4 significant digits: small JSON, still exact enough to draw."""
    return (
        np.asarray([float(f"{v:.4g}") for v in np.asarray(a, dtype=float).ravel()])
        .reshape(np.shape(a))
        .tolist()
    )
