"""Weight decay and dropout against overfitting: the "Deep Learning from Scratch" set-up on
MNIST-1D.

Saito, *Deep Learning from Scratch* (2016), ch. 6.4, provokes overfitting on purpose: only
the first 300 MNIST training images, a 7-layer network (6 hidden layers of 100 ReLU units,
He initialisation), plain SGD with learning rate 0.01, batch 100. Without regularization the
training accuracy reaches almost 100 % while the test accuracy stays far below it; weight
decay (``ch06/overfit_weight_decay.py``: lambda = 0.1, 200 epochs) and dropout
(``ch06/overfit_dropout.py``: ratio 0.2, 301 epochs) shrink that gap, with a training
accuracy that no longer reaches 100 %. Weight decay goes back to Krogh & Hertz (1991),
dropout to Srivastava et al. (2014); both present theirs as improving generalization.

Here the data are MNIST-1D (Greydanus 2020; 40 positions, 10 classes), generated once (seed
0) and used without scaling, as in the paper's code. Per seed, 300 training samples and 500
validation samples are drawn (stratified, disjoint) from its 4000-sample training part; the
fixed 1000-sample test set gives the test accuracy. The seed also draws the initial weights,
the batch order and the dropout masks (split and training from two child streams of one
generator), and is shared across arms (paired comparisons); seeds are added while a claim is
undecided.

Every arm trains 200 epochs (the book's weight-decay budget; its dropout script runs 301).
L2 is an explicit penalty ``lam / 2 * sum W^2`` on the weights only, as the book's
``MultiLayerNet``; dropout follows every hidden ReLU. Each family (L2, dropout) has a small
grid of strengths that includes the book's value; per seed, the family's arm with the best
final *validation* accuracy is the family's chosen arm, and the claims pair it with the
unregularized arm of the same seed. Three more arms train on 1000 samples (no
regularization, and one fixed strength per family), a setting where the unregularized net
generalizes better, to show whether the sources' test-accuracy gains appear there.
Training accuracy is measured in evaluation mode (no dropout), so the gap
``train_acc - test_acc`` compares like with like.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dlkit import data, losses, nn, optim, regularizers, train
from studies.engine.claims import all_of, mean_threshold, paired_comparison, usable_rows
from studies.engine.spec import Arm, Claim, Plot, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: The book's strengths (ch06/overfit_weight_decay.py, ch06/overfit_dropout.py).
BOOK_L2 = 0.1
BOOK_DROPOUT = 0.2
#: Grids of the two families, weakest first (ties on validation go to the weakest).
L2_GRID = (0.01, 0.03, BOOK_L2)
DROPOUT_GRID = (0.05, 0.1, BOOK_DROPOUT)
L2_ARMS = tuple(f"l2_{lam:g}" for lam in L2_GRID)
DROPOUT_ARMS = tuple(f"dropout_{p:g}" for p in DROPOUT_GRID)
BOOK_L2_ARM = f"l2_{BOOK_L2:g}"
BOOK_DROPOUT_ARM = f"dropout_{BOOK_DROPOUT:g}"
#: A larger training set, where the unregularized net generalizes better: the fixed strengths
#: had the best validation accuracy of their family in a 2-seed pilot with 1000 samples.
N_LARGE = 1000
LARGE_L2, LARGE_DROPOUT = 0.03, 0.05
LARGE_ARMS = {
    "none": f"none_n{N_LARGE}",
    "l2": f"l2_{LARGE_L2:g}_n{N_LARGE}",
    "dropout": f"dropout_{LARGE_DROPOUT:g}_n{N_LARGE}",
}
#: The study's reading of the book's "almost 100 %" training accuracy and of a test accuracy
#: "far below" it (the book gives curves, not thresholds).
FITS_TRAIN_ACC = 0.95
LARGE_GAP = 0.30
#: Pocock-type boundaries: the book-strength effects are large and can stop at the first look,
#: which O'Brien-Fleming boundaries (with Holm across seven claims) never allow at 5 seeds.
DESIGN = SequentialDesign(spending="pocock")


@functools.cache
def _mnist1d(seed: int) -> data.Dataset:
    """The MNIST-1D set generated with ``seed``, unscaled, loaded once per process."""
    return data.load("mnist1d", seed=seed, scale="none")


def split_mnist1d(
    rng: np.random.Generator, *, n_train: int, n_val: int, data_seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Draw a small training set and a validation set; the test set is MNIST-1D's own.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws both stratified, disjoint subsets of the 4000-sample training part.
    n_train, n_val : int
        Sizes of the two subsets.
    data_seed : int
        Seed the MNIST-1D generator ran with (one fixed data set and test set).

    Returns
    -------
    X_train : ndarray, shape (n_train, 40), float32
    y_train : ndarray, shape (n_train,)
    X_val : ndarray, shape (n_val, 40)
    y_val : ndarray, shape (n_val,)
    X_test : ndarray, shape (1000, 40)
    y_test : ndarray, shape (1000,)
    """
    ds = _mnist1d(data_seed)
    X, X_rest, y, y_rest = train_test_split(
        ds.X_train,
        ds.y_train,
        train_size=n_train,
        stratify=ds.y_train,
        random_state=int(rng.integers(2**32)),
    )
    X_val, _, y_val, _ = train_test_split(
        X_rest, y_rest, train_size=n_val, stratify=y_rest, random_state=int(rng.integers(2**32))
    )
    return X, y, X_val, y_val, ds.X_test, ds.y_test


def build_model(hidden: list[int], dropout: float, rng: np.random.Generator) -> nn.Sequential:
    """Dense-ReLU(-Dropout) stack 40 -> hidden... -> 10 with He (Kaiming-normal) weights, as
    the book's ``weight_init_std='relu'``."""
    return nn.mlp([40, *hidden, 10], init="kaiming_normal", dropout=dropout, rng=rng)


def weight_norms(model: nn.Sequential) -> list[float]:
    """Frobenius norm of each Dense weight, input layer first (shape: n_dense)."""
    return [
        float(np.linalg.norm(layer.weight.data))
        for layer in model.layers
        if isinstance(layer, nn.Dense)
    ]


def trial(config: dict) -> TrialResult:
    """Train the deep net on the seed's 300 MNIST-1D samples with the arm's regularization.

    History, every ``eval_every`` epochs and at the last: ``train_loss`` and ``train_acc``
    (the epoch's mean in training mode, as SGD saw them), ``train_eval_acc`` (evaluation
    mode), ``val_acc``, ``test_acc``, ``gap`` (train_eval_acc - test_acc) and
    ``weight_norm/layer_K`` (Frobenius norm of Dense layer K's weight, K = 0 at the input).
    Summary (names distinct from the history's, so neither hides the other in the store):
    ``final_train_acc`` (evaluation mode), ``final_val_acc``, ``final_test_acc``,
    ``final_gap``, ``weight_norm`` (norm of all weights together) and ``best_val_acc``.
    """
    split_rng, rng = np.random.default_rng(config["seed"]).spawn(2)
    dcfg = config["data"]
    X, y, X_val, y_val, X_test, y_test = split_mnist1d(
        split_rng, n_train=dcfg["n_train"], n_val=dcfg["n_val"], data_seed=dcfg["seed"]
    )
    model = build_model(config["model"]["hidden"], config["model"]["dropout"], rng)
    lam = config["regularizer"]["l2"]
    penalty = regularizers.L2(lam) if lam else None
    opt = optim.build("sgd", model.parameters(), lr=config["optimizer"]["lr"])
    loss = losses.CrossEntropyLoss()
    epochs, every = config["train"]["epochs"], config["eval_every"]

    def measure(epoch: int, record: dict, net) -> None:
        # Evaluating 1800 samples costs several epochs of 300: do it every few epochs.
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
    datasets = data_inputs(
        "mnist1d",
        f"dlkit.data.load('mnist1d', seed={dcfg['seed']}), {dcfg['n_train']} training and "
        f"{dcfg['n_val']} validation samples drawn per seed",
        train=(X, y),
        validation=(X_val, y_val),
        test=(X_test, y_test),
    )
    if history.diverged:
        return TrialResult.from_history(history, records=records, datasets=datasets)
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
    return TrialResult.from_history(history, summary, records=records, datasets=datasets)


# ----------------------------------------------------------------------------- claims


def choose_on_validation(summaries, family: Sequence[str]):
    """Per seed, the arm of ``family`` with the best final validation accuracy.

    Ties go to the first arm of ``family`` (the weakest strength). Only seeds where every
    arm of the family and ``none`` have a usable, finite validation accuracy are kept, so a
    seed's choice never changes as seeds are added.

    Returns
    -------
    pandas.Series
        Index: seed (int, increasing); values: the chosen arm's name.
    """
    rows = usable_rows(summaries)
    arms = [*family, "none"]
    val = rows[rows["arm"].isin(arms)].pivot_table(
        index="seed", columns="arm", values="final_val_acc"
    )
    val = val.reindex(columns=arms).dropna().sort_index()
    chosen = [family[int(np.argmax(v))] for v in val[list(family)].to_numpy(float)]
    return pd.Series(chosen, index=val.index.astype(int), dtype=object)


def chosen_vs_none(family: Sequence[str], metric: str, *, better: str, name: str):
    """Evaluator of "the family's validation-chosen arm beats ``none`` on ``metric``".

    Per seed, ``metric`` of the arm :func:`choose_on_validation` picks minus ``none``'s,
    claimed below 0 (``better="lower"``) or above 0 (``better="higher"``) by a paired t-test.
    Numbers: the two means and how often each arm was chosen.
    """
    family = tuple(family)
    alternative = {"lower": "less", "higher": "greater"}[better]

    def evaluate(summaries, histories) -> Evidence:
        chosen = choose_on_validation(summaries, family)
        rows = usable_rows(summaries)
        table = rows[rows["arm"].isin([*family, "none"])].pivot_table(
            index="seed", columns="arm", values=metric
        )
        a = np.array([table.at[s, arm] for s, arm in chosen.items()], dtype=float)
        b = np.array([table.at[s, "none"] for s in chosen.index], dtype=float)
        keep = np.isfinite(a) & np.isfinite(b)
        comparison = Comparison(
            a[keep] - b[keep],
            chosen.index[keep],
            alternative,
            "t",
            label=f"{name} (chosen on validation) - none {metric}",
            arms=(*family, "none"),
        )
        counts = {arm: int((chosen[keep] == arm).sum()) for arm in family}
        numbers = {
            "mean_chosen": float(a[keep].mean()) if keep.any() else math.nan,
            "mean_none": float(b[keep].mean()) if keep.any() else math.nan,
            **{f"chosen.{arm}": float(n) for arm, n in counts.items() if n},
        }
        detail = "Chosen per seed: " + ", ".join(f"{a} x{n}" for a, n in counts.items() if n)
        return Evidence([comparison], numbers=numbers, detail=detail + "." if keep.any() else "")

    return evaluate


def overfits_without_regularization(summaries, histories) -> Evidence:
    """Both: per seed, ``none``'s final train accuracy claimed above ``FITS_TRAIN_ACC`` and its
    gap above ``LARGE_GAP`` (one-sample t-tests against the thresholds)."""
    fits = mean_threshold("final_train_acc", threshold=FITS_TRAIN_ACC, above=True, arm="none")
    large = mean_threshold("final_gap", threshold=LARGE_GAP, above=True, arm="none")
    return all_of([("train_acc", fits(summaries, histories)), ("gap", large(summaries, histories))])


def shrinks_gap(book_arm: str, family: Sequence[str], name: str):
    """Evaluator of "``name`` shrinks the gap": both the book's strength (``book_arm``) and
    the validation-chosen strength have a smaller final gap than ``none`` (paired by seed)."""
    at_book = paired_comparison("final_gap", book_arm, "none", better="lower")
    at_chosen = chosen_vs_none(family, "final_gap", better="lower", name=name)

    def evaluate(summaries, histories) -> Evidence:
        return all_of(
            [("book", at_book(summaries, histories)), ("chosen", at_chosen(summaries, histories))]
        )

    return evaluate


# ----------------------------------------------------------------------------- the study


def _arms() -> dict[str, Arm]:
    arms = {"none": Arm({}, factors={"regularizer": "none", "strength": "0"})}
    for lam, name in zip(L2_GRID, L2_ARMS, strict=True):
        arms[name] = Arm(
            {"regularizer": {"l2": lam}}, factors={"regularizer": "l2", "strength": f"{lam:g}"}
        )
    for p, name in zip(DROPOUT_GRID, DROPOUT_ARMS, strict=True):
        arms[name] = Arm(
            {"model": {"dropout": p}}, factors={"regularizer": "dropout", "strength": f"{p:g}"}
        )
    large = {"data": {"n_train": N_LARGE}}
    tag = f" (n={N_LARGE})"
    arms[LARGE_ARMS["none"]] = Arm(large, factors={"regularizer": "none" + tag, "strength": "0"})
    arms[LARGE_ARMS["l2"]] = Arm(
        {**large, "regularizer": {"l2": LARGE_L2}},
        factors={"regularizer": "l2" + tag, "strength": f"{LARGE_L2:g}"},
    )
    arms[LARGE_ARMS["dropout"]] = Arm(
        {**large, "model": {"dropout": LARGE_DROPOUT}},
        factors={"regularizer": "dropout" + tag, "strength": f"{LARGE_DROPOUT:g}"},
    )
    return arms


def raises_test_acc_with_more_data(summaries, histories) -> Evidence:
    """Both: with ``N_LARGE`` training samples, the L2 and the dropout arm each have a higher
    final test accuracy than the unregularized arm (paired by seed)."""
    return all_of(
        [
            (
                kind,
                paired_comparison(
                    "final_test_acc", LARGE_ARMS[kind], LARGE_ARMS["none"], better="higher"
                )(summaries, histories),
            )
            for kind in ("l2", "dropout")
        ]
    )


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

SAITO = "Saito 2016, Deep Learning from Scratch"
SAITO_CODE = "oreilly-japan/deep-learning-from-scratch"
SAITO_SETTING = (
    "first 300 MNIST training images (pixels / 255), 7-layer net of 6 x 100 ReLU units with He "
    "init, SGD lr 0.01, batch 100 drawn with replacement; weight decay lambda 0.1 over 200 "
    "epochs, dropout ratio 0.2 over 301 epochs"
)
TEST_ACC_EXPLANATION = (
    "The setting differs where it matters. On 300 MNIST-1D samples (30 per class of "
    "translated, sheared templates) no arm learns much that transfers: the 'Final test "
    "accuracy' plot shows every 300-sample arm near the unregularized one, so any test-"
    "accuracy gain of a validation-chosen strength is small against the seed-to-seed noise, "
    "while the regularizers shrink the gap mostly by lowering the training accuracy (the "
    "'Training accuracy' curves; the book-strength parts of the two gap claims). With 1000 "
    "training samples, where the unregularized net generalizes better, the _n1000 arms "
    "(claim regularization_raises_test_acc_n1000) show whether the gain the sources report "
    "appears there."
)

STUDY = Study(
    name="regularization",
    metrics=METRICS,
    question=(
        "Do weight decay and dropout shrink the train-test gap of a deep net that overfits 300 "
        "MNIST-1D samples, and do they raise its test accuracy?"
    ),
    description=(
        "The overfitting set-up of Deep Learning from Scratch (ch. 6.4) on MNIST-1D: 300 "
        "training samples, 6 hidden layers of 100 ReLU units, He initialisation, plain SGD "
        "(learning rate 0.01, batch 100, 200 epochs for every arm). Arms: no regularization; "
        "an explicit L2 penalty lam/2 |W|^2 on the weights (lam 0.01, 0.03 and the book's "
        "0.1); dropout after every hidden ReLU (ratio 0.05, 0.1 and the book's 0.2). "
        "Training accuracy is measured in evaluation mode; the gap is training minus test "
        "accuracy. Per seed, the strength of each family with the best validation accuracy "
        "(500 held-out samples, never the test set) is that family's chosen arm; the gap "
        "claims need both the book's strength and the chosen one to shrink the gap, the "
        "test-accuracy claims judge the chosen one. Three arms suffixed _n1000 repeat no "
        "regularization, L2 0.03 and dropout 0.05 with 1000 training samples."
    ),
    data=(
        "MNIST-1D (Greydanus 2020; 40 positions, 10 classes) generated once with seed 0, "
        "unscaled: per seed a stratified draw of 300 training and 500 validation samples from "
        "its 4000-sample training part (1000 training samples for the _n1000 arms); its fixed "
        "1000-sample test set for test accuracy."
    ),
    base_config={
        "data": {"seed": 0, "n_train": 300, "n_val": 500},
        "model": {"hidden": [100] * 6, "dropout": 0.0},
        "regularizer": {"l2": 0.0},
        "optimizer": {"name": "sgd", "lr": 0.01},
        "train": {"epochs": 200, "batch_size": 100},
        "eval_every": 10,
    },
    trial=trial,
    arms=_arms(),
    quick={"train": {"epochs": 30}, "eval_every": 5},
    quick_seeds=2,
    design=DESIGN,
    claims=[
        Claim(
            "unregularized_overfits",
            f"Without regularization the net fits its 300 training samples (training accuracy "
            f">= {FITS_TRAIN_ACC:g}) while its test accuracy stays far below (gap >= "
            f"{LARGE_GAP:g}).",
            "per seed, the unregularized net's final training accuracy (evaluation mode) "
            f"claimed above {FITS_TRAIN_ACC:g} and its gap (training - test accuracy) above "
            f"{LARGE_GAP:g}, both needed; the thresholds are this study's reading of the "
            "book's 'almost 100 %' and 'far below'",
            overfits_without_regularization,
            source=(
                f"{SAITO}, sec. 6.4.1 (overfitting), code {SAITO_CODE}: "
                "ch06/overfit_weight_decay.py with weight_decay_lambda = 0: training accuracy "
                "near 100 %, test accuracy far below it"
            ),
            setting=SAITO_SETTING,
            expected="supported",
        ),
        Claim(
            "weight_decay_shrinks_gap",
            f"Weight decay shrinks the gap, at the book's lambda = {BOOK_L2:g} and at the "
            "strength chosen on validation (paired with no regularization).",
            f"per seed, {BOOK_L2_ARM}'s final gap minus none's, and the validation-chosen L2 "
            "arm's final gap minus none's, both claimed below 0",
            shrinks_gap(BOOK_L2_ARM, L2_ARMS, "l2"),
            source=(
                f"{SAITO}, sec. 6.4.2 (weight decay), code {SAITO_CODE}: "
                "ch06/overfit_weight_decay.py (weight_decay_lambda = 0.1, max_epochs = 201) "
                "and common/multi_layer_net.py (loss + 0.5 lambda sum W^2, gradient + lambda W)"
                "; Krogh & Hertz 1991, A Simple Weight Decay Can Improve Generalization"
            ),
            setting=SAITO_SETTING,
            expected="supported",
        ),
        Claim(
            "dropout_shrinks_gap",
            f"Dropout shrinks the gap, at the book's ratio {BOOK_DROPOUT:g} and at the ratio "
            "chosen on validation (paired with no regularization).",
            f"per seed, {BOOK_DROPOUT_ARM}'s final gap minus none's, and the validation-chosen "
            "dropout arm's final gap minus none's, both claimed below 0",
            shrinks_gap(BOOK_DROPOUT_ARM, DROPOUT_ARMS, "dropout"),
            source=(
                f"{SAITO}, sec. 6.4.3 (dropout), code {SAITO_CODE}: ch06/overfit_dropout.py "
                "(dropout_ratio = 0.2, epochs = 301, Trainer with SGD lr 0.01); Srivastava et "
                "al. 2014, Dropout: A Simple Way to Prevent Neural Networks from Overfitting, "
                "JMLR 15 (abstract: dropout 'significantly reduces overfitting')"
            ),
            setting=SAITO_SETTING,
            expected="supported",
        ),
        Claim(
            "weight_decay_shrinks_weights",
            "Weight decay at the strength chosen on validation shrinks the weights.",
            "per seed, the validation-chosen L2 arm's final norm of all weights minus none's, "
            "claimed below 0",
            chosen_vs_none(L2_ARMS, "weight_norm", better="lower", name="l2"),
            source=(
                f"{SAITO}, sec. 6.4.2 (weight decay penalizes large weights); Krogh & Hertz "
                "1991, A Simple Weight Decay Can Improve Generalization (NIPS 4)"
            ),
            setting=SAITO_SETTING,
            expected="supported",
        ),
        Claim(
            "weight_decay_raises_test_acc",
            "Weight decay at the strength chosen on validation raises the test accuracy over "
            "no regularization.",
            "per seed, the validation-chosen L2 arm's final test accuracy minus none's, "
            "claimed above 0",
            chosen_vs_none(L2_ARMS, "final_test_acc", better="higher", name="l2"),
            source=(
                "Krogh & Hertz 1991, A Simple Weight Decay Can Improve Generalization (NIPS 4): "
                "weight decay improves generalization, as the title states"
            ),
            setting=(
                "a quadratic penalty on the weights of a network trained by gradient descent "
                "(title and year only: the paper itself was not read for this study)"
            ),
            expected="supported",
            explanation=TEST_ACC_EXPLANATION,
        ),
        Claim(
            "dropout_raises_test_acc",
            "Dropout at the ratio chosen on validation raises the test accuracy over no "
            "regularization.",
            "per seed, the validation-chosen dropout arm's final test accuracy minus none's, "
            "claimed above 0",
            chosen_vs_none(DROPOUT_ARMS, "final_test_acc", better="higher", name="dropout"),
            source=(
                "Srivastava et al. 2014, Dropout: A Simple Way to Prevent Neural Networks from "
                "Overfitting, JMLR 15 (abstract: dropout improves the performance of neural "
                "networks on supervised tasks in vision, speech, documents and biology)"
            ),
            setting=(
                "deep nets on benchmark data sets in vision, speech recognition, document "
                "classification and computational biology (from the abstract; the paper's "
                "body was not read for this study)"
            ),
            expected="supported",
            explanation=TEST_ACC_EXPLANATION,
        ),
        Claim(
            "regularization_raises_test_acc_n1000",
            f"With {N_LARGE} training samples, weight decay (lambda {LARGE_L2:g}) and dropout "
            f"(ratio {LARGE_DROPOUT:g}) each raise the test accuracy over no regularization.",
            f"per seed, {LARGE_ARMS['l2']}'s and {LARGE_ARMS['dropout']}'s final test accuracy "
            f"minus {LARGE_ARMS['none']}'s, both claimed above 0",
            raises_test_acc_with_more_data,
            source=(
                "Srivastava et al. 2014, Dropout: A Simple Way to Prevent Neural Networks from "
                "Overfitting, JMLR 15 (abstract); Krogh & Hertz 1991, A Simple Weight Decay Can "
                "Improve Generalization (NIPS 4, title)"
            ),
            setting=(
                "deep nets on benchmark data sets large enough for the unregularized net to "
                "generalize (from the abstract and title; the papers' bodies were not read for "
                "this study)"
            ),
            expected="supported",
        ),
    ],
    plots=[
        Plot("learning_curves", "Training accuracy (evaluation mode)", metric="train_eval_acc"),
        Plot("learning_curves", "Test accuracy", metric="test_acc"),
        Plot("learning_curves", "Generalization gap (train - test accuracy)", metric="gap"),
        Plot("final_metric", "Final generalization gap", metric="final_gap"),
        Plot("final_metric", "Final test accuracy", metric="final_test_acc"),
        Plot(
            "sweep",
            "Final gap against strength, per regularizer",
            x="strength",
            metric="final_gap",
            hue="factor.regularizer",
        ),
        Plot(
            "sweep",
            "Final validation accuracy against strength (what the choice is made on)",
            x="strength",
            metric="final_val_acc",
            hue="factor.regularizer",
        ),
        Plot(
            "per_layer",
            "Weight norm per layer (last epoch)",
            prefix="weight_norm/layer_",
            epoch="last",
        ),
    ],
)
