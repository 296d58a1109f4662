"""Weight initialization: Xavier vs Kaiming, and why not zeros or tiny normals.

The scale of the initial weights decides whether a signal survives a deep net. Zeros make
every unit of a layer compute the same thing, so gradient descent can never tell them apart
(with tanh or ReLU, whose value at 0 is 0, nothing below the output bias moves at all).
N(0, 0.01) shrinks the activations by ``0.01 * sqrt(fan_in)`` per layer until the output no
longer depends on the input. PyTorch's default U[-1/sqrt(fan_in), 1/sqrt(fan_in)] keeps a
third of the variance per layer. Xavier (Glorot & Bengio 2010) keeps the variance of
activations and gradients constant through a linear (or tanh, near 0) layer; ReLU halves it,
which Kaiming (He et al. 2015) compensates with gain sqrt(2).

Design: MLPs of width 64 on MNIST-1D, tanh and ReLU, five initializers at depth 5 (stages
``tanh_5`` and ``relu_5``) and the three usable ones at depth 30 (stage ``deep_30``), SGD with
momentum 0.9 at learning rate 0.01, batch 100, 12 epochs. At initialization each trial logs
per-layer activation histograms (the "Deep Learning from Scratch"
``weight_init_activation_histogram`` figure), the activation-std ratio last / first hidden
layer and the gradient-norm ratio first / last layer; then the training curves, and after
training how different the units of each hidden layer are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlkit import nn
from studies.catalog._deep_mlp import (
    COMMON_METRICS,
    DATA_CONFIG,
    common_summary,
    log10_ratio,
    train_mlp,
)
from studies.engine.claims import all_of, mean_threshold, paired_comparison, paired_gap
from studies.engine.spec import Arm, Claim, ClaimResult, Plot, Stage, Study, TrialResult
from studies.stats import interval_verdict, t_interval

#: Initializers compared, as ``dlkit.init`` names: all zeros, N(0, 0.01), PyTorch's default
#: U[-1/sqrt(fan_in), 1/sqrt(fan_in)], Xavier uniform, Kaiming normal (ReLU gain sqrt(2)).
INITS = ("zeros", "normal", "standard", "xavier_uniform", "kaiming_normal")
DEEP_INITS = ("standard", "xavier_uniform", "kaiming_normal")
SHALLOW, DEEP = 5, 30
#: Histogram range per activation: tanh lives in (-1, 1); ReLU outputs beyond 4 (about 0.2 %
#: of them with Kaiming, none with the smaller inits) are left out.
HIST_RANGE = {"tanh": [-1.0, 1.0], "relu": [0.0, 4.0]}
CHANCE_LOSS = math.log(10.0)
#: A net "at chance" has a training loss within this many nats of ln 10.
CHANCE_MARGIN = 0.02
#: A net "trains" when its final training loss is at least this far below ln 10.
TRAINS_MARGIN = 0.1
TARGET_ACC = 0.4
#: Largest difference between two units' incoming weights that still counts as identical.
SYMMETRY_TOL = 1e-6
#: Which way each summary figure is better: the shared ones, and (None: neither) the
#: activation-std log-ratio (best near 0), the unit spread and weight change, which describe
#: symmetry breaking rather than quality.
METRICS = {
    **COMMON_METRICS,
    "act_std_ratio_log10": None,
    "unit_spread": None,
    "weight_change": None,
}
SUMMARY_KEYS = tuple(METRICS)

BASE_CONFIG: dict[str, Any] = {
    "data": dict(DATA_CONFIG),
    "model": {
        "depth": SHALLOW,
        "width": 64,
        "activation": "tanh",
        "init": "xavier_uniform",
        "init_args": {},
    },
    "optimizer": {"name": "momentum", "lr": 0.01},
    "train": {"epochs": 12, "batch_size": 100, "target_acc": TARGET_ACC},
    # Per-layer statistics at initialization only; every epoch records their summaries.
    "diagnostics": {"layers_every": 0},
    "hist_range": HIST_RANGE["tanh"],
}


def unit_spread(model: nn.Sequential) -> float:
    """Largest difference between any hidden unit and the first unit of its layer.

    Parameters
    ----------
    model : nn.Sequential
        An MLP from :func:`studies.catalog._deep_mlp.build_mlp`.

    Returns
    -------
    float
        ``max |W[:, j] - W[:, 0]|`` and ``max |b_j - b_0|`` over every hidden Dense layer
        (weights of shape (in, out), so column j holds unit j's incoming weights); 0 when
        every unit of every hidden layer is identical.
    """
    hidden = [layer for layer in model.layers if isinstance(layer, nn.Dense)][:-1]
    spread = 0.0
    for layer in hidden:
        w, b = layer.weight.data, layer.bias.data
        spread = max(spread, float(np.abs(w - w[:, :1]).max()), float(np.abs(b - b[0]).max()))
    return spread


def trial(config: dict) -> TrialResult:
    """Train one MLP; diagnostics and histograms at initialization, curves, unit spread."""
    run = train_mlp(config, hist_range=config["hist_range"])
    summary = common_summary(run, config["train"]["target_acc"])
    first = run.history[0]
    depth = config["model"]["depth"]
    summary["act_std_ratio_log10"] = log10_ratio(
        first[f"act_std/layer_{depth}"], first["act_std/layer_1"]
    )
    summary["unit_spread"] = unit_spread(run.model)
    dense = [layer for layer in run.model.layers if isinstance(layer, nn.Dense)]
    summary["weight_change"] = max(
        float(np.abs(layer.weight.data - w0).max())
        for layer, w0 in zip(dense[:-1], run.initial_weights[:-1], strict=True)
    )
    return TrialResult.from_history(
        run.history, summary, artifacts={"act_hist_init": run.initial_histograms}
    )


def arm_name(activation: str, depth: int, init: str) -> str:
    return f"{activation}-{depth}/{init}"


def _arm(activation: str, depth: int, init: str) -> tuple[str, Arm]:
    overrides = {
        "model": {"activation": activation, "depth": depth, "init": init},
        "hist_range": HIST_RANGE[activation],
    }
    factors = {
        "activation": activation,
        "depth": str(depth),
        "init": init,
        "net": f"{activation}, {depth} layers",
    }
    return arm_name(activation, depth, init), Arm(overrides, factors=factors)


def zeros_symmetric(*, tol: float = SYMMETRY_TOL) -> Callable[[Any, Any], ClaimResult]:
    """Evaluator of "zero-initialized nets end training with identical units in every hidden
    layer": every such trial's ``unit_spread`` must be at most ``tol``."""

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        rows = summaries[summaries["status"] != "failed"]
        zeros = rows[rows["config.model.init"] == "zeros"]
        others = rows[rows["config.model.init"] != "zeros"]
        spread = zeros["unit_spread"].to_numpy(float)
        statistic = (
            f"largest |difference| between two units' incoming weights or biases in any "
            f"hidden layer after training, over every zero-initialized trial; at most {tol:g}"
        )
        numbers = {
            "n": float(spread.size),
            "max_spread_zeros": float(spread.max()) if spread.size else math.nan,
            "max_weight_change_zeros": float(zeros["weight_change"].max())
            if spread.size
            else math.nan,
            "min_spread_random_inits": float(others["unit_spread"].min())
            if len(others)
            else math.nan,
        }
        if spread.size < 2:
            return ClaimResult("inconclusive", statistic, numbers, "fewer than 2 trials")
        if np.all(spread <= tol):
            return ClaimResult(
                "supported",
                statistic,
                numbers,
                f"all {spread.size} zero-initialized trials end with identical units "
                f"(largest spread {spread.max():.3g}; weights moved by at most "
                f"{numbers['max_weight_change_zeros']:.3g})",
            )
        bad = int(np.sum(~(spread <= tol)))
        return ClaimResult(
            "not supported",
            statistic,
            numbers,
            f"{bad} of {spread.size} zero-initialized trials end with distinct units",
        )

    return evaluate


def stays_at_chance(arm: str) -> Callable[[Any, Any], ClaimResult]:
    """Evaluator of "``arm``'s final training loss is still at chance (>= ln 10 - margin)"."""
    return mean_threshold(
        "final_train_loss", threshold=CHANCE_LOSS - CHANCE_MARGIN, above=True, arm=arm
    )


def xavier_fails_deep_relu(xavier: str, kaiming: str) -> Callable[[Any, Any], ClaimResult]:
    """Evaluator: ``xavier`` stays at chance, ``kaiming`` trains and ends below it."""
    at_chance = stays_at_chance(xavier)
    trains = mean_threshold(
        "final_train_loss", threshold=CHANCE_LOSS - TRAINS_MARGIN, above=False, arm=kaiming
    )
    lower = paired_comparison("final_train_loss", kaiming, xavier, better="lower")

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        parts = [
            ("xavier_at_chance", at_chance(summaries, histories)),
            ("kaiming_trains", trains(summaries, histories)),
            ("kaiming_below_xavier", lower(summaries, histories)),
        ]
        return all_of(
            parts,
            f"final training loss, 95% t-intervals: Xavier's above ln 10 - {CHANCE_MARGIN:g}, "
            f"Kaiming's below ln 10 - {TRAINS_MARGIN:g}; Kaiming < Xavier by a one-sided "
            "Wilcoxon signed-rank test across seeds",
        )

    return evaluate


def no_learning_within_budget(slow: str, fast: str) -> Callable[[Any, Any], ClaimResult]:
    """Evaluator of "``slow`` has not left chance by the epoch ``fast`` needs to reach the
    target accuracy".

    The budget is the largest ``epochs_to_target`` of ``fast`` over its seeds; inconclusive
    when ``fast`` misses the target in some seed (there is no budget to compare against).
    """

    def evaluate(summaries: Any, histories: Any) -> ClaimResult:
        statistic = (
            f"budget = most epochs {fast} needs to reach {TARGET_ACC:.0%} validation accuracy "
            f"over seeds; {slow}'s training loss at that epoch, 95% t-interval above "
            f"ln 10 - {CHANCE_MARGIN:g}"
        )
        rows = summaries[summaries["status"] != "failed"]
        needed = rows.loc[rows["arm"] == fast, "epochs_to_target"].to_numpy(float)
        if needed.size < 2 or not np.all(np.isfinite(needed)):
            return ClaimResult(
                "inconclusive",
                statistic,
                {"n_fast": float(needed.size)},
                f"{fast} did not reach the target in every seed, so there is no budget",
            )
        budget = int(needed.max())
        at_budget = histories[(histories["arm"] == slow) & (histories["epoch"] == budget)]
        loss = at_budget["train_loss"].to_numpy(float)
        loss = loss[np.isfinite(loss)]
        mean, lo, hi = t_interval(loss)
        threshold = CHANCE_LOSS - CHANCE_MARGIN
        numbers = {
            "budget_epochs": float(budget),
            "n": float(loss.size),
            "mean_loss": mean,
            "ci_lo": lo,
            "ci_hi": hi,
            "threshold": threshold,
        }
        if loss.size < 2:
            return ClaimResult("inconclusive", statistic, numbers, "fewer than 2 usable seeds")
        text = f"{slow}'s loss at epoch {budget} in [{lo:.4g}, {hi:.4g}]"
        verdict = interval_verdict(lo, hi, threshold, side="above")
        detail = {
            "supported": f"{text}, at chance",
            "not supported": f"{text}: it learns",
            "inconclusive": f"{text} contains {threshold:.4g}",
        }[verdict]
        return ClaimResult(verdict, statistic, numbers, detail)

    return evaluate


ARMS = {
    stage: dict(_arm(activation, depth, init) for activation in activations for init in inits)
    for stage, activations, depth, inits in (
        ("tanh_5", ("tanh",), SHALLOW, INITS),
        ("relu_5", ("relu",), SHALLOW, INITS),
        ("deep_30", ("tanh", "relu"), DEEP, DEEP_INITS),
    )
}


STUDY = Study(
    name="init",
    metrics=METRICS,
    question="Which weight initialization lets a deep tanh or ReLU net train: zeros, N(0, 0.01), "
    "PyTorch's default, Xavier or Kaiming?",
    description=(
        "Zeros make every unit of a layer compute the same function, so gradient descent can "
        "never tell them apart. N(0, 0.01) shrinks activations layer by layer; PyTorch's "
        "default U[-1/sqrt(fan_in), 1/sqrt(fan_in)] keeps a third of the variance per layer. "
        "Xavier (Glorot & Bengio 2010) keeps the variance of activations and gradients "
        "constant through tanh layers near 0; ReLU halves it, which Kaiming (He et al. 2015) "
        "compensates with gain sqrt(2). MLPs of width 64 (tanh and ReLU; depth 5 with all "
        "five initializers, depth 30 with the three usable ones) are trained with SGD "
        "(momentum 0.9, lr 0.01, batch 100). Activation histograms, std and gradient ratios "
        "are taken at initialization on a fixed batch of 500 training samples."
    ),
    data="MNIST-1D (mnist1d generator, seed 0): 3600 training / 400 validation (stratified, "
    "fixed) / 1000 test samples, 40 features standardised on the training rows, 10 classes.",
    base_config=BASE_CONFIG,
    trial=trial,
    stages=[Stage(name, arms, seeds=5) for name, arms in ARMS.items()],
    quick={"train": {"epochs": 2}},
    claims=[
        Claim(
            id="zeros_never_break_symmetry",
            text="Zero initialization leaves every unit of a hidden layer identical after "
            "training: the symmetry is never broken.",
            statistic="largest difference between two units of a hidden layer (incoming "
            f"weights and bias) after training, every zero-initialized trial, <= {SYMMETRY_TOL:g}",
            evaluate=zeros_symmetric(),
        ),
        Claim(
            id="xavier_stalls_deep_relu",
            text="On the 30-layer ReLU net, Xavier initialization stays at chance loss "
            "(about ln 10) while Kaiming initialization trains (He et al. 2015, Fig. 3).",
            statistic=f"final training loss: Xavier's 95% t-interval above ln 10 - "
            f"{CHANCE_MARGIN:g}; Kaiming's below ln 10 - {TRAINS_MARGIN:g} and below "
            "Xavier's (one-sided Wilcoxon signed-rank across seeds)",
            evaluate=xavier_fails_deep_relu(
                arm_name("relu", DEEP, "xavier_uniform"), arm_name("relu", DEEP, "kaiming_normal")
            ),
        ),
        Claim(
            id="xavier_keeps_tanh_signal",
            text="With tanh on 5 layers, Xavier keeps the last / first hidden-layer "
            "activation-std ratio at least 3 times the standard init's (Glorot & Bengio 2010).",
            statistic="per seed, log10 ratio (Xavier) - log10 ratio (standard); 95% "
            "t-interval above log10 3",
            evaluate=paired_gap(
                "act_std_ratio_log10",
                arm_name("tanh", SHALLOW, "xavier_uniform"),
                arm_name("tanh", SHALLOW, "standard"),
                threshold=math.log10(3.0),
            ),
        ),
        Claim(
            id="tiny_normal_does_not_learn",
            text="N(0, 0.01) on a 5-layer ReLU net does not learn within the budget that "
            "Kaiming needs.",
            statistic=f"budget = most epochs Kaiming needs to reach {TARGET_ACC:.0%} "
            "validation accuracy; N(0, 0.01)'s training loss at that epoch, 95% t-interval "
            f"above ln 10 - {CHANCE_MARGIN:g}",
            evaluate=no_learning_within_budget(
                arm_name("relu", SHALLOW, "normal"), arm_name("relu", SHALLOW, "kaiming_normal")
            ),
        ),
    ],
    plots=[
        Plot(
            "histogram_grid",
            "Activations at initialization, tanh, 5 layers (rows: layers; columns: inits)",
            artifact="act_hist_init",
            stage="tanh_5",
        ),
        Plot(
            "histogram_grid",
            "Activations at initialization, ReLU, 5 layers (the bar at 0 holds the units "
            "that are off)",
            artifact="act_hist_init",
            stage="relu_5",
        ),
        Plot(
            "per_layer",
            "Activation std per layer at initialization, tanh, 5 layers",
            prefix="act_std/layer_",
            epoch=0,
            stage="tanh_5",
        ),
        Plot(
            "per_layer",
            "Activation std per layer at initialization, ReLU, 5 layers",
            prefix="act_std/layer_",
            epoch=0,
            stage="relu_5",
        ),
        Plot(
            "per_layer",
            "Activation std per layer at initialization, 30 layers",
            prefix="act_std/layer_",
            epoch=0,
            stage="deep_30",
        ),
        Plot(
            "per_layer",
            "Gradient norm per layer at initialization, 30 layers",
            prefix="grad_norm/layer_",
            epoch=0,
            stage="deep_30",
        ),
        Plot(
            "final_metric",
            "log10 activation-std ratio last / first hidden layer at initialization",
            metric="act_std_ratio_log10",
        ),
        Plot(
            "final_metric",
            "log10 gradient-norm ratio first / last layer at initialization",
            metric="grad_ratio_init_log10",
        ),
        Plot(
            "learning_curves", "Training loss, tanh, 5 layers", metric="train_loss", stage="tanh_5"
        ),
        Plot(
            "learning_curves", "Training loss, ReLU, 5 layers", metric="train_loss", stage="relu_5"
        ),
        Plot("learning_curves", "Training loss, 30 layers", metric="train_loss", stage="deep_30"),
        Plot(
            "heatmap",
            "Final training loss: initializer x net",
            row="init",
            col="net",
            metric="final_train_loss",
        ),
    ],
)
