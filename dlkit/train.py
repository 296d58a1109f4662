"""The training loop (``fit``, ``evaluate``), its callbacks and what is read off a history.

One loop for every study (the "Deep Learning from Scratch" scripts copy theirs into each
file; here there is exactly one). Divergence is data, not an exception: a non-finite loss
stops training and the returned :class:`History` says ``diverged`` and at which epoch.

A callback is any ``cb(epoch, record, model)``, called after each epoch's record is complete;
it may add keys to the record, and it stops training by raising :class:`StopTraining`.
:class:`BestWeights` keeps the parameters of the best epoch and, with ``patience``, stops
early; :func:`epochs_to_target` reads when a per-epoch curve first reached a target.
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
from dlkit.optim import clip_grad_norm, clip_grad_value
from dlkit.optim.clip import grad_norm_of
from dlkit.validation import (
    check_array,
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_non_negative,
    check_same_length,
)

log = logging.getLogger(__name__)

Callback = Callable[[int, dict, Layer], None]


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch (a signal, like
    ``StopIteration``, not an error).

    ``fit`` still runs the epoch's other callbacks and records the epoch, then returns the
    history with ``stopped_epoch`` set; the exception never escapes ``fit``.
    """


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
    stopped_epoch : int or None
        The last epoch trained when a callback stopped training (:class:`StopTraining`).
    """

    def __init__(self, records=()):
        super().__init__(records)
        self.diverged = False
        self.diverged_epoch: int | None = None
        self.stopped_epoch: int | None = None

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


def _check_model_and_loss(model: object, loss: object) -> None:
    if not all(callable(getattr(model, m, None)) for m in ("forward", "backward", "parameters")):
        raise ValueError(
            f"model must be a dlkit layer (with forward, backward and parameters), got {model!r}"
        )
    if not all(callable(getattr(loss, m, None)) for m in ("forward", "backward")):
        raise ValueError(
            f"loss must be a dlkit loss (with forward and backward, e.g. "
            f"losses.CrossEntropyLoss()), got {loss!r}"
        )


def _check_data(loss: Loss, X: object, y: object, names: tuple[str, str]) -> None:
    """One pass over the data at entry: arrays of numbers, finite, as long as each other,
    and targets the loss can take (:meth:`~dlkit.losses.Loss.check_target`)."""
    check_array(names[0], X)
    check_array(names[1], y)
    check_same_length(names, X, y)
    check_target = getattr(loss, "check_target", None)
    if check_target is not None:
        check_target(y, names[1])


def evaluate(
    model: Layer, loss: Loss, X: np.ndarray, y: np.ndarray, *, batch_size: int = 1024
) -> dict[str, float]:
    """Loss and accuracy of ``model`` in evaluation mode (``train=False``).

    Parameters
    ----------
    X : ndarray, shape (N, ...)
        N >= 1 samples, finite values.
    y : ndarray, shape (N,) labels or (N, ...) targets
        Finite, and a valid target of ``loss``.
    batch_size : int
        Samples per forward pass, >= 1.

    Returns
    -------
    dict
        ``{"loss": float, "acc": float}`` (``acc`` is NaN for non-classification targets).

    Raises
    ------
    ValueError
        For a wrong-typed, empty or non-finite ``X`` or ``y``, lengths that differ, or a bad
        ``batch_size``; the message names the argument.
    """
    _check_model_and_loss(model, loss)
    _check_data(loss, X, y, ("X", "y"))
    batch_size = check_int("batch_size", batch_size, 1)
    return _evaluate(model, loss, X, y, batch_size)


def _evaluate(model: Layer, loss: Loss, X: np.ndarray, y: np.ndarray, batch_size: int = 1024):
    """:func:`evaluate` on arguments already checked (``fit`` checks them once at entry)."""
    n = len(X)
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
    clip_value: float | None = None,
    scheduler=None,
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
        An optimizer over other arrays (another model's parameters) is refused: it would
        train nothing.
    X : ndarray, shape (N, ...)
        N >= 1 samples, finite values (a NaN in the data is an error, not a divergence).
    y : ndarray, shape (N,) integer labels or (N, ...) targets
        Finite, and a valid target of ``loss`` (e.g. probabilities in [0, 1]).
    epochs : int
        Passes over the training set, >= 0.
    batch_size : int
        Samples per step, >= 1; the last, smaller batch is kept.
    X_val, y_val : ndarray, optional
        Evaluated (``train=False``) after every epoch; both or neither, checked as ``X``
        and ``y``.
    rng : numpy.random.Generator
        Shuffles the mini-batches.
    callbacks : sequence of callables
        ``cb(epoch, record, model)`` after each epoch's record is complete, in order; may add
        keys, and may raise :class:`StopTraining` to end training after this epoch (the
        epoch's remaining callbacks still run and the record is kept).
    regularizer : optional
        A :mod:`dlkit.regularizers` penalty added to the loss (weights only).
    clip_norm : float, optional
        Rescale the gradients after each backward so their global 2-norm is at most this
        (>= 0), as ``torch.nn.utils.clip_grad_norm_`` (Pascanu et al. 2013).
    clip_value : float, optional
        Clamp every gradient element into ``[-clip_value, clip_value]`` after each backward
        (>= 0), as ``torch.nn.utils.clip_grad_value_``. At most one of ``clip_norm`` and
        ``clip_value``. With either, each epoch's record also has ``grad_norm_mean`` and
        ``grad_norm_max``: the mean and the largest global gradient norm over the epoch's
        steps, measured *before* clipping (regularizer gradient included).
    scheduler : dlkit.optim.lr_scheduler.LRScheduler, optional
        A learning-rate schedule over ``optimizer``, stepped as torch users step one: after
        every optimizer step when ``scheduler.per_batch`` (OneCycleLR), else once at the end
        of each epoch; a ``ReduceLROnPlateau`` is stepped with the epoch's validation loss
        (the training loss without validation data). Each record's ``"lr"`` is the rate the
        epoch started with (``"lr_end"``, the rate it ended with, for a per-batch schedule).
    record_initial : bool
        Also record epoch 0 (the untrained model's losses) and run the callbacks on it.

    Returns
    -------
    History
        ``history.diverged`` is True (and ``diverged_epoch`` set) when a non-finite loss
        stopped training; no exception escapes for that. ``history.stopped_epoch`` is set
        when a callback stopped it.

    Raises
    ------
    ValueError
        Before any training, for a wrong-typed, out-of-range or non-finite argument (the
        message names it, the value and what is allowed), an optimizer over parameters that
        are not the model's, or ``X_val`` without ``y_val`` (or the reverse).
    """
    _check_model_and_loss(model, loss)
    params = model.parameters()
    _check_optimizer(optimizer, params)
    epochs = check_int("epochs", epochs, 0)
    batch_size = check_int("batch_size", batch_size, 1)
    _check_data(loss, X, y, ("X", "y"))
    if (X_val is None) != (y_val is None):
        given, missing = ("X_val", "y_val") if y_val is None else ("y_val", "X_val")
        raise ValueError(
            f"{missing} must be given with {given} (validation needs both, or neither), "
            f"got {missing}=None"
        )
    has_val = X_val is not None
    if has_val:
        _check_data(loss, X_val, y_val, ("X_val", "y_val"))
    check_generator(rng)
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        raise ValueError(
            f"callbacks must be a sequence of callables (e.g. [best]), got {callbacks!r}"
        )
    callbacks = list(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise ValueError(f"callbacks must hold callables cb(epoch, record, model), got {cb!r}")
    if regularizer is not None and not all(
        callable(getattr(regularizer, m, None)) for m in ("penalty", "backward")
    ):
        raise ValueError(
            "regularizer must be None or a dlkit.regularizers penalty (with penalty and "
            f"backward), got {regularizer!r}"
        )
    if clip_norm is not None:
        clip_norm = check_non_negative("clip_norm", clip_norm)
    if clip_value is not None:
        clip_value = check_non_negative("clip_value", clip_value)
        if clip_norm is not None:
            raise ValueError(
                "clip_norm and clip_value must not both be given (clip by norm or by value), "
                f"got clip_norm={clip_norm!r} and clip_value={clip_value!r}"
            )
    clipping = clip_norm is not None or clip_value is not None
    per_batch, plateau = _check_scheduler(scheduler, optimizer, epochs, len(X), batch_size)
    record_initial = check_bool("record_initial", record_initial)

    history = History()

    def finish(record: dict) -> bool:
        """Complete and keep ``record``; True when a callback asked to stop."""
        if has_val:
            ev = _evaluate(model, loss, X_val, y_val)
            record["val_loss"], record["val_acc"] = ev["loss"], ev["acc"]
        if plateau and record["epoch"] > 0:
            scheduler.step(record["val_loss"] if has_val else record["train_loss"])
        stop = False
        for cb in callbacks:
            try:
                cb(record["epoch"], record, model)
            except StopTraining as signal:
                stop = True
                log.info("training stopped after epoch %d: %s", record["epoch"], signal)
        history.append(record)
        if stop:
            history.stopped_epoch = record["epoch"]
        return stop

    if record_initial:
        ev = _evaluate(model, loss, X, y)
        initial = {
            "epoch": 0,
            "train_loss": ev["loss"],
            "train_acc": ev["acc"],
            "lr": float(getattr(optimizer, "lr", float("nan"))),
            "time": 0.0,
        }
        if finish(initial):
            return history

    saved_input_grad = model.input_grad
    model.input_grad = False  # nobody reads the gradient of the data
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                lr = float(getattr(optimizer, "lr", float("nan")))  # the rate this epoch starts at
                sum_loss, sum_acc, seen, acc_ok = 0.0, 0.0, 0, True
                sum_norm, max_norm, steps = 0.0, 0.0, 0
                for xb, yb in minibatches(X, y, batch_size, rng):
                    out = model.forward(xb, train=True)
                    value = loss.forward(out, yb)
                    if regularizer is not None:
                        value += regularizer.penalty(params)
                    if not math.isfinite(value):
                        history.diverged, history.diverged_epoch = True, epoch
                        log.info("training diverged in epoch %d (loss %r)", epoch, value)
                        record = {
                            "epoch": epoch,
                            "train_loss": float("nan"),
                            "lr": lr,
                            "time": time.perf_counter() - t0,
                            "diverged": 1.0,
                        }
                        if clipping and steps:
                            record["grad_norm_mean"] = sum_norm / steps
                            record["grad_norm_max"] = max_norm
                        history.append(record)
                        return history
                    optimizer.zero_grad()
                    model.backward(loss.backward())
                    if regularizer is not None:
                        regularizer.backward(params)
                    if clipping:
                        if clip_norm is not None:
                            norm = clip_grad_norm(params, clip_norm)
                        else:
                            norm = grad_norm_of({id(p): p.grad for p in params}.values())
                            clip_grad_value(params, clip_value)
                        sum_norm += norm
                        steps += 1
                        if not norm <= max_norm:  # NaN and inf count as the maximum
                            max_norm = norm
                    optimizer.step()
                    if per_batch:
                        scheduler.step()
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
                    "lr": lr,
                    "time": time.perf_counter() - t0,
                }
                if clipping:
                    record["grad_norm_mean"] = sum_norm / max(steps, 1)
                    record["grad_norm_max"] = max_norm
                if per_batch:
                    record["lr_end"] = float(optimizer.lr)
                elif scheduler is not None and not plateau:
                    scheduler.step()
                if finish(record):
                    return history
    finally:
        model.input_grad = saved_input_grad
    return history


def _check_scheduler(
    scheduler: object, optimizer: object, epochs: int, n: int, batch_size: int
) -> tuple[bool, bool]:
    """``(per_batch, plateau)`` of a valid ``scheduler`` over ``optimizer`` (False, False for
    None); a ValueError for anything else, or a per-batch schedule too short for the run."""
    if scheduler is None:
        return False, False
    from dlkit.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

    if not isinstance(scheduler, LRScheduler):
        raise ValueError(
            "scheduler must be None or a dlkit.optim.lr_scheduler schedule (e.g. "
            f"lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)), got {scheduler!r}"
        )
    if scheduler.optimizer is not optimizer:
        raise ValueError(
            "scheduler must be built over the optimizer given to fit, got one over "
            f"{scheduler.optimizer!r}"
        )
    per_batch = bool(getattr(scheduler, "per_batch", False))
    total = getattr(scheduler, "total_steps", None)
    steps = epochs * math.ceil(n / batch_size)
    if per_batch and total is not None and scheduler.last_epoch + steps > total:
        raise ValueError(
            f"scheduler's total_steps must cover the run's {steps} steps ({epochs} epochs of "
            f"{math.ceil(n / batch_size)} batches) after the {scheduler.last_epoch} already "
            f"taken, got total_steps={total}"
        )
    return per_batch, isinstance(scheduler, ReduceLROnPlateau)


def _check_optimizer(optimizer: object, params: list) -> None:
    """Raise a ValueError unless ``optimizer`` can step and every parameter it updates is one
    of the model's (``params``): one built over another model would train nothing."""
    if not all(callable(getattr(optimizer, m, None)) for m in ("step", "zero_grad")):
        raise ValueError(
            f"optimizer must be a dlkit.optim optimizer (with step and zero_grad), got "
            f"{optimizer!r}"
        )
    own = getattr(optimizer, "params", None)
    if own is None:
        return
    mine = {id(p) for p in params}
    foreign = [p for p in own if id(p) not in mine]
    if foreign:
        raise ValueError(
            "optimizer must be built over model.parameters(), got one whose parameters are "
            f"not the model's ({len(foreign)} of its {len(own)}, e.g. {foreign[0]!r}); build "
            "it as optim.build(name, model.parameters(), ...)"
        )


class BestWeights:
    """Fit callback keeping a copy of the parameters from the best epoch; with ``patience``,
    early stopping.

    After each epoch the monitored value of the record is compared with the best so far; on
    an improvement the callback copies every parameter (``model.parameters()`` order) and
    remembers the epoch. :meth:`restore` writes the copies back in place, so an optimizer
    over the model stays bound. Early stopping as in Prechelt, "Early stopping - but when?",
    Neural Networks: Tricks of the Trade, 1998: stop once the value has not improved for
    ``patience`` epochs. Use one instance per ``fit``.

    Parameters
    ----------
    monitor : str
        The record key to watch, ``"val_loss"`` by default (``fit`` needs ``X_val``,
        ``y_val``); any key of the records, callbacks' keys included.
    mode : {"min", "max"}
        Whether lower (losses) or higher (accuracies) is better.
    patience : int, optional
        Raise :class:`StopTraining` after this many consecutive epochs without improvement
        (>= 1). None never stops training.
    min_delta : float
        An improvement must beat the best value by more than this (>= 0). With 0, any
        strictly better value counts; NaN never does.

    Attributes
    ----------
    value : float
        The best monitored value so far; ``inf`` (``-inf`` for ``"max"``) before any.
    epoch : int or None
        Its epoch (0 is the untrained model with ``fit(..., record_initial=True)``); None
        while no epoch improved on the starting ``value``.
    params : list of ndarray
        Copies of the parameters from that epoch, shapes as ``model.parameters()``.
    wait : int
        Epochs since the last improvement.

    Examples
    --------
    >>> best = BestWeights(patience=10)
    >>> history = fit(model, loss, opt, X, y, epochs=100, batch_size=32, X_val=X_val,
    ...               y_val=y_val, rng=rng, callbacks=[best])  # doctest: +SKIP
    >>> best.restore(model)  # doctest: +SKIP
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        mode: str = "min",
        patience: int | None = None,
        min_delta: float = 0.0,
    ):
        if not isinstance(monitor, str):
            raise ValueError(f"monitor must be a record key (a str), got {monitor!r}")
        self.monitor = monitor
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.patience = None if patience is None else check_int("patience", patience, 1)
        if (
            isinstance(min_delta, bool)
            or not isinstance(min_delta, (int, float, np.integer, np.floating))
            or not 0 <= min_delta < math.inf
        ):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.value = math.inf if self.mode == "min" else -math.inf
        self.epoch: int | None = None
        self.params: list[np.ndarray] = []
        self.wait = 0

    def improves(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.value - self.min_delta
        return value > self.value + self.min_delta

    def __call__(self, epoch: int, record: dict, model: Layer) -> None:
        if self.monitor not in record:
            raise ValueError(
                f"BestWeights monitors {self.monitor!r}, which the epoch record lacks (keys: "
                f"{', '.join(record)}); pass X_val and y_val to fit for 'val_loss'"
            )
        value = record[self.monitor]
        if self.improves(value):
            self.value, self.epoch, self.wait = value, epoch, 0
            self.params = [p.data.copy() for p in model.parameters()]
            return
        self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            raise StopTraining(
                f"{self.monitor} has not improved on {self.value!r} (epoch {self.epoch}) for "
                f"{self.wait} epochs"
            )

    def restore(self, model: Layer) -> None:
        """Write the saved parameters back into ``model``'s parameters, in place."""
        if self.epoch is None:
            raise RuntimeError(
                f"BestWeights has nothing to restore: no epoch improved {self.monitor} on "
                f"{self.value!r}"
            )
        for p, saved in zip(model.parameters(), self.params, strict=True):
            p.data[...] = saved

    def __repr__(self) -> str:
        return (
            f"BestWeights(monitor={self.monitor!r}, mode={self.mode!r}, "
            f"patience={self.patience!r}, min_delta={self.min_delta!r})"
        )


def epochs_to_target(
    values: Sequence[float], target: float, *, mode: str = "min", first_epoch: int = 0
) -> float:
    """When a per-epoch curve first reaches ``target``, in (fractional) epochs.

    Parameters
    ----------
    values : sequence of float, shape (E + 1,)
        The monitored value per epoch, ``values[i]`` at epoch ``first_epoch + i``: e.g. the
        validation losses of ``fit(..., record_initial=True)``, epoch 0 (the untrained
        model) first.
    target : float
    mode : {"min", "max"}
        Reached means ``value <= target`` (losses) or ``value >= target`` (accuracies).
    first_epoch : int
        The epoch of ``values[0]``: 0 with ``record_initial=True``, else 1.

    Returns
    -------
    float
        The crossing point of the piecewise-linear curve through the per-epoch values (so two
        runs that both cross "during epoch 3" are still told apart), ``first_epoch`` if
        ``values[0]`` is already there, ``inf`` if the curve never gets there. NaN values
        never count as reached.
    """
    mode = check_choice("mode", mode, ("min", "max"))
    first_epoch = check_int("first_epoch", first_epoch, 0)
    if (
        isinstance(target, bool)
        or not isinstance(target, (int, float, np.integer, np.floating))
        or not math.isfinite(target)
    ):
        raise ValueError(f"target must be a finite number, got {target!r}")
    if len(values) == 0:
        raise ValueError("epochs_to_target needs at least one value, got an empty sequence")

    def reached(value: float) -> bool:
        return value <= target if mode == "min" else value >= target

    if reached(values[0]):
        return float(first_epoch)
    for i in range(1, len(values)):
        before, after = values[i - 1], values[i]
        if reached(after):
            return float(first_epoch + i - 1 + (before - target) / (before - after))
    return math.inf
