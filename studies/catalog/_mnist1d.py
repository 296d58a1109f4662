"""MNIST-1D as the paper trains it, shared by the "mnist1d" and "recurrent" studies.

Greydanus (2020), "Scaling Down Deep Learning", and the mnist1d repository's code: the
logistic regression, MLP and CNN of the paper with PyTorch's default initialisation, trained
with Adam on the generated set (generator seed 42, no scaling), each trial seed drawing its
own stratified 4000 / 1000 train/test split; and the claim that a model matches a published
accuracy. The "mnist1d" study's docstring says where the models differ from the repository's.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from dlkit import data, losses, nn, optim, train
from studies.engine.claims import rows_by_seed
from studies.engine.spec import TrialResult, data_inputs
from studies.stats import Comparison, Evidence

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


def split_inputs(config: dict, X_train, y_train, X_test, y_test) -> list[dict]:
    """The MLflow dataset inputs of a trial on :func:`split`'s rows (train and test)."""
    shuffled = ", shuffle_seq=True" if config["shuffle_seq"] else ""
    return data_inputs(
        "mnist1d",
        f"dlkit.data.load('mnist1d', seed={config['data']['seed']}{shuffled}), split per seed",
        train=(X_train, y_train),
        test=(X_test, y_test),
    )


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
    datasets = split_inputs(config, X_train, y_train, X_test, y_test)
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
    stage: str | None = None,
):
    """Evaluator of "the mean of ``metric`` of ``arm`` is within ±``tolerance`` of
    ``published``": per seed, ``metric - published``, claimed within ±``tolerance`` (two
    one-sided t-tests); only the rows of ``stage`` when given."""

    def evaluate(summaries, histories) -> Evidence:
        rows = rows_by_seed(summaries, (metric,), arm=arm, stage=stage)
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
