"""How large a batch? Generalization at a fixed rate, the linear scaling rule, steps to a target
loss, and seconds per epoch and per step on this machine.

Every stage trains a 40-128-128-10 ReLU MLP on MNIST-1D (3200 training rows after a per-seed
20 % validation split) with plain SGD, as the learning-rate study does.

Stage ``generalization`` (seed stream 0): a fixed budget of 10 epochs. Arms ``fixed/B=<b>``
keep the small batch's rate 0.1 at batch sizes 32, 128, 512 and 2048 (Keskar et al. 2017:
larger batches generalize worse); arms ``linear/B=<b>`` multiply the rate by ``k = b / 32``
(Goyal et al. 2017's linear scaling rule) with their gradual warm-up, the rate ramped per
batch from 0.1 to ``0.1 k`` over the first 2 epochs. Each trial measures the test accuracy of
its final weights, their accuracy on the whole training split (the generalization gap is the
difference), and the wall-clock seconds of each epoch's training loop (``time.perf_counter``
inside ``dlkit.train.fit``), from which seconds per step follow. A run that diverges
counts at chance accuracy (0.1).

Stages ``tune`` and ``steps`` (McCandlish et al. 2018): steps to a target training loss of
1.0 (cross-entropy on the whole training split, evaluated on a geometric grid of steps, every
step up to 10 and then every 15 %, and interpolated linearly), capped at 1000 steps. ``tune``
(seed stream 1, two fixed seeds) runs every batch size of 16 .. 1024 (powers of two) at four
rates, 0.1 .. 0.8 below batch 128 and 0.2 .. 1.6 from it on (powers of two); ``steps`` (seed
stream 2, seeds added while a claim is undecided) reruns each batch size at the rate with
the fewest mean steps in ``tune``, so the seeds that chose the rates do not also judge them.
Seed ``s`` draws its validation split, initialization and batch order, shared by every arm of
a stage (paired by seed).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from dlkit import losses, nn, optim, train
from dlkit.data import minibatches
from dlkit.optim import lr_scheduler
from studies.catalog._task_mlp import source_of, task_setup, train_task_mlp
from studies.engine.claims import all_of, paired_comparison, usable_rows
from studies.engine.select import best_setting
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: The small batch every other batch size is compared with, and its rate.
BASE_BATCH = 32
BASE_LR = 0.1
#: The batch sizes of stage ``generalization``.
GENERALIZATION_BATCHES = (32, 128, 512, 2048)
#: Goyal et al.'s gradual warm-up, in epochs (they ramp over 5 of 90).
WARMUP_EPOCHS = 2
#: Stage ``tune``: batch sizes and rates (a window of four powers of two, one octave higher
#: from batch 128 on, where small rates only cost time); stage ``steps`` runs each batch at
#: its best rate.
STEP_BATCHES = (16, 32, 64, 128, 256, 512, 1024)
TUNE_RATES = (0.1, 0.2, 0.4, 0.8, 1.6)
TUNE_WINDOW = 4
TUNE_SHIFT_FROM = 128
QUICK_STEP_BATCHES = (32, 256)
QUICK_TUNE_RATES = (0.4,)
#: The arms ``--quick`` runs in stage ``generalization`` (those the claims compare).
QUICK_GENERALIZATION = (
    "fixed/B=32",
    "fixed/B=128",
    "fixed/B=2048",
    "linear/B=128",
    "linear/B=2048",
)
#: "Recovers most of the loss": the scaled arm beats the midpoint between the small batch
#: and the unscaled large batch; "nearly in proportion to 1/B": a scaling efficiency above
#: this (1 is perfect 1/B scaling, 0 no gain).
HALF = 0.5

HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")

MODEL = {"hidden": [128, 128], "init": "kaiming_normal"}
DATA = {"name": "mnist1d", "seed": 0, "val_fraction": 0.2}

BASE_CONFIG: dict[str, Any] = {
    "data": DATA,
    "model": MODEL,
    "optimizer": {"name": "sgd", "lr": BASE_LR},
    "train": {"epochs": 10, "batch_size": BASE_BATCH, "evaluate_test": True},
    # A linear warm-up per batch from start_factor x the rate to the rate; 0 epochs: none.
    "warmup": {"epochs": 0, "start_factor": 1.0},
    "seed_stream": 0,
}
QUICK = {"train": {"epochs": 2}}

STEPS_CONFIG: dict[str, Any] = {
    "data": DATA,
    "model": MODEL,
    "optimizer": {"name": "sgd", "lr": BASE_LR},
    # Steps until the loss on the whole training split is at most target_loss; evaluated
    # after every step up to 10, then whenever the step count has grown by eval_growth.
    "train": {"batch_size": BASE_BATCH, "target_loss": 1.0, "max_steps": 1000, "eval_growth": 1.15},
    "seed_stream": 1,
}
STEPS_QUICK = {"train": {"max_steps": 100, "target_loss": 1.6}}


# --------------------------------------------------------------------------- generalization


def warmup_schedule(config: dict):
    """``schedule(opt, epochs, batches)`` for :func:`train_task_mlp`: Goyal et al.'s gradual
    warm-up (``LinearLR`` stepped per batch over ``warmup.epochs`` epochs from
    ``warmup.start_factor`` times the rate), or None for ``warmup.epochs == 0``."""
    cfg = config["warmup"]

    def build(opt: optim.Optimizer, epochs: int, batches: int):
        if cfg["epochs"] <= 0:
            return None
        sched = lr_scheduler.LinearLR(
            opt,
            start_factor=cfg["start_factor"],
            total_iters=max(1, int(round(cfg["epochs"] * batches))),
        )
        sched.per_batch = True
        return sched

    return build


def generalization_trial(config: dict) -> TrialResult:
    """Train for ``train.epochs`` at one batch size and rate (with the warm-up of ``warmup``).

    Summaries: ``test_acc`` and ``final_train_acc`` (the final weights on the test set and on
    the whole training split; chance, 0.1, for a diverged run), ``generalization_gap``
    (their difference), ``final_val_loss`` (``inf`` when diverged), ``diverged_flag``,
    ``steps_per_epoch``, ``sec_per_epoch`` (mean wall-clock seconds of an epoch's training
    loop, evaluation excluded) and ``sec_per_step`` (that over the steps per epoch).
    """
    run = train_task_mlp(config, HISTORY_KEYS, warmup_schedule(config))
    X_tr, y_tr = run.train
    batch = int(config["train"]["batch_size"])
    steps = math.ceil(len(X_tr) / batch)
    seconds = [float(r["time"]) for r in run.history if r["epoch"] > 0 and "time" in r]
    summary = {
        "steps_per_epoch": float(steps),
        "sec_per_epoch": float(np.mean(seconds)) if seconds else math.nan,
        "sec_per_step": float(np.mean(seconds)) / steps if seconds else math.nan,
        "diverged_flag": float(run.history.diverged),
    }
    chance = 1.0 / run.ds.n_classes
    if run.history.diverged:
        summary.update(
            test_acc=chance, final_train_acc=chance, generalization_gap=0.0, final_val_loss=math.inf
        )
        return run.result(summary)
    test = train.evaluate(run.model, run.loss, run.ds.X_test, run.ds.y_test)
    fitted = train.evaluate(run.model, run.loss, X_tr, y_tr)
    summary.update(
        test_acc=float(test["acc"]),
        final_train_acc=float(fitted["acc"]),
        generalization_gap=float(fitted["acc"] - test["acc"]),
        final_val_loss=float(run.history[-1]["val_loss"]),
    )
    return run.result(summary)


def generalization_arms() -> dict[str, Arm]:
    """Stage ``generalization``: every batch size at the small batch's rate (``fixed``) and,
    above the small batch, at the linearly scaled rate with warm-up (``linear``)."""
    arms = {}
    for batch in GENERALIZATION_BATCHES:
        arms[f"fixed/B={batch}"] = Arm(
            {"train": {"batch_size": batch}},
            factors={"rule": "fixed", "batch": str(batch)},
        )
    for batch in GENERALIZATION_BATCHES[1:]:
        k = batch / BASE_BATCH
        arms[f"linear/B={batch}"] = Arm(
            {
                "train": {"batch_size": batch},
                "optimizer": {"lr": BASE_LR * k},
                "warmup": {"epochs": WARMUP_EPOCHS, "start_factor": 1.0 / k},
            },
            factors={"rule": "linear", "batch": str(batch)},
        )
    return arms


def midpoint_comparison(
    summaries: pd.DataFrame, batch: int, alternative: str, metric: str = "test_acc"
) -> tuple[Comparison, dict[str, float]]:
    """Per seed, ``linear/B=<batch>``'s ``metric`` minus the midpoint of the small batch's and
    ``fixed/B=<batch>``'s: above 0 when linear scaling recovers more than half of what the
    larger batch lost at the fixed rate.

    Returns the comparison and the arms' means with the recovered fraction of the means,
    ``(linear - fixed) / (small - fixed)``.
    """
    rows = usable_rows(summaries, stage="generalization")
    arms = (f"linear/B={batch}", f"fixed/B={BASE_BATCH}", f"fixed/B={batch}")
    table = rows[rows["arm"].isin(arms)].pivot_table(
        index="seed", columns="arm", values=metric, aggfunc="first"
    )
    table = table.reindex(columns=list(arms)).astype(float).dropna()
    table = table[np.isfinite(table).all(axis=1)]
    lin, small, fixed = (table[a].to_numpy() for a in arms)
    comparison = Comparison(
        lin - (small + fixed) / 2.0,
        table.index.astype(int).tolist(),
        alternative,
        "t",
        label=f"{arms[0]} - midpoint({arms[1]}, {arms[2]}) {metric}",
        arms=arms,
    )
    means = {
        "mean_linear": float(lin.mean()) if lin.size else math.nan,
        "mean_small": float(small.mean()) if small.size else math.nan,
        "mean_fixed": float(fixed.mean()) if fixed.size else math.nan,
    }
    lost = means["mean_small"] - means["mean_fixed"]
    means["recovered_fraction"] = (
        (means["mean_linear"] - means["mean_fixed"]) / lost if lost else math.nan
    )
    return comparison, means


def linear_scaling_recovers(batch: int):
    """Evaluator: linear scaling recovers more than half of the loss at ``batch``."""

    def evaluate(summaries: pd.DataFrame, histories) -> Evidence:
        comparison, numbers = midpoint_comparison(summaries, batch, "greater")
        return Evidence([comparison], numbers=numbers)

    return evaluate


def linear_scaling_fails(batch: int):
    """Evaluator: linear scaling recovers less than half of the loss at ``batch``; the
    numbers add the recovered fraction at every batch size of the stage."""

    def evaluate(summaries: pd.DataFrame, histories) -> Evidence:
        comparison, numbers = midpoint_comparison(summaries, batch, "less")
        for other in GENERALIZATION_BATCHES[1:]:
            if other != batch and f"linear/B={other}" in set(summaries["arm"]):
                _, more = midpoint_comparison(summaries, other, "less")
                numbers[f"recovered_fraction_B={other}"] = more["recovered_fraction"]
        return Evidence([comparison], numbers=numbers)

    return evaluate


def step_time_ratio(summaries: pd.DataFrame, histories) -> Evidence:
    """Evaluator: per seed, ``log2`` of the seconds per step at the largest fixed-rate batch
    over those at the small batch, minus 1: below 0 when a step on the large batch takes
    less than twice as long (the per-update time nearly flat in the batch size)."""
    large, small = f"fixed/B={GENERALIZATION_BATCHES[-1]}", f"fixed/B={BASE_BATCH}"
    rows = usable_rows(summaries, stage="generalization")
    table = rows[rows["arm"].isin([large, small])].pivot_table(
        index="seed", columns="arm", values="sec_per_step", aggfunc="first"
    )
    table = table.reindex(columns=[large, small]).astype(float)
    table = table[(table > 0).all(axis=1)]
    ratio = np.log2(table[large].to_numpy() / table[small].to_numpy())
    comparison = Comparison(
        ratio - 1.0,
        table.index.astype(int).tolist(),
        "less",
        "t",
        reference=1.0,
        label=f"log2({large} / {small}) sec_per_step",
        arms=(large, small),
    )
    numbers = {
        "step_time_ratio": float(2.0 ** ratio.mean()) if ratio.size else math.nan,
        "batch_ratio": GENERALIZATION_BATCHES[-1] / BASE_BATCH,
    }
    return Evidence([comparison], numbers=numbers)


# --------------------------------------------------------------------------- steps to target


def steps_to_target(
    model: nn.Sequential,
    loss: losses.Loss,
    opt: optim.Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    target: float,
    max_steps: int,
    growth: float,
    rng: np.random.Generator,
) -> tuple[float, float, int, list[tuple[int, float]]]:
    """Train by SGD steps until the loss on all of ``(X, y)`` is at most ``target``.

    The full loss is evaluated after every step up to 10 and then whenever the step count
    has grown by ``growth``; the crossing is interpolated linearly between the last two
    evaluations.

    Parameters
    ----------
    model, loss, opt
        The net, its loss and an optimizer over its parameters (trained in place).
    X : ndarray, shape (N, D)
    y : ndarray, shape (N,)
    batch_size, target, max_steps, growth, rng
        Batch size, target loss, step cap, evaluation-grid growth factor (> 1) and the
        generator shuffling the batches.

    Returns
    -------
    steps : float
        Steps to the target (fractional), ``inf`` if not reached within ``max_steps`` or the
        loss went non-finite.
    seconds : float
        Wall-clock seconds of the training steps alone (evaluations excluded).
    taken : int
        Steps taken.
    curve : list of (int, float)
        ``(step, full loss)`` at every evaluation, step 0 first (finite values only; empty
        when the untrained net's loss is not finite).
    """
    if growth <= 1.0:
        raise ValueError(f"growth must be > 1, got {growth!r}")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        previous = (0, loss.forward(model.forward(X, train=False), y))
    if not math.isfinite(previous[1]):
        return math.inf, 0.0, 0, []
    curve = [(0, float(previous[1]))]
    if previous[1] <= target:
        return 0.0, 0.0, 0, curve
    taken, seconds, next_eval = 0, 0.0, 1
    saved_input_grad = model.input_grad
    model.input_grad = False  # as in train.fit: nobody reads the gradient of the data
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while taken < max_steps:
                for xb, yb in minibatches(X, y, batch_size, rng):
                    start = time.perf_counter()
                    value = loss.forward(model.forward(xb, train=True), yb)
                    if not math.isfinite(value):
                        return math.inf, seconds, taken, curve
                    opt.zero_grad()
                    model.backward(loss.backward())
                    opt.step()
                    seconds += time.perf_counter() - start
                    taken += 1
                    if taken >= next_eval or taken >= max_steps:
                        full = loss.forward(model.forward(X, train=False), y)
                        if not math.isfinite(full):
                            return math.inf, seconds, taken, curve
                        curve.append((taken, float(full)))
                        if full <= target:
                            step0, loss0 = previous
                            crossed = step0 + (taken - step0) * (loss0 - target) / (loss0 - full)
                            return float(crossed), seconds, taken, curve
                        previous = (taken, full)
                        next_eval = taken + 1 if taken < 10 else math.ceil(taken * growth)
                    if taken >= max_steps:
                        break
    finally:
        model.input_grad = saved_input_grad
    return math.inf, seconds, taken, curve


def steps_trial(config: dict) -> TrialResult:
    """Steps (and examples) to the target training loss at one batch size and rate.

    Summaries: ``steps_to_target`` and ``examples_to_target`` (``inf`` when not reached),
    ``steps_to_target_capped`` (at ``max_steps``, for plots), ``reached_flag`` and
    ``sec_per_step_train`` (wall-clock seconds per training step, evaluations excluded).
    History: the loss on the whole training split at each evaluated step (``epoch`` = step).
    """
    tcfg = config["train"]
    _, rng, X_tr, y_tr, X_val, y_val, model, loss, opt = task_setup(config)
    batch, cap = int(tcfg["batch_size"]), int(tcfg["max_steps"])
    steps, seconds, taken, curve = steps_to_target(
        model,
        loss,
        opt,
        X_tr,
        y_tr,
        batch_size=batch,
        target=float(tcfg["target_loss"]),
        max_steps=cap,
        growth=float(tcfg["eval_growth"]),
        rng=rng,
    )
    summary = {
        "steps_to_target": steps,
        "examples_to_target": steps * batch,
        "steps_to_target_capped": min(steps, float(cap)),
        "reached_flag": float(math.isfinite(steps)),
        "sec_per_step_train": seconds / taken if taken else math.nan,
    }
    history = [{"epoch": step, "full_train_loss": value} for step, value in curve]
    inputs = data_inputs(
        config["data"]["name"], source_of(config), train=(X_tr, y_tr), validation=(X_val, y_val)
    )
    return TrialResult(history=history, summary=summary, datasets=inputs)


def tune_rates(batch: int) -> tuple[float, ...]:
    """The rates stage ``tune`` tries at ``batch``: the first :data:`TUNE_WINDOW` of
    :data:`TUNE_RATES`, shifted up by one from :data:`TUNE_SHIFT_FROM` on."""
    start = 1 if batch >= TUNE_SHIFT_FROM else 0
    return TUNE_RATES[start : start + TUNE_WINDOW]


def tune_arms(*, quick: bool = False) -> dict[str, Arm]:
    """Stage ``tune``: every batch size at its rates (seed stream 1)."""
    arms = {}
    batches = QUICK_STEP_BATCHES if quick else STEP_BATCHES
    for batch in batches:
        for lr in QUICK_TUNE_RATES if quick else tune_rates(batch):
            arms[f"tune/B={batch}/lr={lr:g}"] = Arm(
                {"train": {"batch_size": batch}, "optimizer": {"lr": lr}},
                factors={"batch": str(batch), "lr": f"{lr:g}"},
            )
    return arms


def best_rate_arms(previous: pd.DataFrame) -> dict[str, Arm]:
    """Stage ``steps``: each batch size at the rate with the fewest mean steps to the target
    in ``tune`` (a rate that missed the target on a seed counts as never reaching it), on
    seed stream 2."""
    best = best_setting(
        previous,
        stage="tune",
        metric="steps_to_target_capped",
        better="lower",
        setting="config.optimizer.lr",
        within="factor.batch",
    )
    arms = {}
    for batch in sorted(best, key=int):
        arms[f"steps/B={batch}"] = Arm(
            {
                "train": {"batch_size": int(batch)},
                "optimizer": {"lr": best[batch]},
                "seed_stream": 2,
            },
            factors={"batch": str(batch), "lr": f"{best[batch]:g}"},
        )
    return arms


def scaling_efficiency(steps_small: np.ndarray, steps_large: np.ndarray, ratio: float):
    """``log(S_small / S_large) / log(ratio)``: 1 when the steps fall in proportion to
    ``1/B`` between two batch sizes ``ratio`` apart, 0 when they do not fall at all."""
    return np.log(np.asarray(steps_small) / np.asarray(steps_large)) / math.log(ratio)


def fit_steps_model(batches, steps) -> dict[str, float]:
    """Least-squares fit of McCandlish et al.'s ``S(B) = S_min (1 + B_noise / B)``.

    Linear in ``1 / B``: ``S = a + b / B`` gives ``S_min = a`` and ``B_crit = b / a``
    (their critical batch size, where ``E_min = S_min B_crit``); with these,
    ``(S / S_min - 1)(E / E_min - 1) = 1`` holds at every ``B`` on the fitted curve.

    Returns
    -------
    dict
        ``S_min``, ``B_crit``, ``E_min`` and ``r2`` (of the fit in ``S``); NaN when fewer
        than two batch sizes, or when the fit is not of that form (``S_min <= 0`` or steps
        that do not fall with the batch, ``B_crit <= 0``).
    """
    b = np.asarray(batches, dtype=float)
    s = np.asarray(steps, dtype=float)
    nan = {"S_min": math.nan, "B_crit": math.nan, "E_min": math.nan, "r2": math.nan}
    if b.size < 2 or not np.all(np.isfinite(s)):
        return nan
    slope, intercept = np.polyfit(1.0 / b, s, 1)
    if intercept <= 0 or slope <= 0:
        return nan
    predicted = intercept + slope / b
    total = float(np.sum((s - s.mean()) ** 2))
    r2 = 1.0 - float(np.sum((s - predicted) ** 2)) / total if total > 0 else math.nan
    b_crit = float(slope / intercept)
    return {"S_min": float(intercept), "B_crit": b_crit, "E_min": intercept * b_crit, "r2": r2}


def steps_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """Seed x batch size table of stage ``steps``' steps to target (a run that missed it
    counts at its step cap), only seeds that ran every batch size."""
    rows = usable_rows(summaries, stage="steps")
    if rows.empty:
        raise ValueError("no finished trial of stage 'steps'")
    values = rows["steps_to_target"].astype(float)
    capped = np.minimum(values, rows["config.train.max_steps"].astype(float))
    table = (
        rows.assign(batch=rows["config.train.batch_size"].astype(int), steps=capped)
        .pivot_table(index="seed", columns="batch", values="steps", aggfunc="first")
        .sort_index(axis=1)
    )
    return table.dropna()


def steps_scaling(summaries: pd.DataFrame, histories) -> Evidence:
    """Evaluator of the McCandlish claim: between the two smallest batch sizes the steps fall
    with a scaling efficiency above 1/2 (nearly in proportion to 1/B), between the two
    largest with one below 1/2 (flattening); numbers: the fit of ``S_min (1 + B_crit / B)``
    to the mean steps, and the mean steps per batch size."""
    table = steps_table(summaries)
    batches = list(table.columns)
    seeds = table.index.astype(int).tolist()
    arms = tuple(f"steps/B={b}" for b in batches)
    parts = []
    for name, (lo, hi), alternative in (
        ("below_bcrit", batches[:2], "greater"),
        ("above_bcrit", batches[-2:], "less"),
    ):
        eff = scaling_efficiency(table[lo].to_numpy(), table[hi].to_numpy(), hi / lo)
        keep = np.isfinite(eff)
        comparison = Comparison(
            eff[keep] - HALF,
            [s for s, k in zip(seeds, keep, strict=True) if k],
            alternative,
            "t",
            reference=HALF,
            label=f"scaling efficiency B={lo} -> {hi}",
            arms=(f"steps/B={lo}", f"steps/B={hi}"),
        )
        parts.append((name, Evidence([comparison], numbers={"efficiency": float(eff.mean())})))
    evidence = all_of(parts)
    means = table.mean(axis=0)
    fit = fit_steps_model(batches, means.to_numpy())
    numbers = {**evidence.numbers, **{f"fit.{k}": v for k, v in fit.items()}}
    numbers.update({f"mean_steps.B={b}": float(means[b]) for b in batches})
    return Evidence(
        evidence.comparisons,
        numbers=numbers,
        detail=f"arms {', '.join(arms)}; S(B) = S_min (1 + B_crit / B) fitted to the means",
    )


# --------------------------------------------------------------------------- the study

METRICS: dict[str, str | None] = {
    "test_acc": "higher",
    "final_train_acc": "higher",
    "generalization_gap": "lower",
    "final_val_loss": "lower",
    "diverged_flag": "lower",
    "steps_per_epoch": None,
    "sec_per_epoch": "lower",
    "sec_per_step": "lower",
    "steps_to_target": "lower",
    "steps_to_target_capped": "lower",
    "examples_to_target": "lower",
    "reached_flag": "higher",
    "sec_per_step_train": "lower",
}

SMALL, LARGE = f"fixed/B={BASE_BATCH}", f"fixed/B={GENERALIZATION_BATCHES[-1]}"
KESKAR = (
    "Keskar, Mudigere, Nocedal, Smelyanskiy & Tang 2017, 'On Large-Batch Training for Deep "
    "Learning: Generalization Gap and Sharp Minima', ICLR"
)
KESKAR_SETTING = (
    "deep nets including the convolutional nets C1-C4, small batch 256 against large batch "
    "5000 (their code README), trained 'without any budget or limits, until the loss "
    "function ceased to improve' (as quoted in Hoffer, Hubara & Soudry's 2018 talk)"
)
GOYAL = (
    "Goyal, Dollár, Girshick, Noordhuis, Wesolowski, Kyrola, Tulloch, Jia & He 2017, "
    "'Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour'"
)
GOYAL_SETTING = (
    "ResNet-50 on ImageNet, synchronous SGD on up to 256 GPUs, minibatches up to 8192 and "
    "beyond, the rate ramped to k times the reference over the first 5 epochs"
)
MCCANDLISH = (
    "McCandlish, Kaplan, Amodei & OpenAI Dota Team 2018, 'An Empirical Model of Large-Batch "
    "Training' (arXiv 1812.06162)"
)
NOTES = "Seed notes 003 (Hung-yi Lee's ML lecture notes, 3.4.2 'batch')"


def _stages() -> list[Stage]:
    return [
        Stage(
            "generalization",
            generalization_arms(),
            quick_arms={
                k: v for k, v in generalization_arms().items() if k in QUICK_GENERALIZATION
            },
        ),
        Stage(
            "tune",
            tune_arms(),
            seeds=2,
            fixed_seeds=True,
            quick_arms=tune_arms(quick=True),
            quick_seeds=1,
            base_config=STEPS_CONFIG,
            trial=steps_trial,
            quick=STEPS_QUICK,
            nest="stage",
        ),
        Stage(
            "steps",
            best_rate_arms,
            base_config=STEPS_CONFIG,
            trial=steps_trial,
            quick=STEPS_QUICK,
        ),
    ]


def _plots() -> list[Plot]:
    return [
        Plot(
            "sweep",
            "Test accuracy after 10 epochs against the batch size: the small batch's rate "
            "(fixed) and the linearly scaled rate with warm-up (linear)",
            x="train.batch_size",
            metric="test_acc",
            hue="factor.rule",
            log_x=True,
            stage="generalization",
        ),
        Plot(
            "sweep",
            "Generalization gap (training minus test accuracy of the final weights)",
            x="train.batch_size",
            metric="generalization_gap",
            hue="factor.rule",
            log_x=True,
            stage="generalization",
        ),
        Plot(
            "learning_curves",
            "Validation accuracy per epoch",
            metric="val_acc",
            hue="arm",
            stage="generalization",
        ),
        Plot(
            "sweep",
            "Wall-clock seconds per epoch (training loop only) against the batch size, this "
            "machine, one BLAS thread per worker",
            x="train.batch_size",
            metric="sec_per_epoch",
            hue="factor.rule",
            log_x=True,
            stage="generalization",
        ),
        Plot(
            "sweep",
            "Wall-clock seconds per step against the batch size",
            x="train.batch_size",
            metric="sec_per_step",
            hue="factor.rule",
            log_x=True,
            stage="generalization",
        ),
        Plot(
            "sweep",
            "Tuning: steps to a training loss of 1.0 against the rate, per batch size "
            "(capped at 1000 steps)",
            x="optimizer.lr",
            metric="steps_to_target_capped",
            hue="factor.batch",
            log_x=True,
            stage="tune",
        ),
        Plot(
            "sweep",
            "Steps to a training loss of 1.0 at each batch size's tuned rate",
            x="train.batch_size",
            metric="steps_to_target_capped",
            log_x=True,
            stage="steps",
        ),
        Plot(
            "sweep",
            "Training examples (steps x batch) to a training loss of 1.0",
            x="train.batch_size",
            metric="examples_to_target",
            log_x=True,
            stage="steps",
        ),
        Plot(
            "learning_curves",
            "Loss on the whole training split against the step, at each batch size's tuned rate",
            metric="full_train_loss",
            hue="arm",
            log_x=True,
            log_y=True,
            x_label="step",
            stage="steps",
        ),
    ]


STUDY = Study(
    name="batch_size",
    question=(
        "At a fixed rate and epoch budget, do larger batches generalize worse; does scaling "
        "the rate linearly with the batch recover it, and up to which batch; do the steps to "
        "a target loss fall as 1/B up to a critical batch and then flatten; and is a big "
        "batch slower per epoch or per step on this CPU?"
    ),
    description=__doc__.split("\n\n", 1)[1].replace("\n", " ").replace("``", ""),
    data=(
        "MNIST-1D (4000 train / 1000 test, 40 features, 10 classes), generated offline by "
        "the mnist1d package with seed 0; per seed a fresh stratified 20 % of the training "
        "part is the validation split, the other 3200 rows are trained on. Test accuracy is "
        "measured on the 1000 test rows."
    ),
    base_config=BASE_CONFIG,
    trial=generalization_trial,
    metrics=METRICS,
    design=SequentialDesign(looks=(5, 10, 15, 20), spending="pocock"),
    stages=_stages(),
    quick=QUICK,
    claims=[
        Claim(
            id="large_batch_generalizes_worse",
            text=f"At the small batch's rate ({BASE_LR:g}) and the same 10 epochs, a batch of "
            f"{GENERALIZATION_BATCHES[-1]} ends with a lower test accuracy than a batch of "
            f"{BASE_BATCH}.",
            statistic=f"per seed, {SMALL} minus {LARGE} test accuracy of the final weights, "
            "claimed above 0 (paired t-test)",
            evaluate=paired_comparison(
                "test_acc", SMALL, LARGE, better="higher", stage="generalization"
            ),
            source=f"{KESKAR}, abstract: 'when using a larger batch there is a degradation "
            "in the quality of the model, as measured by its ability to generalize'",
            setting=KESKAR_SETTING,
            expected="supported",
        ),
        Claim(
            id="large_batch_gap_is_wider",
            text=f"The batch of {GENERALIZATION_BATCHES[-1]} has a wider generalization gap "
            f"(training minus test accuracy) than the batch of {BASE_BATCH}: it fits the "
            "training data about as well but generalizes worse.",
            statistic=f"per seed, {LARGE} minus {SMALL} generalization gap (accuracy of the "
            "final weights on the whole training split minus on the test set), claimed above "
            "0 (paired t-test)",
            evaluate=paired_comparison(
                "generalization_gap", LARGE, SMALL, better="higher", stage="generalization"
            ),
            source=f"{KESKAR}, abstract and title: the large-batch 'generalization gap', "
            "large-batch methods converging to sharp minimizers and small-batch ones to flat "
            "minimizers",
            setting=KESKAR_SETTING,
            expected="supported",
            explanation=f"At a fixed 10-epoch budget the batch of "
            f"{GENERALIZATION_BATCHES[-1]} takes only 2 steps an epoch: it does not fit the "
            "training data (the results table shows its final_train_acc far below the "
            f"{BASE_BATCH} batch's, close to its test accuracy), so its gap is the smaller "
            "one. Keskar et al. compare nets trained until the loss stops improving, where "
            "both fit the training set; this study's budget is the product owner's fixed "
            "epochs, where the large batch under-fits instead.",
        ),
        Claim(
            id="linear_scaling_recovers",
            text=f"Scaling the rate linearly with the batch (k = 4: batch 128 at rate "
            f"{4 * BASE_LR:g}, with warm-up) recovers most of the test accuracy the batch of "
            "128 loses at the small batch's rate.",
            statistic="per seed, linear/B=128's test accuracy minus the midpoint of fixed/B=32's "
            "and fixed/B=128's, claimed above 0 (more than half recovered; t-test)",
            evaluate=linear_scaling_recovers(128),
            source=f"{GOYAL}, Sec. 2.1 (the linear scaling rule: when the minibatch size is "
            "multiplied by k, multiply the learning rate by k) and Sec. 2.2 (gradual warm-up); "
            "abstract: no loss of accuracy up to minibatches of 8192",
            setting=GOYAL_SETTING,
            expected="supported",
        ),
        Claim(
            id="linear_scaling_fails_beyond",
            text=f"Beyond some batch size the linear scaling rule fails: at batch "
            f"{GENERALIZATION_BATCHES[-1]} (k = {GENERALIZATION_BATCHES[-1] // BASE_BATCH}, "
            f"rate {BASE_LR * GENERALIZATION_BATCHES[-1] / BASE_BATCH:g} after warm-up) it "
            "recovers less than half of the lost test accuracy.",
            statistic=f"per seed, linear/B={GENERALIZATION_BATCHES[-1]}'s test accuracy minus "
            f"the midpoint of {SMALL}'s and {LARGE}'s (a diverged run at chance, 0.1), "
            "claimed below 0 (t-test); the recovered fraction of the means at every batch is "
            "reported",
            evaluate=linear_scaling_fails(GENERALIZATION_BATCHES[-1]),
            source=f"{GOYAL}, abstract (no loss of accuracy up to minibatches of 8192) and "
            "Sec. 2.1 (the rule's assumption fails while the network changes rapidly, and "
            "results stay stable only up to a certain minibatch size; read in a summary of "
            "the section)",
            setting=GOYAL_SETTING,
            expected="supported",
        ),
        Claim(
            id="steps_fall_as_1_over_b_then_flatten",
            text="With the rate tuned per batch size, the steps to a target training loss "
            f"fall nearly in proportion to 1/B at small batches ({STEP_BATCHES[0]} -> "
            f"{STEP_BATCHES[1]}) and flatten at large ones ({STEP_BATCHES[-2]} -> "
            f"{STEP_BATCHES[-1]}), as S(B) = S_min (1 + B_crit / B) predicts.",
            statistic="per seed, the scaling efficiency log(S(B1) / S(B2)) / log(B2 / B1) "
            "(1: steps halve when the batch doubles; 0: no gain) claimed above 1/2 for the two "
            "smallest batches and below 1/2 for the two largest (t-tests, both needed); "
            "S_min and B_crit fitted to the mean steps are reported",
            evaluate=steps_scaling,
            source=f"{MCCANDLISH}, abstract (the gradient noise scale predicts the largest "
            "useful batch size) and the steps/examples trade-off (S / S_min - 1)(E / E_min - "
            "1) = 1 with B_crit = E_min / S_min (Sec. 2; the relation as restated in the "
            "study brief, the section itself was not read)",
            setting="MNIST, SVHN, CIFAR-10, ImageNet, Billion Word, Atari, Dota and SVHN "
            "autoencoders (abstract), runs at a wide range of batch sizes with the rate tuned "
            "separately for each (OpenAI's 2018 post 'How AI training scales')",
            expected="supported",
        ),
        Claim(
            id="big_batch_epoch_is_faster",
            text=f"A big batch is not slower per epoch: an epoch at batch "
            f"{GENERALIZATION_BATCHES[-1]} takes less wall-clock time than at batch "
            f"{BASE_BATCH} on this machine's vectorized NumPy.",
            statistic=f"per seed, {LARGE} minus {SMALL} mean seconds of an epoch's training "
            "loop, claimed below 0 (paired t-test); a timing of this machine under whatever "
            "load it had",
            evaluate=paired_comparison(
                "sec_per_epoch", LARGE, SMALL, better="lower", stage="generalization"
            ),
            source=f"{NOTES}: 'a big batch is not necessarily slower, the GPU computes in "
            "parallel' (translated from the notes' Chinese), from the 2021 lecture on batch "
            "and momentum",
            setting="the lecture's timing of batch sizes on a GPU (the figure itself is an "
            "image in the notes and was not read)",
            expected="supported",
        ),
        Claim(
            id="big_batch_step_costs_about_the_same",
            text=f"A step on a big batch costs about as much as a step on a small one: a step "
            f"at batch {GENERALIZATION_BATCHES[-1]} takes less than twice as long as a step at "
            f"batch {BASE_BATCH}.",
            statistic=f"per seed, log2 of {LARGE}'s over {SMALL}'s seconds per step, claimed "
            "below 1 (t-test); a timing of this machine",
            evaluate=step_time_ratio,
            source=f"{NOTES}: a larger batch does not take longer per update because the GPU "
            "computes the batch in parallel, from the 2021 lecture on batch and momentum",
            setting="the lecture's GPU timing of one update against the batch size (the "
            "figure is an image in the notes and was not read)",
            expected="supported",
            explanation="This machine computes on two shared CPU cores with one BLAS thread "
            "per worker, not a GPU's thousands of lanes: a step's matrix products grow with "
            "the batch, so the report's seconds per step rise with it (step_time_ratio in "
            "this claim's numbers, against a batch ratio of 64). Per epoch the big batch is "
            "still faster (the previous claim): fewer, larger products amortize Python's "
            "per-step overhead.",
        ),
    ],
    plots=_plots(),
)
