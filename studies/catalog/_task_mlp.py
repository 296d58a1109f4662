"""The MLP-on-a-data-set trial shared by the optimizers and learning-rate studies.

Both train ``nn.mlp`` on a data set loaded once per worker, with a validation split drawn per
seed from a child stream of ``(seed_stream, seed)`` (every arm of a seed shares it), keep the
best-validation weights, and report the same curves, the cap a diverged trial's loss is drawn
at, and the splits as dataset inputs. Each study then adds its own summary figures.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from dlkit import data, losses, nn, optim, train
from studies.engine.spec import TrialResult, data_inputs

#: A diverged trial's validation loss is drawn at PLOT_CAP x ln(classes) (chance is 1 x).
PLOT_CAP = 1.5


@functools.cache
def dataset(name: str, seed: int) -> data.Dataset:
    """The data set generated (or split) with ``seed``, loaded once per worker process."""
    return data.load(name, seed=seed)


class TaskRun(NamedTuple):
    """What :func:`train_task_mlp` returns."""

    history: train.History
    model: nn.Sequential
    loss: losses.Loss
    ds: data.Dataset
    best: train.BestWeights
    records: list[dict[str, float]]
    cap: float
    datasets: list[dict[str, Any]]
    train: tuple[np.ndarray, np.ndarray]

    def result(self, summary: dict[str, float]) -> TrialResult:
        """The trial's result with ``summary``, curves and dataset inputs."""
        return TrialResult.from_history(
            self.history, summary, records=self.records, datasets=self.datasets
        )


class TaskSetup(NamedTuple):
    """What :func:`task_setup` builds: the data, the seed's generator and splits, the net."""

    ds: data.Dataset
    rng: np.random.Generator
    X_tr: np.ndarray
    y_tr: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    model: nn.Sequential
    loss: losses.Loss
    opt: optim.Optimizer


def task_setup(config: dict) -> TaskSetup:
    """The data set, the validation split of the seed, the MLP and its optimizer.

    ``rng = default_rng([seed_stream, seed])``: a child stream draws the validation split
    (spawning leaves ``rng``, which draws the weights and then the batch order, untouched), so
    every arm of a seed shares the split.
    """
    dcfg, mcfg, ocfg = config["data"], config["model"], config["optimizer"]
    ds = dataset(dcfg["name"], dcfg["seed"])
    rng = np.random.default_rng([config["seed_stream"], config["seed"]])
    X_tr, y_tr, X_val, y_val = ds.split_validation(dcfg["val_fraction"], rng.spawn(1)[0])
    model = nn.mlp(
        [ds.n_features, *mcfg["hidden"], ds.n_classes],
        init=mcfg["init"],
        output_init="xavier_uniform",
        rng=rng,
    )
    opt = optim.build(ocfg["name"], model.parameters(), lr=ocfg["lr"])
    return TaskSetup(ds, rng, X_tr, y_tr, X_val, y_val, model, losses.CrossEntropyLoss(), opt)


def source_of(config: dict) -> str:
    """How the data set of ``config`` is loaded, for its dataset inputs."""
    return f"dlkit.data.load({config['data']['name']!r}, seed={config['data']['seed']})"


def train_task_mlp(config: dict, history_keys: tuple[str, ...], schedule=None) -> TaskRun:
    """Train the MLP of ``config`` (``data``, ``model``, ``optimizer``, ``train``,
    ``seed_stream`` and ``seed``) with early-stopping bookkeeping.

    Parameters
    ----------
    config : dict
    history_keys : tuple of str
        The per-epoch keys kept in the trial's curves.
    schedule : callable, optional
        ``schedule(optimizer, epochs, batches_per_epoch)`` -> a learning-rate schedule or None.
    """
    tcfg = config["train"]
    ds, rng, X_tr, y_tr, X_val, y_val, model, loss, opt = task_setup(config)
    epochs, batch = tcfg["epochs"], tcfg["batch_size"]
    sched = schedule(opt, epochs, math.ceil(len(X_tr) / batch)) if schedule else None
    best = train.BestWeights("val_loss")
    history = train.fit(
        model,
        loss,
        opt,
        X_tr,
        y_tr,
        epochs=epochs,
        batch_size=batch,
        X_val=X_val,
        y_val=y_val,
        rng=rng,
        callbacks=[best],
        scheduler=sched,
        record_initial=True,
    )
    records = [
        {"epoch": r["epoch"], **{k: float(r[k]) for k in history_keys if k in r}} for r in history
    ]
    splits = {"train": (X_tr, y_tr), "validation": (X_val, y_val)}
    if tcfg["evaluate_test"]:
        splits["test"] = (ds.X_test, ds.y_test)
    return TaskRun(
        history,
        model,
        loss,
        ds,
        best,
        records,
        PLOT_CAP * math.log(ds.n_classes),
        data_inputs(config["data"]["name"], source_of(config), **splits),
        (X_tr, y_tr),
    )
