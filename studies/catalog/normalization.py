"""Normalization: what does it buy, and when does it fail?

Batch normalization (Ioffe & Szegedy 2015) standardizes each unit over the mini-batch; its
abstract credits it with training at much higher learning rates, with saturating
nonlinearities, and in fewer steps. Group normalization (Wu & He 2018) standardizes each
sample over groups of channels instead, so it does not depend on the batch: BN's error grows
at batch sizes of 2-4 while GN's stays put. And BN computes two different functions: batch
statistics in training, running (population) statistics in evaluation.

Design, stage ``lr_grid``: a deep logistic-sigmoid MLP (4 hidden layers of 32 units, Xavier
uniform) on 2000 MNIST-1D training samples with and without BN after each Dense layer, trained
by plain SGD (batch 64, 6 epochs) at three learning rates a decade apart; per-layer gradient
norms at initialization and every epoch. Its BN arms are also evaluated with *batch* statistics
on evaluation batches of 4 (``train=True`` on a copy), what one gets by forgetting eval mode.
Stage ``batch_size``: a ReLU MLP (3 hidden layers of 64 units, Kaiming normal) with BN, GN (8
groups of 8 units) or LayerNorm after each Dense layer, on 800 training samples, SGD with
momentum 0.9 at batch sizes 2, 8 and 32 with the learning rate scaled linearly with the batch
size (0.05 at 32, as Wu & He scale theirs), 4 epochs. Seed ``s`` draws the validation split,
the weights and the batch order, shared by every arm of the seed.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from dlkit import data, diagnostics, losses, nn, optim, train
from dlkit import init as initializers
from studies.engine.claims import (
    all_of,
    paired_columns,
    paired_comparison,
    paired_equivalence,
)
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: Summary figures and which way is better.
METRICS: dict[str, str | None] = {
    "test_acc": "higher",
    "final_val_acc": "higher",
    "final_train_loss": "lower",
    "epochs_to_target": "lower",
    "grad_ratio_init_log10": None,
    "test_acc_batch_stats": "higher",
}
NORMS = ("none", "batch", "group", "layer")
LEARNING_RATES = (0.05, 0.5, 5.0)
BATCH_SIZES = (2, 8, 32)
TARGET_ACC = 0.2

BASE_CONFIG: dict[str, Any] = {
    "data": {"name": "mnist1d", "seed": 0, "val_fraction": 0.1, "n_train": 2000, "diag": 500},
    "model": {
        "depth": 4,
        "width": 32,
        "activation": "sigmoid",
        "init": "xavier_uniform",
        "norm": "none",
        "groups": 8,
    },
    "optimizer": {"name": "sgd", "lr": 0.5, "reference_batch": 0},
    "train": {"epochs": 6, "batch_size": 64, "target_acc": TARGET_ACC, "eval_batch": 4},
}


def norm_layer(kind: str, width: int, groups: int) -> nn.Layer | None:
    """The normalization layer put after each hidden Dense layer (None for ``"none"``)."""
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "group":
        return nn.GroupNorm(groups, width)
    if kind == "layer":
        return nn.LayerNorm(width)
    if kind == "none":
        return None
    raise ValueError(f"model.norm must be one of {NORMS}, got {kind!r}")


def build_model(n_in: int, n_out: int, model: dict, rng: np.random.Generator) -> nn.Sequential:
    """``depth`` blocks ``Dense -> norm -> activation``, then a linear output layer; every
    Dense layer drawn by ``model.init`` from ``rng``."""
    init = initializers.get(model["init"])
    layers: list[nn.Layer] = []
    width_in = n_in
    for _ in range(model["depth"]):
        layers.append(nn.Dense(width_in, model["width"], init=init, rng=rng))
        norm = norm_layer(model["norm"], model["width"], model["groups"])
        if norm is not None:
            layers.append(norm)
        layers.append(nn.activation(model["activation"]))
        width_in = model["width"]
    layers.append(nn.Dense(width_in, n_out, init=init, rng=rng))
    return nn.Sequential(*layers)


def batch_statistics_accuracy(
    model: nn.Sequential, X: np.ndarray, y: np.ndarray, batch_size: int
) -> float:
    """Accuracy when the model is evaluated in *training* mode (batch statistics) on
    consecutive batches of ``batch_size``, on a copy so the running statistics stay as they
    are. The last batch is dropped when it would hold a single sample (BN refuses it)."""
    twin = copy.deepcopy(model)
    correct = total = 0
    for start in range(0, len(X), batch_size):
        xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        if len(xb) < 2:
            break
        correct += int(np.sum(twin.forward(xb, train=True).argmax(axis=1) == yb))
        total += len(xb)
    return correct / total


def gradient_metrics(model: nn.Sequential, loss, X: np.ndarray, y: np.ndarray) -> dict:
    """``grad_norm/layer_K`` of every Dense weight on the diagnostic batch and
    ``grad_ratio_log10`` = log10(first / last layer's norm)."""
    diag = diagnostics.analyze(model, loss, X, y, bins=None)
    norms = [s.values["grad_norm"] for s in diag.gradients]
    metrics = {k: v for k, v in diag.as_metrics().items() if k.startswith("grad_norm/")}
    with np.errstate(divide="ignore", invalid="ignore"):
        metrics["grad_ratio_log10"] = float(np.log10(np.float64(norms[0]) / norms[-1]))
    return metrics


def trial(config: dict) -> TrialResult:
    """Train one MLP; per-epoch gradient norms per layer, summary figures."""
    cfg_data, cfg_model, cfg_opt, cfg_train = (
        config["data"],
        config["model"],
        config["optimizer"],
        config["train"],
    )
    ds = data.load(cfg_data["name"], seed=cfg_data["seed"])
    init_rng, batch_rng, split_rng = np.random.default_rng(config["seed"]).spawn(3)
    split = ds.split_validation(cfg_data["val_fraction"], split_rng)
    X_train, y_train = split.X_train, split.y_train
    if cfg_data["n_train"]:
        X_train, y_train = X_train[: cfg_data["n_train"]], y_train[: cfg_data["n_train"]]
    X_diag, y_diag = X_train[: cfg_data["diag"]], y_train[: cfg_data["diag"]]
    model = build_model(ds.n_features, ds.n_classes, cfg_model, init_rng)
    loss = losses.CrossEntropyLoss()
    lr = cfg_opt["lr"]
    if cfg_opt["reference_batch"]:
        lr = lr * cfg_train["batch_size"] / cfg_opt["reference_batch"]
    opt = optim.build(cfg_opt["name"], model.parameters(), lr=lr)

    def record_gradients(epoch: int, record: dict, net: nn.Sequential) -> None:
        record.update(gradient_metrics(net, loss, X_diag, y_diag))

    history = train.fit(
        model,
        loss,
        opt,
        X_train,
        y_train,
        epochs=cfg_train["epochs"],
        batch_size=cfg_train["batch_size"],
        X_val=split.X_val,
        y_val=split.y_val,
        rng=batch_rng,
        callbacks=[record_gradients],
        record_initial=True,
    )
    last = history[-1]
    reached = [
        r["epoch"]
        for r in history
        if r["epoch"] > 0 and r.get("val_acc", 0) >= cfg_train["target_acc"]
    ]
    summary = {
        "final_train_loss": float(last["train_loss"]),
        "final_val_acc": float(last.get("val_acc", math.nan)),
        "test_acc": math.nan,
        "epochs_to_target": float(reached[0]) if reached else math.inf,
        "grad_ratio_init_log10": float(history[0]["grad_ratio_log10"]),
        "test_acc_batch_stats": math.nan,
    }
    if not history.diverged:
        summary["test_acc"] = float(train.evaluate(model, loss, ds.X_test, ds.y_test)["acc"])
        if cfg_model["norm"] == "batch":
            summary["test_acc_batch_stats"] = batch_statistics_accuracy(
                model, ds.X_test, ds.y_test, cfg_train["eval_batch"]
            )
    source = f"dlkit.data.load({cfg_data['name']!r}, seed={cfg_data['seed']}), split per seed"
    datasets = data_inputs(
        cfg_data["name"],
        source,
        train=(X_train, y_train),
        validation=(split.X_val, split.y_val),
        test=(ds.X_test, ds.y_test),
    )
    return TrialResult.from_history(history, summary, datasets=datasets)


def small_batch_drop(metric: str, fragile: str, robust: str, small: int, large: int) -> Any:
    """Evaluator of "``fragile``'s loss of ``metric`` from batch ``large`` to batch ``small``
    exceeds ``robust``'s": per seed, ``(f_large - f_small) - (r_large - r_small)`` claimed
    above 0 (paired t-test); arms are named ``<norm>/B=<size>``."""
    arms = [f"{n}/B={b}" for n in (fragile, robust) for b in (large, small)]

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        rows = summaries[(summaries["status"] != "failed") & summaries["arm"].isin(arms)]
        table = rows.pivot_table(index="seed", columns="arm", values=metric)
        table = table.reindex(columns=arms).dropna()
        drop_f = table[arms[0]].to_numpy(float) - table[arms[1]].to_numpy(float)
        drop_r = table[arms[2]].to_numpy(float) - table[arms[3]].to_numpy(float)
        comparison = Comparison(
            drop_f - drop_r,
            table.index.astype(int),
            "greater",
            "t",
            label=f"{fragile} drop - {robust} drop of {metric} (B={large} -> B={small})",
            arms=arms,
        )
        numbers = {
            f"{fragile}_drop": float(drop_f.mean()) if drop_f.size else math.nan,
            f"{robust}_drop": float(drop_r.mean()) if drop_r.size else math.nan,
        }
        return Evidence([comparison], numbers=numbers)

    return evaluate


def _lr_arm(norm: str, lr: float) -> tuple[str, Arm]:
    return f"{norm}/lr={lr:g}", Arm(
        {"model": {"norm": norm}, "optimizer": {"lr": lr}},
        factors={"norm": norm, "lr": f"{lr:g}"},
    )


LR_ARMS = dict(_lr_arm(n, lr) for n in ("none", "batch") for lr in LEARNING_RATES)

BATCH_BASE: dict[str, Any] = copy.deepcopy(BASE_CONFIG)
BATCH_BASE["data"]["n_train"] = 800
BATCH_BASE["model"].update(depth=3, width=64, activation="relu", init="kaiming_normal")
BATCH_BASE["optimizer"].update(name="momentum", lr=0.05, reference_batch=32)
BATCH_BASE["train"].update(epochs=4)


def _batch_arm(norm: str, size: int) -> tuple[str, Arm]:
    return f"{norm}/B={size}", Arm(
        {"model": {"norm": norm}, "train": {"batch_size": size}},
        # zero-padded so that the heatmap's columns sort as numbers
        factors={"norm": norm, "batch_size": f"{size:02d}"},
    )


BATCH_ARMS = dict(_batch_arm(n, b) for n in ("batch", "group", "layer") for b in BATCH_SIZES)

IOFFE = "Ioffe & Szegedy 2015, 'Batch Normalization: Accelerating Deep Network Training by "
IOFFE += "Reducing Internal Covariate Shift', ICML"
IOFFE_SETTING = (
    "ImageNet, Inception network with BN after each convolution, SGD with momentum, "
    "large-scale distributed training (the MNIST experiment: 3 hidden layers of 100 sigmoid "
    "units)"
)
WU_HE = "Wu & He 2018, 'Group Normalization', ECCV, abstract"
WU_HE_SETTING = (
    "ImageNet, ResNet-50, BN vs GN (32 groups), batch sizes per worker from 32 down to 2, "
    "learning rate scaled linearly with the batch size"
)

_SIGMOID_GRADIENT = paired_comparison(
    "grad_ratio_init_log10", "batch/lr=0.05", "none/lr=0.05", better="higher"
)
_SIGMOID_ACCURACY = paired_comparison("test_acc", "batch/lr=0.05", "none/lr=0.05", better="higher")


def sigmoid_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of the saturating-sigmoid claim: BN's gradient ratio at initialization and
    its test accuracy, both above the plain net's (parts ``gradient`` and ``accuracy``)."""
    return all_of(
        [
            ("gradient", _SIGMOID_GRADIENT(summaries, histories)),
            ("accuracy", _SIGMOID_ACCURACY(summaries, histories)),
        ]
    )


DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="normalization",
    question="What does normalization buy a deep network, and when does it fail?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    data="MNIST-1D (mnist1d generator, seed 0): 3600 training / 400 validation / 1000 test "
    "samples, 40 standardized features, 10 classes; each seed draws its own validation split. "
    "Stage 'lr_grid' trains on the first 2000 training samples of that split, stage "
    "'batch_size' on the first 800.",
    base_config=BASE_CONFIG,
    trial=trial,
    metrics=METRICS,
    design=DESIGN,
    stages=[
        Stage("lr_grid", LR_ARMS),
        Stage(
            "batch_size",
            BATCH_ARMS,
            base_config=BATCH_BASE,
            quick={"train": {"epochs": 1}, "data": {"n_train": 200}},
        ),
    ],
    quick={"train": {"epochs": 2}},
    claims=[
        Claim(
            id="bn_reaches_target_in_fewer_epochs",
            text=f"With BN, the deep sigmoid MLP reaches {TARGET_ACC:.0%} validation accuracy "
            "in fewer epochs than without, at the same learning rate (0.5).",
            statistic="per seed, BN minus plain epochs to target (never reached = epochs + 1), "
            "claimed below 0 (sign-flip permutation test, a censored count)",
            evaluate=paired_comparison(
                "epochs_to_target",
                "batch/lr=0.5",
                "none/lr=0.5",
                better="lower",
                test="permutation",
                censor="config.train.epochs",
            ),
            source=f"{IOFFE}, abstract ('achieves the same accuracy with 14 times fewer "
            "training steps')",
            setting=IOFFE_SETTING,
            expected="supported",
        ),
        Claim(
            id="bn_trains_at_high_learning_rate",
            text="At a learning rate ten times the middle one (5.0), the BN net reaches a "
            "higher test accuracy than the plain net, which diverges or stalls there.",
            statistic="per seed, BN minus plain test accuracy at lr 5.0 (a diverged net "
            "counts as missing), claimed above 0 (paired t-test)",
            evaluate=paired_comparison("test_acc", "batch/lr=5", "none/lr=5", better="higher"),
            source=f"{IOFFE}, abstract ('Batch Normalization allows us to use much higher "
            "learning rates')",
            setting=IOFFE_SETTING,
            expected="supported",
        ),
        Claim(
            id="bn_trains_saturating_sigmoid_net",
            text="At the small learning rate (0.05), the plain deep sigmoid net's gradient "
            "vanishes towards the input while the BN net's does not (a higher layer-1 / "
            "last-layer gradient-norm ratio at initialization), and the BN net reaches a "
            "higher test accuracy.",
            statistic="per seed, BN minus plain log10 gradient-norm ratio (layer 1 / output "
            "layer) at initialization, and BN minus plain test accuracy, both claimed above 0 "
            "(paired t-tests, both needed)",
            evaluate=sigmoid_claim,
            source=f"{IOFFE}, abstract (shifting layer inputs make it 'notoriously hard to "
            "train models with saturating nonlinearities'; BN is the remedy)",
            setting=IOFFE_SETTING,
            expected="supported",
        ),
        Claim(
            id="bn_degrades_at_small_batch_gn_does_not",
            text="From batch size 32 to 2, BN loses more test accuracy than GroupNorm does.",
            statistic="per seed, (BN acc at B=32 - at B=2) - (GN acc at B=32 - at B=2), "
            "claimed above 0 (paired t-test)",
            evaluate=small_batch_drop("test_acc", "batch", "group", small=2, large=32),
            source=f"{WU_HE} ('BN's error increases rapidly when the batch size becomes "
            "smaller'; 'GN has 10.6% lower error than its BN counterpart when using a batch "
            "size of 2')",
            setting=WU_HE_SETTING,
            expected="supported",
        ),
        Claim(
            id="gn_insensitive_to_batch_size",
            text="GroupNorm's test accuracy at batch size 2 is within 3 points of its "
            "accuracy at batch size 32 (the margin is this study's).",
            statistic="per seed, GN accuracy at B=2 minus at B=32, equivalence within +-0.03 "
            "(paired TOST)",
            evaluate=paired_equivalence("test_acc", "group/B=2", "group/B=32", margin=0.03),
            source=f"{WU_HE} ('GN's computation is independent of batch sizes, and its "
            "accuracy is stable in a wide range of batch sizes')",
            setting=WU_HE_SETTING,
            expected="supported",
        ),
        Claim(
            id="batch_statistics_at_eval_hurt",
            text="Evaluating the trained BN net with batch statistics on evaluation batches of "
            "4 (forgetting eval mode) gives a lower test accuracy than the running statistics.",
            statistic="per seed, test accuracy with running minus with batch statistics "
            "(BN net, lr 0.5), claimed above 0 (paired t-test)",
            evaluate=paired_columns(
                "test_acc", "test_acc_batch_stats", better="higher", arm="batch/lr=0.5"
            ),
            source=f"{IOFFE}, Sec. 3.1 (at inference the normalization uses population "
            "statistics, so that the output depends only on the input); only the abstract "
            "was re-read for this study",
            setting=IOFFE_SETTING,
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "heatmap",
            "Test accuracy: normalization x learning rate (deep sigmoid MLP)",
            row="norm",
            col="lr",
            metric="test_acc",
            stage="lr_grid",
        ),
        Plot(
            "per_layer",
            "Gradient norm per layer at initialization (deep sigmoid MLP)",
            prefix="grad_norm/layer_",
            epoch=0,
            stage="lr_grid",
        ),
        Plot(
            "per_layer",
            "Gradient norm per layer after training (deep sigmoid MLP)",
            prefix="grad_norm/layer_",
            epoch="last",
            stage="lr_grid",
        ),
        Plot(
            "learning_curves",
            "Validation accuracy (deep sigmoid MLP)",
            metric="val_acc",
            stage="lr_grid",
        ),
        Plot(
            "heatmap",
            "Test accuracy: normalization x batch size (ReLU MLP)",
            row="norm",
            col="batch_size",
            metric="test_acc",
            stage="batch_size",
        ),
        Plot(
            "final_metric",
            "Test accuracy per arm: batch size stage",
            metric="test_acc",
            stage="batch_size",
        ),
        Plot(
            "final_metric",
            "BN test accuracy with batch statistics (eval batches of 4)",
            metric="test_acc_batch_stats",
            stage="lr_grid",
        ),
    ],
)
