"""``python -m studies new NAME``: a runnable, commented study file to start from.

The scaffold asks a small question end to end — does momentum speed up SGD on a small MLP? —
with everything a study has: a question, a base config, two arms, a trial function built on
dlkit, one claim judged by the sequential design, and two plots. It runs as written
(``python -m studies run NAME.py --quick``), so a user edits a working study rather than a
blank page.
"""

from __future__ import annotations

import keyword
from pathlib import Path

__all__ = ["TEMPLATE", "write_scaffold"]

TEMPLATE = '''"""{name}: does momentum get a small MLP to a low validation loss sooner than SGD?

Written by `python -m studies new {name}`: a working study to edit. Run it with

    python -m studies run {name}.py --quick     # a smoke run, seconds
    python -m studies run {name}.py             # seeds are added until the claim is decided

and read reports/out/{name}.html. Everything below is ordinary Python: change the question,
the config, the arms, the trial and the claim, keeping the names ``STUDY`` and ``trial``.
"""

import numpy as np

from dlkit import data, losses, nn, optim, train
from studies import Arm, Claim, Plot, Study, TrialResult
from studies.engine.claims import paired_comparison
from studies.engine.spec import data_inputs


def trial(config: dict) -> TrialResult:
    """One (arm, seed): train the MLP of ``config`` and report its curves and figures.

    The engine merges the base config with the arm's overrides and adds ``arm`` and ``seed``.
    Draw every random choice from the seed, so seed s of each arm sees the same split,
    initial weights and batch order (the arms are compared seed by seed).
    """
    rng = np.random.default_rng(config["seed"])
    ds = data.load(config["data"]["name"], seed=0)
    split = ds.split_validation(config["data"]["val_fraction"], rng.spawn(1)[0])
    model = nn.mlp([ds.n_features, *config["model"]["hidden"], ds.n_classes], rng=rng)
    ocfg = config["optimizer"]
    opt = optim.build(ocfg["name"], model.parameters(), **ocfg["args"])
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        split.X_train,
        split.y_train,
        epochs=config["train"]["epochs"],
        batch_size=config["train"]["batch_size"],
        X_val=split.X_val,
        y_val=split.y_val,
        rng=rng,
        record_initial=True,
    )
    val_loss = [record["val_loss"] for record in history]
    summary = {{
        "final_val_loss": val_loss[-1],
        "epochs_to_target": train.epochs_to_target(val_loss, config["train"]["target_val_loss"]),
    }}
    datasets = data_inputs(
        config["data"]["name"],
        f"dlkit.data.load({{config['data']['name']!r}}, seed=0)",
        train=(split.X_train, split.y_train),
        validation=(split.X_val, split.y_val),
    )
    return TrialResult.from_history(history, summary, datasets=datasets)


STUDY = Study(
    name="{name}",
    question="Does momentum get a small MLP on 8x8 digits to a low validation loss in fewer "
    "epochs than plain SGD at the same learning rate?",
    base_config={{
        "data": {{"name": "digits", "val_fraction": 0.2}},
        "model": {{"hidden": [64]}},
        "optimizer": {{"name": "sgd", "args": {{"lr": 0.05, "momentum": 0.0}}}},
        "train": {{"epochs": 20, "batch_size": 64, "target_val_loss": 0.3}},
    }},
    # Each arm is a named override of keys of the base config (merged key by key).
    arms={{
        "sgd": Arm({{}}),
        "momentum": Arm({{"optimizer": {{"args": {{"momentum": 0.9}}}}}}),
    }},
    trial=trial,
    # --quick runs the same code with this override (and two seeds): a smoke test.
    quick={{"train": {{"epochs": 3}}}},
    claims=[
        Claim(
            id="momentum_faster",
            text="With momentum 0.9, SGD reaches the target validation loss in fewer epochs.",
            statistic="per seed, momentum's minus SGD's epochs to the target (never reached "
            "counts as epochs + 1), claimed below 0; a censored count, so a sign-flip test",
            evaluate=paired_comparison(
                "epochs_to_target",
                "momentum",
                "sgd",
                better="lower",
                test="permutation",
                censor="config.train.epochs",
            ),
            # Where the claim comes from, and what the source reports (shown on the card):
            source="Sutskever, Martens, Dahl & Hinton 2013, 'On the importance of "
            "initialization and momentum in deep learning', ICML",
            setting="deep autoencoders and RNNs trained with and without momentum",
            expected="supported",
        ),
    ],
    plots=[
        Plot("learning_curves", "Validation loss (mean, 95% band over seeds)", metric="val_loss"),
        Plot("final_metric", "Epochs to the target validation loss", metric="epochs_to_target"),
    ],
)
'''


def write_scaffold(name: str, directory: Path) -> Path:
    """Write ``directory/NAME.py`` from :data:`TEMPLATE` and return its path.

    Raises
    ------
    ValueError
        For a name that is not a Python identifier (or is a keyword), or an existing file.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(
            f"study name must be a Python identifier (letters, digits, _; not a keyword), got "
            f"{name!r}"
        )
    directory = Path(directory)
    path = directory / f"{name}.py"
    if path.exists():
        raise ValueError(f"{path} already exists; choose another name or --dir")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(name=name), encoding="utf-8")
    return path
