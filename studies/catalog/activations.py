"""Activations and vanishing gradients: does ReLU fix the vanishing gradient of the sigmoid?

Back-propagation multiplies the gradient by the activation's derivative once per layer. The
logistic derivative is at most 1/4, so through a deep sigmoid net the gradient that reaches
the first layer shrinks geometrically, while ReLU passes it through unchanged wherever the
unit is on (Glorot, Bordes & Bengio 2011). The seed notes add the price of ReLU: a unit
pushed off for every input by one large update is "dead" for good, and with a too-large
learning rate "up to 40 % of the network" can die.

Design: an MLP with 8 hidden layers of 64 units on MNIST-1D (Greydanus 2020; 3600 training,
400 validation and 1000 test samples, standardised), SGD with momentum 0.9, batch 100. Two
factors: the activation (logistic, tanh, hard logistic, ReLU, LeakyReLU, PReLU, ELU, SiLU)
and its initializer, either the one that *suits* it (stage ``suited``: Xavier scaled by 4 for
the logistic and the hard logistic, whose slope at 0 is 1/4; Xavier with PyTorch's tanh gain
5/3; Kaiming with the matching leaky slope for the ReLU family) or one *common* initializer
for all (stage ``common``: Xavier uniform, dlkit's default). A third stage trains the ReLU net
at its learning rate and at four times that rate to watch units die; a fourth (``digits``)
repeats the suited arms, and the common-initializer logistic and ReLU nets, on scikit-learn's
8x8 digits, to see whether the findings carry over to a second data set. Per-layer gradient norms
of the weights, activation statistics, saturated and dead fractions are measured on a batch
of 500 training samples (fixed within a trial) at initialization and after every epoch. Seed
``s`` draws the validation split (and so the diagnostic batch), the weights and the batch
order, shared by every arm of the seed; the data sets and their test parts are fixed.

The MLP builder, data split and training loop with diagnostics live in
:mod:`studies.catalog._deep_mlp`, shared with the ``init`` study.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from studies.catalog._deep_mlp import COMMON_METRICS, DATA_CONFIG, common_summary, train_mlp
from studies.engine.claims import all_of, mean_threshold, paired_gap, usable_rows
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult
from studies.stats import Comparison, Evidence, SequentialDesign

#: Activations compared, by their ``nn.activation`` names.
ACTIVATIONS = (
    "sigmoid",
    "tanh",
    "hard_sigmoid",
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "silu",
)
#: The initializer that suits each activation: (``dlkit.init`` name, keyword arguments).
#: Xavier's variance argument linearises the activation at 0; the logistic and the hard
#: logistic have slope 1/4 there, hence gain 4 (the Theano deep-learning tutorial's rule);
#: tanh takes ``calculate_gain("tanh") = 5/3``; the ReLU family takes Kaiming with its leaky
#: slope (ELU and SiLU behave like ReLU for positive inputs and take its gain).
SUITED_INIT: dict[str, tuple[str, dict[str, float]]] = {
    "sigmoid": ("xavier_uniform", {"gain": 4.0}),
    "tanh": ("xavier_uniform", {"gain": 5.0 / 3.0}),
    "hard_sigmoid": ("xavier_uniform", {"gain": 4.0}),
    "relu": ("kaiming_normal", {}),
    "leaky_relu": ("kaiming_normal", {"a": 0.01}),
    "prelu": ("kaiming_normal", {"a": 0.25}),
    "elu": ("kaiming_normal", {}),
    "silu": ("kaiming_normal", {}),
}
#: The one initializer every activation gets in the ``common`` stage (dlkit's Dense default).
COMMON_INIT: tuple[str, dict[str, float]] = ("xavier_uniform", {})
RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu")
BASE_LR = 0.05
HIGH_LR = 0.2
TARGET_ACC = 0.4
#: Digits (8x8 images) is an easier task: most nets pass 90 % within a few epochs.
DIGITS_TARGET_ACC = 0.9
DESCRIPTION = (
    "Back-propagation multiplies the gradient by the activation's derivative once per layer. "
    "The logistic derivative is at most 1/4, so through a deep sigmoid net the gradient that "
    "reaches the first layer shrinks geometrically, while ReLU passes it through wherever the "
    "unit is on (Glorot, Bordes & Bengio 2011). Its price, per the seed notes: a unit pushed "
    "off for every input by a large update is dead for good, and a too-large learning rate "
    "can kill up to 40% of them. An MLP with 8 hidden layers of 64 units is trained with SGD "
    "(momentum 0.9) under two factors: the activation, and its initializer, either the one "
    "that suits it (stage 'suited': Xavier x4 for the logistic and hard logistic, Xavier with "
    "gain 5/3 for tanh, Kaiming for the ReLU family) or Xavier uniform for all (stage "
    "'common'). Stage 'learning_rate' trains ReLU at its rate and at 4x that rate; stage "
    "'digits' repeats the suited arms (and the common-init sigmoid and ReLU) on scikit-learn's "
    "8x8 digits as a second data set. Gradient "
    "norms of each Dense weight, activation statistics and saturated / dead fractions are "
    "measured on a batch of 500 training samples at initialization and every epoch. Seed s "
    "draws its own validation split (hence the diagnostic batch), initial weights and batch "
    "order, the same for every arm of that seed (paired comparisons); seeds are added while a "
    "claim is undecided, with Pocock-type boundaries (effects of orders of magnitude can stop "
    "at the first look)."
)
#: Summary figures every trial reports.
SUMMARY_KEYS = tuple(COMMON_METRICS)

BASE_CONFIG: dict[str, Any] = {
    "data": dict(DATA_CONFIG),
    "model": {
        "depth": 8,
        "width": 64,
        "activation": "relu",
        "init": "kaiming_normal",
        "init_args": {},
    },
    "optimizer": {"name": "momentum", "lr": BASE_LR},
    "train": {"epochs": 12, "batch_size": 100, "target_acc": TARGET_ACC},
    "diagnostics": {"layers_every": 1},
}


def trial(config: dict) -> TrialResult:
    """Train one deep MLP; per-epoch layer diagnostics and the summary figures."""
    run = train_mlp(config)
    summary = common_summary(run, config["train"]["target_acc"])
    return TrialResult.from_history(run.history, summary, datasets=run.datasets)


def ratio_thresholds(
    metric: str, low_arm: str, high_arm: str, *, below: float, above: float
) -> Callable[[Any, Any], Evidence]:
    """Evaluator of "``low_arm``'s mean ``metric`` is below ``below`` while ``high_arm``'s is
    above ``above``": two one-sample comparisons of the per-seed values against their
    thresholds, both of which must hold (parts named by the arms)."""
    low = mean_threshold(metric, threshold=below, above=False, arm=low_arm)
    high = mean_threshold(metric, threshold=above, above=True, arm=high_arm)

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        return all_of(
            [(low_arm, low(summaries, histories)), (high_arm, high(summaries, histories))]
        )

    return evaluate


def family_faster(
    metric: str, family: Sequence[str], other: str, *, label: str
) -> Callable[[Any, Any], Evidence]:
    """Evaluator of "the arms of ``family`` reach the target in fewer epochs than ``other``".

    Per seed: the family's mean ``metric`` minus ``other``'s, a target never reached counting
    as epochs + 1; claimed below 0 by a sign-flip permutation test (a censored count). Seeds
    where an arm has no usable value are left out. ``label`` names the family in the series'
    label.
    """

    def evaluate(summaries: Any, histories: Any) -> Evidence:
        cut = float(summaries["config.train.epochs"].max()) + 1.0
        arms = [*family, other]
        rows = usable_rows(summaries)
        table = rows[rows["arm"].isin(arms)].pivot_table(index="seed", columns="arm", values=metric)
        table = table.reindex(columns=arms).replace(np.inf, cut).dropna()
        fam = table[list(family)].to_numpy(float).mean(axis=1)
        oth = table[other].to_numpy(float)
        comparison = Comparison(
            fam - oth,
            table.index.astype(int),
            "less",
            "permutation",
            label=f"{label} mean - {other} {metric}",
            arms=arms,
        )
        numbers = {"mean_family": float(fam.mean()) if fam.size else math.nan}
        numbers["mean_other"] = float(oth.mean()) if oth.size else math.nan
        numbers["censored_at"] = cut
        numbers.update({f"mean_{arm}": float(table[arm].mean()) for arm in family})
        detail = f"A target never reached counts as {cut:g} epochs."
        return Evidence([comparison], numbers=numbers, detail=detail)

    return evaluate


#: Sources of the claims (what was read: copies of Nielsen's chapter 5 and of Krizhevsky et
#: al.'s Fig. 1 caption, the CS231n notes' ReLU paragraph).
VANISHING_SOURCE = (
    "Nielsen 2015, 'Neural Networks and Deep Learning', ch. 5, 'The vanishing gradient "
    "problem' and 'What's causing the vanishing gradient problem?' (the gradient reaching an "
    "early layer is a product of w * sigma'(z) factors, sigma' at most 1/4); the 1e-2 and 0.1 "
    "cut-offs are this study's"
)
VANISHING_SETTING = (
    "MNIST, sigmoid MLP 784-30-30-30-30-10 (network2.py), SGD with mini-batches of 10, "
    "eta 0.1, L2 lambda 5.0, 30 epochs; speed of learning per hidden layer"
)
FASTER_SOURCE = (
    "Krizhevsky, Sutskever & Hinton 2012, 'ImageNet classification with deep convolutional "
    "neural networks', NIPS, Sec. 3.1 and Fig. 1 (ReLU reaches 25% training error six times "
    "faster than tanh; ReLU nets 'consistently learn several times faster than equivalents "
    "with saturating neurons')"
)
FASTER_SETTING = (
    "CIFAR-10, four-layer convolutional net, ReLU vs tanh, learning rates chosen separately "
    "for the fastest training, no regularization"
)
DEAD_SOURCE = (
    "Karpathy et al., Stanford CS231n course notes (2015-), 'Neural Networks Part 1', "
    "Commonly used activation functions, ReLU cons: 'as much as 40% of your network can be "
    "dead' if the learning rate is set too high; the 10-point threshold is this study's"
)


def vanishing_gradient_claim(claim_id: str, text: str, suffix: str) -> Claim:
    """The claim "sigmoid``suffix``'s layer-1 / last-layer gradient-norm ratio at
    initialization is below 1e-2 while relu``suffix``'s is at least 0.1" (the cut-offs are
    this study's; the source argues the geometric shrinking, see :data:`VANISHING_SOURCE`)."""
    return Claim(
        id=claim_id,
        text=text,
        statistic="per seed, log10 of the layer-1 / last-layer gradient-norm ratio at "
        "initialization: sigmoid's claimed below -2 and ReLU's above -1 (one-sample t-tests "
        "against the thresholds, both needed)",
        evaluate=ratio_thresholds(
            "grad_ratio_init_log10", f"sigmoid{suffix}", f"relu{suffix}", below=-2, above=-1
        ),
        expected="supported",
        source=VANISHING_SOURCE,
        setting=VANISHING_SETTING,
    )


def relu_faster_claim(claim_id: str, text: str, suffix: str) -> Claim:
    """The claim "the ReLU-family arms ``<activation>suffix`` reach the target in fewer
    epochs than sigmoid``suffix``"."""
    return Claim(
        id=claim_id,
        text=text,
        statistic="per seed, the ReLU-family arms' mean epochs to target minus sigmoid's "
        "(never reached = epochs + 1), claimed below 0; a censored count, so a sign-flip test",
        evaluate=family_faster(
            "epochs_to_target",
            [f"{a}{suffix}" for a in RELU_FAMILY],
            f"sigmoid{suffix}",
            label="ReLU-family",
        ),
        expected="supported",
        source=FASTER_SOURCE,
        setting=FASTER_SETTING,
    )


def _arm(activation: str, factor: str, dataset: str = "mnist1d") -> tuple[str, Arm]:
    name, args = SUITED_INIT[activation] if factor == "suited" else COMMON_INIT
    model: dict[str, Any] = {"activation": activation, "init": name}
    if args:
        model["init_args"] = dict(args)
    overrides: dict[str, Any] = {"model": model}
    label = f"{activation}/{factor}"
    if dataset != "mnist1d":
        overrides["data"] = {"name": dataset}
        overrides["train"] = {"target_acc": DIGITS_TARGET_ACC}
        label += f"/{dataset}"
    factors = {"activation": activation, "init": factor, "data": dataset}
    return label, Arm(overrides, factors=factors)


SUITED_ARMS = dict(_arm(a, "suited") for a in ACTIVATIONS)
COMMON_ARMS = dict(_arm(a, "common") for a in ACTIVATIONS)
#: The second data set: every activation with its suited initializer, and the logistic and
#: ReLU with the common one (the vanishing-gradient contrast).
DIGITS_ARMS = dict(
    [_arm(a, "suited", "digits") for a in ACTIVATIONS]
    + [_arm(a, "common", "digits") for a in ("sigmoid", "relu")]
)
_RELU = SUITED_ARMS["relu/suited"].overrides
LOW_LR_ARM, HIGH_LR_ARM = f"relu/lr={BASE_LR:g}", f"relu/lr={HIGH_LR:g}"
LR_ARMS = {
    LOW_LR_ARM: Arm({**_RELU, "optimizer": {"lr": BASE_LR}}),
    HIGH_LR_ARM: Arm({**_RELU, "optimizer": {"lr": HIGH_LR}}),
}


#: Pocock-type spending: vanishing gradients differ by orders of magnitude between sigmoid
#: and ReLU, so a design that can stop at the first look spares most seeds; both spending
#: rules hold each wrong verdict at alpha (studies.stats.sequential).
DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="activations",
    metrics=COMMON_METRICS,
    design=DESIGN,
    question="Does ReLU fix the vanishing gradient of the sigmoid in a deep MLP, and at what "
    "price (dead units)?",
    description=DESCRIPTION,
    data="MNIST-1D (mnist1d generator, seed 0, generated once): 3600 training / 400 "
    "validation / 1000 test samples, 40 features standardised on the training rows (4000 "
    "train + validation), 10 classes. Stage 'digits': scikit-learn's 8x8 digits, 1293 "
    "training / 144 validation / 360 test samples (test split fixed by seed 0), 64 features "
    "standardised the same way, 10 classes. The test sets are fixed; each seed draws its own "
    "stratified validation split (and with it the diagnostic batch), shared by every arm.",
    base_config=BASE_CONFIG,
    trial=trial,
    stages=[
        Stage("suited", SUITED_ARMS),
        Stage("common", COMMON_ARMS),
        Stage("learning_rate", LR_ARMS),
        Stage("digits", DIGITS_ARMS),
    ],
    quick={"train": {"epochs": 3}},
    claims=[
        vanishing_gradient_claim(
            "vanishing_gradient_common_init",
            "At initialization, with one common initializer (Xavier uniform), the sigmoid "
            "net's layer-1 / last-layer gradient-norm ratio is below 1e-2 while the ReLU net's "
            "is at least 0.1 (cut-offs of this study; the logistic derivative is at most 1/4 "
            "per layer).",
            "/common",
        ),
        vanishing_gradient_claim(
            "vanishing_gradient_suited_init",
            "The same holds when each activation gets the initializer that suits it (Xavier "
            "x4 for the sigmoid, Kaiming for ReLU): sigmoid's ratio below 1e-2, ReLU's at "
            "least 0.1.",
            "/suited",
        ),
        relu_faster_claim(
            "relu_family_trains_faster",
            f"ReLU-family nets (ReLU, LeakyReLU, PReLU, ELU), each with its suited "
            f"initializer, reach {TARGET_ACC:.0%} validation accuracy in fewer epochs than the "
            "sigmoid net with its suited initializer.",
            "/suited",
        ),
        vanishing_gradient_claim(
            "vanishing_gradient_digits",
            "On the second data set (digits), with the common initializer, the sigmoid net's "
            "layer-1 / last-layer gradient-norm ratio at initialization is again below 1e-2 "
            "while the ReLU net's is at least 0.1.",
            "/common/digits",
        ),
        relu_faster_claim(
            "relu_family_trains_faster_digits",
            f"On digits too, the ReLU-family nets with their suited initializers reach "
            f"{DIGITS_TARGET_ACC:.0%} validation accuracy in fewer epochs than the sigmoid "
            "net with its suited initializer.",
            "/suited/digits",
        ),
        Claim(
            id="dying_relu_high_lr",
            text=f"With a too-large learning rate ({HIGH_LR:g} instead of {BASE_LR:g}) the "
            "fraction of dead ReLU units at the end of training rises well above (by more "
            "than 10 percentage points) the small-rate net's; the seed notes cite up to 40%.",
            statistic="per seed, the high-rate minus the low-rate net's final dead fraction "
            "(mean over hidden layers), claimed above 0.10",
            evaluate=paired_gap("dead_frac_final", HIGH_LR_ARM, LOW_LR_ARM, threshold=0.10),
            expected="supported",
            source=DEAD_SOURCE,
            setting="a remark from practice, with no experiment or set-up stated",
        ),
    ],
    plots=[
        Plot(
            "per_layer",
            "Gradient norm per layer at initialization (suited initializers)",
            prefix="grad_norm/layer_",
            epoch=0,
            stage="suited",
        ),
        Plot(
            "per_layer",
            "Gradient norm per layer at initialization (common Xavier initializer)",
            prefix="grad_norm/layer_",
            epoch=0,
            stage="common",
        ),
        Plot(
            "learning_curves",
            "log10 gradient-norm ratio first / last layer over training (suited)",
            metric="grad_ratio_log10",
            stage="suited",
        ),
        Plot(
            "per_layer",
            "Saturated fraction per layer after training (suited initializers)",
            prefix="saturated/layer_",
            epoch="last",
            stage="suited",
        ),
        Plot(
            "layer_epochs",
            "Saturated fraction per layer over training (suited initializers)",
            prefix="saturated/layer_",
            vmin=0.0,
            vmax=1.0,
            stage="suited",
        ),
        Plot(
            "layer_epochs",
            "Dead ReLU fraction per layer over training at two learning rates",
            prefix="dead/layer_",
            vmin=0.0,
            vmax=1.0,
            stage="learning_rate",
        ),
        Plot(
            "learning_curves",
            "Dead ReLU fraction (mean over hidden layers) at two learning rates",
            metric="dead_frac",
            stage="learning_rate",
        ),
        Plot(
            "layer_epochs",
            "Gradient norm per layer over training (suited initializers)",
            prefix="grad_norm/layer_",
            log_color=True,
            stage="suited",
        ),
        Plot("learning_curves", "Validation accuracy (suited)", metric="val_acc", stage="suited"),
        Plot("learning_curves", "Validation accuracy (common)", metric="val_acc", stage="common"),
        Plot(
            "per_layer",
            "Digits: gradient norm per layer at initialization",
            prefix="grad_norm/layer_",
            epoch=0,
            stage="digits",
        ),
        Plot("learning_curves", "Digits: validation accuracy", metric="val_acc", stage="digits"),
        Plot(
            "learning_curves",
            "Training loss (suited)",
            metric="train_loss",
            stage="suited",
            log_y=True,
        ),
        Plot(
            "heatmap",
            "MNIST-1D test accuracy: activation x initializer",
            row="activation",
            col="init",
            metric="test_acc",
            stage=["suited", "common"],
        ),
        Plot(
            "heatmap",
            "MNIST-1D: log10 gradient-norm ratio layer 1 / last at initialization",
            row="activation",
            col="init",
            metric="grad_ratio_init_log10",
            stage=["suited", "common"],
        ),
        Plot(
            "heatmap",
            "Digits test accuracy: activation x initializer",
            row="activation",
            col="init",
            metric="test_acc",
            stage="digits",
        ),
    ],
)
