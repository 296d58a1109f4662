"""The training loop: ``fit`` and ``evaluate``.

One loop for every study (the "Deep Learning from Scratch" scripts copy theirs into each
file; here there is exactly one). Divergence is data, not an exception: a non-finite loss
stops training and the returned :class:`History` says ``diverged`` and at which epoch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from dlkit.data import minibatches
from dlkit.losses import Loss
from dlkit.nn.base import Layer
from dlkit.optim import clip_grad_norm
from dlkit.validation import check_non_negative

log = logging.getLogger(__name__)

Callback = Callable[[int, dict, Layer], None]


class History(list):
    """Per-epoch records (dicts), ready for ``pandas.DataFrame(history)``.

    Each record has ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``lr``, ``time``
    (seconds for the epoch) and, with validation data, ``val_loss`` and ``val_acc``;
    callbacks may add keys. Epoch 0, when present, describes the untrained model.

    Attributes
    ----------
    diverged : bool
        True when a non-finite loss stopped training.
    diverged_epoch : int or None
        The epoch in which it happened.
    """

    def __init__(self, records=()):
        super().__init__(records)
        self.diverged = False
        self.diverged_epoch: int | None = None

    def last(self, key: str, default=float("nan")):
        """The latest value of ``key``, or ``default`` when no record has it."""
        for record in reversed(self):
            if key in record:
                return record[key]
        return default


def accuracy(output: np.ndarray, y: np.ndarray) -> float | None:
    """Fraction of correct predictions, or None when ``y`` is not a classification target.

    Integer labels (N,) are compared with ``argmax`` of (N, C) scores, or with ``score > 0``
    for a single logit column (N,) / (N, 1) as ``BCEWithLogitsLoss`` uses.
    """
    if y.ndim != 1 or output.shape[0] != y.shape[0]:
        if output.shape == y.shape and output.ndim == 2 and output.shape[1] == 1:
            return float(np.mean((output[:, 0] > 0) == (y[:, 0] > 0.5)))
        return None
    if output.ndim == 2 and output.shape[1] > 1:
        return np.count_nonzero(output.argmax(axis=1) == y) / len(y)
    scores = output.reshape(len(y))
    return float(np.mean((scores > 0) == (y > 0.5)))


def evaluate(
    model: Layer, loss: Loss, X: np.ndarray, y: np.ndarray, *, batch_size: int = 1024
) -> dict[str, float]:
    """Loss and accuracy of ``model`` in evaluation mode (``train=False``).

    Parameters
    ----------
    X : ndarray, shape (N, ...)
    y : ndarray, shape (N,) labels or (N, ...) targets

    Returns
    -------
    dict
        ``{"loss": float, "acc": float}`` (``acc`` is NaN for non-classification targets).
    """
    n = len(X)
    if n == 0:
        raise ValueError("evaluate needs at least one sample, got an empty X")
    total_loss, total_acc, acc_seen = 0.0, 0.0, True
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n, batch_size):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            out = model.forward(xb, train=False)
            total_loss += loss.forward(out, yb) * len(xb)
            acc = accuracy(out, yb)
            acc_seen = acc_seen and acc is not None
            total_acc += (acc or 0.0) * len(xb)
    return {"loss": total_loss / n, "acc": total_acc / n if acc_seen else float("nan")}


def fit(
    model: Layer,
    loss: Loss,
    optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    rng: np.random.Generator,
    callbacks: Sequence[Callback] = (),
    regularizer=None,
    clip_norm: float | None = None,
    record_initial: bool = False,
) -> History:
    """Train ``model`` by mini-batch gradient descent and return its per-epoch history.

    Parameters
    ----------
    model : Layer
        Usually an ``nn.Sequential``; trained in place.
    loss : Loss
        E.g. ``losses.CrossEntropyLoss()``.
    optimizer
        A :mod:`dlkit.optim` optimizer over ``model.parameters()``.
    X : ndarray, shape (N, ...)
    y : ndarray, shape (N,) integer labels or (N, ...) targets
    epochs : int
        Passes over the training set.
    batch_size : int
        Samples per step; the last, smaller batch is kept.
    X_val, y_val : ndarray, optional
        Evaluated (``train=False``) after every epoch.
    rng : numpy.random.Generator
        Shuffles the mini-batches.
    callbacks : sequence of callables
        ``cb(epoch, record, model)`` after each epoch's record is complete; may add keys.
    regularizer : optional
        A :mod:`dlkit.regularizers` penalty added to the loss (weights only).
    clip_norm : float, optional
        Clip the global gradient norm to this value before each step.
    record_initial : bool
        Also record epoch 0 (the untrained model's losses) and run the callbacks on it.

    Returns
    -------
    History
        ``history.diverged`` is True (and ``diverged_epoch`` set) when a non-finite loss
        stopped training; no exception escapes for that.
    """
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"fit needs epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    if len(X) != len(y):
        raise ValueError(f"fit: X has {len(X)} samples but y has {len(y)}")
    if clip_norm is not None:
        check_non_negative("clip_norm", clip_norm)

    params = model.parameters()
    history = History()
    has_val = X_val is not None and y_val is not None

    def finish(record: dict) -> None:
        if has_val:
            ev = evaluate(model, loss, X_val, y_val)
            record["val_loss"], record["val_acc"] = ev["loss"], ev["acc"]
        for cb in callbacks:
            cb(record["epoch"], record, model)
        history.append(record)

    if record_initial:
        ev = evaluate(model, loss, X, y)
        finish(
            {
                "epoch": 0,
                "train_loss": ev["loss"],
                "train_acc": ev["acc"],
                "lr": float(getattr(optimizer, "lr", float("nan"))),
                "time": 0.0,
            }
        )

    saved_input_grad = model.input_grad
    model.input_grad = False  # nobody reads the gradient of the data
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                sum_loss, sum_acc, seen, acc_ok = 0.0, 0.0, 0, True
                for xb, yb in minibatches(X, y, batch_size, rng):
                    out = model.forward(xb, train=True)
                    value = loss.forward(out, yb)
                    if regularizer is not None:
                        value += regularizer.penalty(params)
                    if not math.isfinite(value):
                        history.diverged, history.diverged_epoch = True, epoch
                        log.info("training diverged in epoch %d (loss %r)", epoch, value)
                        history.append(
                            {
                                "epoch": epoch,
                                "train_loss": float("nan"),
                                "lr": float(getattr(optimizer, "lr", float("nan"))),
                                "time": time.perf_counter() - t0,
                                "diverged": 1.0,
                            }
                        )
                        return history
                    optimizer.zero_grad()
                    model.backward(loss.backward())
                    if regularizer is not None:
                        regularizer.backward(params)
                    if clip_norm is not None:
                        clip_grad_norm(params, clip_norm)
                    optimizer.step()
                    n = len(xb)
                    sum_loss += value * n
                    acc = accuracy(out, yb)
                    acc_ok = acc_ok and acc is not None
                    sum_acc += (acc or 0.0) * n
                    seen += n
                record = {
                    "epoch": epoch,
                    "train_loss": sum_loss / max(seen, 1),
                    "train_acc": sum_acc / max(seen, 1) if acc_ok else float("nan"),
                    "lr": float(getattr(optimizer, "lr", float("nan"))),
                    "time": time.perf_counter() - t0,
                }
                finish(record)
    finally:
        model.input_grad = saved_input_grad
    return history
