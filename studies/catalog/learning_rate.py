"""How large a step? The learning rate on a quadratic and on an MLP, with schedules and warm-up.

Stage ``quadratic`` makes the seed notes' 1-D example exact. The notes (``004_*``, "the effect
of different learning rates: 1, 0.25, 0.24, 0.1") show gradient descent on a function drawn
only as an image; their four step sizes are those of the PyTorch lesson they follow, which
descends ``y = (2x)² = 4x²`` from ``x = 2``: curvature ``a = 8``, so the thresholds are
``1/a = 0.125`` and ``2/a = 0.25``. On ``f(x) = a x² / 2`` a step multiplies ``x`` by
``1 - lr a``: gradient descent converges monotonically for ``lr <= 1/a``, oscillates but
converges for ``1/a < lr < 2/a``, cycles between ``±x0`` at ``lr = 2/a`` and diverges above.
Each seed draws the starting point; dlkit's SGD takes the steps (float64), and the regime read
off each trajectory is compared with theory at the notes' rates and on a grid of 64 rates
``k / 200``.

The other stages train a 40-128-128-10 ReLU MLP on MNIST-1D (15 epochs, batch 128, as in the
optimizers study). ``sweep``: plain SGD at nine rates half a decade apart, ``10^-2.5 ..
10^1.5``, each with a constant rate and with a cosine schedule, scored by the final validation
loss. ``schedule``: on a second, independent seed stream, SGD with a constant rate and with a
cosine schedule (Loshchilov & Hutter 2017), each at its own best sweep rate (lowest mean final
validation loss over the first look's seeds), same 15 epochs; test accuracy of the final
weights is measured here only. ``warmup``: on a third stream, Adam at a peak rate a hundred
times its usual one, cosine-annealed per batch, with and without a linear warm-up over the
first epochs (Goyal et al. 2017), plus Adam at its usual rate for reference. Seed ``s`` draws
its own validation split, initialisation and batch order, shared by every arm of a stage
(paired by seed). Each arm names its schedule in ``schedule.name``; :func:`build_schedule`
builds it from ``dlkit.optim.lr_scheduler`` (``step``, a MultiStepLR, is offered but no arm
runs it).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from dlkit import optim, train
from dlkit.nn.base import Parameter
from dlkit.optim import lr_scheduler
from studies.catalog._task_mlp import PLOT_CAP, train_task_mlp
from studies.engine.claims import all_of, paired_comparison, usable_rows
from studies.engine.select import best_setting
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import ClaimResult, Evidence

# --------------------------------------------------------------------------- the quadratic

#: Regimes of gradient descent on a quadratic, by code.
REGIMES = {0: "monotone", 1: "oscillating", 2: "cycle", 3: "diverges"}
MONOTONE, OSCILLATING, CYCLE, DIVERGES = 0, 1, 2, 3
#: The notes' step sizes, in the order they list them.
NOTES_RATES = (1.0, 0.25, 0.24, 0.1)
#: |x_T| / |x_0| within this of 1 counts as a cycle (neither converging nor diverging).
CYCLE_TOLERANCE = 1e-9
#: The trajectory plot clips x_t / x_0 to this magnitude (lr = 1 multiplies it by -7 a step).
TRAJECTORY_CLIP = 3.0

QUADRATIC_CONFIG = {
    # f(x) = a x^2 / 2 with a = 8: the notes' y = 4 x^2.
    "curvature": 8.0,
    # The seed draws |x0| uniformly from this range and a random sign.
    "x0_range": [0.5, 3.0],
    "steps": 50,
    "lr": 0.1,
    # The grid arm: rates k / grid_denominator for k = 1 .. grid_points.
    "grid_points": 64,
    "grid_denominator": 200,
}


def theory_regime(lr: float, curvature: float) -> int:
    """The regime theory gives for gradient descent at ``lr`` on ``a x² / 2``.

    ``x`` is multiplied by ``1 - lr a`` each step: monotone for ``lr a <= 1`` (one step to the
    minimum at equality), oscillating but converging for ``1 < lr a < 2``, a cycle between
    ``±x0`` at ``lr a = 2`` and divergence above.
    """
    if lr <= 0 or curvature <= 0:
        raise ValueError(f"lr and curvature must be > 0, got {lr!r} and {curvature!r}")
    p = lr * curvature
    if p <= 1.0:
        return MONOTONE
    if p < 2.0:
        return OSCILLATING
    if p == 2.0:
        return CYCLE
    return DIVERGES


def measured_regime(path: np.ndarray, *, tolerance: float = CYCLE_TOLERANCE) -> int:
    """The regime read off a trajectory ``x_0, x_1, ..., x_T`` (``x_0 != 0``).

    Diverges when ``|x_T| > |x_0|`` beyond ``tolerance`` (relative) or an iterate is not
    finite; a cycle when ``|x_T| / |x_0|`` is 1 within ``tolerance``; otherwise it converges,
    oscillating when two consecutive non-zero iterates have opposite signs, else monotone.
    """
    path = np.asarray(path, dtype=float)
    if path.ndim != 1 or path.size < 2 or path[0] == 0:
        raise ValueError("path must be 1-D with at least two points and x_0 != 0")
    if not np.all(np.isfinite(path)):
        return DIVERGES
    ratio = abs(path[-1]) / abs(path[0])
    if ratio > 1.0 + tolerance:
        return DIVERGES
    if abs(ratio - 1.0) <= tolerance:
        return CYCLE
    nonzero = path[path != 0]
    if np.any(np.sign(nonzero[1:]) != np.sign(nonzero[:-1])):
        return OSCILLATING
    return MONOTONE


def descend(x0: float, lr: float, curvature: float, steps: int) -> np.ndarray:
    """``x_0 .. x_steps`` of dlkit's SGD on ``curvature x² / 2`` (float64; stops early at a
    non-finite iterate, which is kept)."""
    point = Parameter(np.array([x0], dtype=np.float64), name="x")
    opt = optim.SGD([point], lr=lr)
    path = [x0]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            opt.zero_grad()
            point.grad[0] = curvature * point.data[0]
            opt.step()
            path.append(float(point.data[0]))
            if not math.isfinite(path[-1]):
                break
    return np.array(path)


def quadratic_grid(config: dict) -> np.ndarray:
    """The grid arm's rates, ``k / grid_denominator`` for ``k = 1 .. grid_points``."""
    k = np.arange(1, config["grid_points"] + 1)
    return k / float(config["grid_denominator"])


def quadratic_trial(config: dict) -> TrialResult:
    """Gradient descent on ``a x² / 2`` from the seed's starting point.

    The arm ``lr=<r>`` runs one rate: history ``x_over_x0`` (clipped at
    :data:`TRAJECTORY_CLIP`) and ``f_over_f0`` per step. The arm ``grid`` (``config["lr"]``
    None) runs every rate of :func:`quadratic_grid`; its history is indexed by ``k`` (the step
    axis is ``lr x grid_denominator``) with the measured per-step factor ``rho`` = ``x_1 /
    x_0`` and the measured and theoretical regime codes (``regime_measured``,
    ``regime_theory``). Summaries: ``regime_mismatches``
    (rates whose measured regime differs from theory), ``regime_rates`` and
    ``regime_match_fraction``; a one-rate arm adds ``measured_regime`` and
    ``contraction`` (``|x_T / x_0|``, capped at 1e300).
    """
    rng = np.random.default_rng(config["seed"])
    low, high = config["x0_range"]
    x0 = float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))
    a, steps = float(config["curvature"]), int(config["steps"])
    inputs = data_inputs(
        "quadratic", f"f(x) = {a:g} x^2 / 2 from x0 ~ ±U{list(config['x0_range'])}", start=([x0],)
    )
    if config["lr"] is None:
        history, mismatches = [], 0
        rates = quadratic_grid(config)
        for k, lr in enumerate(rates, start=1):
            path = descend(x0, float(lr), a, steps)
            got, want = measured_regime(path), theory_regime(float(lr), a)
            mismatches += int(got != want)
            history.append(
                {
                    "epoch": k,
                    "rho": float(path[1] / path[0]),
                    "regime_measured": float(got),
                    "regime_theory": float(want),
                }
            )
        summary = {
            "regime_mismatches": float(mismatches),
            "regime_rates": float(len(rates)),
            "regime_match_fraction": 1.0 - mismatches / len(rates),
        }
        return TrialResult(history=history, summary=summary, datasets=inputs)
    lr = float(config["lr"])
    path = descend(x0, lr, a, steps)
    got, want = measured_regime(path), theory_regime(lr, a)
    ratio = path / x0
    history = [
        {
            "epoch": t,
            "x_over_x0": float(np.clip(r, -TRAJECTORY_CLIP, TRAJECTORY_CLIP)),
            "f_over_f0": float(min(r * r, 1e300)),
        }
        for t, r in enumerate(ratio)
        if math.isfinite(r)
    ]
    summary = {
        "measured_regime": float(got),
        "regime_mismatches": float(got != want),
        "regime_rates": 1.0,
        "regime_match_fraction": float(got == want),
        "contraction": float(min(abs(ratio[-1]), 1e300)),
    }
    return TrialResult(history=history, summary=summary, datasets=inputs)


def regimes_match_theory(summaries: pd.DataFrame, histories) -> ClaimResult:
    """Evaluator of claim 1: an exact check, not a test.

    Supported when, on every seed of stage ``quadratic`` (at least two), every rate's measured
    regime equals theory's; not supported when any differs; inconclusive without two seeds
    whose every arm finished.
    """
    rows = usable_rows(summaries, stage="quadratic")
    n_arms = summaries.loc[summaries["stage"] == "quadratic", "arm"].nunique()
    complete = rows.groupby("seed")["arm"].nunique()
    seeds = sorted(int(s) for s in complete[complete == n_arms].index)
    rows = rows[rows["seed"].isin(seeds)]
    mismatches = float(rows["regime_mismatches"].astype(float).sum()) if seeds else math.nan
    rates = float(rows["regime_rates"].astype(float).sum()) if seeds else math.nan
    numbers = {
        "seeds": float(len(seeds)),
        "rates_checked": rates,
        "mismatches": mismatches,
        "match_fraction": 1.0 - mismatches / rates if seeds else math.nan,
    }
    statistic = (
        "exact: per seed (starting point), the regime read off each trajectory against the "
        "regime theory gives, at the notes' four rates and 64 grid rates"
    )
    if len(seeds) < 2:
        return ClaimResult("inconclusive", statistic, numbers, "fewer than two complete seeds")
    if mismatches == 0:
        detail = (
            f"all {int(rates)} (seed, rate) trajectories fall in the regime theory predicts "
            f"({len(seeds)} starting points)"
        )
        return ClaimResult("supported", statistic, numbers, detail, seeds=len(seeds))
    detail = f"{int(mismatches)} of {int(rates)} (seed, rate) trajectories disagree with theory"
    return ClaimResult("not supported", statistic, numbers, detail, seeds=len(seeds))


# --------------------------------------------------------------------------- MNIST-1D

HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")
#: Sweep rates are 10 ** (k / 2) for these k: 10^-2.5 .. 10^1.5, half a decade apart.
SWEEP_EXPONENTS = tuple(range(-5, 4))
QUICK_SWEEP_EXPONENTS = (-5, -1, 3)
#: The warm-up stage's Adam peak rate, and Adam's usual default.
WARMUP_PEAK = 10**-1.0
ADAM_DEFAULT = 1e-3
WARMUP_EPOCHS = 3
WARMUP_START = 0.01

MNIST1D_CONFIG = {
    "data": {"name": "mnist1d", "seed": 0, "val_fraction": 0.2},
    "model": {"hidden": [128, 128], "init": "kaiming_normal"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    # name: constant | cosine | step | warmup; warm-up is per batch over ``warmup_epochs``.
    "schedule": {
        "name": "constant",
        "warmup_epochs": WARMUP_EPOCHS,
        "warmup_start": WARMUP_START,
        "step_gamma": 0.1,
    },
    "train": {"epochs": 15, "batch_size": 128, "evaluate_test": False},
    # 0: the sweep's seeds; 1: the reruns of the schedule stage; 2: the warm-up stage.
    "seed_stream": 0,
}
QUICK = {"train": {"epochs": 3}}


def build_schedule(
    config: dict, opt: optim.Optimizer, epochs: int, batches: int
) -> lr_scheduler.LRScheduler | None:
    """The schedule of ``config["schedule"]`` over ``opt`` for ``epochs`` of ``batches``.

    ``constant``: none. ``cosine``: :class:`~dlkit.optim.lr_scheduler.CosineAnnealingLR`
    with ``T_max = epochs`` (per epoch, to 0). ``step``: ``MultiStepLR`` dividing the rate by
    ``1 / step_gamma`` after half and three quarters of the epochs. ``warmup``: ``LinearLR``
    from ``warmup_start`` times the peak to the peak over ``warmup_epochs`` epochs, stepped per
    batch, then constant.
    """
    cfg = config["schedule"]
    name = cfg["name"]
    if name == "constant":
        return None
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    if name == "step":
        milestones = sorted({max(1, epochs // 2), max(1, (3 * epochs) // 4)})
        return lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=cfg["step_gamma"])
    if name == "cosine_batch":
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * batches)
        sched.per_batch = True
        return sched
    if name in ("warmup", "warmup_cosine"):
        warm = max(1, int(round(cfg["warmup_epochs"] * batches)))
        sched = lr_scheduler.LinearLR(opt, start_factor=cfg["warmup_start"], total_iters=warm)
        sched.per_batch = True
        if name == "warmup":
            return sched
        decay = lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * batches - warm))
        decay.per_batch = True
        return lr_scheduler.SequentialLR(opt, [sched, decay], milestones=[warm])
    raise ValueError(
        f"unknown schedule {name!r}; valid: constant, cosine, cosine_batch, step, warmup, "
        "warmup_cosine"
    )


def mlp_trial(config: dict) -> TrialResult:
    """Train the MLP of ``config`` at one rate and schedule, for one seed.

    Summaries: ``final_val_loss`` (``inf`` when diverged), ``final_val_loss_capped`` (at
    :data:`PLOT_CAP` x ln(classes), so a diverged trial counts as at least that bad),
    ``min_val_loss``, ``final_val_acc``, ``final_train_loss`` and, with
    ``train.evaluate_test``, ``test_acc`` / ``test_loss`` of the final weights. History: the
    losses, accuracies and the rate each epoch started with (``lr``). The random stream is
    seeded by ``(seed_stream, seed)``.
    """
    run = train_task_mlp(config, HISTORY_KEYS, functools.partial(build_schedule, config))
    if run.history.diverged:
        summary = {k: math.inf for k in ("min_val_loss", "final_val_loss", "final_train_loss")}
        summary["final_val_loss_capped"] = run.cap
        return run.result(summary)
    final = run.history[-1]
    summary = {
        "min_val_loss": run.best.value,
        "final_val_loss": float(final["val_loss"]),
        "final_val_loss_capped": min(float(final["val_loss"]), run.cap),
        "final_val_acc": float(final["val_acc"]),
        "final_train_loss": float(final["train_loss"]),
    }
    if config["train"]["evaluate_test"]:
        test = train.evaluate(run.model, run.loss, run.ds.X_test, run.ds.y_test)
        summary["test_acc"], summary["test_loss"] = test["acc"], test["loss"]
    return run.result(summary)


def sweep_arms(*, quick: bool = False) -> dict[str, Arm]:
    """Stage ``sweep``: SGD at every rate ``10 ** (k / 2)`` of the grid, constant and cosine."""
    arms = {}
    for schedule in ("constant", "cosine"):
        for k in QUICK_SWEEP_EXPONENTS if quick else SWEEP_EXPONENTS:
            log10_lr = f"{k / 2:g}"
            arms[f"sweep/{schedule}/lr=10^{log10_lr}"] = Arm(
                {"optimizer": {"lr": 10.0 ** (k / 2)}, "schedule": {"name": schedule}},
                factors={"schedule": schedule, "log10_lr": log10_lr},
            )
    return arms


def best_rates(previous: pd.DataFrame) -> dict[str, Arm]:
    """Stage ``schedule``: constant and cosine, each at its own best sweep rate.

    The best rate has the lowest mean final validation loss over the seeds the sweep has run
    when this stage starts (the first look's); a rate that diverged on any of them loses
    (:func:`~studies.engine.select.best_setting`). The reruns use seed stream 1, so the seeds
    that chose the rates do not also judge them, and measure test accuracy.
    """
    best = best_setting(
        previous,
        stage="sweep",
        metric="final_val_loss",
        better="lower",
        setting="config.optimizer.lr",
        within="factor.schedule",
    )
    arms = {}
    for schedule in ("constant", "cosine"):
        if schedule not in best:  # every sweep trial of it failed: best_setting warned
            continue
        arms[f"schedule/{schedule}"] = Arm(
            {
                "optimizer": {"lr": best[schedule]},
                "schedule": {"name": schedule},
                "train": {"evaluate_test": True},
                "seed_stream": 1,
            },
            factors={"schedule": schedule, "log10_lr": f"{math.log10(best[schedule]):g}"},
        )
    return arms


def warmup_arms(*, reference: bool = True) -> dict[str, Arm]:
    """Stage ``warmup``: Adam at :data:`WARMUP_PEAK` with and without linear warm-up (both
    cosine-annealed per batch), and (``reference``) Adam at its default rate, on seed
    stream 2 (the pilot that chose the peak used stream 1)."""
    adam = {"name": "adam"}
    arms = {
        "adam/no_warmup": Arm(
            {
                "optimizer": {**adam, "lr": WARMUP_PEAK},
                "schedule": {"name": "cosine_batch"},
                "seed_stream": 2,
            },
            factors={"warmup": "no", "log10_lr": f"{math.log10(WARMUP_PEAK):g}"},
        ),
        "adam/warmup": Arm(
            {
                "optimizer": {**adam, "lr": WARMUP_PEAK},
                "schedule": {"name": "warmup_cosine"},
                "seed_stream": 2,
            },
            factors={"warmup": "yes", "log10_lr": f"{math.log10(WARMUP_PEAK):g}"},
        ),
    }
    if reference:
        arms["adam/default_lr"] = Arm(
            {
                "optimizer": {**adam, "lr": ADAM_DEFAULT},
                "schedule": {"name": "cosine_batch"},
                "seed_stream": 2,
            },
            factors={"warmup": "no", "log10_lr": f"{math.log10(ADAM_DEFAULT):g}"},
        )
    return arms


def sweep_best_arm(
    summaries: pd.DataFrame, *, schedule: str = "constant", metric: str = "final_val_loss_capped"
) -> tuple[str, str, str]:
    """``(smallest, best, largest)`` arms of ``schedule``'s sweep.

    The best arm has the lowest mean ``metric`` over the seeds of the first look, the
    ``n`` lowest seeds every arm of the sweep has finished, where ``n`` is the number of seeds
    of the arm with the fewest (so seeds added later for the claim do not move the choice).

    Raises
    ------
    ValueError
        When the sweep has no usable trial of ``schedule``.
    """
    rows = usable_rows(summaries, stage="sweep")
    rows = rows[rows["factor.schedule"] == schedule]
    if rows.empty:
        raise ValueError(f"no finished sweep trial of schedule {schedule!r}")
    rates = rows.groupby("arm")["config.optimizer.lr"].first().astype(float).sort_values()
    n_first = int(rows.groupby("arm")["seed"].nunique().min())
    common = sorted(set.intersection(*(set(g["seed"]) for _, g in rows.groupby("arm"))))
    first = common[:n_first]
    means = rows[rows["seed"].isin(first)].groupby("arm")[metric].mean().reindex(rates.index)
    return str(rates.index[0]), str(means.idxmin()), str(rates.index[-1])


def best_rate_interior(metric: str = "final_val_loss_capped"):
    """Evaluator of "the best constant rate is interior": the best arm of the sweep beats the
    smallest and the largest rate on ``metric``, paired by seed (both must hold)."""

    def evaluate(summaries: pd.DataFrame, histories) -> Evidence:
        smallest, best, largest = sweep_best_arm(summaries, metric=metric)
        parts = [
            (
                "vs_smallest",
                paired_comparison(metric, best, smallest, better="lower", stage="sweep")(
                    summaries, histories
                ),
            ),
            (
                "vs_largest",
                paired_comparison(metric, best, largest, better="lower", stage="sweep")(
                    summaries, histories
                ),
            ),
        ]
        evidence = all_of(parts)
        rate = summaries.loc[summaries["arm"] == best, "config.optimizer.lr"].iloc[0]
        return Evidence(
            evidence.comparisons,
            numbers={**evidence.numbers, "best_log10_lr": math.log10(float(rate))},
            detail=f"best rate: {best}",
        )

    return evaluate


METRICS = {
    "measured_regime": None,
    "regime_mismatches": "lower",
    "regime_rates": None,
    "regime_match_fraction": "higher",
    "contraction": None,
    "min_val_loss": "lower",
    "final_val_loss": "lower",
    "final_val_loss_capped": "lower",
    "final_val_acc": "higher",
    "final_train_loss": "lower",
    "test_acc": "higher",
    "test_loss": "lower",
}


def _stages() -> list[Stage]:
    notes = {f"lr={lr:g}": Arm({"lr": lr}, factors={"lr": f"{lr:g}"}) for lr in NOTES_RATES}
    grid = {"grid": Arm({"lr": None}, factors={"lr": "grid"})}
    return [
        Stage(
            "quadratic",
            {**notes, **grid},
            quick_seeds=2,
            base_config=QUADRATIC_CONFIG,
            trial=quadratic_trial,
            quick={},
        ),
        Stage("sweep", sweep_arms(), quick_arms=sweep_arms(quick=True), quick_seeds=2),
        Stage("schedule", best_rates, quick_seeds=2),
        Stage("warmup", warmup_arms(), quick_arms=warmup_arms(reference=False), quick_seeds=2),
    ]


def _plots() -> list[Plot]:
    cap = f"{PLOT_CAP:g} ln 10"
    return [
        Plot(
            "learning_curves",
            "Gradient descent on f(x) = 4x² at the notes' step sizes: x_t / x_0 (clipped at "
            f"±{TRAJECTORY_CLIP:g}; thresholds 1/a = 0.125, 2/a = 0.25)",
            metric="x_over_x0",
            hue="arm",
            x_label="step",
            stage="quadratic",
        ),
        Plot(
            "learning_curves",
            "The same runs: f(x_t) / f(x_0) on a log scale (lr = 1 diverges, 0.25 cycles)",
            metric="f_over_f0",
            hue="arm",
            log_y=True,
            x_label="step",
            stage="quadratic",
        ),
        Plot(
            "learning_curves",
            "Regime map on f(x) = 4x²: the regime read off each grid trajectory (0 monotone, "
            "1 oscillating, 2 cycle, 3 divergent) against 200 lr; theory switches at 1/a = "
            "0.125 (x = 25) and 2/a = 0.25 (x = 50)",
            metric="regime_measured",
            hue="arm",
            x_label="learning rate x 200",
            markers=True,
            stage="quadratic",
        ),
        Plot(
            "sweep",
            f"SGD on MNIST-1D: final validation loss against the rate (capped at {cap})",
            x="optimizer.lr",
            metric="final_val_loss_capped",
            hue="factor.schedule",
            log_x=True,
            stage="sweep",
        ),
        Plot(
            "learning_curves",
            "SGD at each schedule's tuned rate: validation loss (mean, 95% CI over seeds)",
            metric="val_loss",
            hue="arm",
            stage="schedule",
        ),
        Plot(
            "learning_curves",
            "SGD: the learning rate each epoch starts with",
            metric="lr",
            hue="arm",
            log_y=True,
            stage="schedule",
        ),
        Plot(
            "final_metric",
            "Final validation loss at tuned rates, constant vs cosine",
            metric="final_val_loss_capped",
            stage="schedule",
        ),
        Plot(
            "final_metric",
            "Test accuracy of the final weights, constant vs cosine",
            metric="test_acc",
            stage="schedule",
        ),
        Plot(
            "learning_curves",
            f"Adam at peak 10^{math.log10(WARMUP_PEAK):g} with and without warm-up: "
            "validation loss",
            metric="val_loss",
            hue="arm",
            stage="warmup",
        ),
        Plot(
            "learning_curves",
            "Adam: the learning rate each epoch starts with (warm-up and cosine per batch)",
            metric="lr",
            hue="arm",
            log_y=True,
            stage="warmup",
        ),
        Plot(
            "final_metric",
            f"Adam warm-up comparison: final validation loss (capped at {cap})",
            metric="final_val_loss_capped",
            stage="warmup",
        ),
    ]


STUDY = Study(
    name="learning_rate",
    metrics=METRICS,
    question=(
        "How does the step size decide whether gradient descent converges, how wide is the "
        "bracket of good constant rates on a small MLP, and do a decaying schedule and a "
        "warm-up improve on a constant rate?"
    ),
    description=(
        "Four parts. (1) The seed notes' 1-D example made exact: gradient descent (dlkit's SGD, "
        "float64) on f(x) = 4x² (curvature a = 8, the function of the PyTorch lesson whose "
        "step sizes 1, 0.25, 0.24 and 0.1 the notes show) from a starting point each seed "
        "draws, at the notes' four rates and 64 rates k/200; the regime read off each "
        "trajectory (monotone, oscillating, cycle, divergent) is compared with theory "
        "(thresholds 1/a and 2/a). (2) Plain SGD on a 40-128-128-10 ReLU MLP on MNIST-1D "
        "(15 epochs, batch 128) at nine constant rates half a decade apart, 10^-2.5 .. "
        "10^1.5, and the same nine rates with a cosine schedule, scored by the final "
        "validation loss (a diverged run counts as 1.5 ln 10). (3) Constant and cosine, each "
        "at the rate with the lowest mean final validation loss over the sweep's first five "
        "seeds, rerun on an independent seed stream with the same 15-epoch budget. (4) Adam "
        f"at a peak rate of 10^{math.log10(WARMUP_PEAK):g}, a hundred times its usual 10^-3 "
        "(chosen in a pilot on other seeds, where Adam without warm-up ended near or at "
        f"chance), cosine-annealed per batch, with and without a linear warm-up from "
        f"{WARMUP_START:g} x the peak over the first {WARMUP_EPOCHS} epochs (per batch), plus "
        "Adam at 10^-3 for reference. Seed s draws its validation split, initialisation and "
        "batch order, shared by every arm of a stage (paired by seed); seeds are added while "
        "a claim is undecided."
    ),
    data=(
        "MNIST-1D (4000 train / 1000 test, 40 features, 10 classes), generated offline by the "
        "mnist1d package with seed 0; per seed, a fresh stratified 20% of the training part "
        "is the validation split. The quadratic stage uses no data: its 'data set' is the "
        "seed's starting point."
    ),
    base_config=MNIST1D_CONFIG,
    trial=mlp_trial,
    stages=_stages(),
    quick=QUICK,
    claims=[
        Claim(
            id="quadratic_regimes_match_theory",
            text="On a quadratic f(x) = a x²/2, gradient descent converges monotonically for "
            "lr <= 1/a, oscillates but converges for 1/a < lr < 2/a, cycles at 2/a and "
            "diverges above; on the notes' f(x) = 4x² (a = 8) that makes 0.1 monotone, 0.24 "
            "oscillating, 0.25 a cycle and 1 divergent.",
            statistic="exact comparison, not a test: for every seed's starting point, the "
            "regime read off each 50-step trajectory (the notes' four rates and 64 grid rates "
            "k/200) must equal theory's; supported only when all agree",
            evaluate=regimes_match_theory,
            source="Seed notes 004 (learning rate: step sizes 1, 0.25, 0.24, 0.1 shown as "
            "images); the PyTorch lesson learning_rate.py by TingsongYu (2019) they follow, "
            "gradient descent on y = (2x)² = 4x² from x = 2; the thresholds 1/a and 2/a are "
            "the textbook analysis of gradient descent on a quadratic (LeCun, Bottou, Orr & "
            "Müller 1998, Efficient BackProp)",
            setting="one-dimensional quadratic 4x², plain gradient descent from x = 2, a few "
            "to 100 iterations per rate",
            expected="supported",
        ),
        Claim(
            id="best_constant_rate_is_interior",
            text="On an MNIST-1D MLP trained with plain SGD, the final validation loss against "
            "the constant learning rate is U-shaped: too small a rate is slow, too large "
            "diverges, and the best rate of a four-decade sweep lies inside it (both the "
            "smallest and the largest rate end worse than the best).",
            statistic="per seed, the best sweep rate's (lowest mean over the first five "
            "seeds) minus the smallest rate's (10^-2.5) and minus the largest rate's (10^1.5) "
            "final validation loss, capped at 1.5 ln 10 (a diverged run sits at the cap), "
            "both claimed below 0 (t-tests, both must hold)",
            evaluate=best_rate_interior(),
            source="Goodfellow, Bengio & Courville 2016, Deep Learning, Ch. 11 (Practical "
            "Methodology): the learning rate as the first hyperparameter to tune, the error "
            "U-shaped in it; the seed notes 004 (too small a rate is slow, too large "
            "oscillates or diverges)",
            setting="a general statement about training deep networks by gradient descent, "
            "no specific experiment",
            expected="supported",
        ),
        Claim(
            id="cosine_beats_best_constant",
            text="At the same 15-epoch budget, SGD with a cosine-annealed rate ends with a "
            "lower validation loss than SGD at the best constant rate (each at its own tuned "
            "rate).",
            statistic="per seed of an independent stream, cosine's minus constant's final "
            "validation loss (capped at 1.5 ln 10), claimed below 0 (paired t-test)",
            evaluate=paired_comparison(
                "final_val_loss_capped",
                "schedule/cosine",
                "schedule/constant",
                better="lower",
                stage="schedule",
            ),
            source="Loshchilov & Hutter 2017, SGDR: Stochastic Gradient Descent with Warm "
            "Restarts (ICLR): the cosine annealing of the rate within a run (their Eq. 5), "
            "against the step schedule wide ResNets were trained with; the comparison with a "
            "constant rate is this study's",
            setting="wide ResNets on CIFAR-10 and CIFAR-100, SGD with Nesterov momentum from "
            "lr 0.1, batch 128; the baseline lowers the rate in steps",
            expected="supported",
        ),
        Claim(
            id="warmup_rescues_large_adam_rate",
            text=f"At a peak rate of 10^{math.log10(WARMUP_PEAK):g} (a hundred times Adam's "
            "usual rate), Adam with a linear warm-up trains an MNIST-1D MLP to a lower "
            "validation loss than Adam without one.",
            statistic="per seed, the warm-up arm's minus the no-warm-up arm's final validation "
            "loss (both cosine-annealed per batch; capped at 1.5 ln 10), claimed below 0 "
            "(paired t-test)",
            evaluate=paired_comparison(
                "final_val_loss_capped",
                "adam/warmup",
                "adam/no_warmup",
                better="lower",
                stage="warmup",
            ),
            source="Goyal et al. 2017, Accurate, Large Minibatch SGD: Training ImageNet in 1 "
            "Hour: gradual warm-up, the rate ramped from a small value to the large one over "
            "the first 5 epochs, lets a large rate train; Liu et al. 2020, On the Variance of "
            "the Adaptive Learning Rate and Beyond (RAdam), Sec. 1 and Fig. 1: removing Adam's "
            "warm-up raises a Transformer's training loss from 3 to around 10",
            setting="Goyal: ResNet-50 on ImageNet, SGD with momentum, minibatches up to 8k; "
            "Liu: Transformers on IWSLT'14 De-En with Adam",
            expected="supported",
        ),
    ],
    plots=_plots(),
)
