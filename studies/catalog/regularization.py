"""Dropout versus L2 (and L1) against overfitting: the "Deep Learning from Scratch" set-up.

Saito, *Deep Learning from Scratch* (2016), ch. 6.4: a deep ReLU network (6 hidden layers of
100, He initialisation, plain SGD) trained on only 300 MNIST images fits them perfectly while
its test accuracy stays far lower; weight decay (Krogh & Hertz 1991) and dropout (Srivastava
et al. 2014) both shrink that gap. Here the images are scikit-learn's 8x8 digits: 300
training samples (stratified), 500 validation and the remaining 997 for test, a fresh split
per seed. The seed also draws the initial weights, the batch order and the dropout masks
(split and training from two child streams of one generator), and is shared across arms
(paired comparisons); seeds are added while a claim is undecided.

Penalties are explicit terms (``dlkit.regularizers``) on the weights only, never biases:
``L2(lam)`` adds ``lam / 2 * sum w^2``, ``L1(lam)`` adds ``lam * sum |w|``. Dropout follows
every hidden ReLU. Accuracies on the training set are measured in evaluation mode (no
dropout), so the generalisation gap ``train_acc - test_acc`` compares like with like.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import train_test_split

from dlkit import data, losses, nn, optim, regularizers, train
from studies.engine.claims import all_of, mean_threshold, paired_comparison, usable_rows
from studies.engine.spec import Arm, Claim, Plot, Study, TrialResult
from studies.stats import Comparison, Evidence

N_TRAIN = 300
N_VAL = 500
#: Grids of the regularized arms; the middle value of each is the one the claims single out.
L2_GRID = (0.01, 0.03, 0.1)
DROPOUT_GRID = (0.1, 0.2, 0.3)
L1_LAM = 1e-3
L2_ARM = f"l2_{L2_GRID[1]:g}"
DROPOUT_ARM = f"dropout_{DROPOUT_GRID[1]:g}"
GAP_SHRINK = 0.30


def split_digits(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """300 training, 500 validation and 997 test digits, scaled to [0, 1] on the 300.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws both stratified splits.

    Returns
    -------
    X_train : ndarray, shape (300, 64), float32
    y_train : ndarray, shape (300,)
    X_val : ndarray, shape (500, 64)
    y_val : ndarray, shape (500,)
    X_test : ndarray, shape (997, 64)
    y_test : ndarray, shape (997,)
    """
    n_total = 1797
    test_size = (n_total - N_TRAIN - 0.5) / n_total
    ds = data.load("digits", seed=int(rng.integers(2**32)), test_size=test_size, scale="minmax")
    if len(ds.y_train) != N_TRAIN:
        raise ValueError(f"expected {N_TRAIN} training digits, got {len(ds.y_train)}")
    X_val, X_test, y_val, y_test = train_test_split(
        ds.X_test,
        ds.y_test,
        train_size=N_VAL,
        stratify=ds.y_test,
        random_state=int(rng.integers(2**32)),
    )
    return ds.X_train, ds.y_train, X_val, y_val, X_test, y_test


def build_model(hidden: list[int], dropout: float, rng: np.random.Generator) -> nn.Sequential:
    """Dense-ReLU(-Dropout) stack 64 -> hidden... -> 10, Kaiming-normal weights."""
    return nn.mlp([64, *hidden, 10], init="kaiming_normal", dropout=dropout, rng=rng)


def weight_norms(model: nn.Sequential) -> list[float]:
    """Frobenius norm of each Dense weight, input layer first (shape: n_dense)."""
    return [
        float(np.linalg.norm(layer.weight.data))
        for layer in model.layers
        if isinstance(layer, nn.Dense)
    ]


def trial(config: dict) -> TrialResult:
    """Train the deep net on 300 digits with the arm's regularization.

    History, every ``eval_every`` epochs and at the last: ``train_loss`` and ``train_acc``
    (the epoch's mean in training mode, as SGD saw them), ``train_eval_acc`` (evaluation
    mode), ``val_acc``, ``test_acc``, ``gap`` (train_eval_acc - test_acc) and
    ``weight_norm/layer_K`` (Frobenius norm of Dense layer K's weight, K = 0 at the input).
    Summary (names distinct from the history's, so neither hides the other in the store):
    ``final_train_acc`` (evaluation mode), ``final_val_acc``, ``final_test_acc``,
    ``final_gap``, ``weight_norm`` (norm of all weights together) and ``best_val_acc``.
    """
    split_rng, rng = np.random.default_rng(config["seed"]).spawn(2)
    X, y, X_val, y_val, X_test, y_test = split_digits(split_rng)
    model = build_model(config["model"]["hidden"], config["model"]["dropout"], rng)
    reg = config["regularizer"]
    penalty = None
    if reg["l2"] and reg["l1"]:
        raise ValueError(f"give one of l2 or l1, got {reg!r}")
    if reg["l2"]:
        penalty = regularizers.L2(reg["l2"])
    elif reg["l1"]:
        penalty = regularizers.L1(reg["l1"])
    opt = optim.build("sgd", model.parameters(), lr=config["optimizer"]["lr"])
    loss = losses.CrossEntropyLoss()
    epochs, every = config["train"]["epochs"], config["eval_every"]

    def measure(epoch: int, record: dict, net) -> None:
        # Evaluating 1800 samples costs more than an epoch of 300: do it every few epochs.
        if epoch % every and epoch != epochs:
            return
        record["train_eval_acc"] = train.evaluate(net, loss, X, y)["acc"]
        record["val_acc"] = train.evaluate(net, loss, X_val, y_val)["acc"]
        record["test_acc"] = train.evaluate(net, loss, X_test, y_test)["acc"]
        record["gap"] = record["train_eval_acc"] - record["test_acc"]
        for k, norm in enumerate(weight_norms(net)):
            record[f"weight_norm/layer_{k}"] = norm

    history = train.fit(
        model,
        loss,
        opt,
        X,
        y,
        epochs=epochs,
        batch_size=config["train"]["batch_size"],
        rng=rng,
        regularizer=penalty,
        callbacks=[measure],
    )
    # Keep the measured epochs only (the curves need no more, and the store stays small);
    # "lr" is constant and "time" is machine noise: neither belongs in the study's record.
    records = [
        {k: v for k, v in rec.items() if k not in ("lr", "time")}
        for rec in history
        if "gap" in rec or rec.get("diverged")
    ]
    if history.diverged:
        return TrialResult.from_history(history, records=records)
    last = records[-1]
    norms = weight_norms(model)
    summary = {
        "final_train_acc": last["train_eval_acc"],
        "final_val_acc": last["val_acc"],
        "final_test_acc": last["test_acc"],
        "final_gap": last["gap"],
        "weight_norm": float(math.sqrt(sum(n * n for n in norms))),
        "best_val_acc": max(r["val_acc"] for r in records),
    }
    return TrialResult.from_history(history, summary, records=records)


# ----------------------------------------------------------------------------- claims


#: The two halves of "the unregularized net overfits": it fits the training set, and its gap
#: is large.
FITS_TRAINING = mean_threshold("final_train_acc", threshold=0.98, above=True, arm="none")
LARGE_GAP = mean_threshold("final_gap", threshold=0.10, above=True, arm="none")


def overfits_without_regularization(summaries, histories) -> Evidence:
    """Both: per seed, ``none``'s final train accuracy claimed above 0.98 and its gap above
    0.10 (one-sample t-tests against the thresholds)."""
    return all_of(
        [
            ("train_acc", FITS_TRAINING(summaries, histories)),
            ("gap", LARGE_GAP(summaries, histories)),
        ]
    )


def gap_shrinks(arm: str):
    """Evaluator of "``arm`` shrinks the gap of ``none`` by at least 30%": per seed,
    ``gap_arm - 0.7 gap_none``, claimed below 0 (a paired t-test)."""

    def evaluate(summaries, histories) -> Evidence:
        rows = usable_rows(summaries)
        table = rows[rows["arm"].isin([arm, "none"])].pivot_table(
            index="seed", columns="arm", values="final_gap"
        )
        table = table.reindex(columns=[arm, "none"]).dropna()
        a, b = table[arm].to_numpy(float), table["none"].to_numpy(float)
        comparison = Comparison(
            a - (1 - GAP_SHRINK) * b,
            table.index.astype(int),
            "less",
            "t",
            label=f"{arm} gap - {1 - GAP_SHRINK:g} x none gap",
            arms=(arm, "none"),
        )
        numbers = {"mean_shrink": float(1 - a.mean() / b.mean()) if a.size else math.nan}
        return Evidence([comparison], numbers=numbers)

    return evaluate


def both_shrink_gap(summaries, histories) -> Evidence:
    """L2 and dropout (the grids' middle arms) each shrink the gap by >= 30%."""
    return all_of([(arm, gap_shrinks(arm)(summaries, histories)) for arm in (L2_ARM, DROPOUT_ARM)])


def best_regularized_beats_none(summaries, histories) -> Evidence:
    """The regularized arm chosen on validation accuracy has a higher test accuracy than
    ``none``.

    Per seed, the regularized arm with the best final *validation* accuracy in that seed (ties
    to the first in arm order) is chosen, and its test accuracy minus ``none``'s is the value;
    claimed above 0 (a paired t-test). Choosing on validation keeps the test comparison
    honest, and choosing within the seed keeps each value fixed as seeds are added. Seeds
    where an arm has no usable value are left out.
    """
    rows = usable_rows(summaries)
    arms = list(dict.fromkeys(rows["arm"]))
    regularized = [a for a in arms if a != "none"]
    val = rows.pivot_table(index="seed", columns="arm", values="final_val_acc")
    test = rows.pivot_table(index="seed", columns="arm", values="final_test_acc")
    val = val.reindex(columns=regularized + ["none"]).dropna()
    test = test.reindex(index=val.index, columns=regularized + ["none"])
    chosen = [regularized[int(np.argmax(v))] for v in val[regularized].to_numpy(float)]
    values = np.array(
        [test.at[seed, arm] - test.at[seed, "none"] for seed, arm in zip(val.index, chosen)]
    )
    keep = np.isfinite(values)
    comparison = Comparison(
        values[keep],
        val.index[keep].astype(int),
        "greater",
        "t",
        label="best-on-validation regularized arm - none final_test_acc",
        arms=arms,
    )
    counts = {arm: chosen.count(arm) for arm in dict.fromkeys(chosen)}
    numbers = {f"chosen.{arm}": float(n) for arm, n in counts.items()}
    detail = "Chosen per seed: " + ", ".join(f"{a} x{n}" for a, n in counts.items()) + "."
    return Evidence([comparison], numbers=numbers, detail=detail if counts else "")


# ----------------------------------------------------------------------------- the study


def _arms() -> dict[str, Arm]:
    arms = {"none": Arm({}, factors={"regularizer": "none"})}
    for lam in L2_GRID:
        arms[f"l2_{lam:g}"] = Arm({"regularizer": {"l2": lam}}, factors={"regularizer": "l2"})
    for p in DROPOUT_GRID:
        arms[f"dropout_{p:g}"] = Arm({"model": {"dropout": p}}, factors={"regularizer": "dropout"})
    lam, p = L2_GRID[1], DROPOUT_GRID[1]
    arms[f"l2_{lam:g}+dropout_{p:g}"] = Arm(
        {"regularizer": {"l2": lam}, "model": {"dropout": p}}, factors={"regularizer": "both"}
    )
    arms[f"l1_{L1_LAM:g}"] = Arm({"regularizer": {"l1": L1_LAM}}, factors={"regularizer": "l1"})
    return arms


#: Which way each summary figure is better (None: neither — in an overfitting study a higher
#: training accuracy is no merit, and the weight norm is what the regularizers act on).
METRICS = {
    "final_train_acc": None,
    "final_val_acc": "higher",
    "final_test_acc": "higher",
    "final_gap": "lower",
    "weight_norm": None,
    "best_val_acc": "higher",
}

STUDY = Study(
    name="regularization",
    metrics=METRICS,
    question=(
        "Do L2 weight decay and dropout shrink the train-test gap of a deep net trained on "
        "300 digits, and which generalizes best?"
    ),
    description=(
        "The overfitting set-up of Deep Learning from Scratch (ch. 6.4) on scikit-learn's 8x8 "
        "digits: 300 training samples, 6 hidden layers of 100 ReLU units, Kaiming-normal "
        "initialisation, plain SGD (batch 100, 200 epochs, learning rate 0.05: the book's 0.01 "
        "leaves the dropout arms far from fitting the training set in 200 epochs). Arms: no "
        "regularization; explicit L2 penalties (lam/2 |W|^2 on the weights); dropout after "
        "every hidden ReLU; L2 with dropout; an L1 penalty. Train accuracy is measured in "
        "evaluation mode; the gap is train minus test accuracy; the claims single out the "
        "middle value of each grid, and the best regularized arm is chosen on a separate "
        "validation set, never on the test set."
    ),
    data=(
        "sklearn digits (8x8, 10 classes): per seed a stratified split into 300 training, 500 "
        "validation and 997 test images, min-max scaled on the 300."
    ),
    base_config={
        "model": {"hidden": [100] * 6, "dropout": 0.0},
        "regularizer": {"l2": 0.0, "l1": 0.0},
        "optimizer": {"name": "sgd", "lr": 0.05},
        "train": {"epochs": 200, "batch_size": 100},
        "eval_every": 5,
    },
    trial=trial,
    arms=_arms(),
    quick={"train": {"epochs": 30}},
    quick_seeds=2,
    claims=[
        Claim(
            "unregularized_overfits",
            "Without regularization the net fits the 300 training digits (train accuracy "
            ">= 0.98) with a generalization gap >= 0.10.",
            "per seed, the unregularized net's final train accuracy (evaluation mode) claimed "
            "above 0.98 and its gap (train - test accuracy) above 0.10, both needed",
            overfits_without_regularization,
        ),
        Claim(
            "l2_and_dropout_shrink_gap",
            f"L2 ({L2_ARM}) and dropout ({DROPOUT_ARM}) each shrink the gap by at least 30% "
            "(paired across seeds).",
            "per arm and seed, gap_arm - 0.7 gap_none, claimed below 0 for both arms",
            both_shrink_gap,
        ),
        Claim(
            "l2_shrinks_weights",
            f"L2 ({L2_ARM}) shrinks the weight norm.",
            "per seed, the L2 arm's minus the unregularized arm's final norm of all weights, "
            "claimed below 0",
            paired_comparison("weight_norm", L2_ARM, "none", better="lower"),
        ),
        Claim(
            "best_regularized_beats_none",
            "The best regularized arm (chosen on validation accuracy) has a higher test "
            "accuracy than no regularization.",
            "per seed, the test accuracy of the regularized arm with that seed's best "
            "validation accuracy minus the unregularized arm's, claimed above 0",
            best_regularized_beats_none,
        ),
    ],
    plots=[
        Plot("learning_curves", "Training accuracy (evaluation mode)", metric="train_eval_acc"),
        Plot("learning_curves", "Test accuracy", metric="test_acc"),
        Plot("learning_curves", "Generalization gap (train - test accuracy)", metric="gap"),
        Plot("final_metric", "Final generalization gap", metric="final_gap"),
        Plot("final_metric", "Final test accuracy", metric="final_test_acc"),
        Plot(
            "per_layer",
            "Weight norm per layer (last epoch)",
            prefix="weight_norm/layer_",
            epoch="last",
        ),
    ],
)
