"""The perceptron: its learning rule, its mistake bound, XOR, and the hidden layer XOR needs.

The seed notes (000_*, 004_*) start from Rosenblatt's perceptron (1958), recall that Minsky
and Papert (1969) showed it cannot compute XOR (in two dimensions its decision boundary is a
line, and no line separates XOR's classes), and introduce the multi-layer perceptron: one
hidden layer and XOR is solved.

Three stages, each seed drawing its own initial weights and presentation order. xor: on the four
XOR points (inputs +-1, label 1 where the signs differ) the perceptron rule (bias included,
weights N(0, 1), 500 epochs of shuffled single-sample updates), logistic regression (one dlkit
Dense unit with the binary cross-entropy, Xavier weights and a N(0, 1) bias, full-batch SGD,
learning rate 0.5, 500 epochs) and a 2-8-1 tanh MLP (the same loss and optimizer, batch of the
four points) each report the best training accuracy they ever reach. novikoff: linearly
separable data of known margin: a random unit vector w* in 5 dimensions, 100 points uniform in
the unit ball with |w* . x| >= gamma (labels sign(w* . x)), gamma = 0.05, 0.1 or 0.2; the
perceptron rule through the origin from zero weights, over shuffled epochs until an epoch has no
mistake; its mistakes are compared with Novikoff's bound (R / gamma)^2, R the largest norm and
gamma the smallest margin y (w* . x) of the drawn points. width: 2-H-1 tanh MLPs with H = 2, 3,
4 or 8 trained on the four XOR points by full-batch gradient descent (learning rate 0.5, 1000
steps, binary cross-entropy, Xavier uniform start); each trial trains 40 independent
initializations at once and reports the fraction that classify all four points correctly at the
end.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlkit import init as initializers
from dlkit import losses, nn, optim, train
from studies.engine.claims import all_of, mean_threshold, paired_comparison
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import Evidence, SequentialDesign

#: Summary figures and which way is better (None: neither).
METRICS: dict[str, str | None] = {
    "best_acc": None,
    "final_acc": None,
    "mistakes": None,
    "bound": None,
    "mistakes_over_bound": None,
    "margin": None,
    "radius": None,
    "epochs_to_separate": None,
    "solved_fraction": "higher",
}
#: The four XOR points (inputs +-1) and their labels (1 where the signs differ).
XOR_X = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.int64)
#: Accuracy on four points is a multiple of 1/4: below 7/8 means at most 3/4, above it all 4.
HALF_STEP = 7 / 8
MARGINS = (0.05, 0.1, 0.2)
WIDTHS = (2, 3, 4, 8)

XOR_CONFIG: dict[str, Any] = {
    "model": {"kind": "perceptron", "hidden": 8},
    "train": {"epochs": 500, "lr": 0.5},
}
NOVIKOFF_CONFIG: dict[str, Any] = {
    "data": {"n": 100, "dim": 5, "margin": 0.1},
    "train": {"max_epochs": 10000},
}
WIDTH_CONFIG: dict[str, Any] = {
    "model": {"hidden": 2},
    "train": {"steps": 1000, "lr": 0.5, "restarts": 40},
}


# ----------------------------------------------------------------------- the perceptron rule


def perceptron_epoch(
    w: np.ndarray, X: np.ndarray, y: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, int]:
    """One pass of Rosenblatt's rule: for each sample in ``order``, if ``y_i (w . x_i) <= 0``
    then ``w += y_i x_i``.

    Parameters
    ----------
    w : ndarray, shape (D,)
        Weights (a bias is a constant-1 column of ``X``); updated in place.
    X : ndarray, shape (N, D)
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    order : ndarray, shape (N,)

    Returns
    -------
    w, mistakes : ndarray, int
    """
    mistakes = 0
    for i in order:
        if y[i] * float(X[i] @ w) <= 0:
            w += y[i] * X[i]
            mistakes += 1
    return w, mistakes


def perceptron_until_separated(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, max_epochs: int
) -> tuple[np.ndarray, int, int]:
    """The perceptron rule from zero weights, over shuffled epochs until an epoch makes no
    mistake (or ``max_epochs``).

    Returns
    -------
    w, mistakes, epochs : ndarray, int, int
        The final weights, the total number of mistakes (= updates) and the number of epochs
        run, the last one mistake-free if ``epochs < max_epochs`` or the data was separated.
    """
    w = np.zeros(X.shape[1], dtype=np.float64)
    total = 0
    for epoch in range(1, max_epochs + 1):
        w, mistakes = perceptron_epoch(w, X, y, rng.permutation(len(y)))
        total += mistakes
        if mistakes == 0:
            return w, total, epoch
    return w, total, max_epochs


def novikoff_bound(X: np.ndarray, y: np.ndarray, w_star: np.ndarray) -> tuple[float, float, float]:
    """Novikoff's bound ``(R / gamma)^2`` on the perceptron's mistakes from zero weights.

    Returns
    -------
    bound, radius, margin : float
        ``R = max ||x_i||``, ``gamma = min y_i (u . x_i)`` with ``u = w_star / ||w_star||``;
        the bound is ``inf`` when ``gamma <= 0`` (``w_star`` does not separate the data).
    """
    u = np.asarray(w_star, dtype=np.float64) / np.linalg.norm(w_star)
    radius = float(np.max(np.linalg.norm(X, axis=1)))
    margin = float(np.min(y * (X @ u)))
    bound = (radius / margin) ** 2 if margin > 0 else math.inf
    return bound, radius, margin


def separable_data(
    n: int, dim: int, margin: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points uniform in the unit ball of ``dim`` dimensions with ``|u . x| >= margin``
    for a random unit vector ``u``, labelled ``sign(u . x)`` (rejection sampling).

    Returns
    -------
    X, y, u : ndarray, shapes (n, dim), (n,), (dim,)
    """
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    kept: list[np.ndarray] = []
    count = 0
    while count < n:
        g = rng.standard_normal((4 * n, dim))
        r = rng.random(4 * n) ** (1.0 / dim)
        x = g / np.linalg.norm(g, axis=1, keepdims=True) * r[:, None]
        x = x[np.abs(x @ u) >= margin]
        kept.append(x)
        count += len(x)
    X = np.concatenate(kept)[:n]
    return X, np.where(X @ u > 0, 1.0, -1.0), u


# ------------------------------------------------------------------------------ XOR models


def with_bias(X: np.ndarray) -> np.ndarray:
    """``X`` with a constant-1 column appended (the perceptron's bias as a weight)."""
    return np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])


def perceptron_xor(epochs: int, rng: np.random.Generator) -> list[float]:
    """Accuracy on the four XOR points before and after each of ``epochs`` shuffled epochs of
    the perceptron rule (bias included, weights drawn N(0, 1))."""
    X, y = with_bias(XOR_X.astype(np.float64)), np.where(XOR_Y == 1, 1.0, -1.0)
    w = rng.standard_normal(3)
    accs = [float(np.mean(np.where(X @ w > 0, 1.0, -1.0) == y))]
    for _ in range(epochs):
        w, _ = perceptron_epoch(w, X, y, rng.permutation(4))
        accs.append(float(np.mean(np.where(X @ w > 0, 1.0, -1.0) == y)))
    return accs


def dlkit_xor(hidden: int, epochs: int, lr: float, rng: np.random.Generator) -> list[float]:
    """Accuracy on the four XOR points per epoch of a dlkit net trained with the binary
    cross-entropy by full-batch SGD: logistic regression (``hidden == 0``; Xavier uniform
    weight, bias drawn N(0, 1)) or a 2-hidden-1 tanh MLP (Xavier uniform, zero biases)."""
    init_rng, batch_rng = rng.spawn(2)
    sizes = [2, 1] if hidden == 0 else [2, hidden, 1]
    net = nn.mlp(sizes, activation="tanh", init="xavier_uniform", rng=init_rng)
    if hidden == 0:
        # a random bias: with none the line passes through the origin, where it gets exactly
        # two of the four symmetric XOR points right whatever its slope
        net.layers[0].bias.data[...] = init_rng.standard_normal(1).astype(np.float32)
    target = XOR_Y.astype(np.float32)[:, None]

    def acc(epoch: int, record: dict, model: nn.Sequential) -> None:
        out = model.forward(XOR_X, train=False)
        record["acc"] = float(np.mean((out[:, 0] > 0) == (XOR_Y == 1)))

    history = train.fit(
        net,
        losses.BCEWithLogitsLoss(),
        optim.build("sgd", net.parameters(), lr=lr),
        XOR_X,
        target,
        epochs=epochs,
        batch_size=4,
        rng=batch_rng,
        callbacks=[acc],
        record_initial=True,
    )
    return [r["acc"] for r in history]


def xor_trial(config: dict) -> TrialResult:
    """One XOR model (perceptron, logistic regression or MLP): its training accuracy on the
    four points per epoch, and the best it ever reaches."""
    kind, cfg_train = config["model"]["kind"], config["train"]
    rng = np.random.default_rng(config["seed"])
    if kind == "perceptron":
        accs = perceptron_xor(cfg_train["epochs"], rng)
    else:
        hidden = 0 if kind == "logistic" else config["model"]["hidden"]
        accs = dlkit_xor(hidden, cfg_train["epochs"], cfg_train["lr"], rng)
    step = max(1, len(accs) // 100)
    history = [{"epoch": e, "acc": a} for e, a in enumerate(accs) if e % step == 0]
    if history[-1]["epoch"] != len(accs) - 1:
        history.append({"epoch": len(accs) - 1, "acc": accs[-1]})
    summary = {"best_acc": float(max(accs)), "final_acc": float(accs[-1])}
    datasets = data_inputs("xor4", "the four XOR points (inputs +-1)", train=(XOR_X, XOR_Y))
    return TrialResult(history=history, summary=summary, datasets=datasets)


def novikoff_trial(config: dict) -> TrialResult:
    """Separable data of the configured margin; the perceptron's mistakes against the bound."""
    cfg = config["data"]
    data_rng, order_rng = np.random.default_rng(config["seed"]).spawn(2)
    X, y, u = separable_data(cfg["n"], cfg["dim"], cfg["margin"], data_rng)
    w, mistakes, epochs = perceptron_until_separated(X, y, order_rng, config["train"]["max_epochs"])
    bound, radius, margin = novikoff_bound(X, y, u)
    separated = bool(np.all(y * (X @ w) > 0))
    summary = {
        "mistakes": float(mistakes),
        "bound": bound,
        "mistakes_over_bound": mistakes / bound,
        "margin": margin,
        "radius": radius,
        "epochs_to_separate": float(epochs) if separated else math.inf,
    }
    source = f"uniform in the unit ball, |u.x| >= {cfg['margin']}, seed per trial"
    datasets = data_inputs("separable", source, train=(X.astype(np.float32), y))
    return TrialResult(history=[{"epoch": 0}], summary=summary, datasets=datasets)


# ------------------------------------------------------------------- many MLPs on XOR at once


def init_mlps(restarts: int, hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Xavier-uniform weights (zero biases) of ``restarts`` independent 2-hidden-1 nets, drawn
    by :func:`dlkit.init.xavier_uniform` one net after the other (first layer, then output)."""
    W1 = np.empty((restarts, 2, hidden), dtype=np.float32)
    w2 = np.empty((restarts, hidden), dtype=np.float32)
    for m in range(restarts):
        W1[m] = initializers.xavier_uniform((2, hidden), rng)
        w2[m] = initializers.xavier_uniform((hidden, 1), rng)[:, 0]
    return {
        "W1": W1,
        "b1": np.zeros((restarts, hidden), dtype=np.float32),
        "w2": w2,
        "b2": np.zeros(restarts, dtype=np.float32),
    }


def mlp_logits(params: dict[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden tanh activations (M, N, H) and logits (M, N) of every net on ``X`` (N, 2)."""
    h = np.tanh(np.einsum("nd,mdh->mnh", X, params["W1"]) + params["b1"][:, None, :])
    return h, np.einsum("mnh,mh->mn", h, params["w2"]) + params["b2"][:, None]


def train_mlps(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, *, steps: int, lr: float
) -> dict[str, np.ndarray]:
    """Full-batch gradient descent on the mean binary cross-entropy (on logits) of every net at
    once, in float32; ``params`` is updated in place and returned."""
    t = y.astype(np.float32)[None, :]
    n = np.float32(len(y))
    rate = np.float32(lr)
    for _ in range(steps):
        h, z = mlp_logits(params, X)
        dz = (1.0 / (1.0 + np.exp(-z)) - t) / n
        dh = dz[:, :, None] * params["w2"][:, None, :] * (1.0 - h * h)
        params["w2"] -= rate * np.einsum("mnh,mn->mh", h, dz)
        params["b2"] -= rate * dz.sum(axis=1)
        params["W1"] -= rate * np.einsum("nd,mnh->mdh", X, dh)
        params["b1"] -= rate * dh.sum(axis=1)
    return params


def solved(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per net, whether it classifies every point of ``X`` correctly (logit > 0 for label 1)."""
    _, z = mlp_logits(params, X)
    return np.all((z > 0) == (y[None, :] == 1), axis=1)


def width_trial(config: dict) -> TrialResult:
    """Train ``restarts`` 2-H-1 tanh nets on XOR from independent starts; the fraction solved."""
    cfg = config["train"]
    rng = np.random.default_rng(config["seed"])
    params = init_mlps(cfg["restarts"], config["model"]["hidden"], rng)
    train_mlps(params, XOR_X, XOR_Y, steps=cfg["steps"], lr=cfg["lr"])
    ok = solved(params, XOR_X, XOR_Y)
    datasets = data_inputs("xor4", "the four XOR points (inputs +-1)", train=(XOR_X, XOR_Y))
    return TrialResult(
        history=[{"epoch": 0}],
        summary={"solved_fraction": float(np.mean(ok))},
        datasets=datasets,
    )


# ---------------------------------------------------------------------------------- claims

XOR_ARMS = {
    "perceptron": Arm({"model": {"kind": "perceptron"}}, factors={"model": "perceptron"}),
    "logistic": Arm({"model": {"kind": "logistic"}}, factors={"model": "logistic"}),
    "mlp": Arm({"model": {"kind": "mlp"}}, factors={"model": "mlp"}),
}
NOVIKOFF_ARMS = {
    f"gamma={g:g}": Arm({"data": {"margin": g}}, factors={"margin": f"{g:g}"}) for g in MARGINS
}
WIDTH_ARMS = {
    f"width={h}": Arm({"model": {"hidden": h}}, factors={"width": str(h)}) for h in WIDTHS
}

_LINEAR = [
    (kind, mean_threshold("best_acc", threshold=HALF_STEP, above=False, arm=kind, stage="xor"))
    for kind in ("perceptron", "logistic")
]
_MLP = mean_threshold("best_acc", threshold=HALF_STEP, above=True, arm="mlp", stage="xor")


def xor_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of the XOR claim: the perceptron's and logistic regression's best accuracy
    below 7/8 (so at most 3/4), the MLP's above (so 4/4); all three needed."""
    parts = [(name, ev(summaries, histories)) for name, ev in _LINEAR]
    return all_of([*parts, ("mlp", _MLP(summaries, histories))])


def novikoff_claim(summaries: Any, histories: Any) -> Evidence:
    """Evaluator of the bound: mistakes / (R / gamma)^2 below 1 at every margin."""
    return all_of(
        [
            (
                arm,
                mean_threshold(
                    "mistakes_over_bound", threshold=1.0, above=False, arm=arm, stage="novikoff"
                )(summaries, histories),
            )
            for arm in NOVIKOFF_ARMS
        ]
    )


MINSKY = "Minsky & Papert 1969, Perceptrons (MIT Press)"
NOVIKOFF = "Novikoff 1962, 'On convergence proofs on perceptrons', Symposium on the Mathematical "
NOVIKOFF += "Theory of Automata"
BLAND = "Bland 1998, 'Learning XOR: exploring the space of a classic problem', University of "
BLAND += "Stirling Computing Science Technical Report"
SPRINKHUIZEN = "Sprinkhuizen-Kuyper & Boers 1999, 'A local minimum for the 2-3-1 XOR network', "
SPRINKHUIZEN += "IEEE Transactions on Neural Networks"

STUDY = Study(
    name="perceptron",
    question="Can a single-layer perceptron (or logistic regression) learn XOR, does the "
    "perceptron rule respect Novikoff's mistake bound on separable data, and how often does a "
    "one-hidden-layer net with 2, 3, 4 or 8 hidden units solve XOR?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    data="Synthetic: the four XOR points (inputs +-1); linearly separable points uniform in "
    "the 5-dimensional unit ball outside a margin band around a random hyperplane, drawn per "
    "seed.",
    base_config=XOR_CONFIG,
    metrics=METRICS,
    design=SequentialDesign(looks=(5, 10, 15, 20), spending="pocock"),
    stages=[
        Stage("xor", XOR_ARMS, trial=xor_trial, quick={"train": {"epochs": 20}}),
        Stage(
            "novikoff",
            NOVIKOFF_ARMS,
            base_config=NOVIKOFF_CONFIG,
            trial=novikoff_trial,
            quick={"data": {"n": 30}},
        ),
        Stage(
            "width",
            WIDTH_ARMS,
            base_config=WIDTH_CONFIG,
            trial=width_trial,
            quick={"train": {"steps": 50, "restarts": 4}},
        ),
    ],
    claims=[
        Claim(
            id="single_layer_cannot_learn_xor",
            text="On the four XOR points, the perceptron rule and logistic regression never "
            "get more than 3 of 4 points right, while a net with one hidden layer (8 tanh "
            "units) gets all 4.",
            statistic="per seed, the best training accuracy ever reached: perceptron's and "
            "logistic regression's claimed below 7/8 (i.e. at most 3/4), the MLP's claimed "
            "above 7/8 (i.e. 4/4); t-tests, all three needed",
            evaluate=xor_claim,
            source=f"{MINSKY} (the book was not read; restated from secondary sources: a "
            "single-layer perceptron's decision boundary is a line, and no line separates "
            "XOR's classes)",
            setting="Boolean functions of two inputs computed by a single-layer threshold "
            "unit versus a network with a hidden layer (an analysis, no training experiment)",
            expected="supported",
        ),
        Claim(
            id="novikoff_bound_holds",
            text="On linearly separable data, the perceptron rule from zero weights makes at "
            "most (R / gamma)^2 mistakes before it separates the data, at every margin.",
            statistic="per seed, mistakes / (R / gamma)^2 with R the largest input norm and "
            "gamma the smallest margin of the drawn points, claimed below 1 at gamma = 0.05, "
            "0.1 and 0.2 (t-tests, all three needed)",
            evaluate=novikoff_claim,
            source=f"{NOVIKOFF} (the theorem k <= R^2 / gamma^2 for w_0 = 0 and a unit "
            "separating vector; the paper was not read, the theorem as restated in lecture "
            "material)",
            setting="any finite linearly separable data set, perceptron rule from zero "
            "weights (a theorem)",
            expected="supported",
        ),
        Claim(
            id="two_hidden_units_sometimes_stuck",
            text="A 2-2-1 tanh net trained by gradient descent fails to solve XOR from some "
            "initializations: fewer than all of its starts classify the four points "
            "correctly within the budget.",
            statistic="per seed (40 starts), the fraction of width-2 nets solving XOR, "
            "claimed below 1 (t-test)",
            evaluate=mean_threshold(
                "solved_fraction", threshold=1.0, above=False, arm="width=2", stage="width"
            ),
            source=f"{BLAND}, Sec. 1 (simple networks have long been recognised to often "
            f"have trouble learning XOR); {SPRINKHUIZEN}, abstract (a region of local minima "
            "of the 2-3-1 XOR network)",
            setting="2-2-1 and 2-3-1 sigmoid networks trained on the four XOR patterns by "
            "back-propagation (error-surface analysis; only the report's contents and "
            "background and the paper's abstract were read)",
            expected="supported",
        ),
        Claim(
            id="wider_hidden_layer_solves_xor_more_often",
            text="A wider hidden layer solves XOR from more initializations: 8 hidden units "
            "succeed more often than 2.",
            statistic="per seed (40 starts each), width-8 minus width-2 fraction solved, "
            "claimed above 0 (paired t-test)",
            evaluate=paired_comparison(
                "solved_fraction", "width=8", "width=2", better="higher", stage="width"
            ),
            source=f"{BLAND}, Sec. 1; {SPRINKHUIZEN}, abstract",
            setting="2-2-1 and 2-3-1 sigmoid networks trained on the four XOR patterns by "
            "back-propagation (only the report's contents and background and the paper's "
            "abstract were read)",
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "learning_curves",
            "Training accuracy on the four XOR points (3/4 is a linear model's ceiling)",
            metric="acc",
            stage="xor",
        ),
        Plot("final_metric", "Best XOR accuracy ever reached", metric="best_acc", stage="xor"),
        Plot(
            "sweep",
            "Perceptron mistakes against the margin (mean, 95% CI)",
            x="data.margin",
            metric="mistakes",
            stage="novikoff",
            log_x=True,
        ),
        Plot(
            "final_metric",
            "Mistakes / Novikoff bound (R / gamma)^2 (below 1 = bound holds)",
            metric="mistakes_over_bound",
            stage="novikoff",
        ),
        Plot(
            "sweep",
            "Fraction of 40 initializations solving XOR against hidden width (mean, 95% CI)",
            x="model.hidden",
            metric="solved_fraction",
            stage="width",
        ),
    ],
)
