"""Deep MLPs with per-layer diagnostics: the training loop the activations and init studies share.

An MLP of ``depth`` hidden layers on MNIST-1D (or digits), trained by :func:`dlkit.train.fit`
with per-layer gradient norms, activation statistics, saturated and dead fractions measured on
a diagnostic batch (fixed within a trial) at initialization and after every epoch.

The data set and its test part are fixed by ``data.seed`` (MNIST-1D is generated once); the
trial's seed draws the train/validation split (hence the diagnostic batch), the initial
weights and the batch order from three child streams of one generator, so every arm of a seed
sees the same split and batch order, and the same weights where the shapes agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from dlkit import data, diagnostics, losses, nn, optim, train
from dlkit import init as initializers
from studies.engine.spec import data_inputs

#: The data block of both studies' configs: MNIST-1D generated with seed 0, 10 % of the
#: training set for validation (drawn per trial seed), a diagnostic batch of 500 training
#: samples.
DATA_CONFIG: dict[str, Any] = {
    "name": "mnist1d",
    "seed": 0,
    "val_fraction": 0.1,
    "diag_samples": 500,
}
#: The summary figures of :func:`common_summary` and which way each is better (None:
#: neither; the log-ratio of gradient norms is best near 0).
COMMON_METRICS: dict[str, str | None] = {
    "final_train_loss": "lower",
    "final_val_acc": "higher",
    "test_acc": "higher",
    "epochs_to_target": "lower",
    "grad_ratio_init_log10": None,
    "dead_frac_final": "lower",
    "saturated_frac_final": "lower",
}


class MLPRun(NamedTuple):
    """What :func:`train_mlp` returns.

    Attributes
    ----------
    history : dlkit.train.History
        Per-epoch records (epoch 0 = at initialization) with the layer metrics of
        :func:`layer_metrics` on the diagnostic batch.
    model : nn.Sequential
        The trained network.
    test_acc : float
        Accuracy on the test set after training.
    initial_weights : list of ndarray
        Copies of every Dense weight before training, shapes (in, out), input layer first.
    initial_histograms : dict
        ``{"layer K": {"edges": (bins + 1,), "counts": (bins,)}}`` of the hidden activations
        at initialization (empty unless ``hist_range`` was given).
    datasets : list of dict
        The splits trained, validated and tested on (``TrialResult.datasets``).
    """

    history: train.History
    model: nn.Sequential
    test_acc: float
    initial_weights: list[np.ndarray]
    initial_histograms: dict[str, dict[str, list[float]]]
    datasets: list[dict] = []


def build_mlp(n_in: int, n_out: int, model: dict, rng: np.random.Generator) -> nn.Sequential:
    """``depth`` hidden layers ``Dense(width) -> activation``, then a linear output layer
    (:func:`dlkit.nn.mlp` from a ``model`` config).

    Parameters
    ----------
    n_in, n_out : int
        Input features and classes.
    model : dict
        ``depth``, ``width``, ``activation`` (an ``nn.activation`` name), ``init`` (a
        ``dlkit.init`` name) and ``init_args`` (its keyword arguments), used for every Dense
        layer, the output layer included; biases start at zero.
    rng : numpy.random.Generator
        Draws the weights.

    Returns
    -------
    nn.Sequential
        Maps x (N, n_in) to logits (N, n_out).
    """
    return nn.mlp(
        [n_in, *[model["width"]] * model["depth"], n_out],
        activation=model["activation"],
        init=initializers.get(model["init"], **model["init_args"]),
        rng=rng,
    )


def layer_metrics(
    model: nn.Sequential, diag: diagnostics.Diagnostics, *, per_layer: bool = True
) -> dict[str, float]:
    """Metrics of one diagnostic pass.

    Always: ``dead_frac`` and ``saturated_frac`` (means over the hidden layers) and
    ``grad_ratio_log10`` = log10(grad norm of the first Dense weight / of the output
    layer's). With ``per_layer``: ``act_std/layer_K``, ``saturated/layer_K``, ``dead/layer_K``
    of hidden layer K and ``grad_norm/layer_K`` of the K-th Dense weight (K = depth + 1 is the
    output layer), all from :meth:`Diagnostics.as_metrics`, which numbers gradients by the
    layers that have a weight, so PReLU slopes do not shift K.
    """
    norms = [s.values["grad_norm"] for s in diag.gradients]
    metrics = {
        "dead_frac": float(np.mean([s.values["dead"] for s in diag.activations])),
        "saturated_frac": float(np.mean([s.values["saturated"] for s in diag.activations])),
        "grad_ratio_log10": log10_ratio(norms[0], norms[-1]),
    }
    if per_layer:
        metrics.update(
            (key, value)
            for key, value in diag.as_metrics().items()
            if key.split("/")[0] in ("act_std", "saturated", "dead", "grad_norm")
        )
    return metrics


def log10_ratio(num: float, den: float) -> float:
    """``log10(num / den)``: ``-inf`` for ``num = 0 < den``, NaN when both are 0 or either
    is not finite."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(np.float64(num) / np.float64(den)))


def train_mlp(config: dict, *, hist_range: Sequence[float] | None = None) -> MLPRun:
    """Train the MLP of ``config`` with per-layer diagnostics at epoch 0 and every epoch.

    Parameters
    ----------
    config : dict
        A resolved trial config with ``data``, ``model``, ``optimizer``, ``train``,
        ``diagnostics`` and ``seed`` (see :data:`BASE_CONFIG`); per-layer metrics are
        recorded at epoch 0 and every ``diagnostics.layers_every`` epochs (0: epoch 0 only),
        their summaries every epoch.
    hist_range : (float, float), optional
        Range of the activation histograms taken at initialization (30 bins); None skips
        them.

    Returns
    -------
    MLPRun
    """
    cfg_data, cfg_train = config["data"], config["train"]
    ds = data.load(cfg_data["name"], seed=cfg_data["seed"])
    # Independent streams for the weights, the batch order and the split: every arm of a
    # seed sees the same rows and batches, whatever its shapes draw from the weight stream.
    init_rng, batch_rng, split_rng = np.random.default_rng(config["seed"]).spawn(3)
    split = ds.split_validation(cfg_data["val_fraction"], split_rng)
    X_diag = split.X_train[: cfg_data["diag_samples"]]
    y_diag = split.y_train[: cfg_data["diag_samples"]]
    model = build_mlp(ds.n_features, ds.n_classes, config["model"], init_rng)
    loss = losses.CrossEntropyLoss()
    initial_weights = [
        layer.weight.data.copy() for layer in model.layers if isinstance(layer, nn.Dense)
    ]
    histograms: dict[str, dict[str, list[float]]] = {}
    if hist_range is not None:
        diag = diagnostics.analyze(
            model, loss, X_diag, y_diag, bins=30, hist_range=tuple(hist_range)
        )
        # Keyed by layer: every hidden layer of one net shares its activation's name.
        histograms = {
            f"layer {h['layer']}": {"edges": h["edges"], "counts": h["counts"]}
            for h in diag.histograms()
        }

    every = config["diagnostics"]["layers_every"]

    def record_diagnostics(epoch: int, record: dict, net: nn.Sequential) -> None:
        per_layer = epoch == 0 or (every > 0 and epoch % every == 0)
        diag = diagnostics.analyze(net, loss, X_diag, y_diag, bins=None)
        record.update(layer_metrics(net, diag, per_layer=per_layer))

    opt = optim.build(config["optimizer"]["name"], model.parameters(), lr=config["optimizer"]["lr"])
    history = train.fit(
        model,
        loss,
        opt,
        split.X_train,
        split.y_train,
        epochs=cfg_train["epochs"],
        batch_size=cfg_train["batch_size"],
        X_val=split.X_val,
        y_val=split.y_val,
        rng=batch_rng,
        callbacks=[record_diagnostics],
        record_initial=True,
    )
    test_acc = train.evaluate(model, loss, ds.X_test, ds.y_test)["acc"]
    source = f"dlkit.data.load({cfg_data['name']!r}, seed={cfg_data['seed']}), split per seed"
    datasets = data_inputs(
        cfg_data["name"],
        source,
        train=(split.X_train, split.y_train),
        validation=(split.X_val, split.y_val),
        test=(ds.X_test, ds.y_test),
    )
    return MLPRun(history, model, float(test_acc), initial_weights, histograms, datasets)


def common_summary(run: MLPRun, target_acc: float) -> dict[str, float]:
    """Summary figures both MLP studies report.

    ``final_*`` come from the last epoch (NaN after a divergence); ``epochs_to_target`` is
    the first epoch whose validation accuracy reaches ``target_acc`` (``inf`` if none);
    ``*_frac_final`` from the last epoch with diagnostics; ``grad_ratio_init_log10`` from
    epoch 0.
    """
    history = run.history
    last = history[-1]
    reached = [r["epoch"] for r in history if r["epoch"] > 0 and r.get("val_acc", 0) >= target_acc]
    measured = [r for r in history if "dead_frac" in r]
    return {
        "final_train_loss": float(last["train_loss"]),
        "final_val_acc": float(last.get("val_acc", math.nan)),
        "test_acc": run.test_acc,
        "epochs_to_target": float(reached[0]) if reached else math.inf,
        "grad_ratio_init_log10": float(history[0]["grad_ratio_log10"]),
        "dead_frac_final": float(measured[-1]["dead_frac"]),
        "saturated_frac_final": float(measured[-1]["saturated_frac"]),
    }
