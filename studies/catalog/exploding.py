"""Exploding gradients: too-large weights, and what clipping by norm or by value does.

Pascanu, Mikolov & Bengio (2013) study the exploding and vanishing gradient problems of
recurrent networks and propose a gradient norm clipping strategy against exploding gradients
(their abstract). A deep feed-forward tanh net with too-large weights shows the same problem
along its depth: back-propagation multiplies the error by one layer Jacobian per layer, and
with weights this large those products grow, so the gradient grows geometrically towards the
input; tanh keeps the forward pass bounded, so the net ends badly rather than overflowing.

Design: a tanh MLP (8 hidden layers of 64 units, Xavier normal with gain g: weights
N(0, g^2 * 2 / (fan_in + fan_out)), i.e. g^2 / 64 for the hidden layers) on 1000 MNIST-1D
training samples, plain SGD (learning rate 0.5, batch 32, 10 epochs). Arms: gain 1 (the
Xavier scale), gain 4 (too large), and gain 4 with the gradient clipped by its global norm
(threshold 2) or by value (elements clamped to +-0.05). Per-layer gradient norms on a
diagnostic batch at initialization and after training; a diverged run (non-finite loss) is
recorded as such and its validation loss capped (at 10). Every trial also clips 8
mini-batch gradients of its untrained net (batches drawn per seed) both ways, with the
thresholds of the clipped arms, and measures the cosine between each clipped and the raw
gradient. Seed s draws the validation split, the weights and the batch order, shared by
every arm of the seed (the gain-4 arms start from the same weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit import data, diagnostics, losses, nn, optim, train
from dlkit import init as initializers
from dlkit.optim.clip import clip_grad_norm, clip_grad_value
from studies.catalog._backprop import LOSS_CAP, capped_loss
from studies.catalog._backprop import log10_slope_back as growth_per_layer
from studies.engine.claims import all_of, mean_threshold, paired_comparison
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import Evidence, SequentialDesign

#: Summary figures and which way is better (None: neither).
METRICS: dict[str, str | None] = {
    "final_val_loss_capped": "lower",
    "final_val_acc": "higher",
    "diverged_flag": "lower",
    "grad_growth_init_log10": None,
    "cosine_norm": "higher",
    "cosine_value": "higher",
    "cosine_norm_deviation": "lower",
}
#: The claims' margins: value clipping's mean cosine is below 1 - COSINE_MARGIN, norm
#: clipping's deviation from 1 below NORM_TOLERANCE.
COSINE_MARGIN = 0.01
NORM_TOLERANCE = 1e-6
#: The clipping thresholds of the clipped arms (and of the cosine measurement).
CLIP_NORM = 2.0
CLIP_VALUE = 0.05

BASE_CONFIG: dict[str, Any] = {
    "data": {"name": "mnist1d", "seed": 0, "val_fraction": 0.1, "n_train": 1000, "diag": 500},
    "model": {"depth": 8, "width": 64, "activation": "tanh", "gain": 1.0},
    "optimizer": {"name": "sgd", "lr": 0.5},
    "train": {"epochs": 10, "batch_size": 32, "clip_norm": None, "clip_value": None},
    "cosine": {"batches": 8, "clip_norm": CLIP_NORM, "clip_value": CLIP_VALUE},
}


def cosine(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Cosine between two gradients given as lists of arrays (flattened and joined), in
    float64; NaN when either is zero or not finite."""
    x = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in a])
    y = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in b])
    denom = np.linalg.norm(x) * np.linalg.norm(y)
    if not (np.isfinite(denom) and denom > 0):
        return math.nan
    return float(np.dot(x, y) / denom)


def clipping_cosines(
    model: nn.Sequential,
    loss: losses.Loss,
    X: np.ndarray,
    y: np.ndarray,
    *,
    batches: int,
    batch_size: int,
    clip_norm: float,
    clip_value: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Clip each of ``batches`` mini-batch gradients of ``model`` (as it is; not trained)
    both by norm and by value, and measure the cosine of each clipped gradient with the raw.

    Returns
    -------
    norm_cos, value_cos : ndarray, shape (batches,)
    """
    params = model.parameters()
    norm_cos, value_cos = [], []
    for _ in range(batches):
        idx = rng.choice(len(X), size=batch_size, replace=False)
        for p in params:
            p.grad[...] = 0
        loss.forward(model.forward(X[idx], train=True), y[idx])
        model.backward(loss.backward())
        raw = [p.grad.copy() for p in params]
        clip_grad_norm(params, clip_norm)
        norm_cos.append(cosine(raw, [p.grad for p in params]))
        for p, g in zip(params, raw, strict=True):
            p.grad[...] = g
        clip_grad_value(params, clip_value)
        value_cos.append(cosine(raw, [p.grad for p in params]))
    for p in params:
        p.grad[...] = 0
    return np.array(norm_cos), np.array(value_cos)


def build_model(n_in: int, n_out: int, model: dict, rng: np.random.Generator) -> nn.Sequential:
    """``depth`` hidden ``Dense(width) -> activation`` layers and a linear output layer, every
    weight Xavier normal with gain ``model.gain``."""
    return nn.mlp(
        [n_in, *[model["width"]] * model["depth"], n_out],
        activation=model["activation"],
        init=initializers.get("xavier_normal", gain=float(model["gain"])),
        rng=rng,
    )


def gradient_metrics(model: nn.Sequential, loss, X: np.ndarray, y: np.ndarray) -> dict:
    """``grad_norm/layer_K`` of every Dense weight on the diagnostic batch and
    ``grad_growth_log10`` (:func:`growth_per_layer` of them)."""
    diag = diagnostics.analyze(model, loss, X, y, bins=None)
    metrics = {k: v for k, v in diag.as_metrics().items() if k.startswith("grad_norm/")}
    metrics["grad_growth_log10"] = growth_per_layer([s.values["grad_norm"] for s in diag.gradients])
    return metrics


def trial(config: dict) -> TrialResult:
    """Train one tanh MLP; per-layer gradient norms at initialization and at the end, the
    clipping cosines of the untrained net, summary figures."""
    cfg_data, cfg_model, cfg_train, cfg_cos = (
        config["data"],
        config["model"],
        config["train"],
        config["cosine"],
    )
    ds = data.load(cfg_data["name"], seed=cfg_data["seed"])
    init_rng, batch_rng, split_rng, cos_rng = np.random.default_rng(config["seed"]).spawn(4)
    split = ds.split_validation(cfg_data["val_fraction"], split_rng)
    X_train = split.X_train[: cfg_data["n_train"]]
    y_train = split.y_train[: cfg_data["n_train"]]
    X_diag, y_diag = X_train[: cfg_data["diag"]], y_train[: cfg_data["diag"]]
    model = build_model(ds.n_features, ds.n_classes, cfg_model, init_rng)
    loss = losses.CrossEntropyLoss()
    norm_cos, value_cos = clipping_cosines(
        model,
        loss,
        X_train,
        y_train,
        batches=cfg_cos["batches"],
        batch_size=cfg_train["batch_size"],
        clip_norm=cfg_cos["clip_norm"],
        clip_value=cfg_cos["clip_value"],
        rng=cos_rng,
    )
    opt = optim.build(config["optimizer"]["name"], model.parameters(), lr=config["optimizer"]["lr"])
    epochs = cfg_train["epochs"]

    def record_gradients(epoch: int, record: dict, net: nn.Sequential) -> None:
        if epoch in (0, epochs):
            record.update(gradient_metrics(net, loss, X_diag, y_diag))

    history = train.fit(
        model,
        loss,
        opt,
        X_train,
        y_train,
        epochs=epochs,
        batch_size=cfg_train["batch_size"],
        X_val=split.X_val,
        y_val=split.y_val,
        rng=batch_rng,
        callbacks=[record_gradients],
        clip_norm=cfg_train["clip_norm"],
        clip_value=cfg_train["clip_value"],
        record_initial=True,
    )
    last = history[-1]
    val_loss = float(last.get("val_loss", math.nan))
    summary = {
        "final_val_loss_capped": capped_loss(val_loss),
        "final_val_acc": float(last.get("val_acc", math.nan)),
        "diverged_flag": float(history.diverged),
        "grad_growth_init_log10": float(history[0]["grad_growth_log10"]),
        "cosine_norm": float(np.mean(norm_cos)),
        "cosine_value": float(np.mean(value_cos)),
        "cosine_norm_deviation": float(np.max(np.abs(1.0 - norm_cos))),
    }
    source = f"dlkit.data.load({cfg_data['name']!r}, seed={cfg_data['seed']}), split per seed"
    datasets = data_inputs(
        cfg_data["name"],
        source,
        train=(X_train, y_train),
        validation=(split.X_val, split.y_val),
    )
    return TrialResult.from_history(history, summary, datasets=datasets)


LARGE_GAIN = 4.0
ARMS = {
    "gain=1": Arm({"model": {"gain": 1.0}}, factors={"gain": "1", "clip": "none"}),
    "gain=4": Arm({"model": {"gain": LARGE_GAIN}}, factors={"gain": "4", "clip": "none"}),
    "gain=4/clip_norm": Arm(
        {"model": {"gain": LARGE_GAIN}, "train": {"clip_norm": CLIP_NORM}},
        factors={"gain": "4", "clip": "norm"},
    ),
    "gain=4/clip_value": Arm(
        {"model": {"gain": LARGE_GAIN}, "train": {"clip_value": CLIP_VALUE}},
        factors={"gain": "4", "clip": "value"},
    ),
}

PASCANU = "Pascanu, Mikolov & Bengio 2013, 'On the difficulty of training recurrent neural "
PASCANU += "networks', ICML"
PASCANU_SETTING = (
    "recurrent neural networks trained by gradient descent through time (the abstract "
    "was read; the paper's experimental set-up was not re-read for this study)"
)

_EXPLODES = mean_threshold("grad_growth_init_log10", threshold=0.0, above=True, arm="gain=4")
_WORSE = paired_comparison("final_val_loss_capped", "gain=4", "gain=1", better="higher")


def explodes_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of the exploding claim: the gain-4 net's per-layer growth of the gradient
    norm at initialization above 0, and its final validation loss above the gain-1 net's."""
    return all_of(
        [
            ("growth", _EXPLODES(summaries, histories)),
            ("loss", _WORSE(summaries, histories)),
        ]
    )


_VALUE_TURNS = mean_threshold(
    "cosine_value", threshold=1.0 - COSINE_MARGIN, above=False, arm="gain=4"
)
_NORM_KEEPS = mean_threshold(
    "cosine_norm_deviation", threshold=NORM_TOLERANCE, above=False, arm="gain=4"
)


def direction_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of the direction claim: value clipping's mean cosine below 1 - margin and
    norm clipping's largest deviation of the cosine from 1 below the tolerance."""
    return all_of(
        [
            ("value", _VALUE_TURNS(summaries, histories)),
            ("norm", _NORM_KEEPS(summaries, histories)),
        ]
    )


DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="exploding",
    question="Why do gradients explode in a deep net with too-large weights, and what do "
    "clipping by norm and by value do about it?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    data="MNIST-1D (mnist1d generator, seed 0): each seed draws its own 10 % validation "
    "split (400 samples) and trains on the first 1000 samples of the rest; 40 standardized "
    "features, 10 classes.",
    base_config=BASE_CONFIG,
    trial=trial,
    metrics=METRICS,
    design=DESIGN,
    stages=[Stage("main", ARMS)],
    quick={"train": {"epochs": 2}, "data": {"n_train": 300, "diag": 200}},
    claims=[
        Claim(
            id="large_init_gradients_explode",
            text="With too-large weights (Xavier gain 4), the deep tanh net's gradient norm "
            "grows geometrically towards the input at initialization, and plain SGD ends "
            "with a higher validation loss than at gain 1.",
            statistic="per seed, the gain-4 net's least-squares slope of log10 gradient norm "
            "against layers back-propagated through, claimed above 0 (t-test); and gain-4 "
            f"minus gain-1 final validation loss (diverged = {LOSS_CAP:g}), claimed above 0 "
            "(paired t-test); both needed",
            evaluate=explodes_claim,
            source=f"{PASCANU}, abstract (the exploding gradient problem of recurrent nets, "
            "analysed from an analytical, geometric and dynamical-systems perspective)",
            setting=PASCANU_SETTING,
            expected="supported",
        ),
        Claim(
            id="norm_clipping_keeps_training",
            text="Clipping the gradient by its global norm (threshold 2) lets the gain-4 net "
            "train: a lower final validation loss than the unclipped gain-4 net.",
            statistic="per seed, clipped minus unclipped final validation loss (diverged = "
            f"{LOSS_CAP:g}), claimed below 0 (paired t-test)",
            evaluate=paired_comparison(
                "final_val_loss_capped", "gain=4/clip_norm", "gain=4", better="lower"
            ),
            source=f"{PASCANU}, abstract ('We propose a gradient norm clipping strategy to "
            "deal with exploding gradients')",
            setting=PASCANU_SETTING,
            expected="supported",
        ),
        Claim(
            id="value_clipping_turns_the_gradient",
            text="Clipping by value changes the direction of the gradient while clipping by "
            "norm keeps it: on the same mini-batch gradients of the untrained gain-4 net, "
            f"value clipping's mean cosine with the raw gradient is below {1 - COSINE_MARGIN:g} "
            f"and norm clipping's differs from 1 by less than {NORM_TOLERANCE:g}.",
            statistic="per seed (8 mini-batches), mean cosine of the value-clipped and raw "
            f"gradient claimed below {1 - COSINE_MARGIN:g}, and the largest |1 - cosine| of "
            f"the norm-clipped one claimed below {NORM_TOLERANCE:g} (t-tests, both needed)",
            evaluate=direction_claim,
            source=f"{PASCANU}, abstract ('a gradient norm clipping strategy': the gradient "
            "is rescaled when its norm exceeds a threshold, so its direction is kept); "
            "value clipping as torch.nn.utils.clip_grad_value_ (element-wise clamp)",
            setting=PASCANU_SETTING,
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "per_layer",
            "Gradient norm per layer at initialization, per gain (tanh MLP)",
            prefix="grad_norm/layer_",
            epoch=0,
        ),
        Plot(
            "per_layer",
            "Gradient norm per layer after training",
            prefix="grad_norm/layer_",
            epoch="last",
        ),
        Plot("learning_curves", "Training loss: clipped and unclipped", metric="train_loss"),
        Plot("learning_curves", "Validation loss", metric="val_loss"),
        Plot(
            "final_metric",
            "Cosine between value-clipped and raw gradient (untrained net, per arm)",
            metric="cosine_value",
        ),
    ],
)
