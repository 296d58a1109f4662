"""Recurrent nets: the MNIST-1D GRU, vanishing and exploding gradients through time, long memory.

Four parts, one stage each. (1) "mnist1d": the bidirectional GRU of the MNIST-1D paper
(Greydanus 2020; repository notebooks/models.py GRUBase: hidden size 6, both directions'
outputs at all 40 steps flattened into one linear layer to 10 classes; Adam, learning rate
1e-2, batch 100, as notebooks/train.py) next to logistic regression, the MLP and the CNN of
the "mnist1d" study (its trial and data split are reused), on the original and on the
shuffled sequences. A bidirectional GRU is two dlkit GRUs, one reading the sequence reversed
(its output reversed back), concatenated as torch does. The paper's notebook trains 6000
steps; this study trains 40 epochs (1600 steps) on this CPU, and shows the test-accuracy
curve. (2, 3) "adding": the adding problem (Hochreiter & Schmidhuber 1997, Sec. 5,
experiment 4; the variant of Le et al. 2015): T = 50 steps of (value U(0, 1), marker), two
markers, one in each half; the target is the sum of the two marked values; predicting 1
gives the chance MSE 1/6. A vanilla tanh RNN, an LSTM and a GRU (16 units, PyTorch's
initialisation) read the sequence and a linear head reads the last hidden state; Adam 1e-2,
batch 64. Every trial measures, on 256 fresh sequences, the norm of dL/dx_t at every step t
(before and after training) and fits the slope of log10 norm against T - 1 - t. (4)
"exploding": a vanilla tanh RNN whose recurrent weight is rescaled to spectral radius 3,
trained with plain SGD (learning rate 0.1) on the adding problem at T = 10, with and without
clipping the gradient's global norm at 1 (Pascanu et al. 2013). At initialization
(PyTorch's initialisation, forget and update gates near 0.5) every cell's gradient decays
geometrically back through time at a similar rate (the per-seed slopes, grad_slope_init in
the results, differ little; the plot's mean norms follow the seeds with the largest norms):
the gap the vanishing claim tests appears after training, when the gates hold memory.
Seed s draws the data split or sequences, the weights and the batch order, shared by the arms
of that seed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from dlkit import losses, nn, optim
from dlkit.optim.clip import clip_grad_norm
from studies.catalog import _mnist1d as mnist1d
from studies.catalog._backprop import LOSS_CAP, capped_loss
from studies.catalog._backprop import log10_slope_back as decay_slope
from studies.engine.claims import all_of, mean_threshold, paired_comparison, paired_gap
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult
from studies.stats import SequentialDesign

#: The GRU's published accuracies (mnist1d README table, row MNIST-1D and MNIST-1D shuffle).
PUBLISHED_GRU = 0.91
PUBLISHED_GRU_SHUFFLED = 0.57
TOLERANCE = 0.05
#: The adding problem's chance MSE: the variance of the sum of two U(0, 1), 2 / 12.
CHANCE_MSE = 1.0 / 6.0

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

METRICS: dict[str, str | None] = {
    "final_test_acc": "higher",
    "final_test_loss": "lower",
    "final_train_acc": "higher",
    "best_test_acc": "higher",
    "train_time": "lower",
    "final_test_mse": "lower",
    "final_loss_capped": "lower",
    "diverged_flag": "lower",
    "grad_slope_init": None,
    "grad_slope_trained": None,
    "max_grad_norm": None,
}


# ---------------------------------------------------------------------------- helpers


def adding_problem(n: int, T: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of the adding problem of length ``T``.

    Returns
    -------
    x : ndarray, shape (n, T, 2), float32
        Channel 0 the values U(0, 1), channel 1 the markers (one 1 in steps ``0..T//2-1``,
        one in ``T//2..T-1``).
    y : ndarray, shape (n, 1), float32
        The sum of the two marked values.
    """
    x = np.zeros((n, T, 2), np.float32)
    x[:, :, 0] = rng.uniform(0.0, 1.0, (n, T))
    rows = np.arange(n)
    first = rng.integers(0, T // 2, n)
    second = rng.integers(T // 2, T, n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (x[rows, first, 0] + x[rows, second, 0])[:, None].astype(np.float32)
    return x, y


def set_spectral_radius(weight: np.ndarray, radius: float) -> None:
    """Rescale the square matrix ``weight`` in place to spectral radius ``radius``."""
    current = float(np.max(np.abs(np.linalg.eigvals(weight.astype(np.float64)))))
    weight *= np.float32(radius / current)


class LastStepRegressor:
    """A recurrent layer and a linear head on its last hidden state (the adding problem).

    Shapes: x (N, T, F) -> prediction (N, 1).
    """

    def __init__(self, cell: str, n_in: int, hidden: int, rng: np.random.Generator):
        self.kind = cell
        self.cell = CELLS[cell](n_in, hidden, rng=rng)
        self.cell.input_grad = False  # training needs no dL/dx; input_grad_norms asks for it
        self.head = nn.Dense(hidden, 1, init="standard", rng=rng)
        self.params = self.cell.parameters() + self.head.parameters()

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        _, h_n = self.cell.forward(x, train=train)
        h = h_n[0] if self.kind == "lstm" else h_n
        return self.head.forward(h[-1], train=train)

    def backward(self, d_pred: np.ndarray) -> np.ndarray:
        """Back-propagate ``dL/dprediction``; returns dL/dx of shape (N, T, F)."""
        d_last = self.head.backward(d_pred)
        d_h = np.zeros((1, *d_last.shape), np.float32)
        d_h[0] = d_last
        return self.cell.backward(None, (d_h, None) if self.kind == "lstm" else d_h)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad[...] = 0


def input_grad_norms(model: LastStepRegressor, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``||dL/dx_t||`` (over the batch and features) at every step t, MSE loss on the last
    step; the parameters' gradients are left zero."""
    loss = losses.MSELoss()
    model.zero_grad()
    loss.forward(model.forward(x, train=True), y)
    model.cell.input_grad = True
    try:
        dx = model.backward(loss.backward())
    finally:
        model.cell.input_grad = False
    model.zero_grad()
    return np.linalg.norm(dx.astype(np.float64), axis=(0, 2))


# ---------------------------------------------------------------------------- MNIST-1D


class BiGRUClassifier:
    """The MNIST-1D paper's GRUBase: a bidirectional GRU (two GRUs, one on the reversed
    sequence) whose outputs at every step are flattened into ``Dense(T * 2H, classes)``.

    Shapes: x (N, T) -> logits (N, classes).
    """

    def __init__(self, T: int, hidden: int, n_classes: int, rng: np.random.Generator):
        self.T, self.H = T, hidden
        self.fwd = nn.GRU(1, hidden, rng=rng)
        self.bwd = nn.GRU(1, hidden, rng=rng)
        self.fwd.input_grad = self.bwd.input_grad = False  # nobody reads dL/dx
        self.head = nn.Dense(2 * hidden * T, n_classes, init="standard", rng=rng)
        self.params = self.fwd.parameters() + self.bwd.parameters() + self.head.parameters()

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        seq = x[:, :, None]
        out_f, _ = self.fwd.forward(seq, train=train)
        out_b, _ = self.bwd.forward(seq[:, ::-1], train=train)
        joined = np.concatenate([out_f, out_b[:, ::-1]], axis=2)
        return self.head.forward(joined.reshape(len(x), -1), train=train)

    def backward(self, d_logits: np.ndarray) -> None:
        d = self.head.backward(d_logits).reshape(len(d_logits), self.T, 2 * self.H)
        self.fwd.backward(np.ascontiguousarray(d[:, :, : self.H]))
        self.bwd.backward(np.ascontiguousarray(d[:, ::-1, self.H :]))


def _accuracy_and_loss(model, X, y) -> tuple[float, float]:
    logits = model.forward(X, train=False)
    return float((logits.argmax(1) == y).mean()), losses.CrossEntropyLoss().forward(logits, y)


def gru_trial(config: dict) -> TrialResult:
    """Train the bidirectional GRU on (possibly shuffled) MNIST-1D; curves on the test set,
    the same split and summary keys as the "mnist1d" study."""
    rng = np.random.default_rng(config["seed"])
    X_train, y_train, X_test, y_test = mnist1d.split(config, rng.spawn(1)[0])
    model = BiGRUClassifier(X_train.shape[1], config["hidden"], 10, rng)
    opt = optim.build("adam", model.params, lr=config["lr"])
    loss = losses.CrossEntropyLoss()
    batch, n = config["batch_size"], len(X_train)
    acc, test_loss = _accuracy_and_loss(model, X_test, y_test)
    history = [{"epoch": 0, "test_acc": acc, "test_loss": test_loss}]
    diverged = None
    for epoch in range(1, config["epochs"] + 1):
        start, total = time.perf_counter(), 0.0
        order = rng.permutation(n)
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            for p in model.params:
                p.grad[...] = 0
            total += loss.forward(model.forward(X_train[idx], train=True), y_train[idx]) * len(idx)
            model.backward(loss.backward())
            opt.step()
        acc, test_loss = _accuracy_and_loss(model, X_test, y_test)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / n,
                "test_acc": acc,
                "test_loss": test_loss,
                "time": time.perf_counter() - start,
            }
        )
        if not math.isfinite(total):
            diverged = epoch
            break
    datasets = mnist1d.split_inputs(config, X_train, y_train, X_test, y_test)
    if diverged is not None:
        return TrialResult(history, status="diverged", diverged_epoch=diverged, datasets=datasets)
    train_acc, _ = _accuracy_and_loss(model, X_train, y_train)
    summary = {
        "final_test_acc": history[-1]["test_acc"],
        "final_test_loss": history[-1]["test_loss"],
        "final_train_acc": train_acc,
        "best_test_acc": max(r["test_acc"] for r in history),
        "train_time": sum(r.get("time", 0.0) for r in history),
    }
    return TrialResult(history, summary, datasets=datasets)


def mnist1d_trial(config: dict) -> TrialResult:
    """The GRU here; logistic regression, the MLP and the CNN by the "mnist1d" study's trial
    (same split, optimizer, batch and epochs)."""
    return gru_trial(config) if config["model"] == "gru" else mnist1d.trial(config)


# ---------------------------------------------------------------------------- sequences


def sequence_trial(config: dict) -> TrialResult:
    """Train a recurrent regressor on the adding problem; test MSE curve, the input-gradient
    norms per step before and after training, and (with ``radius``) the rescaled recurrent
    weight and optional norm clipping."""
    cfg_task, cfg_model, cfg_train = config["task"], config["model"], config["train"]
    init_rng, data_rng, diag_rng = np.random.default_rng(config["seed"]).spawn(3)
    T = cfg_task["T"]
    model = LastStepRegressor(cfg_model["cell"], 2, cfg_model["hidden"], init_rng)
    if cfg_model["radius"] is not None:
        set_spectral_radius(model.cell.weight_hh_l0.data, cfg_model["radius"])
    X_test, y_test = adding_problem(cfg_task["n_test"], T, data_rng)
    X_diag, y_diag = adding_problem(cfg_task["n_diag"], T, diag_rng)
    norms_init = input_grad_norms(model, X_diag, y_diag)
    opt = optim.build(cfg_train["optimizer"], model.params, lr=cfg_train["lr"])
    loss = losses.MSELoss()
    clip = cfg_train["clip_norm"]
    test_mse = loss.forward(model.forward(X_test, train=False), y_test)
    history = [{"epoch": 0, "test_mse": test_mse}]
    every, steps = cfg_train["eval_every"], cfg_train["steps"]
    running, max_norm, diverged = 0.0, 0.0, None
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            x, y = adding_problem(cfg_train["batch_size"], T, data_rng)
            model.zero_grad()
            value = loss.forward(model.forward(x, train=True), y)
            model.backward(loss.backward())
            if clip is not None:
                norm = clip_grad_norm(model.params, clip)
            else:
                norm = math.sqrt(
                    sum(float(np.sum(np.square(p.grad, dtype=np.float64))) for p in model.params)
                )
            max_norm = max(max_norm, norm) if math.isfinite(norm) else math.inf
            opt.step()
            running += value
            if step % every == 0 or not math.isfinite(value):
                test_mse = loss.forward(model.forward(X_test, train=False), y_test)
                history.append({"epoch": step, "train_loss": running / every, "test_mse": test_mse})
                running = 0.0
                if not (math.isfinite(value) and math.isfinite(test_mse)):
                    diverged = step
                    break
    final = history[-1]["test_mse"]
    summary = {
        "final_loss_capped": capped_loss(final),
        "diverged_flag": float(diverged is not None),
        "grad_slope_init": decay_slope(norms_init),
        "max_grad_norm": min(max_norm, 1e30),
    }
    if diverged is None:
        norms_trained = input_grad_norms(model, X_diag, y_diag)
        summary["final_test_mse"] = final
        summary["grad_slope_trained"] = decay_slope(norms_trained)
        history[-1].update(
            {f"dx_norm/lag_{T - 1 - t}": float(v) for t, v in enumerate(norms_trained)}
        )
    history[0].update({f"dx_norm/lag_{T - 1 - t}": float(v) for t, v in enumerate(norms_init)})
    datasets = [
        {
            "name": "adding_problem",
            "digest": f"T{T}-seed{config['seed']}",
            "source": f"adding_problem(n, T={T}, rng) drawn per seed (studies.catalog.recurrent)",
            "context": "test",
        }
    ]
    status = {"status": "diverged", "diverged_epoch": diverged} if diverged else {}
    return TrialResult(history, summary, datasets=datasets, **status)


# ---------------------------------------------------------------------------- the study

MNIST1D_BASE: dict[str, Any] = {
    "model": "gru",
    "shuffle_seq": False,
    "data": {"seed": 42},
    "hidden": 6,
    "lr": 1e-2,
    "batch_size": 100,
    "epochs": 40,
}
SEQUENCE_BASE: dict[str, Any] = {
    "task": {"T": 50, "n_test": 500, "n_diag": 256},
    "model": {"cell": "rnn", "hidden": 16, "radius": None},
    "train": {
        "optimizer": "adam",
        "lr": 1e-2,
        "batch_size": 64,
        "steps": 1000,
        "eval_every": 50,
        "clip_norm": None,
    },
}
EXPLODING_BASE: dict[str, Any] = {
    "task": {"T": 10, "n_test": 500, "n_diag": 256},
    "model": {"cell": "rnn", "hidden": 16, "radius": 3.0},
    "train": {
        "optimizer": "sgd",
        "lr": 0.1,
        "batch_size": 64,
        "steps": 600,
        "eval_every": 25,
        "clip_norm": None,
    },
}


def _mnist_arm(model: str, shuffled: bool) -> Arm:
    return Arm(
        {"model": model, "shuffle_seq": shuffled},
        factors={"model": model, "sequence": "shuffled" if shuffled else "original"},
    )


MNIST1D_ARMS = {
    f"{m}{'_shuffled' if s else ''}": _mnist_arm(m, s)
    for m in ("gru", "logistic", "mlp", "cnn")
    for s in (False, True)
}
ADDING_ARMS = {f"{c}_T50": Arm({"model": {"cell": c}}, factors={"cell": c}) for c in CELLS}
EXPLODING_ARMS = {
    "rnn_radius3": Arm({}, factors={"clip": "none"}),
    "rnn_radius3_clip": Arm({"train": {"clip_norm": 1.0}}, factors={"clip": "norm 1"}),
}

GRU_SOURCE = (
    "Greydanus 2020, 'Scaling down deep learning'; mnist1d repository README, table "
    "'Comparing MNIST and MNIST-1D', GRU column: 91% (MNIST-1D), 57% (shuffle); "
    "notebooks/mnist1d-classification.ipynb trains it 6000 steps (log: 89.1% at step 6000)"
)
GRU_SETTING = (
    "MNIST-1D 4000 train / 1000 test, length 40; bidirectional GRU, hidden 6, all steps' "
    "outputs -> Linear(480, 10) (notebooks/models.py GRUBase); Adam lr 1e-2, batch 100, "
    "6000 steps (notebooks/train.py, the notebook's total_steps)"
)
BENGIO = (
    "Bengio, Simard & Frasconi 1994, 'Learning long-term dependencies with gradient descent "
    "is difficult', IEEE TNN; Hochreiter & Schmidhuber 1997, 'Long short-term memory', "
    "Neural Computation (the constant error carousel)"
)
BENGIO_SETTING = (
    "analysis of error flow back through time in recurrent nets (not re-read for this "
    "study: the claim restates the papers' well-known thesis, no figure is quoted)"
)
ADDING_SOURCE = (
    "Hochreiter & Schmidhuber 1997, 'Long short-term memory', Neural Computation, Sec. 5, "
    "Experiment 4 'Adding problem' (task read: it 'will show that LSTM can solve "
    "non-trivial, complex long time lag problems'); the variant of Le, Jaitly & "
    "Hinton 2015, 'A simple way to initialize recurrent networks of rectified linear units' "
    "(not re-read here)"
)
ADDING_SETTING = (
    "pairs (value in [-1, 1], marker); one of the first ten pairs and one of the first T/2 - 1 "
    "marked; sequence length between T and 1.1 T; target 0.5 + (X1 + X2) / 4 at the end; a "
    "sequence counts as correct when the absolute error is below 0.04; an LSTM of 2 memory "
    "cell blocks of size 2. Here Le et al.'s variant: values U(0, 1), one marker in each "
    "half, target X1 + X2 (chance MSE 1/6), fixed T = 50, judged on the test MSE"
)
PASCANU = (
    "Pascanu, Mikolov & Bengio 2013, 'On the difficulty of training recurrent neural "
    "networks', ICML, abstract (exploding gradients; gradient norm clipping)"
)
PASCANU_SETTING = (
    "recurrent nets trained with SGD through time (the abstract was read; the experimental "
    "set-up was not re-read for this study)"
)

_TRAINED_RNN_VS_LSTM = paired_comparison(
    "grad_slope_trained", "rnn_T50", "lstm_T50", better="lower", stage="adding"
)
_TRAINED_RNN_VS_GRU = paired_comparison(
    "grad_slope_trained", "rnn_T50", "gru_T50", better="lower", stage="adding"
)


def vanishing_claim(summaries: Any, histories: Any):
    """RNN's trained decay slope below the LSTM's and below the GRU's (both needed)."""
    return all_of(
        [
            ("lstm", _TRAINED_RNN_VS_LSTM(summaries, histories)),
            ("gru", _TRAINED_RNN_VS_GRU(summaries, histories)),
        ]
    )


SOLVED_MSE = 0.05
_RNN_CHANCE = mean_threshold(
    "final_test_mse", threshold=0.9 * CHANCE_MSE, above=True, arm="rnn_T50", stage="adding"
)
_LSTM_SOLVES = mean_threshold(
    "final_test_mse", threshold=SOLVED_MSE, above=False, arm="lstm_T50", stage="adding"
)
_GRU_SOLVES = mean_threshold(
    "final_test_mse", threshold=SOLVED_MSE, above=False, arm="gru_T50", stage="adding"
)


def long_memory_claim(summaries: Any, histories: Any):
    """The RNN's test MSE above 0.9 x chance, the LSTM's and GRU's below SOLVED_MSE."""
    return all_of(
        [
            ("rnn", _RNN_CHANCE(summaries, histories)),
            ("lstm", _LSTM_SOLVES(summaries, histories)),
            ("gru", _GRU_SOLVES(summaries, histories)),
        ]
    )


_GROWS = mean_threshold(
    "grad_slope_init", threshold=0.0, above=True, arm="rnn_radius3", stage="exploding"
)
_CLIP_BETTER = paired_comparison(
    "final_loss_capped", "rnn_radius3_clip", "rnn_radius3", better="lower", stage="exploding"
)


def exploding_claim(summaries: Any, histories: Any):
    """Gradient grows back through time at init, and clipping ends with a lower loss."""
    return all_of(
        [
            ("growth", _GROWS(summaries, histories)),
            ("clipping", _CLIP_BETTER(summaries, histories)),
        ]
    )


DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")
QUICK_SEQ = {"train": {"steps": 40, "eval_every": 20}, "task": {"n_test": 64, "n_diag": 32}}

STUDY = Study(
    name="recurrent",
    question="Does the MNIST-1D paper's GRU reach its 91 %, do gradients vanish back through "
    "time in a vanilla RNN but not in an LSTM/GRU, do those solve the adding problem where "
    "the RNN fails, and does norm clipping tame an exploding RNN?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    data="MNIST-1D (generator seed 42, 4000/1000 split per seed, original and shuffled), "
    "and the adding problem (sequences drawn per seed: T = 50, and T = 10 for the exploding "
    "stage; chance MSE 1/6)",
    base_config=MNIST1D_BASE,
    trial=mnist1d_trial,
    metrics=METRICS,
    design=DESIGN,
    quick={"epochs": 1},
    stages=[
        Stage("mnist1d", MNIST1D_ARMS, quick_seeds=1),
        Stage(
            "adding",
            ADDING_ARMS,
            base_config=SEQUENCE_BASE,
            trial=sequence_trial,
            quick=QUICK_SEQ,
            quick_seeds=2,
        ),
        Stage(
            "exploding",
            EXPLODING_ARMS,
            base_config=EXPLODING_BASE,
            trial=sequence_trial,
            quick=QUICK_SEQ,
            quick_seeds=2,
        ),
    ],
    claims=[
        Claim(
            id="gru_matches_paper",
            text=f"The bidirectional GRU reaches the paper's {PUBLISHED_GRU:.0%} test accuracy "
            f"on MNIST-1D (± {TOLERANCE:.0%}).",
            statistic=f"per seed, final test accuracy minus {PUBLISHED_GRU:g}, claimed within "
            f"±{TOLERANCE:g} (two one-sided t-tests)",
            evaluate=mnist1d.matches_published("gru", published=PUBLISHED_GRU, stage="mnist1d"),
            source=GRU_SOURCE,
            setting=GRU_SETTING,
            expected="supported",
        ),
        Claim(
            id="shuffle_hurts_gru",
            text="Shuffling the sequence costs the GRU at least 20 points of test accuracy "
            "(paper: 91 % -> 57 %), as it does the CNN.",
            statistic="per seed, the GRU's test accuracy on the original minus on the "
            "shuffled sequences, claimed above 0.20",
            evaluate=paired_gap(
                "final_test_acc", "gru", "gru_shuffled", threshold=0.20, stage="mnist1d"
            ),
            source=GRU_SOURCE,
            setting=GRU_SETTING + "; positions shuffled by one fixed permutation",
            expected="supported",
        ),
        Claim(
            id="rnn_gradient_vanishes",
            text="Back through time, the norm of dL/dx_t decays geometrically faster for the "
            "vanilla RNN than for the LSTM and the GRU (after training on the adding problem, "
            "T = 50).",
            statistic="per seed, slope of log10 ||dL/dx_t|| against T - 1 - t; RNN minus "
            "LSTM and RNN minus GRU, each claimed below 0 (paired t-tests, both needed)",
            evaluate=vanishing_claim,
            source=BENGIO,
            setting=BENGIO_SETTING,
            expected="supported",
        ),
        Claim(
            id="gated_cells_solve_adding",
            text=f"On the adding problem at T = 50, the LSTM and the GRU reach a test MSE "
            f"below {SOLVED_MSE:g} while the vanilla RNN stays at chance (above 0.9 x 1/6).",
            statistic=f"per seed, LSTM and GRU final test MSE claimed below {SOLVED_MSE:g}, "
            "the RNN's above 0.15 (t-tests, all three needed)",
            evaluate=long_memory_claim,
            source=ADDING_SOURCE,
            setting=ADDING_SETTING,
            expected="supported",
        ),
        Claim(
            id="clipping_tames_exploding_rnn",
            text="With its recurrent weight at spectral radius 3, the vanilla RNN's gradient "
            "grows back through time, plain SGD diverges, and clipping the gradient norm at 1 "
            "keeps the loss finite and lower.",
            statistic="per seed, the slope of log10 ||dL/dx_t|| at initialization claimed "
            f"above 0; clipped minus unclipped final test MSE (diverged = {LOSS_CAP:g}) "
            "claimed below 0 (both needed)",
            evaluate=exploding_claim,
            source=PASCANU,
            setting=PASCANU_SETTING,
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "final_metric",
            "MNIST-1D final test accuracy per arm (paper: GRU 0.91, shuffled 0.57; "
            "logistic 0.32, MLP 0.68, CNN 0.94, shuffled CNN 0.56)",
            metric="final_test_acc",
            stage="mnist1d",
        ),
        Plot(
            "heatmap",
            "MNIST-1D mean test accuracy: model x sequence order",
            row="model",
            col="sequence",
            metric="final_test_acc",
            stage="mnist1d",
        ),
        Plot(
            "learning_curves",
            "MNIST-1D test accuracy over epochs",
            metric="test_acc",
            stage="mnist1d",
        ),
        Plot(
            "per_layer",
            "Adding problem, after training: ||dL/dx_t|| against steps back from the loss "
            "(x = T - 1 - t)",
            prefix="dx_norm/lag_",
            epoch="last",
            x_label="steps back from the loss, T - 1 - t",
            stage="adding",
        ),
        Plot(
            "per_layer",
            "Adding problem, at initialization: ||dL/dx_t|| against T - 1 - t",
            prefix="dx_norm/lag_",
            epoch=0,
            x_label="steps back from the loss, T - 1 - t",
            stage="adding",
        ),
        Plot(
            "learning_curves",
            "Adding problem: test MSE against training step (chance 0.167)",
            metric="test_mse",
            x_label="training step",
            stage="adding",
        ),
        Plot(
            "learning_curves",
            "Spectral radius 3, SGD: test MSE against training step, with and without clipping",
            metric="test_mse",
            x_label="training step",
            stage="exploding",
            log_y=True,
        ),
    ],
)
