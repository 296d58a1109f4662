"""MNIST-1D baselines: do logistic regression, an MLP and a CNN reproduce the paper's table,
and does shuffling the sequence hurt only the model with a spatial prior?

Greydanus (2020), "Scaling Down Deep Learning" (abstract) and the table of the mnist1d
repository's README: on MNIST-1D (4000 train, 1000 test, 40 positions, 10 classes) logistic
regression reaches about 32 % test accuracy, an MLP about 68 % and a CNN about 94 %.
Shuffling the 40 positions by one fixed permutation (shuffle_seq=True, as in Zhang et al.
2017) leaves the permutation-invariant models where they were and drops the CNN to about
56 %, because its convolutions assume neighbouring positions are related.

Models and training follow the paper's code, except that the repository's MLP adds a residual
connection around its second layer, left out here: MLP 40-100-100-10 with ReLU; CNN of three
Conv1d layers with 25 channels (kernel 5 stride 2 padding 1, then kernel 3 stride 2
padding 1 twice) and ReLU, flattened (25 x 5 = 125) into a Dense layer to 10 classes; Adam
with learning rate 1e-2, batch 100, 6000 steps (150 epochs; the repository's train.py
defaults to 8000); PyTorch's default layer
initialisation (init="standard", U[-1/sqrt(fan_in), 1/sqrt(fan_in)]). The data set is
generated once, as in the paper (generator seed 42), without further scaling; a trial's seed
draws its own stratified 4000 / 1000 train/test split of those 5000 samples (the same rows
for the original and the shuffled sequences), the weights and the batch order, all shared by
the arms of that seed. Seeds are added while a claim is undecided, with Pocock-type
boundaries (the paper's gaps are large and the CNN is the costliest trial of the catalogue,
so the design may stop at the first look). The curves are on the
test set, as in the paper: nothing is tuned here.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from dlkit import data, losses, nn, optim, train
from studies.engine.claims import paired_equivalence, paired_gap, rows_by_seed
from studies.engine.spec import Arm, Claim, Plot, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: Published test accuracies (Greydanus 2020, abstract; the shuffled CNN from the table of the
#: mnist1d repository's README).
PUBLISHED = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "cnn_shuffled": 0.56}
TOLERANCE = 0.05  # ±5 points around a published accuracy


def build_model(kind: str, rng: np.random.Generator) -> nn.Sequential:
    """The paper's three models, with PyTorch's default initialisation.

    Shapes: logistic and mlp take x (N, 40); cnn takes x (N, 1, 40).
    """
    init = "standard"
    if kind == "logistic":
        return nn.Sequential(nn.Dense(40, 10, init=init, rng=rng))
    if kind == "mlp":
        return nn.mlp([40, 100, 100, 10], init=init, rng=rng)
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv1d(1, 25, 5, stride=2, padding=1, init=init, rng=rng),
            nn.ReLU(),
            nn.Conv1d(25, 25, 3, stride=2, padding=1, init=init, rng=rng),
            nn.ReLU(),
            nn.Conv1d(25, 25, 3, stride=2, padding=1, init=init, rng=rng),
            nn.ReLU(),
            nn.Flatten(),
            nn.Dense(125, 10, init=init, rng=rng),
        )
    raise ValueError(f"unknown model {kind!r}; valid choices: cnn, logistic, mlp")


def split(config: dict, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The generated MNIST-1D set, split anew into train and test rows by ``rng``.

    Parameters
    ----------
    config : dict
        ``data.seed`` (the generator's seed) and ``shuffle_seq``.
    rng : numpy.random.Generator
        Draws the stratified split; it keeps the generator's sizes (4000 / 1000).

    Returns
    -------
    X_train : ndarray, shape (4000, 40), float32
    y_train : ndarray, shape (4000,)
    X_test : ndarray, shape (1000, 40)
    y_test : ndarray, shape (1000,)
    """
    ds = data.load(
        "mnist1d", seed=config["data"]["seed"], scale="none", shuffle_seq=config["shuffle_seq"]
    )
    X_train, X_test, y_train, y_test = train_test_split(
        np.concatenate([ds.X_train, ds.X_test]),
        np.concatenate([ds.y_train, ds.y_test]),
        test_size=len(ds.y_test),
        stratify=np.concatenate([ds.y_train, ds.y_test]),
        random_state=int(rng.integers(2**32)),
    )
    return X_train, y_train, X_test, y_test


def trial(config: dict) -> TrialResult:
    """Train one model on (possibly shuffled) MNIST-1D; curves and summary on the test set."""
    rng = np.random.default_rng(config["seed"])
    # A child stream draws the split; ``rng`` itself draws the weights, then the batch order.
    X_train, y_train, X_test, y_test = split(config, rng.spawn(1)[0])
    model = build_model(config["model"], rng)
    if config["model"] == "cnn":
        X_train, X_test = X_train[:, None, :], X_test[:, None, :]
    opt = optim.build("adam", model.parameters(), lr=config["lr"])
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X_train,
        y_train,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        X_val=X_test,
        y_val=y_test,
        rng=rng,
    )
    # fit's validation set is the test set here: name the curves for what they are
    records = [
        {("test" + k[3:] if k.startswith("val_") else k): v for k, v in rec.items()}
        for rec in history
    ]
    shuffled = ", shuffle_seq=True" if config["shuffle_seq"] else ""
    datasets = data_inputs(
        "mnist1d",
        f"dlkit.data.load('mnist1d', seed={config['data']['seed']}{shuffled}), split per seed",
        train=(X_train, y_train),
        test=(X_test, y_test),
    )
    if history.diverged:
        return TrialResult.from_history(history, records=records, datasets=datasets)
    final = records[-1]
    # summary keys differ from the per-epoch keys: a key is either a curve or a final figure
    summary = {
        "final_test_acc": final["test_acc"],
        "final_test_loss": final["test_loss"],
        "final_train_acc": final["train_acc"],
        "best_test_acc": max(r["test_acc"] for r in records),
        "train_time": sum(r["time"] for r in records),
    }
    return TrialResult.from_history(history, summary, records=records, datasets=datasets)


def matches_published(
    arm: str,
    metric: str = "final_test_acc",
    *,
    published: float,
    tolerance: float = TOLERANCE,
):
    """Evaluator of "the mean of ``metric`` of ``arm`` is within ±``tolerance`` of
    ``published``": per seed, ``metric - published``, claimed within ±``tolerance`` (two
    one-sided t-tests)."""

    def evaluate(summaries, histories) -> Evidence:
        rows = rows_by_seed(summaries, (metric,), arm=arm)
        rows = rows[np.isfinite(rows[metric].to_numpy(float))]
        x = rows[metric].to_numpy(float)
        comparison = Comparison(
            x - published,
            rows["seed"].astype(int),
            "equivalence",
            "t",
            margin=tolerance,
            reference=published,
            label=f"{arm} {metric}",
            arms=(arm,),
        )
        return Evidence([comparison], numbers={"published": published, "tolerance": tolerance})

    return evaluate


def shuffle_harmless(model: str, margin: float = 0.03):
    """Evaluator of "shuffling moves ``model`` by less than ``margin``": per seed, the test
    accuracy on the original minus on the shuffled sequences, claimed within ±``margin``."""
    return paired_equivalence("final_test_acc", model, f"{model}_shuffled", margin=margin)


def _arm(model: str, shuffled: bool) -> Arm:
    return Arm(
        overrides={"model": model, "shuffle_seq": shuffled},
        factors={"model": model, "sequence": "shuffled" if shuffled else "original"},
    )


#: Where the published accuracies come from (read: the paper's abstract, the repository's
#: README and code at github.com/greydanus/mnist1d).
SOURCE = (
    "Greydanus 2020, 'Scaling down deep learning' (arXiv:2011.14439), abstract: linear, "
    "nonlinear and convolutional models reach 32, 68 and 94% test accuracy; the same "
    "numbers in the mnist1d repository README's table 'Comparing MNIST and MNIST-1D'"
)
SETTING = (
    "MNIST-1D, 4000 train / 1000 test sequences of length 40, 10 classes; logistic "
    "regression, an MLP (two ReLU hidden layers, the second residual) and a CNN (three "
    "Conv1d layers of 25 channels); Adam lr 1e-2, batch 100 (repository train.py)"
)
SHUFFLE_SOURCE = (
    "Greydanus 2020, mnist1d repository README, table 'Comparing MNIST and MNIST-1D', row "
    "'MNIST-1D (shuffle)': logistic 32%, MLP 68%, CNN 56% (94% unshuffled)"
)
SHUFFLE_SETTING = (
    f"{SETTING}; the 40 positions shuffled by one fixed permutation, as in Zhang et al. 2017"
)

#: Which way each summary figure is better.
METRICS = {
    "final_test_acc": "higher",
    "final_test_loss": "lower",
    "final_train_acc": "higher",
    "best_test_acc": "higher",
    "train_time": "lower",
}

#: Pocock-type spending: the paper's gaps are tens of points and a CNN trial costs ~12 s, so
#: a design that can stop at the first look when the effect is that large saves most of the
#: cost; both spending rules hold each wrong verdict at alpha (studies.stats.sequential).
DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="mnist1d",
    metrics=METRICS,
    design=DESIGN,
    question=(
        "Do logistic regression, an MLP and a CNN trained in NumPy reproduce the MNIST-1D "
        "paper's test accuracies (32 %, 68 %, 94 %), and does shuffling the sequence hurt "
        "only the CNN?"
    ),
    description=__doc__,
    data="MNIST-1D (mnist1d package, generated offline once, generator seed 42): 5000 "
    "samples of length 40, 10 classes, split per seed into 4000 train / 1000 test "
    "(stratified; the paper uses the package's one split); original and shuffled-sequence "
    "variants of the same rows",
    base_config={
        "model": "mlp",
        "shuffle_seq": False,
        "data": {"seed": 42},
        "lr": 1e-2,
        "batch_size": 100,
        "epochs": 150,
    },
    arms={
        f"{model}{'_shuffled' if shuffled else ''}": _arm(model, shuffled)
        for model in ("logistic", "mlp", "cnn")
        for shuffled in (False, True)
    },
    quick={"epochs": 8},
    quick_seeds=2,
    trial=trial,
    claims=[
        Claim(
            "logistic_matches_paper",
            f"Logistic regression reaches the paper's {PUBLISHED['logistic']:.0%} test "
            f"accuracy (± {TOLERANCE:.0%}).",
            f"per seed, the final test accuracy minus the published {PUBLISHED['logistic']:g}, "
            f"claimed within ±{TOLERANCE:g}",
            matches_published("logistic", published=PUBLISHED["logistic"]),
            expected="supported",
            source=SOURCE,
            setting=SETTING,
        ),
        Claim(
            "mlp_matches_paper",
            f"The MLP reaches the paper's {PUBLISHED['mlp']:.0%} test accuracy "
            f"(± {TOLERANCE:.0%}).",
            f"per seed, the final test accuracy minus the published {PUBLISHED['mlp']:g}, "
            f"claimed within ±{TOLERANCE:g}",
            matches_published("mlp", published=PUBLISHED["mlp"]),
            expected="supported",
            source=SOURCE,
            setting=SETTING,
        ),
        Claim(
            "cnn_matches_paper",
            f"The CNN reaches the paper's {PUBLISHED['cnn']:.0%} test accuracy "
            f"(± {TOLERANCE:.0%}).",
            f"per seed, the final test accuracy minus the published {PUBLISHED['cnn']:g}, "
            f"claimed within ±{TOLERANCE:g}",
            matches_published("cnn", published=PUBLISHED["cnn"]),
            expected="supported",
            source=SOURCE,
            setting=SETTING,
        ),
        Claim(
            "shuffle_hurts_cnn",
            "Shuffling the sequence costs the CNN at least 20 points of test accuracy "
            "(paper: 94 % -> 56 %).",
            "per seed, the CNN's test accuracy on the original minus on the shuffled "
            "sequences, claimed above 0.20",
            paired_gap("final_test_acc", "cnn", "cnn_shuffled", threshold=0.20),
            expected="supported",
            source=SHUFFLE_SOURCE,
            setting=SHUFFLE_SETTING,
        ),
        Claim(
            "shuffle_harmless_logistic",
            "Shuffling the sequence moves logistic regression by less than 3 points.",
            "per seed, test accuracy on the original minus on the shuffled sequences, "
            "claimed within ±0.03",
            shuffle_harmless("logistic"),
            expected="supported",
            source=SHUFFLE_SOURCE,
            setting=SHUFFLE_SETTING,
        ),
        Claim(
            "shuffle_harmless_mlp",
            "Shuffling the sequence moves the MLP by less than 3 points.",
            "per seed, test accuracy on the original minus on the shuffled sequences, "
            "claimed within ±0.03",
            shuffle_harmless("mlp"),
            expected="supported",
            source=SHUFFLE_SOURCE,
            setting=SHUFFLE_SETTING,
        ),
    ],
    plots=[
        Plot(
            "final_metric",
            "Final test accuracy per arm (paper: logistic 0.32, MLP 0.68, "
            "CNN 0.94, shuffled CNN 0.56)",
            metric="final_test_acc",
        ),
        Plot("learning_curves", "Test accuracy over training", metric="test_acc"),
        Plot("learning_curves", "Training loss", metric="train_loss", log_y=True),
        Plot(
            "heatmap",
            "Mean test accuracy: model x sequence order",
            row="model",
            col="sequence",
            metric="final_test_acc",
        ),
    ],
)
