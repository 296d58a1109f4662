"""Per-layer activation and gradient statistics from one forward/backward pass.

Layer indices are 1-based and counted separately: ``act_*/layer_K`` is the K-th activation
layer of the network, ``grad_norm/layer_K`` the K-th layer with a ``weight`` (Dense, Conv;
PReLU slopes and normalization parameters are not counted) — for an MLP
``Dense, act, Dense, act, ..., Dense`` the two line up: hidden layer K is Dense K followed
by activation K.

Definitions
-----------
saturated
    Fraction of (sample, unit) values whose local derivative is below 1 % of the
    activation's maximum derivative (a sigmoid unit with output above 0.99, a ReLU unit
    that is off, ...).
dead
    Fraction of units that output zero for *every* sample of the batch (for ReLU: the unit's
    pre-activation is negative on the whole batch, so it receives no gradient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlkit.losses import Loss
from dlkit.nn.activations import Activation
from dlkit.nn.base import Sequential


@dataclass
class LayerStats:
    """Statistics of one layer. ``kind`` is ``"activation"`` or ``"parameters"``."""

    index: int
    kind: str
    layer: str
    values: dict[str, float] = field(default_factory=dict)
    hist_counts: np.ndarray | None = None
    hist_edges: np.ndarray | None = None


@dataclass
class Diagnostics:
    """The result of :func:`analyze`: activation and gradient statistics per layer."""

    activations: list[LayerStats]
    gradients: list[LayerStats]
    loss: float

    def as_metrics(self) -> dict[str, float]:
        """Flat metric dict: ``act_mean/layer_K``, ``act_std/layer_K``,
        ``saturated/layer_K``, ``dead/layer_K``, ``grad_norm/layer_K``."""
        out: dict[str, float] = {}
        for s in self.activations + self.gradients:
            for key, value in s.values.items():
                out[f"{key}/layer_{s.index}"] = value
        return out

    def histograms(self) -> list[dict]:
        """Activation histograms as JSON-ready dicts (layer index, counts, bin edges)."""
        return [
            {
                "layer": s.index,
                "name": f"layer {s.index}: {s.layer}",
                "counts": s.hist_counts.tolist(),
                "edges": s.hist_edges.tolist(),
            }
            for s in self.activations
            if s.hist_counts is not None
        ]


def _activation_stats(layer: Activation, y: np.ndarray) -> dict[str, float]:
    y2 = y.reshape(len(y), -1)
    deriv = layer.derivative().reshape(len(y), -1)
    threshold = 0.01 * layer.max_derivative
    return {
        "act_mean": float(y2.mean()),
        "act_std": float(y2.std()),
        "saturated": float(np.mean(deriv <= threshold)) if layer.max_derivative else 1.0,
        "dead": float(np.mean(np.all(y2 == 0, axis=0))),
    }


def analyze(
    model: Sequential,
    loss: Loss,
    X: np.ndarray,
    y: np.ndarray,
    *,
    train: bool = True,
    bins: int | None = 30,
    hist_range: tuple[float, float] | None = None,
) -> Diagnostics:
    """One forward and backward pass through ``model`` on (X, y), recording per-layer stats.

    Parameters
    ----------
    model : nn.Sequential
        Its ``.layers`` are walked in order; parameter gradients are zeroed first and hold
        this batch's gradients afterwards.
    loss : Loss
    X : ndarray, shape (N, ...)
    y : ndarray, shape (N,) labels or targets
    train : bool
        Mode for the forward pass.
    bins : int or None
        Histogram bins per activation layer; None skips the histograms (``hist_counts`` and
        ``hist_edges`` stay None and :meth:`Diagnostics.histograms` returns ``[]``).
    hist_range : (float, float), optional
        Histogram range; default the activation's own [min, max] over the batch.

    Returns
    -------
    Diagnostics
    """
    if not isinstance(model, Sequential):
        raise ValueError(f"diagnostics.analyze needs an nn.Sequential, got {type(model).__name__}")
    model.zero_grad()
    acts: list[LayerStats] = []
    out = X
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in model.layers:
            out = layer.forward(out, train=train)
            if isinstance(layer, Activation):
                counts, edges = (
                    np.histogram(out, bins=bins, range=hist_range)
                    if bins is not None
                    else (None, None)
                )
                acts.append(
                    LayerStats(
                        len(acts) + 1,
                        "activation",
                        repr(layer),
                        _activation_stats(layer, out),
                        counts,
                        edges,
                    )
                )
        value = loss.forward(out, y)
        model.backward(loss.backward())
    grads: list[LayerStats] = []
    for layer in model.layers:
        # Only layers with a weight count (Dense, Conv): a PReLU slope or a norm layer's gamma
        # would shift the numbering away from "hidden layer K".
        weight = next((p for p in layer.parameters() if p.name == "weight"), None)
        if weight is None:
            continue
        values = {"grad_norm": float(np.linalg.norm(weight.grad))}
        grads.append(LayerStats(len(grads) + 1, "parameters", repr(layer), values))
    return Diagnostics(acts, grads, float(value))


def callback(
    X: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    *,
    every: int = 1,
    store: list | None = None,
    train: bool = True,
):
    """A :func:`dlkit.train.fit` callback adding :meth:`Diagnostics.as_metrics` to the epoch
    record every ``every`` epochs (and at epoch 0 with ``record_initial=True``).

    ``store``, when given, receives ``(epoch, Diagnostics)`` pairs (e.g. for histograms).
    The pass uses its own gradients; ``fit`` zeroes gradients before every step.
    """

    def cb(epoch: int, record: dict, model: Sequential) -> None:
        if epoch % every:
            return
        diag = analyze(model, loss, X, y, train=train)
        record.update(diag.as_metrics())
        if store is not None:
            store.append((epoch, diag))

    return cb
