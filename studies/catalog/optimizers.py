"""How sensitive is each optimizer to its learning rate, and what does tuning it leave?

Protocol after DeepOBS (Schneider et al., 2019) on two tasks, an MLP on MNIST-1D and a
smaller MLP on scikit-learn's 8x8 digits. Stage ``sens_<task>`` sweeps SGD, Momentum,
Nesterov and Adam each over nine learning rates half a decade apart, two decades on each side
of the rate a pilot found best at this budget (4 decades per optimizer); every point is
trained on the first look's seeds and scored on a validation split carved out of the training
set (the test set is not evaluated). That sweep is the learning-rate sensitivity curve, and
seeds are added to the SGD and Adam points while the range claim is undecided. Each
optimizer's best rate is the one with the lowest mean validation loss over the first look's
seeds. Stage ``final_<task>`` reruns each optimizer at its best rate on a second, independent
seed stream (fresh splits, initialisations and batch orders: the seeds that chose the rate do
not also judge it), seeds added look by look by the study's sequential design, and only then
measures test accuracy, of the weights from the epoch with the lowest validation loss (early
stopping). Seed ``s`` draws its own validation split, initialisation and batch order, shared
by every optimizer of a stage (paired by seed); MNIST-1D is generated once and digits' test
split is fixed. Stage ``toy2d`` traces every optimizer on three 2-D functions (the "Deep
Learning from Scratch" bowl, Rosenbrock, a saddle).

Claims (Kingma & Ba 2015; Schmidt et al. 2021; Wilson et al. 2017; Dauphin et al. 2014) are
judged on the data by :mod:`studies.engine.claims`.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
import pandas as pd

from dlkit import train
from studies.catalog._task_mlp import PLOT_CAP, train_task_mlp
from studies.catalog._toy2d import paths_artifact
from studies.engine.claims import all_of, paired_columns, paired_comparison, usable_rows
from studies.engine.select import best_setting
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult
from studies.stats import Comparison, Evidence

log = logging.getLogger(__name__)

#: Every optimizer of the 2-D paths.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
#: The optimizers tuned and rerun on both tasks (the claims need SGD, Momentum, Nesterov and
#: Adam; AdaGrad, AdaDelta, RMSprop and AdamW appear only in the 2-D paths).
TUNED = ("sgd", "momentum", "nesterov", "adam")
TASKS = ("mnist1d", "digits")
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")

#: Learning rates are ``10 ** (k / 2)``: a grid in half-decade steps. Each optimizer's grid is
#: centred, per task, on the exponent with the lowest mean validation loss in a pilot of this
#: design (a 12-14 point grid from 10^-5.5 to 10^1 on two seeds, then the nine-point sweep on
#: 5-20 seeds), so that the rate chosen sits two decades from either end of its grid.
GRID_CENTER = {
    "mnist1d": {"sgd": 0, "momentum": -2, "nesterov": -2, "adam": -4},
    "digits": {"sgd": -1, "momentum": -3, "nesterov": -3, "adam": -4},
}
#: Half-decades on each side of the centre: 4 = two decades, so nine rates over four decades.
GRID_HALF_WIDTH = 4
#: ``--quick``: three rates a decade apart around the centre.
QUICK_GRID_OFFSETS = (-2, 0, 2)
DECADES_PER_STEP = 0.5
#: A rate is "good" for a seed when its final validation loss is at most this much above
#: (relative) the lowest final validation loss of that optimizer and seed over the grid.
RANGE_TOLERANCE = 0.25
#: The smallest difference of good-range widths the range claim is about: one grid step (a
#: narrower difference is below what the half-decade sweep resolves).
GRID_STEP_DECADES = DECADES_PER_STEP
#: The smallest test-accuracy gap the generalization claim is about: one point.
MIN_TEST_GAP = 0.01
# The sensitivity plots cap the final validation loss at PLOT_CAP x ln(classes), the loss of
# a uniform guess times 1.5 (studies.catalog._task_mlp), so a diverged rate sits at the cap.

MNIST1D_CONFIG = {
    # ``seed`` generates the data set (fixed); the trial's seed draws the validation split.
    "data": {"name": "mnist1d", "seed": 0, "val_fraction": 0.2},
    "model": {"hidden": [128, 128], "init": "kaiming_normal"},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "train": {"epochs": 15, "batch_size": 128, "evaluate_test": False},
    # 0: the sensitivity sweep's seeds; 1: the independent reruns of the final stage.
    "seed_stream": 0,
}
DIGITS_CONFIG = {
    # ``seed`` fixes digits' stratified 80/20 train/test split (1437 / 360 images).
    "data": {"name": "digits", "seed": 0, "val_fraction": 0.2},
    "model": {"hidden": [64], "init": "kaiming_normal"},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "train": {"epochs": 20, "batch_size": 64, "evaluate_test": False},
    "seed_stream": 0,
}
TASK_CONFIG = {"mnist1d": MNIST1D_CONFIG, "digits": DIGITS_CONFIG}
QUICK = {"train": {"epochs": 3}}
TASK_TITLE = {
    "mnist1d": "MLP 40-128-128-10 on MNIST-1D",
    "digits": "MLP 64-64-10 on digits",
}

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


def lr_grid(task: str, name: str, *, quick: bool = False) -> list[int]:
    """Half-decade exponents ``k`` (rate ``10 ** (k / 2)``) of ``name``'s sweep on ``task``."""
    center = GRID_CENTER[task][name]
    if quick:
        return [center + d for d in QUICK_GRID_OFFSETS]
    return list(range(center - GRID_HALF_WIDTH, center + GRID_HALF_WIDTH + 1))


def mlp_trial(config: dict) -> TrialResult:
    """Train the MLP of ``config`` with one optimizer, learning rate and seed.

    Summaries: ``min_val_loss`` (the tuning score), ``best_epoch``, ``final_val_loss``,
    ``final_val_loss_capped`` (at :data:`PLOT_CAP` x ln(classes), for the sensitivity plots;
    a diverged trial sits at the cap), ``final_val_acc``, ``auc_train_loss`` and
    ``auc_val_loss`` (mean training / validation loss over epochs 1 .. E: the area under the
    curve per epoch), and, when ``train.evaluate_test``, ``test_acc`` / ``test_loss`` at the
    best validation epoch and ``final_test_acc``. The random stream is seeded by
    ``(seed_stream, seed)``.
    """
    run = train_task_mlp(config, HISTORY_KEYS)
    history, model, loss, ds, best = run.history, run.model, run.loss, run.ds, run.best
    if history.diverged:
        summary = {
            k: math.inf
            for k in ("min_val_loss", "final_val_loss", "auc_val_loss", "auc_train_loss")
        }
        summary["final_val_loss_capped"] = run.cap
        return run.result(summary)
    val = [r["val_loss"] for r in history]  # epochs 0 .. E
    trained = history[1:]
    summary = {
        "min_val_loss": best.value,
        "best_epoch": float(best.epoch or 0),
        "final_val_loss": val[-1],
        "final_val_loss_capped": min(val[-1], run.cap),
        "final_val_acc": float(history[-1]["val_acc"]),
        "auc_train_loss": float(np.mean([r["train_loss"] for r in trained])),
        "auc_val_loss": float(np.mean(val[1:])),
    }
    if config["train"]["evaluate_test"]:
        summary["final_test_acc"] = train.evaluate(model, loss, ds.X_test, ds.y_test)["acc"]
        best.restore(model)
        test = train.evaluate(model, loss, ds.X_test, ds.y_test)
        summary["test_acc"], summary["test_loss"] = test["acc"], test["loss"]
    return run.result(summary)


def toy2d_trial(config: dict) -> TrialResult:
    """Every optimizer on the 2-D functions; the seed sets the saddle's initial y."""
    rng = np.random.default_rng(config["seed"])
    # Magnitude in [y0, 2 y0), random sign: each seed starts a little off the saddle's ridge.
    y0 = config["saddle_y0"] * (1.0 + rng.random()) * rng.choice([-1.0, 1.0])
    artifact, summary = paths_artifact(config["lr"], config["steps"], y0, config["escape_radius"])
    artifact["seed"] = config["seed"]
    artifact["saddle_y0"] = y0
    return TrialResult(history=[], summary=summary, artifacts={"trajectories_2d": artifact})


def sensitivity_arms(task: str, *, quick: bool = False) -> dict[str, Arm]:
    """Stage ``sens_<task>``: one arm per (optimizer, rate) of :func:`lr_grid`."""
    arms = {}
    for name in TUNED:
        for k in lr_grid(task, name, quick=quick):
            log10_lr = f"{k * DECADES_PER_STEP:g}"
            arms[f"{task}/{name}/lr=10^{log10_lr}"] = Arm(
                {"optimizer": {"name": name, "lr": 10.0 ** (k * DECADES_PER_STEP)}},
                factors={"task": task, "optimizer": name, "log10_lr": log10_lr},
            )
    return arms


def best_rates(task: str, previous: pd.DataFrame) -> dict[str, Arm]:
    """Stage ``final_<task>``: each optimizer at the rate with the lowest mean validation loss.

    Parameters
    ----------
    task : str
    previous : DataFrame
        Summaries of the stages before (one row per trial). The score is ``min_val_loss``
        averaged over the seeds ``sens_<task>`` has run when this stage starts (the first
        look's); a rate that diverged on any of them loses to every rate that did not
        (:func:`~studies.engine.select.best_setting`). An optimizer without a finished
        tuning trial is left out (the report says so). The rerun uses seed stream 1, so its
        seeds are independent of the ones that chose the rate.
    """
    stage = f"sens_{task}"
    sweep = previous[previous["stage"] == stage]
    best = best_setting(
        previous,
        stage=stage,
        metric="min_val_loss",
        better="lower",
        setting="config.optimizer.lr",
        within="factor.optimizer",
    )
    arms = {}
    for name in TUNED:
        if name not in best:  # every tuning trial of it failed: best_setting warned
            continue
        tried = sweep[sweep["factor.optimizer"] == name]
        rates = sorted(float(v) for v in tried["config.optimizer.lr"].unique())
        if best[name] in (rates[0], rates[-1]) and len(rates) > 2:
            log.warning(
                "%s: best rate of %s is at the edge of its grid (%g)", task, name, best[name]
            )
        log10_lr = f"{math.log10(best[name]):g}"
        arms[f"{task}/{name}"] = Arm(
            {
                "optimizer": {"name": name, "lr": best[name]},
                "train": {"evaluate_test": True},
                "seed_stream": 1,
            },
            factors={"task": task, "optimizer": name, "log10_lr": log10_lr},
        )
    return arms


def good_range_decades(
    summaries: pd.DataFrame, *, stage: str, optimizer: str, tolerance: float = RANGE_TOLERANCE
) -> pd.Series:
    """Per seed, how many decades of learning rate are good for ``optimizer``.

    For one seed, a rate of the sweep is good when its final validation loss is at most
    ``(1 + tolerance)`` times the lowest final validation loss of that optimizer and seed over
    the grid; the width is the number of good rates times the grid step (half a decade). A
    diverged rate (loss ``inf``) is never good. Only seeds with every rate of the grid usable
    (none failed) count, so no seed is measured on a shorter grid.

    Parameters
    ----------
    summaries : DataFrame
        One row per trial with ``stage``, ``status``, ``seed``, ``factor.optimizer``,
        ``config.optimizer.lr`` and ``final_val_loss``.
    stage, optimizer : str
    tolerance : float
        Relative tolerance, > 0.

    Returns
    -------
    Series
        Width in decades, indexed by seed (ascending).
    """
    if tolerance <= 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    rows = summaries[(summaries["stage"] == stage) & (summaries["factor.optimizer"] == optimizer)]
    n_rates = rows["config.optimizer.lr"].nunique()
    rows = usable_rows(rows)
    widths = {}
    for seed, group in rows.groupby("seed"):
        if group["config.optimizer.lr"].nunique() != n_rates or len(group) != n_rates:
            continue
        loss = pd.to_numeric(group["final_val_loss"], errors="coerce").to_numpy(float)
        loss = np.where(np.isnan(loss) | (group["status"] == "diverged").to_numpy(), np.inf, loss)
        if not np.isfinite(loss).any():
            continue
        good = loss <= loss[np.isfinite(loss)].min() * (1.0 + tolerance)
        widths[int(seed)] = float(good.sum()) * DECADES_PER_STEP
    return pd.Series(widths, dtype=float).sort_index()


def wider_range(
    wide: str,
    narrow: str,
    *,
    tasks=TASKS,
    tolerance: float = RANGE_TOLERANCE,
    min_effect: float | None = None,
):
    """Evaluator of "``wide``'s good learning-rate range is wider than ``narrow``'s" on every
    task (an intersection-union claim: one comparison per task, paired by seed). With
    ``min_effect`` (decades), a task whose difference is significantly short of it ends the
    claim "not supported" (a futility stop)."""

    def evaluate(summaries: pd.DataFrame, histories) -> Evidence:
        parts = []
        for task in tasks:
            stage = f"sens_{task}"
            a = good_range_decades(summaries, stage=stage, optimizer=wide, tolerance=tolerance)
            b = good_range_decades(summaries, stage=stage, optimizer=narrow, tolerance=tolerance)
            seeds = sorted(set(a.index) & set(b.index))
            arms = [
                arm
                for arm in dict.fromkeys(summaries.loc[summaries["stage"] == stage, "arm"])
                if arm.split("/")[1] in (wide, narrow)
            ]
            comparison = Comparison(
                tuple(float(a[s] - b[s]) for s in seeds),
                tuple(seeds),
                "greater",
                "t",
                label=f"{wide} - {narrow} good-range width (decades)",
                arms=tuple(arms),
                min_effect=min_effect,
            )
            numbers = {
                "mean_a": float(a[seeds].mean()) if seeds else math.nan,
                "mean_b": float(b[seeds].mean()) if seeds else math.nan,
                "tolerance": float(tolerance),
            }
            parts.append((task, Evidence([comparison], numbers=numbers)))
        return all_of(parts)

    return evaluate


def on_both_tasks(metric: str, a: str, b: str, *, better: str, min_effect: float | None = None):
    """Evaluator of "``a`` beats ``b`` on ``metric`` at tuned rates" on every task (final
    stages, paired by seed; an intersection-union claim; ``min_effect`` as for
    :func:`studies.engine.claims.paired_comparison`)."""

    def evaluate(summaries: pd.DataFrame, histories) -> Evidence:
        return all_of(
            [
                (
                    task,
                    paired_comparison(
                        metric,
                        f"{task}/{a}",
                        f"{task}/{b}",
                        better=better,
                        stage=f"final_{task}",
                        min_effect=min_effect,
                    )(summaries, histories),
                )
                for task in TASKS
            ]
        )

    return evaluate


#: Which way each summary figure is better (None: neither — the best epoch describes a
#: curve's shape).
METRICS = {
    "min_val_loss": "lower",
    "best_epoch": None,
    "final_val_loss": "lower",
    "final_val_loss_capped": "lower",
    "final_val_acc": "higher",
    "auc_train_loss": "lower",
    "auc_val_loss": "lower",
    "final_test_acc": "higher",
    "test_acc": "higher",
    "test_loss": "lower",
    **{
        f"{figure}/{name}": "lower"
        for figure in ("quadratic_final_dist", "rosenbrock_final_dist", "saddle_escape_steps")
        for name in OPTIMIZERS
    },
}


def _stages() -> list[Stage]:
    stages = [
        Stage(
            f"sens_{task}",
            sensitivity_arms(task),
            quick_arms=sensitivity_arms(task, quick=True),
            quick_seeds=2,
            base_config=TASK_CONFIG[task],
            quick=QUICK,
            nest="stage",
        )
        for task in TASKS
    ]
    stages += [
        Stage(
            f"final_{task}",
            functools.partial(best_rates, task),
            quick_seeds=2,
            base_config=TASK_CONFIG[task],
            quick=QUICK,
        )
        for task in TASKS
    ]
    stages.append(
        Stage(
            "toy2d",
            {"trajectories": {}},
            quick_seeds=2,
            base_config=TOY2D_CONFIG,
            trial=toy2d_trial,
            quick={},
        )
    )
    return stages


def _plots() -> list[Plot]:
    plots = []
    for task in TASKS:
        plots.append(
            Plot(
                "sweep",
                f"Learning-rate sensitivity, {TASK_TITLE[task]}: final validation loss "
                f"(capped at {PLOT_CAP:g} ln 10)",
                x="optimizer.lr",
                metric="final_val_loss_capped",
                hue="factor.optimizer",
                log_x=True,
                stage=f"sens_{task}",
            )
        )
    for task in TASKS:
        plots += [
            Plot(
                "learning_curves",
                f"{TASK_TITLE[task]}: validation loss at tuned rates (mean, 95% CI over seeds)",
                metric="val_loss",
                hue="arm",
                stage=f"final_{task}",
            ),
            Plot(
                "learning_curves",
                f"{TASK_TITLE[task]}: training loss at tuned rates",
                metric="train_loss",
                hue="arm",
                log_y=True,
                stage=f"final_{task}",
            ),
            Plot(
                "final_metric",
                f"{TASK_TITLE[task]}: test accuracy at the best validation epoch",
                metric="test_acc",
                stage=f"final_{task}",
            ),
        ]
    plots.append(
        Plot(
            "trajectories_2d",
            "Optimizer paths on 2-D test functions",
            artifact="trajectories_2d",
            stage="toy2d",
        )
    )
    return plots


STUDY = Study(
    name="optimizers",
    metrics=METRICS,
    question=(
        "How wide is the range of learning rates that works for SGD, Momentum, Nesterov and "
        "Adam on two small tasks, and once each is tuned, which trains faster and which "
        "generalizes better?"
    ),
    description=(
        "Four optimizers from dlkit.optim train two tasks: a 40-128-128-10 ReLU MLP on MNIST-1D "
        "(Greydanus & Kobak; 15 epochs, batch 128) and a 64-64-10 ReLU MLP on scikit-learn's "
        "8x8 digits (20 epochs, batch 64), both with constant learning rates. Following "
        "DeepOBS (Schneider et al. 2019), each optimizer's rate is swept over nine points "
        "half a decade apart, two decades on each side of the rate a pilot found best, on "
        "several seeds against a validation split: the sweep is the learning-rate sensitivity "
        "curve, and a rate counts as good for a seed when its final validation loss is within "
        "25% of that optimizer's best for the seed. Each optimizer is then rerun at the rate "
        "with the lowest mean validation loss over the sweep's first five seeds, on an "
        "independent seed stream, paired by seed: seed s draws its own validation split, "
        "initialisation and batch order, the same for every optimizer of a stage, and seeds "
        "are added while a claim is undecided (to the SGD and Adam sweep points for the range "
        "claim). Test accuracy is measured once, for the weights of the best validation "
        "epoch. AdaGrad, AdaDelta, RMSprop and AdamW appear only in a toy stage that draws "
        "every optimizer's path on three 2-D functions."
    ),
    data=(
        "MNIST-1D (4000 train / 1000 test, 40 features, 10 classes), generated offline by the "
        "mnist1d package with seed 0 (one fixed data set and test set); scikit-learn's digits "
        "(1797 8x8 images, 64 features, 10 classes), one stratified 80/20 train/test split "
        "(seed 0). Per seed, a fresh stratified 20% of each training part is the validation "
        "split; features are standardized on the training part."
    ),
    base_config=MNIST1D_CONFIG,
    trial=mlp_trial,
    stages=_stages(),
    quick=QUICK,
    claims=[
        Claim(
            id="adam_lr_range_wider",
            text="Adam's range of good learning rates is wider than plain SGD's, on both tasks: "
            "more decades of constant rate give a final validation loss close to the best.",
            statistic="per seed and task, Adam's minus SGD's good-range width in decades (the "
            "rates of the nine-point half-decade sweep whose final validation loss is within "
            "25% of that optimizer's lowest for the seed, times 0.5), claimed above 0 on "
            "MNIST-1D and on digits (t-tests, both must hold); a difference significantly "
            "short of one grid step (0.5 decade), which the sweep cannot resolve, ends a task's "
            "part not supported",
            evaluate=wider_range("adam", "sgd", min_effect=GRID_STEP_DECADES),
            source="Kingma & Ba 2015, Adam, abstract (its hyper-parameters 'typically require "
            "little tuning'); measured as a sensitivity curve as in DeepOBS (Schneider et al. "
            "2019); Schmidt et al. 2021, abstract finding (ii): trying several optimizers at "
            "their defaults works about as well as tuning one; Wilson et al. 2017, Sec. 1: "
            "tuning Adam's initial rate and decay improved on its defaults in all their cases",
            setting="Kingma & Ba: a remark, no sweep; Schmidt et al.: 15 optimizers on 8 "
            "DeepOBS problems under 4 tuning budgets and 4 schedules; Wilson et al.: deep "
            "networks (a CNN on CIFAR-10 among them), rates tuned on a 2^k grid",
            expected="supported",
            explanation="It holds on MNIST-1D and not on digits. On MNIST-1D, Adam's good range "
            "is wider than SGD's (the mnist1d part, its interval above 0). On digits, a smaller "
            "and easier problem, the two good ranges are about as wide: the digits part's "
            "interval lies short of one grid step (half a decade), the smallest difference the "
            "sweep resolves, so that part ends not supported by the futility rule and more "
            "seeds would not change it. Kingma & Ba make the remark without a sweep. Schmidt "
            "et al. 2021 (finding (i)) report that optimizer performance varies greatly across "
            "tasks, and the two parts show exactly that.",
        ),
        Claim(
            id="adam_trains_faster_than_nesterov",
            text="At tuned rates, Adam lowers the training loss of an MLP faster than SGD with "
            "Nesterov momentum, on both tasks.",
            statistic="per seed and task, Adam's minus Nesterov's mean training loss over the "
            "epochs (the area under the training curve per epoch; lower is faster), claimed "
            "below 0 on MNIST-1D and on digits (t-tests, both must hold)",
            evaluate=on_both_tasks("auc_train_loss", "adam", "nesterov", better="lower"),
            source="Kingma & Ba 2015, Adam, Sec. 6.2 and Fig. 2: training cost of a multilayer "
            "ReLU network on MNIST against iterations, Adam vs SGD with Nesterov momentum, "
            "AdaGrad, RMSProp and AdaDelta",
            setting="MNIST, fully connected ReLU networks with dropout (panel a, where Adam "
            "converges best) and without (panel b, against SFO); training cost over up to 200 "
            "passes through the data",
            expected="supported",
            explanation="It holds on digits and is reversed on MNIST-1D. At the rates tuned "
            "for validation loss, Nesterov's mean training loss over the 15 epochs on "
            "MNIST-1D is lower than Adam's (the mnist1d part is above 0). On digits, "
            "Adam's is lower (the digits part is below 0). Kingma & Ba "
            "plot training cost on MNIST at rates of their choosing. Here each rate is tuned "
            "for validation loss, and which of the two trains faster depends on the task, "
            "as Schmidt et al. 2021 (finding (i)) report across their problems.",
        ),
        Claim(
            id="momentum_beats_adam_on_test",
            text="With the same tuning, Momentum reaches a higher test accuracy than Adam, on "
            "both tasks (adaptive methods generalize worse).",
            statistic="per seed and task, Momentum's minus Adam's test accuracy at tuned rates "
            "(weights of the best validation epoch), claimed above 0 on MNIST-1D and on "
            "digits (t-tests, both must hold); a gap significantly short of one point of "
            "accuracy ends a task's part not supported",
            evaluate=on_both_tasks(
                "test_acc", "momentum", "adam", better="higher", min_effect=MIN_TEST_GAP
            ),
            source="Wilson et al. 2017, The Marginal Value of Adaptive Gradient Methods, "
            "abstract and Sec. 1 (first empirical finding): with the same amount of tuning, "
            "SGD and SGD with momentum beat adaptive methods on the development/test set",
            setting="deep networks (a CNN on CIFAR-10 among them) with tuned initial rates and "
            "decay schemes",
            expected="supported",
            explanation="No generalization gap of a point shows. On digits, Momentum's minus "
            "Adam's test accuracy is decided short of one point (the digits part: its interval "
            "lies below 0.01, around 0), so the joint claim ends not supported by the futility "
            "rule; on MNIST-1D the difference is also near 0, with a wider interval. Wilson et "
            "al.'s gaps come from deep networks with tuned decay schedules. This study trains "
            "small MLPs with constant rates for 15-20 epochs and stops early on validation "
            "loss, and at that scale the two optimizers end level.",
        ),
        Claim(
            id="sgd_leaves_saddle_slower",
            text="From just off the saddle point of x² - y², plain gradient descent needs more "
            "steps than Momentum at the same learning rate to get away (|y| >= 1): near a "
            "saddle the gradient is small, so gradient descent lingers, while momentum "
            "accumulates the growing escape direction.",
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
            source="Dauphin et al. 2014, Identifying and attacking the saddle point problem in "
            "high-dimensional non-convex optimization: saddle points, not local minima, slow "
            "gradient descent down (the Momentum comparison is this study's)",
            setting="high-dimensional non-convex losses of neural networks; the study uses the "
            "2-D saddle x² - y² with a step of 0.05 from |y0| in [1e-3, 2e-3)",
            expected="supported",
        ),
    ],
    plots=_plots(),
)
