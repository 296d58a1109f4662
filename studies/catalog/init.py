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
from studies.engine.claims import (
    all_of,
    mean_threshold,
    paired_comparison,
    paired_gap,
    usable_rows,
)
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult
from studies.stats import Comparison, Evidence

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
        run.history,
        summary,
        artifacts={"act_hist_init": run.initial_histograms},
        datasets=run.datasets,
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


def zeros_symmetric(*, tol: float = SYMMETRY_TOL) -> Callable[[Any, Any], Evidence]:
    """Evaluator of "zero-initialized nets end training with identical units in every hidden
    layer".

    Per seed: the largest ``unit_spread`` over the zero-initialized arms, minus ``tol``;
    claimed below 0 (a t-test, which a seed that broke symmetry can only hold back).
    Seeds where a zero-initialized arm has no usable value are left out.
    """

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        rows = usable_rows(summaries)
        zeros = rows[rows["config.model.init"] == "zeros"]
        others = rows[rows["config.model.init"] != "zeros"]
        arms = list(dict.fromkeys(zeros["arm"]))
        table = zeros.pivot_table(index="seed", columns="arm", values="unit_spread")
        table = table.reindex(columns=arms).dropna()
        spread = table.to_numpy(float).max(axis=1) if arms else np.zeros(0)
        comparison = Comparison(
            spread - tol,
            table.index.astype(int),
            "less",
            "t",
            reference=tol,
            label="largest unit_spread of the zero-initialized arms",
            arms=arms,
        )
        numbers = {
            "max_spread_zeros": float(spread.max()) if spread.size else math.nan,
            "max_weight_change_zeros": float(zeros["weight_change"].max())
            if len(zeros)
            else math.nan,
            "min_spread_random_inits": float(others["unit_spread"].min())
            if len(others)
            else math.nan,
        }
        broken = int(np.sum(spread > tol))
        detail = (
            f"{broken} of {spread.size} seeds end with distinct units in a zero-initialized net."
        )
        return Evidence([comparison], numbers=numbers, detail=detail)

    return evaluate


def stays_at_chance(arm: str) -> Callable[[Any, Any], Evidence]:
    """Evaluator of "``arm``'s final training loss is still at chance (>= ln 10 - margin)"."""
    return mean_threshold(
        "final_train_loss", threshold=CHANCE_LOSS - CHANCE_MARGIN, above=True, arm=arm
    )


def xavier_fails_deep_relu(xavier: str, kaiming: str) -> Callable[[Any, Any], Evidence]:
    """Evaluator: ``xavier`` stays at chance, ``kaiming`` trains and ends below it (three
    comparisons of the per-seed final training loss, all needed)."""
    at_chance = stays_at_chance(xavier)
    trains = mean_threshold(
        "final_train_loss", threshold=CHANCE_LOSS - TRAINS_MARGIN, above=False, arm=kaiming
    )
    lower = paired_comparison("final_train_loss", kaiming, xavier, better="lower")

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        return all_of(
            [
                ("xavier_at_chance", at_chance(summaries, histories)),
                ("kaiming_trains", trains(summaries, histories)),
                ("kaiming_below_xavier", lower(summaries, histories)),
            ]
        )

    return evaluate


def no_learning_within_budget(slow: str, fast: str) -> Callable[[Any, Any], Evidence]:
    """Evaluator of "``slow`` has not left chance by the epoch ``fast`` needs to reach the
    target accuracy".

    Per seed: the budget is ``fast``'s ``epochs_to_target`` in that seed, and the value is
    ``slow``'s training loss at that epoch (same seed) minus ``ln 10 - CHANCE_MARGIN``;
    claimed above 0. A seed where ``fast`` never reaches the target has no budget and is left
    out.
    """
    threshold = CHANCE_LOSS - CHANCE_MARGIN

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        rows = usable_rows(summaries, arm=fast)
        needed = dict(zip(rows["seed"].astype(int), rows["epochs_to_target"].astype(float)))
        curves = histories[histories["arm"] == slow]
        loss = {
            (int(seed), int(epoch)): float(value)
            for seed, epoch, value in zip(curves["seed"], curves["epoch"], curves["train_loss"])
        }
        seeds, values, budgets = [], [], []
        for seed in sorted(needed):
            budget = needed[seed]
            if not math.isfinite(budget) or not math.isfinite(
                loss.get((seed, int(budget)), math.nan)
            ):
                continue
            seeds.append(seed)
            budgets.append(budget)
            values.append(loss[(seed, int(budget))] - threshold)
        comparison = Comparison(
            values,
            seeds,
            "greater",
            "t",
            reference=threshold,
            label=f"{slow} train_loss at the epoch {fast} reaches {TARGET_ACC:.0%}",
            arms=(slow, fast),
        )
        numbers = {
            "mean_budget_epochs": float(np.mean(budgets)) if budgets else math.nan,
            "max_budget_epochs": float(np.max(budgets)) if budgets else math.nan,
            "seeds_without_budget": float(sum(not math.isfinite(v) for v in needed.values())),
            "threshold": threshold,
        }
        return Evidence([comparison], numbers=numbers)

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
        "are taken at initialization on a batch of 500 training samples. Seed s draws its own "
        "validation split (hence that batch), initial weights and batch order, the same for "
        "every arm of the seed (paired comparisons); seeds are added while a claim is "
        "undecided."
    ),
    data="MNIST-1D (mnist1d generator, seed 0, generated once): 3600 training / 400 "
    "validation / 1000 test samples, 40 features standardised on the training rows (4000 "
    "train + validation), 10 classes. The test set is fixed; each seed draws its own "
    "stratified validation split, shared by every arm.",
    base_config=BASE_CONFIG,
    trial=trial,
    stages=[Stage(name, arms) for name, arms in ARMS.items()],
    quick={"train": {"epochs": 2}},
    claims=[
        Claim(
            id="zeros_never_break_symmetry",
            text="Zero initialization leaves every unit of a hidden layer identical after "
            "training: the symmetry is never broken.",
            statistic="per seed, the largest difference between two units of a hidden layer "
            "(incoming weights and bias) after training, over the zero-initialized arms; "
            f"claimed below {SYMMETRY_TOL:g}",
            evaluate=zeros_symmetric(),
            expected="supported",
            source="Karpathy et al., Stanford CS231n course notes (2015-), 'Neural Networks "
            "Part 2', Weight Initialization, 'Pitfall: all zero initialization'",
            setting="an argument, no experiment: units that compute the same output get the "
            "same gradient and the same update, so nothing makes them differ",
        ),
        Claim(
            id="xavier_stalls_deep_relu",
            text="On the 30-layer ReLU net, Xavier initialization stays at chance loss "
            "(about ln 10) while Kaiming initialization trains (He et al. 2015, Fig. 3).",
            statistic=f"per seed, the final training loss: Xavier's claimed above ln 10 - "
            f"{CHANCE_MARGIN:g}, Kaiming's below ln 10 - {TRAINS_MARGIN:g}, and Kaiming's "
            "minus Xavier's below 0 (all three needed)",
            evaluate=xavier_fails_deep_relu(
                arm_name("relu", DEEP, "xavier_uniform"), arm_name("relu", DEEP, "kaiming_normal")
            ),
            expected="supported",
            source="He, Zhang, Ren & Sun 2015, 'Delving deep into rectifiers', ICCV, Fig. 3 "
            "(30-layer model: Xavier stalls, with diminishing gradients; their init converges)",
            setting="ImageNet classification, a 30-layer plain convolutional ReLU net trained "
            "from scratch with SGD",
        ),
        Claim(
            id="xavier_keeps_tanh_signal",
            text="With tanh on 5 layers, the activations shrink less from the first to the last "
            "hidden layer under Xavier than under the standard U[-1/sqrt(n), 1/sqrt(n)] init "
            "(Glorot & Bengio 2010, Fig. 6).",
            statistic="per seed, log10 of the last / first hidden-layer activation-std ratio, "
            "Xavier's minus the standard init's, claimed above 0",
            evaluate=paired_gap(
                "act_std_ratio_log10",
                arm_name("tanh", SHALLOW, "xavier_uniform"),
                arm_name("tanh", SHALLOW, "standard"),
                threshold=0.0,
            ),
            expected="supported",
            source="Glorot & Bengio 2010, 'Understanding the difficulty of training deep "
            "feedforward neural networks', AISTATS, Sec. 4.2 and Fig. 6 (tanh activations at "
            "initialization: the standard init's 0-peak grows in higher layers; mean Jacobian "
            "singular value about 0.8 with the normalized init, 0.5 with the standard one)",
            setting="Shapeset-3x2 (32x32 images, 9 classes), MLP with 5 hidden layers of 1000 "
            "tanh units, activation histograms at initialization",
        ),
        Claim(
            id="tiny_normal_does_not_learn",
            text="N(0, 0.01) on a 5-layer ReLU net does not learn within the budget that "
            "Kaiming needs.",
            statistic=f"per seed, N(0, 0.01)'s training loss at the epoch Kaiming (same seed) "
            f"first reaches {TARGET_ACC:.0%} validation accuracy, claimed above ln 10 - "
            f"{CHANCE_MARGIN:g}; seeds where Kaiming never gets there are left out",
            evaluate=no_learning_within_budget(
                arm_name("relu", SHALLOW, "normal"), arm_name("relu", SHALLOW, "kaiming_normal")
            ),
            expected="supported",
            source="Saito 2016, 'Deep Learning from Scratch', Sec. 6.2 (code "
            "ch06/weight_init_compare.py: std = 0.01 vs Xavier vs He)",
            setting="MNIST, MLP 784-100-100-100-100-10 with ReLU, SGD lr 0.01, batch 128, "
            "2000 iterations",
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
