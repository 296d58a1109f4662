"""Losses for a classifier: cross-entropy on logits against squared error on softmax outputs.

The seed notes (001_*, 002_*, 004_*) put an identity output on a regression net and
a softmax output on a classifier, train regressions with the mean squared error and classifiers
with the cross-entropy. Why not the squared error on the softmax outputs? Its gradient reaches
the logits through the softmax Jacobian diag(p) - p p^T, which vanishes when p is
saturated: a net that is confidently wrong (the wrong class near 1, the right one near 0)
gets almost no gradient. The cross-entropy's gradient with respect to the logits is p - y
(the log undoes the exp), of order 1 exactly there.

Design: a 64-64-10 tanh MLP on the scikit-learn digits (each seed draws a 20 % validation split
of the 1437 training images, the weights and the batch order), plain SGD (learning rate 0.1,
batch 32, 30 epochs). Arms: cross-entropy on the logits (dlkit's fused, stable softmax
cross-entropy) or the squared error on softmax outputs (a Softmax layer inside the model, the
squared error summed over the 10 outputs and averaged over samples, against one-hot targets),
each from a normal start (Xavier uniform) and from a bad start: the same weights with the output
layer's scaled by 25, so the initial softmax is saturated and about three training predictions
in four are confident (top probability above 0.9) and wrong. Seed s gives every arm the same
split, weights (before the scaling) and batch order. A fifth arm trains with the squared error
on the logits themselves (identity outputs, one-hot targets, no softmax) from the normal start.
At initialization each trial also measures, on its confidently wrong training samples (wrong
argmax, top probability above 0.9), the gradient norm of the output layer's weights under the
three losses on the very same network. Every trial also evaluates the cross-entropy of 512 rows
of logits drawn uniformly in [-1000, 1000] with dlkit's fused loss and with the naive
softmax-then-log, in float32, against a float64 reference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import logsumexp

from dlkit import losses, nn, optim, train
from studies.catalog._task_mlp import dataset
from studies.engine.claims import all_of, mean_threshold, paired_comparison, paired_equivalence
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: Summary figures and which way is better (None: neither).
METRICS: dict[str, str | None] = {
    "epochs_to_target": "lower",
    "final_val_acc": "higher",
    "initial_val_acc": None,
    "confident_wrong_fraction": None,
    "grad_out_ce": None,
    "grad_out_mse": None,
    "grad_out_mse_identity": None,
    "log10_grad_ratio": None,
    "fused_ce_finite": "higher",
    "naive_ce_finite": "higher",
    "fused_ce_max_rel_error": "lower",
}
#: A sample is "confidently wrong" when its argmax is wrong and its top probability above this.
CONFIDENT = 0.9
#: The claimed factor: the squared error's output-layer gradient on confidently wrong samples
#: is below 10**LOG10_GAP times the cross-entropy's.
LOG10_GAP = -1.0
#: The fused loss's relative error against float64 must stay below this (float32 rounding).
REL_TOLERANCE = 1e-5
#: The logits of the stability check are drawn uniformly in [-LOGIT_RANGE, LOGIT_RANGE].
LOGIT_RANGE = 1000.0
BAD_GAIN = 25.0

BASE_CONFIG: dict[str, Any] = {
    "data": {"name": "digits", "seed": 0, "val_fraction": 0.2},
    "model": {"hidden": 64, "activation": "tanh", "output_gain": 1.0},
    "loss": "cross_entropy",
    "optimizer": {"name": "sgd", "lr": 0.1},
    "train": {"epochs": 30, "batch_size": 32, "target_acc": 0.9},
    "stability": {"rows": 512, "classes": 10, "logit_range": LOGIT_RANGE},
}


class SumSquaredError(losses.Loss):
    """Squared error summed over the outputs and averaged over samples:
    ``mean_i sum_c (pred_ic - target_ic)^2``, i.e. ``C`` times :class:`dlkit.losses.MSELoss`.

    The criterion of Golik et al. (2013) per sample; summing over the classes keeps its scale
    per sample comparable with the cross-entropy's, so both arms can share a learning rate.
    """

    def __init__(self) -> None:
        self._mse = losses.MSELoss()

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        self._c = pred.shape[-1]
        return self._mse.forward(pred, target) * self._c

    def backward(self) -> np.ndarray:
        grad = self._mse.backward()
        grad *= np.asarray(self._c, grad.dtype)
        return grad


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels (N,) as float32 one-hot rows (N, n_classes)."""
    out = np.zeros((len(y), n_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, max subtracted first (stable)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def logit_gradients(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of both per-sample losses with respect to the logits ``z`` (N, C).

    Returns
    -------
    ce, se : ndarray, shape (N, C)
        Of the cross-entropy ``-log softmax(z)_y``: ``p - onehot(y)``; of the squared error on
        the softmax outputs ``||p - onehot(y)||^2``: the softmax Jacobian ``diag(p) - p p^T``
        applied to ``2 (p - onehot(y))``. Per sample (not averaged).
    """
    p = softmax(np.asarray(z, dtype=np.float64))
    e = p - one_hot(y, z.shape[1])
    d = 2.0 * e
    se = p * (d - np.sum(d * p, axis=1, keepdims=True))
    return e, se


def output_gradient_norms(
    hidden: np.ndarray, z: np.ndarray, y: np.ndarray
) -> tuple[float, float, float]:
    """Norms of the output layer's weight gradient (``hidden^T dz / N``, the mean loss over
    the N samples) for the same hidden activations ``hidden`` (N, H) and logits ``z`` (N, C).

    Returns
    -------
    ce, se_softmax, se_identity : float
        Under the cross-entropy, the squared error on the softmax outputs, and the squared
        error on the logits themselves (identity outputs: ``dz = 2 (z - onehot(y))``); NaN
        for all three when there is no sample.
    """
    if len(y) == 0:
        return math.nan, math.nan, math.nan
    ce, se = logit_gradients(z, y)
    si = 2.0 * (np.asarray(z, dtype=np.float64) - one_hot(y, z.shape[1]))
    h = np.asarray(hidden, dtype=np.float64)
    n = len(y)
    return tuple(float(np.linalg.norm(h.T @ d / n)) for d in (ce, se, si))


def log10_ratio(a: float, b: float) -> float:
    """``log10(a / b)`` for gradient norms: ``-inf`` when only ``a`` is 0, NaN when ``b`` is 0
    or either is NaN (no confidently wrong sample)."""
    if not (b > 0) or not (a >= 0):
        return math.nan
    return math.log10(a / b) if a > 0 else -math.inf


def naive_cross_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``-log(softmax(z)_y)`` per row with the textbook softmax ``exp(z) / sum exp(z)`` (no
    max subtracted) and a separate log, in the dtype of ``z``: overflows for large logits."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(y)), y])


def fused_cross_entropy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row cross-entropy by :class:`dlkit.losses.CrossEntropyLoss` (fused log-softmax)."""
    loss = losses.CrossEntropyLoss()
    return np.array([loss.forward(z[i : i + 1], y[i : i + 1]) for i in range(len(y))])


def stability_check(rows: int, classes: int, logit_range: float, rng: np.random.Generator):
    """Cross-entropy of ``rows`` float32 logit rows drawn uniformly in ``±logit_range``.

    Returns
    -------
    dict
        ``fused_ce_finite`` and ``naive_ce_finite`` (fraction of finite per-row losses) and
        ``fused_ce_max_rel_error`` (largest relative error of the fused loss against the
        float64 ``logsumexp(z) - z_y``).
    """
    z = rng.uniform(-logit_range, logit_range, size=(rows, classes)).astype(np.float32)
    y = rng.integers(0, classes, size=rows)
    exact = logsumexp(z.astype(np.float64), axis=1) - z.astype(np.float64)[np.arange(rows), y]
    fused = fused_cross_entropy(z, y)
    naive = naive_cross_entropy(z, y)
    scale = np.maximum(np.abs(exact), 1.0)
    rel = np.abs(fused - exact) / scale
    return {
        "fused_ce_finite": float(np.mean(np.isfinite(fused))),
        "naive_ce_finite": float(np.mean(np.isfinite(naive))),
        "fused_ce_max_rel_error": float(np.max(rel)) if np.all(np.isfinite(rel)) else math.inf,
    }


def build_model(
    n_in: int, n_out: int, model: dict, loss: str, rng: np.random.Generator
) -> nn.Sequential:
    """``Dense(hidden) -> activation -> Dense(n_out)`` (Xavier uniform), the output layer's
    weights multiplied by ``model.output_gain``; a Softmax layer appended for the squared error
    on softmax outputs (``loss == "squared_error"``; the cross-entropy and the squared error on
    identity outputs take the logits)."""
    net = nn.mlp(
        [n_in, model["hidden"], n_out],
        activation=model["activation"],
        init="xavier_uniform",
        rng=rng,
    )
    out = net.layers[-1]
    out.weight.data *= np.float32(model["output_gain"])
    if loss == "squared_error":
        net = nn.Sequential(*net.layers, nn.Softmax())
    return net


def logits_and_hidden(net: nn.Sequential, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The logits and the output layer's input (the last hidden activations) of ``net``."""
    h = X
    layers = [layer for layer in net.layers if not isinstance(layer, nn.Softmax)]
    for layer in layers[:-1]:
        h = layer.forward(h, train=False)
    return layers[-1].forward(h, train=False), h


def trial(config: dict) -> TrialResult:
    """Train one MLP with one loss from one start; the gradient measurement at initialization
    and the stability check; epochs to the target validation accuracy."""
    cfg_data, cfg_train = config["data"], config["train"]
    ds = dataset(cfg_data["name"], cfg_data["seed"])  # loaded once per worker
    init_rng, batch_rng, split_rng, stab_rng = np.random.default_rng(config["seed"]).spawn(4)
    split = ds.split_validation(cfg_data["val_fraction"], split_rng)
    loss_name = config["loss"]
    net = build_model(ds.n_features, ds.n_classes, config["model"], loss_name, init_rng)

    z, hidden = logits_and_hidden(net, split.X_train)
    p = softmax(z.astype(np.float64))
    wrong = (p.argmax(axis=1) != split.y_train) & (p.max(axis=1) > CONFIDENT)
    g_ce, g_se, g_si = output_gradient_norms(hidden[wrong], z[wrong], split.y_train[wrong])

    if loss_name in ("squared_error", "squared_error_identity"):
        loss: losses.Loss = SumSquaredError()
        y_fit = one_hot(split.y_train, ds.n_classes)
    else:
        loss, y_fit = losses.CrossEntropyLoss(), split.y_train

    def val_accuracy(epoch: int, record: dict, model: nn.Sequential) -> None:
        out = model.forward(split.X_val, train=False)
        record["val_acc"] = float(np.mean(out.argmax(axis=1) == split.y_val))

    opt = optim.build(config["optimizer"]["name"], net.parameters(), lr=config["optimizer"]["lr"])
    history = train.fit(
        net,
        loss,
        opt,
        split.X_train,
        y_fit,
        epochs=cfg_train["epochs"],
        batch_size=cfg_train["batch_size"],
        rng=batch_rng,
        callbacks=[val_accuracy],
        record_initial=True,
    )
    accs = [r.get("val_acc", math.nan) for r in history]
    records = [{k: v for k, v in r.items() if k != "train_acc"} for r in history]
    summary = {
        "epochs_to_target": train.epochs_to_target(accs, cfg_train["target_acc"], mode="max"),
        "final_val_acc": float(accs[-1]),
        "initial_val_acc": float(accs[0]),
        "confident_wrong_fraction": float(np.mean(wrong)),
        "grad_out_ce": g_ce,
        "grad_out_mse": g_se,
        "grad_out_mse_identity": g_si,
        "log10_grad_ratio": log10_ratio(g_se, g_ce),
        **stability_check(
            config["stability"]["rows"],
            config["stability"]["classes"],
            config["stability"]["logit_range"],
            stab_rng,
        ),
    }
    source = f"dlkit.data.load({cfg_data['name']!r}, seed={cfg_data['seed']}), split per seed"
    datasets = data_inputs(
        cfg_data["name"],
        source,
        train=(split.X_train, split.y_train),
        validation=(split.X_val, split.y_val),
    )
    return TrialResult.from_history(history, summary, records=records, datasets=datasets)


LOSS_LABELS = {
    "cross_entropy": "ce",
    "squared_error": "mse_softmax",
    "squared_error_identity": "mse_identity",
}


def _arm(loss: str, start: str) -> Arm:
    gain = BAD_GAIN if start == "bad" else 1.0
    return Arm(
        {"loss": loss, "model": {"output_gain": gain}},
        factors={"loss": LOSS_LABELS[loss], "start": start},
    )


ARMS = {
    "ce/normal": _arm("cross_entropy", "normal"),
    "mse_softmax/normal": _arm("squared_error", "normal"),
    "ce/bad": _arm("cross_entropy", "bad"),
    "mse_softmax/bad": _arm("squared_error", "bad"),
    "mse_identity/normal": _arm("squared_error_identity", "normal"),
}
#: The final validation accuracies of squared error on identity outputs and of cross-entropy
#: are claimed within this of each other.
EQUIVALENCE_MARGIN = 0.01

CENSOR = "config.train.epochs"
_FASTER_BAD = paired_comparison(
    "epochs_to_target",
    "ce/bad",
    "mse_softmax/bad",
    better="lower",
    test="permutation",
    censor=CENSOR,
)
_FASTER_NORMAL = paired_comparison(
    "epochs_to_target",
    "ce/normal",
    "mse_softmax/normal",
    better="lower",
    test="permutation",
    censor=CENSOR,
)


def gap_grows_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of "the cross-entropy's lead is larger from the bad start": per seed,
    ``(mse_bad - ce_bad) - (mse_normal - ce_normal)`` epochs to target (never reached =
    epochs + 1), claimed above 0 (sign-flip permutation test)."""
    bad = _FASTER_BAD(summaries, histories)
    normal = _FASTER_NORMAL(summaries, histories)
    (cb,), (cn,) = bad.comparisons, normal.comparisons
    common = sorted(set(cb.seeds) & set(cn.seeds))
    vb = dict(zip(cb.seeds, cb.values, strict=True))
    vn = dict(zip(cn.seeds, cn.values, strict=True))
    # ce - mse per seed in each; the gap mse - ce is their negative
    values = [vn[s] - vb[s] for s in common]
    comparison = Comparison(
        values,
        common,
        "greater",
        "permutation",
        label="(mse - ce at bad start) - (mse - ce at normal start) epochs_to_target",
        arms=("ce/normal", "mse_softmax/normal", "ce/bad", "mse_softmax/bad"),
    )
    numbers = {
        "gap_bad": -float(np.mean([vb[s] for s in common])) if common else math.nan,
        "gap_normal": -float(np.mean([vn[s] for s in common])) if common else math.nan,
        "censored_at": bad.numbers.get("censored_at", math.nan),
    }
    return Evidence([comparison], numbers=numbers, detail=bad.detail)


_VANISHES = mean_threshold("log10_grad_ratio", threshold=LOG10_GAP, above=False, arm="ce/bad")


def stability_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of the stability claim: the fused loss's relative error below the tolerance
    and the naive loss's finite fraction below 1 (both needed)."""
    fused = mean_threshold(
        "fused_ce_max_rel_error", threshold=REL_TOLERANCE, above=False, arm="ce/normal"
    )
    naive = mean_threshold("naive_ce_finite", threshold=1.0, above=False, arm="ce/normal")
    return all_of([("fused", fused(summaries, histories)), ("naive", naive(summaries, histories))])


GOLIK = (
    "Golik, Doetsch & Ney 2013, 'Cross-entropy vs. squared error training: a theoretical and "
    "experimental comparison', Interspeech"
)
GOLIK_SETTING = (
    "hybrid HMM-ANN acoustic and handwriting models (speech and handwriting recognition), "
    "softmax outputs trained with squared error or cross-entropy, random or pre-trained "
    "initialization (only the abstract was read)"
)
GOODFELLOW = (
    "Goodfellow, Bengio & Courville 2016, Deep Learning (MIT Press), Sec. 6.2.2.3, softmax "
    "units ('the squared error is a poor loss function for softmax units, and can fail to train "
    "the model to change its output, even when the model makes highly confident incorrect "
    "predictions'; the gradient of -log softmax with respect to a wrong logit j is p_j)"
)
GOODFELLOW_SETTING = (
    "a textbook analysis of a softmax output unit trained by maximum likelihood or by squared "
    "error (no experiment)"
)

DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="losses",
    question="Does cross-entropy train a softmax classifier faster than squared error, most of "
    "all from a confident, wrong start where the squared error's gradient vanishes; does the "
    "squared error on identity outputs do as well; and does the fused log-softmax stay finite "
    "at logits of ±1000?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    data="scikit-learn digits (8x8 images, 64 standardized features, 10 classes): the "
    "1437-image training part, split per seed into 1149 training and 288 validation images.",
    base_config=BASE_CONFIG,
    trial=trial,
    metrics=METRICS,
    design=DESIGN,
    stages=[Stage("main", ARMS)],
    quick={"train": {"epochs": 3}, "stability": {"rows": 64}},
    claims=[
        Claim(
            id="mse_gradient_vanishes_when_confidently_wrong",
            text="On confidently wrong samples (wrong argmax, top probability above 0.9) the "
            "squared error on softmax outputs gives the output layer a gradient more than 10 "
            "times smaller than the cross-entropy does, on the same network.",
            statistic="per seed, log10(|grad W_out| squared error / |grad W_out| "
            f"cross-entropy) on the bad start's confidently wrong training samples, claimed "
            f"below {LOG10_GAP:g} (t-test)",
            evaluate=_VANISHES,
            source=GOODFELLOW,
            setting=GOODFELLOW_SETTING,
            expected="supported",
        ),
        Claim(
            id="ce_faster_from_bad_start",
            text="From a confident, wrong start (output weights x25), cross-entropy reaches "
            "90 % validation accuracy in fewer epochs than squared error on softmax outputs.",
            statistic="per seed, cross-entropy minus squared-error epochs to 90 % validation "
            "accuracy (never reached = epochs + 1), claimed below 0 (sign-flip permutation "
            "test)",
            evaluate=_FASTER_BAD,
            source=f"{GOLIK}, abstract ('with randomly initialized weights, the squared error "
            "based ANN does not converge to a good local optimum')",
            setting=GOLIK_SETTING,
            expected="supported",
        ),
        Claim(
            id="ce_faster_from_normal_start",
            text="From a normal (Xavier) start too, cross-entropy reaches 90 % validation "
            "accuracy in fewer epochs than squared error on softmax outputs.",
            statistic="per seed, cross-entropy minus squared-error epochs to 90 % validation "
            "accuracy (never reached = epochs + 1), claimed below 0 (sign-flip permutation "
            "test)",
            evaluate=_FASTER_NORMAL,
            source=f"{GOLIK}, abstract",
            setting=GOLIK_SETTING,
            expected="supported",
        ),
        Claim(
            id="ce_lead_largest_from_bad_start",
            text="The cross-entropy's lead in epochs to 90 % validation accuracy is larger "
            "from the confident, wrong start than from the normal start.",
            statistic="per seed, (squared error - cross-entropy epochs to target at the bad "
            "start) - (the same at the normal start), never reached = epochs + 1, claimed "
            "above 0 (sign-flip permutation test)",
            evaluate=gap_grows_claim,
            source=f"{GOODFELLOW}; {GOLIK}, abstract",
            setting=GOLIK_SETTING,
            expected="supported",
        ),
        Claim(
            id="mse_on_identity_outputs_matches_ce",
            text="Without the softmax, the squared error on the logits (identity outputs, "
            "one-hot targets) trains as well as cross-entropy: from the normal start the two "
            f"final validation accuracies differ by less than {EQUIVALENCE_MARGIN:g}.",
            statistic="per seed, squared error on identity outputs minus cross-entropy final "
            f"validation accuracy, claimed within +-{EQUIVALENCE_MARGIN:g} (sequential paired "
            "TOST)",
            evaluate=paired_equivalence(
                "final_val_acc", "mse_identity/normal", "ce/normal", margin=EQUIVALENCE_MARGIN
            ),
            source="Hui & Belkin 2021, 'Evaluation of neural architectures trained with square "
            "loss vs cross-entropy in classification tasks', ICLR, abstract (architectures "
            "'perform comparably or better when trained with the square loss')",
            setting="NLP, speech recognition and computer vision benchmarks with the "
            "literature's architectures and hyper-parameters (only the abstract was read)",
            expected="supported",
        ),
        Claim(
            id="fused_log_softmax_is_finite",
            text="At logits drawn in [-1000, 1000] the fused, max-subtracted log-softmax "
            "cross-entropy stays finite and accurate in float32, while the naive softmax "
            "followed by a log does not.",
            statistic="per seed (512 rows), the fused loss's largest relative error against "
            f"float64 claimed below {REL_TOLERANCE:g}, and the naive loss's fraction of finite "
            "rows claimed below 1 (t-tests, both needed)",
            evaluate=stability_claim,
            source="Goodfellow, Bengio & Courville 2016, Deep Learning (MIT Press), Sec. 4.1 "
            "(overflow and underflow: the softmax must be stabilized, softmax(x - max_i x_i)); "
            "torch.nn.CrossEntropyLoss docs ('combines LogSoftmax and NLLLoss in one single "
            "class')",
            setting="floating-point evaluation of the softmax and its log (no experiment)",
            expected="supported",
        ),
    ],
    plots=[
        Plot("learning_curves", "Validation accuracy per epoch (argmax)", metric="val_acc"),
        Plot(
            "learning_curves",
            "Training loss (each arm's own loss; log scale)",
            metric="train_loss",
            log_y=True,
        ),
        Plot(
            "final_metric",
            "Epochs to 90 % validation accuracy, of the runs that reach it (the claims count a "
            "run that never does as epochs + 1)",
            metric="epochs_to_target",
        ),
        Plot(
            "final_metric",
            "log10 (squared-error on softmax / cross-entropy output-layer gradient) on the "
            "confidently wrong samples at initialization (both bad-start arms share the network)",
            metric="log10_grad_ratio",
        ),
    ],
)
