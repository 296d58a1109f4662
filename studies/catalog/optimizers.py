"""Which optimizer gets an MLP on MNIST-1D to a low validation loss fastest?

Protocol after DeepOBS (Schneider et al., 2019): stage ``tune`` sweeps each optimizer's
learning rate over a log2 grid with one seed, scored on a validation split carved out of the
training set (the test set is not even evaluated); stage ``final`` reruns every optimizer at
its best rate, seeds added look by look by the study's sequential design, and only then
measures test accuracy, of the weights from the epoch with the lowest validation loss (early
stopping). Seed ``s`` draws its own validation split, initialisation and batch order, shared
by every optimizer (paired by seed); the MNIST-1D set itself is generated once. Stage
``toy2d`` traces every optimizer on three 2-D functions (the "Deep Learning from Scratch"
bowl, Rosenbrock, a saddle).

Claims (Kingma & Ba 2014; Wilson et al. 2017; Schmidt et al. 2021; Dauphin et al. 2014) are
judged on the data by :mod:`studies.engine.claims`.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

from dlkit import data, losses, nn, optim, train
from studies.catalog._toy2d import paths_artifact
from studies.engine.claims import paired_columns, paired_comparison, paired_equivalence
from studies.engine.select import best_setting
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult

log = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")

# log2 learning-rate grids, four points each, placed where a pilot sweep over seven points per
# method (one seed, this model and budget) found each method's best validation loss.
LR_GRID_LOG2 = {
    "sgd": [-3, -2, -1, 0],
    "momentum": [-6, -5, -4, -3],
    "nesterov": [-6, -5, -4, -3],
    "adagrad": [-6, -5, -4, -3],
    "adadelta": [-1, 0, 1, 2],
    "rmsprop": [-10, -9, -8, -7],
    "adam": [-9, -8, -7, -6],
    "adamw": [-9, -8, -7, -6],
}
# --quick: the middle two rates of each grid.
QUICK_LR_GRID_LOG2 = {name: grid[1:3] for name, grid in LR_GRID_LOG2.items()}

BASE_CONFIG = {
    # ``seed`` generates the data set (fixed); the trial's seed draws the validation split.
    "data": {"name": "mnist1d", "seed": 0, "val_fraction": 0.2},
    "model": {"hidden": [256, 256], "init": "kaiming_normal"},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "train": {"epochs": 45, "batch_size": 32, "target_val_loss": 1.25, "evaluate_test": False},
}

# 2-D paths: per-function rates in the spirit of "Deep Learning from Scratch" (its bowl uses
# SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3); one rate for all on the saddle so the
# escape times compare the update rules, not the step sizes.
TOY2D_CONFIG = {
    "lr": {
        "quadratic": {
            "sgd": 0.95,
            "momentum": 0.1,
            "nesterov": 0.1,
            "adagrad": 1.5,
            "adadelta": 30.0,
            "rmsprop": 0.1,
            "adam": 0.3,
            "adamw": 0.3,
        },
        "rosenbrock": {
            "sgd": 0.002,
            "momentum": 0.001,
            "nesterov": 0.001,
            "adagrad": 0.5,
            "adadelta": 10.0,
            "rmsprop": 0.003,
            "adam": 0.1,
            "adamw": 0.1,
        },
        "saddle": {name: 0.05 for name in OPTIMIZERS},
    },
    "steps": {"quadratic": 30, "rosenbrock": 500, "saddle": 200},
    "saddle_y0": 1e-3,
    "escape_radius": 1.0,
}


@functools.cache
def _dataset(name: str, seed: int) -> data.Dataset:
    """The data set generated with ``seed``, loaded once per worker process."""
    return data.load(name, seed=seed)


def late_progress(train_losses: list[float]) -> float:
    """``log(L[E/2] / L[E])``: how much the training loss still fell in the second half.

    Parameters
    ----------
    train_losses : list of float, length E
        Training loss after epochs 1 .. E.
    """
    half = train_losses[len(train_losses) // 2 - 1]
    return float(math.log(half / train_losses[-1]))


def mlp_trial(config: dict) -> TrialResult:
    """Train the MLP with one optimizer, learning rate and seed.

    Summaries: ``min_val_loss`` (the tuning score), ``best_epoch``, ``final_val_loss``,
    ``final_val_acc``, ``epochs_to_target`` (interpolated between epochs, ``inf`` if never),
    ``auc_val_loss`` (mean validation loss over epochs 1 .. E: the area under the curve per
    epoch), ``late_progress``
    and, when ``train.evaluate_test``, ``test_acc`` / ``test_loss`` at the best validation
    epoch and ``final_test_acc``.
    """
    dcfg, mcfg, ocfg, tcfg = config["data"], config["model"], config["optimizer"], config["train"]
    ds = _dataset(dcfg["name"], dcfg["seed"])
    rng = np.random.default_rng(config["seed"])
    # A child stream of the seed draws the validation split (spawning leaves ``rng``, which
    # draws the weights and then the batch order, untouched): every arm of a seed shares it.
    X_tr, y_tr, X_val, y_val = ds.split_validation(dcfg["val_fraction"], rng.spawn(1)[0])
    model = nn.mlp(
        [ds.n_features, *mcfg["hidden"], ds.n_classes],
        init=mcfg["init"],
        output_init="xavier_uniform",
        rng=rng,
    )
    loss = losses.CrossEntropyLoss()
    opt = optim.build(ocfg["name"], model.parameters(), lr=ocfg["lr"])
    best = train.BestWeights("val_loss")
    history = train.fit(
        model,
        loss,
        opt,
        X_tr,
        y_tr,
        epochs=tcfg["epochs"],
        batch_size=tcfg["batch_size"],
        X_val=X_val,
        y_val=y_val,
        rng=rng,
        callbacks=[best],
        record_initial=True,
    )
    records = [
        {"epoch": r["epoch"], **{k: float(r[k]) for k in HISTORY_KEYS if k in r}} for r in history
    ]
    if history.diverged:
        summary = {k: math.inf for k in ("min_val_loss", "final_val_loss", "auc_val_loss")}
        summary["epochs_to_target"] = math.inf
        return TrialResult.from_history(history, summary, records=records)
    val = [r["val_loss"] for r in history]  # epochs 0 .. E
    trained = history[1:]
    summary = {
        "min_val_loss": best.value,
        "best_epoch": float(best.epoch or 0),
        "final_val_loss": val[-1],
        "final_val_acc": float(history[-1]["val_acc"]),
        "epochs_to_target": train.epochs_to_target(val, tcfg["target_val_loss"]),
        "auc_val_loss": float(np.mean(val[1:])),
        "late_progress": late_progress([r["train_loss"] for r in trained]),
    }
    if tcfg["evaluate_test"]:
        summary["final_test_acc"] = train.evaluate(model, loss, ds.X_test, ds.y_test)["acc"]
        best.restore(model)
        test = train.evaluate(model, loss, ds.X_test, ds.y_test)
        summary["test_acc"], summary["test_loss"] = test["acc"], test["loss"]
    return TrialResult.from_history(history, summary, records=records)


def toy2d_trial(config: dict) -> TrialResult:
    """Every optimizer on the 2-D functions; the seed sets the saddle's initial y."""
    rng = np.random.default_rng(config["seed"])
    # Magnitude in [y0, 2 y0), random sign: each seed starts a little off the saddle's ridge.
    y0 = config["saddle_y0"] * (1.0 + rng.random()) * rng.choice([-1.0, 1.0])
    artifact, summary = paths_artifact(config["lr"], config["steps"], y0, config["escape_radius"])
    artifact["seed"] = config["seed"]
    artifact["saddle_y0"] = y0
    return TrialResult(history=[], summary=summary, artifacts={"trajectories_2d": artifact})


def tune_arms(grid: dict[str, list[int]]) -> dict[str, Arm]:
    """Stage 1: one arm per (optimizer, log2 rate), all nested under one ``tune`` run."""
    return {
        f"tune/{name}/lr=2^{k}": Arm(
            {"optimizer": {"name": name, "lr": 2.0**k}},
            factors={"optimizer": name, "log2_lr": str(k)},
        )
        for name, ks in grid.items()
        for k in ks
    }


def best_rates(previous) -> dict[str, Arm]:
    """Stage 2: each optimizer at the rate with the lowest tuning validation loss.

    Parameters
    ----------
    previous : DataFrame
        Summaries of the ``tune`` stage (one row per trial); diverged and failed trials
        never win.
    """
    best = best_setting(
        previous,
        stage="tune",
        metric="min_val_loss",
        better="lower",
        setting="config.optimizer.lr",
        within="factor.optimizer",
    )
    arms = {}
    for name in OPTIMIZERS:
        if name not in best:
            raise ValueError(f"no finished tuning trial for optimizer {name!r}")
        k = round(math.log2(best[name]))
        tried = previous[(previous["stage"] == "tune") & (previous["factor.optimizer"] == name)]
        grid = sorted(int(v) for v in tried["factor.log2_lr"])
        if k in (grid[0], grid[-1]) and len(grid) > 2:
            log.warning("best rate of %s is at the edge of its grid (2^%d)", name, k)
        arms[name] = Arm(
            {"optimizer": {"name": name, "lr": 2.0**k}, "train": {"evaluate_test": True}},
            factors={"optimizer": name, "log2_lr": str(k)},
        )
    return arms


#: Which way each summary figure is better (None: neither — the best epoch and the late
#: progress describe a curve's shape).
METRICS = {
    "min_val_loss": "lower",
    "best_epoch": None,
    "final_val_loss": "lower",
    "final_val_acc": "higher",
    "epochs_to_target": "lower",
    "auc_val_loss": "lower",
    "late_progress": None,
    "final_test_acc": "higher",
    "test_acc": "higher",
    "test_loss": "lower",
    **{
        f"{figure}/{name}": "lower"
        for figure in ("quadratic_final_dist", "rosenbrock_final_dist", "saddle_escape_steps")
        for name in OPTIMIZERS
    },
}

STUDY = Study(
    name="optimizers",
    metrics=METRICS,
    question=(
        "Which optimizer gets an MLP on MNIST-1D to a low validation loss fastest, and does "
        "that speed carry over to test accuracy?"
    ),
    description=(
        "Eight optimizers from dlkit.optim train the same 40-256-256-10 ReLU MLP on MNIST-1D "
        "(Greydanus & Kobak). Following DeepOBS, each optimizer's learning rate is first tuned "
        "on a log2 grid with one seed against a validation split; each is then rerun at its "
        "best rate, paired by seed: seed s draws its own validation split, initialisation and "
        "batch order, the same for every optimizer, and seeds are added while a claim is "
        "undecided. "
        "Speed is the number of epochs to reach the target validation loss; test accuracy is "
        "measured once, for the weights of the best validation epoch. A toy stage draws every "
        "optimizer's path on three 2-D functions."
    ),
    data=(
        "MNIST-1D (4000 train / 1000 test, 40 features, 10 classes), generated offline by the "
        "mnist1d package with seed 0 (one fixed data set and test set); per seed, a fresh "
        "stratified 20% of the training part is the validation split."
    ),
    base_config=BASE_CONFIG,
    trial=mlp_trial,
    stages=[
        Stage(
            "tune",
            tune_arms(LR_GRID_LOG2),
            seeds=1,
            fixed_seeds=True,
            quick_arms=tune_arms(QUICK_LR_GRID_LOG2),
            nest="stage",
        ),
        Stage("final", best_rates, quick_seeds=2),
        Stage(
            "toy2d",
            {"trajectories": {}},
            quick_seeds=2,
            base_config=TOY2D_CONFIG,
            trial=toy2d_trial,
            quick={},
        ),
    ],
    quick={"train": {"epochs": 4}},
    claims=[
        Claim(
            id="adam_faster_than_sgd",
            text="Adam reaches the target validation loss in fewer epochs than plain SGD "
            "(Kingma & Ba 2014).",
            statistic="per seed, Adam's minus SGD's epochs to the target validation loss "
            "(never reached = epochs + 1), claimed below 0; a censored count, so a sign-flip "
            "test",
            evaluate=paired_comparison(
                "epochs_to_target",
                "adam",
                "sgd",
                better="lower",
                stage="final",
                test="permutation",
                censor="config.train.epochs",
            ),
        ),
        Claim(
            id="momentum_adam_same_test_acc",
            text="At tuned learning rates, Momentum and Adam end within 2 points of test "
            "accuracy of each other (Wilson et al. 2017; Schmidt et al. 2021).",
            statistic="per seed, Momentum's minus Adam's test accuracy, claimed within ±0.02 "
            "(two one-sided t-tests)",
            evaluate=paired_equivalence("test_acc", "momentum", "adam", margin=0.02, stage="final"),
        ),
        Claim(
            id="adagrad_late_progress_slower",
            text="AdaGrad's late-training progress (log ratio of training loss at half and at "
            "the end of training) is smaller than RMSprop's (Tieleman & Hinton 2012).",
            statistic="per seed, AdaGrad's minus RMSprop's late_progress, claimed below 0; "
            "heavy-tailed (a log ratio that jumps when the loss collapses), so a sign-flip test",
            evaluate=paired_comparison(
                "late_progress",
                "adagrad",
                "rmsprop",
                better="lower",
                stage="final",
                test="permutation",
            ),
        ),
        Claim(
            id="sgd_leaves_saddle_slower",
            text="From just off the saddle point of x² - y², plain SGD needs more steps than "
            "Momentum to get away (|y| >= 1) at the same learning rate (Dauphin et al. 2014).",
            statistic="per starting point (seed), Momentum's minus SGD's escape steps (never = "
            "201), claimed below 0; a censored count, so a sign-flip test",
            evaluate=paired_columns(
                "saddle_escape_steps/momentum",
                "saddle_escape_steps/sgd",
                better="lower",
                stage="toy2d",
                test="permutation",
                censor=201.0,
            ),
        ),
    ],
    plots=[
        Plot(
            "sweep",
            "Stage 1: best validation loss vs learning rate (one seed)",
            x="optimizer.lr",
            metric="min_val_loss",
            hue="factor.optimizer",
            log_x=True,
            stage="tune",
        ),
        Plot(
            "learning_curves",
            "Validation loss at tuned rates (mean, 95% CI over seeds)",
            metric="val_loss",
            hue="arm",
            stage="final",
        ),
        Plot(
            "learning_curves",
            "Training loss at tuned rates",
            metric="train_loss",
            hue="arm",
            log_y=True,
            stage="final",
        ),
        Plot(
            "final_metric",
            "Epochs to the target validation loss",
            metric="epochs_to_target",
            stage="final",
        ),
        Plot(
            "final_metric",
            "Test accuracy at the best validation epoch",
            metric="test_acc",
            stage="final",
        ),
        Plot(
            "trajectories_2d",
            "Optimizer paths on 2-D test functions",
            artifact="trajectories_2d",
            stage="toy2d",
        ),
    ],
)
