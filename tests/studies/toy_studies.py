"""Tiny studies for engine tests: pure-NumPy "training" that takes milliseconds.

The trial fits a 1-D least-squares slope by gradient descent. It records every call in a file
(``config["calls_file"]``, one line per executed trial, from any process) so tests can count
how many trials really ran, and misbehaves on request for one seed:

* ``fail = "raise"``: raise ValueError;
* ``fail = "exit"``: kill its own process (as a segfault or the OOM killer would);
* ``fail = "interrupt"``: raise KeyboardInterrupt (Ctrl-C while running in-process).

With ``trip_file`` set, the failure happens only while that file exists, and the trial deletes
it when it fails: a one-off accident whose rerun (same config, same hash) succeeds.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from studies import Arm, Claim, Plot, Stage, Study, TrialResult
from studies.engine.claims import paired_comparison
from studies.stats import SequentialDesign


def toy_trial(config: dict) -> TrialResult:
    """Gradient descent on ``mean((w x - 2 x)^2)``; lr too large diverges."""
    seed = config["seed"]
    calls = config["calls_file"]
    if calls:
        with open(calls, "a") as fh:
            fh.write(f"{config['arm']}/{seed}\n")
    trip = config["trip_file"]
    armed = config["fail_seed"] == seed and config["fail"] and (not trip or os.path.exists(trip))
    if armed:
        if trip:
            os.remove(trip)
        if config["fail"] == "raise":
            raise ValueError(f"toy trial told to fail on seed {seed}")
        if config["fail"] == "exit":
            os._exit(3)
        if config["fail"] == "interrupt":
            raise KeyboardInterrupt
    rng = np.random.default_rng(seed)
    x = rng.normal(size=64).astype(np.float32)
    y = 2.0 * x + 0.1 * rng.normal(size=64).astype(np.float32)
    w = np.float32(rng.normal())
    lr = config["optimizer"]["lr"]
    history = []
    target_epoch = float("inf")
    for epoch in range(1, config["epochs"] + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            grad = np.mean(2 * (w * x - y) * x)
            w = np.float32(w - lr * grad)
            loss = float(np.mean((w * x - y) ** 2))
        if not np.isfinite(loss):
            history.append({"epoch": epoch, "train_loss": float("nan")})
            return TrialResult(
                history=history,
                summary={"final_loss": float("nan")},
                status="diverged",
                diverged_epoch=epoch,
            )
        history.append({"epoch": epoch, "train_loss": loss, "val_loss": 1.1 * loss})
        if loss < config["target"] and target_epoch == float("inf"):
            target_epoch = float(epoch)
    return TrialResult(
        history=history,
        summary={"final_loss": history[-1]["train_loss"], "epochs_to_target": target_epoch},
        artifacts={"weights": {"w": float(w)}},
    )


def base_config(calls_file: Path | str = "", **extra) -> dict:
    config = {
        "epochs": 6,
        "target": 0.05,
        "optimizer": {"name": "gd", "lr": 0.1},
        "calls_file": str(calls_file),
        "fail": "",
        "fail_seed": -1,
        "trip_file": "",
    }
    config.update(extra)
    return config


def make_toy(
    name: str = "toy",
    calls_file: Path | str = "",
    *,
    seeds: int = 3,
    arms: dict | None = None,
    **extra,
) -> Study:
    """A one-stage toy study with a slow and a fast arm and one claim.

    ``seeds`` seeds in one look (a fixed-sample design); one seed makes a fixed-seed stage.
    """
    arms = arms or {
        "slow": Arm({"optimizer": {"lr": 0.05}}, factors={"speed": "slow"}),
        "fast": Arm({"optimizer": {"lr": 0.3}}, factors={"speed": "fast"}),
    }
    layout = (
        {"arms": arms}
        if seeds > 1
        else {"stages": [Stage("main", arms, seeds=1, fixed_seeds=True)]}
    )
    return Study(
        name=name,
        question="Does a larger step reach the target sooner?",
        base_config=base_config(calls_file, **extra),
        trial=toy_trial,
        **layout,
        design=SequentialDesign(looks=(max(2, seeds),)),
        claims=[
            Claim(
                id="fast_beats_slow",
                text="The fast arm reaches the target in fewer epochs.",
                statistic="epochs to target, paired by seed",
                evaluate=paired_comparison(
                    "epochs_to_target", "fast", "slow", better="lower", censor="config.epochs"
                ),
            )
        ],
        plots=[Plot("learning_curves", "Loss", metric="train_loss")],
        quick={"epochs": 3},
    )


def pick_best(previous) -> dict:
    """Stage-2 arms from stage 1: the lr with the lowest final loss."""
    best = previous.sort_values("final_loss").iloc[0]
    return {"best": Arm({"optimizer": {"lr": float(best["config.optimizer.lr"])}})}


def make_staged(name: str = "toy_staged", calls_file: Path | str = "") -> Study:
    """A two-stage toy study: tune lr with one seed, then rerun the best with three."""
    grid = {f"tune/lr={lr}": {"optimizer": {"lr": lr}} for lr in (0.01, 0.1, 0.4)}
    return Study(
        name=name,
        question="Which learning rate is best?",
        base_config=base_config(calls_file),
        trial=toy_trial,
        stages=[
            Stage("tune", grid, seeds=1, fixed_seeds=True, nest="stage"),
            Stage("final", pick_best),
        ],
        design=SequentialDesign(looks=(3,)),
    )


def read_calls(path: Path) -> Counter:
    """How many times each ``arm/seed`` trial really ran."""
    if not path.exists():
        return Counter()
    return Counter(path.read_text().split())
