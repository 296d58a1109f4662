"""MNIST-1D baselines: do logistic regression, an MLP and a CNN reproduce the paper's table,
and does shuffling the sequence hurt only the model with a spatial prior?

Greydanus (2020), "Scaling Down Deep Learning", Table 1 / Fig. 3: on MNIST-1D (4000 train,
1000 test, 40 positions, 10 classes) logistic regression reaches about 32 % test accuracy,
an MLP about 68 % and a CNN about 94 %. Shuffling the 40 positions by one fixed permutation
(shuffle_seq=True) leaves the permutation-invariant models where they were and drops the
CNN to about 56 %, because its convolutions assume neighbouring positions are related.

Models and training follow the paper's code: MLP 40-100-100-10 with ReLU; CNN of three
Conv1d layers with 25 channels (kernel 5 stride 2 padding 1, then kernel 3 stride 2
padding 1 twice) and ReLU, flattened (25 x 5 = 125) into a Dense layer to 10 classes; Adam
with learning rate 1e-2, batch 100, 6000 steps (150 epochs); PyTorch's default layer
initialisation (init="standard", U[-1/sqrt(fan_in), 1/sqrt(fan_in)]). The data set is
the paper's (generator seed 42) without further scaling; a trial's seed changes the weights
and the batch order. The curves are on the test set, as in the paper: nothing is tuned here.
"""

from __future__ import annotations

import numpy as np

from dlkit import data, losses, nn, optim, train
from studies.engine.claims import paired_gap, paired_samples
from studies.engine.spec import Arm, Claim, ClaimResult, Plot, Study, TrialResult
from studies.stats import band_verdict, equivalent_paired, t_interval

#: Published test accuracies (Greydanus 2020, Table 1; shuffled CNN from Fig. 3 / Sec. 3).
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


def trial(config: dict) -> TrialResult:
    """Train one model on (possibly shuffled) MNIST-1D; curves and summary on the test set."""
    ds = data.load(
        "mnist1d", seed=config["data"]["seed"], scale="none", shuffle_seq=config["shuffle_seq"]
    )
    rng = np.random.default_rng(config["seed"])
    model = build_model(config["model"], rng)
    X_train, X_test = ds.X_train, ds.X_test
    if config["model"] == "cnn":
        X_train, X_test = X_train[:, None, :], X_test[:, None, :]
    opt = optim.build("adam", model.parameters(), lr=config["lr"])
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X_train,
        ds.y_train,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        X_val=X_test,
        y_val=ds.y_test,
        rng=rng,
    )
    # fit's validation set is the test set here: name the curves for what they are
    records = [
        {("test" + k[3:] if k.startswith("val_") else k): v for k, v in rec.items()}
        for rec in history
    ]
    if history.diverged:
        return TrialResult.from_history(history, records=records)
    final = records[-1]
    # summary keys differ from the per-epoch keys: a key is either a curve or a final figure
    summary = {
        "final_test_acc": final["test_acc"],
        "final_test_loss": final["test_loss"],
        "final_train_acc": final["train_acc"],
        "best_test_acc": max(r["test_acc"] for r in records),
        "train_time": sum(r["time"] for r in records),
    }
    return TrialResult.from_history(history, summary, records=records)


def matches_published(
    arm: str,
    metric: str = "final_test_acc",
    *,
    published: float,
    tolerance: float = TOLERANCE,
    alpha: float = 0.05,
):
    """Evaluator of "the mean of metric of arm is within ±tolerance of published"
    by two one-sided tests: the 1 - 2 alpha t-interval of the mean must lie inside the band."""

    def evaluate(summaries, histories) -> ClaimResult:
        rows = summaries[(summaries["arm"] == arm) & (summaries["status"] == "ok")]
        x = rows[metric].to_numpy(float)
        x = x[np.isfinite(x)]
        level = 1 - 2 * alpha
        lo_band, hi_band = published - tolerance, published + tolerance
        statistic = (
            f"TOST: {level:.0%} t-interval of the mean over {x.size} seeds inside "
            f"the published {published:.2f} ± {tolerance:.2f}"
        )
        if x.size < 2:
            return ClaimResult(
                "inconclusive", statistic, {"n": float(x.size)}, "fewer than 2 finished seeds"
            )
        mean, lo, hi = t_interval(x, confidence=level)
        numbers = {
            "n": float(x.size),
            "mean": mean,
            "ci_lo": lo,
            "ci_hi": hi,
            "published": published,
            "tolerance": tolerance,
        }
        ci = f"[{lo:.3f}, {hi:.3f}]"
        verdict = band_verdict(lo, hi, lo_band, hi_band)
        where = {"supported": "inside", "not supported": "outside", "inconclusive": "crosses"}
        band = "the band " if verdict == "inconclusive" else ""
        detail = (
            f"mean {mean:.3f}, interval {ci} {where[verdict]} {band}[{lo_band:.2f}, {hi_band:.2f}]"
        )
        return ClaimResult(verdict, statistic, numbers, detail)

    return evaluate


def shuffle_harmless(model: str, margin: float = 0.03):
    """Evaluator of "shuffling moves model by less than margin" (paired TOST)."""

    def evaluate(summaries, histories) -> ClaimResult:
        ok = summaries[summaries["status"] == "ok"]
        a, b, _ = paired_samples(ok, "final_test_acc", model, f"{model}_shuffled")
        return equivalent_paired(a, b, margin=margin, names=(model, f"{model}_shuffled"))

    return evaluate


def _arm(model: str, shuffled: bool) -> Arm:
    return Arm(
        overrides={"model": model, "shuffle_seq": shuffled},
        factors={"model": model, "sequence": "shuffled" if shuffled else "original"},
    )


#: Which way each summary figure is better.
METRICS = {
    "final_test_acc": "higher",
    "final_test_loss": "lower",
    "final_train_acc": "higher",
    "best_test_acc": "higher",
    "train_time": "lower",
}

STUDY = Study(
    name="mnist1d",
    metrics=METRICS,
    question=(
        "Do logistic regression, an MLP and a CNN trained in NumPy reproduce the MNIST-1D "
        "paper's test accuracies (32 %, 68 %, 94 %), and does shuffling the sequence hurt "
        "only the CNN?"
    ),
    description=__doc__,
    data="MNIST-1D (mnist1d package, generated offline, generator seed 42): 4000 train / "
    "1000 test samples of length 40, 10 classes; original and shuffled-sequence variants",
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
    seeds=3,
    quick={"epochs": 8},
    quick_seeds=2,
    trial=trial,
    claims=[
        Claim(
            "logistic_matches_paper",
            f"Logistic regression reaches the paper's {PUBLISHED['logistic']:.0%} test "
            f"accuracy (± {TOLERANCE:.0%}).",
            "TOST against the published value",
            matches_published("logistic", published=PUBLISHED["logistic"]),
        ),
        Claim(
            "mlp_matches_paper",
            f"The MLP reaches the paper's {PUBLISHED['mlp']:.0%} test accuracy "
            f"(± {TOLERANCE:.0%}).",
            "TOST against the published value",
            matches_published("mlp", published=PUBLISHED["mlp"]),
        ),
        Claim(
            "cnn_matches_paper",
            f"The CNN reaches the paper's {PUBLISHED['cnn']:.0%} test accuracy "
            f"(± {TOLERANCE:.0%}).",
            "TOST against the published value",
            matches_published("cnn", published=PUBLISHED["cnn"]),
        ),
        Claim(
            "shuffle_hurts_cnn",
            "Shuffling the sequence costs the CNN at least 20 points of test accuracy "
            "(paper: 94 % -> 56 %).",
            "paired drop across seeds, one-sided t-bound",
            paired_gap("final_test_acc", "cnn", "cnn_shuffled", threshold=0.20, confidence=0.90),
        ),
        Claim(
            "shuffle_harmless_logistic",
            "Shuffling the sequence moves logistic regression by less than 3 points.",
            "paired TOST, margin 0.03",
            shuffle_harmless("logistic"),
        ),
        Claim(
            "shuffle_harmless_mlp",
            "Shuffling the sequence moves the MLP by less than 3 points.",
            "paired TOST, margin 0.03",
            shuffle_harmless("mlp"),
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
