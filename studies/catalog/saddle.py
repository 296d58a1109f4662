"""Critical points of a small net: where the gradient is small, is it a minimum or a saddle?

The seed notes (003_*, section 3.4.1 "local minima and saddle points", after Hung-yi Lee's
lecture) say that a gradient of zero only makes a critical point; the signs of the Hessian's
eigenvalues tell a local minimum (all positive) from a saddle point (both signs); that at a
saddle the eigenvector of a negative eigenvalue is a direction that lowers the loss; and that
"training is usually stuck at a saddle point": where the loss stops moving, the eigenvalues
are not all positive. Dauphin et al. (2014) argue the same for high-dimensional error surfaces:
saddle points, not local minima, proliferate, and critical points of high error are saddles.

Design: a 10-8-10 tanh MLP (178 parameters, Xavier normal) on MNIST-1D, its 40 features
down-sampled to every fourth one to keep the net small; each seed draws 150 training rows and
the initial weights. Full-batch gradient descent (float32, learning rate 0.5) runs 511 epochs
and keeps its iterates after 0, 7, 31, 127 and 511 epochs as start points. From each, a damped
Newton search on ||g||^2 / 2 (Levenberg-Marquardt: the step -(H^2 + mu I)^-1 H g on the
residual g, whose Jacobian is the Hessian H; float64) looks for a nearby point of small
gradient norm, as Newton's method is attracted to critical points of every kind. Its budget is
20 Hessians per start (it stops earlier at a gradient norm of 1e-6, or when no damping lowers
the norm). At the point it reaches, the Hessian is computed column by column by centred
differences of dlkit's back-propagated gradients (float64, step 1e-5) and symmetrized; numpy's
eigh gives its eigenvalues. Eigenvalues within 1e-6 * max|lambda| of zero count as
zero (the softmax output alone leaves 9 exactly flat directions). The index is the fraction of
negative eigenvalues, the minimum ratio the fraction of the non-zero
eigenvalues that are positive: 1 at a minimum. At every point with a negative eigenvalue, a
step of length 0.25 along its eigenvector (both signs, the better one kept) gives the escape
ratio: the step's change of the loss over the fall |lambda| t^2 / 2 that the quadratic model
predicts (-1 when the loss falls as predicted, below 0 whenever it falls, above 0 when it
rises); a seed's escape_ratio_max is the worst (largest) ratio over its points. For
contrast, the Hessian is also taken at the last GD iterate itself (511 epochs, no Newton
search). The points' gradient norms are reported with them: within its budget the
search lowers the norm (the log10 gradient norm curve, and the summaries
final_grad_norm_max and grad_norm_reduction_min, show by how much), but it does not drive it
to zero: these are points where the search for a critical point comes to rest, as the loss of
a trained net "stops moving", not exact critical points. The negative curvature found there
dominates the remaining gradient on the escape step's scale, which the escape ratio checks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from dlkit import data, losses, nn, optim
from dlkit import init as initializers
from studies.engine.claims import mean_threshold
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import SequentialDesign

#: Summary figures and which way is better (None: neither).
METRICS: dict[str, str | None] = {
    "n_points": None,
    "frac_minima": None,
    "mean_min_ratio": None,
    "mean_index": None,
    "index_loss_spearman": None,
    "escape_ratio_max": None,
    "final_grad_norm_max": None,
    "grad_norm_reduction_min": None,
    "lowest_cp_loss": "lower",
    "gd_end_index": None,
    "gd_end_min_ratio": None,
    "gd_end_grad_norm": None,
    "hessians": None,
    "seconds": None,
}
#: Eigenvalues with ``|lambda| <= ZERO_TOLERANCE * max |lambda|`` count as zero.
ZERO_TOLERANCE = 1e-6
#: Step of the centred differences of the Hessian (float64).
HESSIAN_STEP = 1e-5

BASE_CONFIG: dict[str, Any] = {
    "data": {"name": "mnist1d", "seed": 0, "n_train": 150, "stride": 4},
    "model": {"hidden": 8, "activation": "tanh"},
    "gd": {"lr": 0.5, "starts": [0, 7, 31, 127, 511]},
    "search": {"max_hessians": 20, "tol": 1e-6},
    "escape": {"step": 0.25},
}


# ----------------------------------------------------------------------------- helpers


def flat_parameters(params: list[nn.Parameter]) -> np.ndarray:
    """The parameters' values joined into one float64 vector (torch's order)."""
    return np.concatenate([np.asarray(p.data, np.float64).ravel() for p in params])


def set_parameters(params: list[nn.Parameter], theta: np.ndarray) -> None:
    """Copy the flat vector ``theta`` into the parameters, in place."""
    total = sum(p.size for p in params)
    if theta.size != total:
        raise ValueError(f"theta has {theta.size} entries, the parameters {total}")
    start = 0
    for p in params:
        p.data[...] = theta[start : start + p.size].reshape(p.shape)
        start += p.size


def gradient_function(
    model: nn.Sequential, loss: losses.Loss, X: np.ndarray, y: np.ndarray
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (loss, gradient)`` of ``model`` on the full batch, by dlkit's backward.

    The model's parameters are cast to float64 (for finite differences); ``X`` should be
    float64 too.
    """
    params = model.parameters()
    for p in params:
        p.data = p.data.astype(np.float64)
        p.grad = np.zeros_like(p.data)

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        set_parameters(params, theta)
        for p in params:
            p.grad.fill(0)
        value = loss.forward(model.forward(X, train=False), y)
        model.backward(loss.backward())
        return float(value), np.concatenate([p.grad.ravel() for p in params])

    return value_and_grad


def hessian(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    step: float = HESSIAN_STEP,
) -> np.ndarray:
    """The Hessian at ``theta`` by centred differences of the gradient, symmetrized.

    Column ``i`` is ``(g(theta + h e_i) - g(theta - h e_i)) / 2h``; the result is
    ``(H + H^T) / 2``. In float64 with ``h = 1e-5`` the error is about ``h^2`` times the third
    derivatives plus rounding of order ``1e-16 / h``.
    """
    theta = np.asarray(theta, np.float64)
    n = theta.size
    H = np.empty((n, n))
    probe = theta.copy()
    for i in range(n):
        probe[i] = theta[i] + step
        plus = value_and_grad(probe)[1]
        probe[i] = theta[i] - step
        minus = value_and_grad(probe)[1]
        probe[i] = theta[i]
        H[:, i] = (plus - minus) / (2 * step)
    return (H + H.T) / 2


def critical_point_search(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    *,
    max_hessians: int,
    tol: float,
    hessian_fn: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Damped Newton (Levenberg-Marquardt) on ``||g(theta)||^2 / 2`` from ``theta``.

    Each iteration takes the Hessian ``H`` (the Jacobian of the residual ``g``) and tries the
    step ``-(H^2 + mu I)^-1 H g`` (computed in ``H``'s eigenbasis), accepting it when it lowers
    ``||g||`` and dividing ``mu`` by 10, else multiplying ``mu`` by 10 and trying again. With
    ``mu -> 0`` this is Newton's method on ``g = 0``, attracted to minima, saddles and maxima
    alike.

    Returns
    -------
    dict
        ``theta``, ``loss``, ``grad_norm`` at the end, ``start_grad_norm``, ``hessians`` (the
        number computed) and ``trace`` (gradient norm after each iteration).
    """
    hessian_fn = hessian_fn or (lambda t: hessian(value_and_grad, t))
    theta = np.array(theta, dtype=np.float64)
    value, g = value_and_grad(theta)
    norm = float(np.linalg.norm(g))
    start_norm, trace, count, mu = norm, [norm], 0, None
    while norm > tol and count < max_hessians:
        lam, V = np.linalg.eigh(hessian_fn(theta))
        count += 1
        c = V.T @ g
        mu = 1e-4 * float(np.max(lam**2)) if mu is None else mu
        for _ in range(12):
            candidate = theta - V @ (lam * c / (lam**2 + mu))
            new_value, new_g = value_and_grad(candidate)
            new_norm = float(np.linalg.norm(new_g))
            if np.isfinite(new_norm) and new_norm < norm:
                theta, value, g, norm = candidate, new_value, new_g, new_norm
                mu /= 10
                break
            mu *= 10
        else:
            break  # no damping lowers the gradient norm any more
        trace.append(norm)
    return {
        "theta": theta,
        "loss": value,
        "grad_norm": norm,
        "start_grad_norm": start_norm,
        "hessians": count,
        "trace": trace,
    }


def classify_spectrum(eigenvalues: np.ndarray, rel_tol: float = ZERO_TOLERANCE) -> dict:
    """Count negative, zero and positive eigenvalues (zero: ``|lambda| <= rel_tol * max|lambda|``).

    Returns
    -------
    dict
        ``n_neg``, ``n_zero``, ``n_pos``, ``index`` (fraction negative, of all),
        ``min_ratio`` (positive fraction of the non-zero ones; NaN if all are zero) and
        ``is_minimum`` (no negative eigenvalue).
    """
    lam = np.asarray(eigenvalues, np.float64)
    cut = rel_tol * float(np.max(np.abs(lam))) if lam.size else 0.0
    n_neg, n_pos = int(np.sum(lam < -cut)), int(np.sum(lam > cut))
    nonzero = n_neg + n_pos
    return {
        "n_neg": n_neg,
        "n_zero": int(lam.size - nonzero),
        "n_pos": n_pos,
        "index": n_neg / lam.size if lam.size else math.nan,
        "min_ratio": n_pos / nonzero if nonzero else math.nan,
        "is_minimum": n_neg == 0,
    }


def escape_ratio(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    eigenvalue: float,
    direction: np.ndarray,
    step: float,
) -> float:
    """Loss change of a step of length ``step`` along ``±direction`` (the better sign), over
    the fall ``|eigenvalue| step^2 / 2`` a quadratic model with that negative curvature
    predicts: about -1 when the step lowers the loss as the model says, > 0 when it raises it.
    """
    u = np.asarray(direction, np.float64)
    u = u / np.linalg.norm(u)
    base = value_and_grad(theta)[0]
    best = min(value_and_grad(theta + s * step * u)[0] for s in (1.0, -1.0))
    return (best - base) / (0.5 * abs(eigenvalue) * step**2)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two series (NaN when fewer than 3 points or one is
    constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def gd_snapshots(
    model: nn.Sequential,
    loss: losses.Loss,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    epochs: list[int],
) -> dict[int, tuple[np.ndarray, float]]:
    """Full-batch gradient descent (dlkit SGD on the whole set, float32), keeping the flat
    parameters and the loss after each epoch count in ``epochs``."""
    params = model.parameters()
    opt = optim.build("sgd", params, lr=lr)
    wanted, kept = set(epochs), {}
    for epoch in range(max(epochs) + 1):
        for p in params:
            p.grad.fill(0)
        value = loss.forward(model.forward(X, train=True), y)
        if epoch in wanted:
            kept[epoch] = (flat_parameters(params), float(value))
        model.backward(loss.backward())
        opt.step()
    return kept


# ----------------------------------------------------------------------------- the trial


def trial(config: dict) -> TrialResult:
    """GD start points, a critical-point search from each, the Hessian spectrum at each end."""
    clock = time.perf_counter()
    cfg_data, cfg_gd, cfg_search = config["data"], config["gd"], config["search"]
    ds = data.load(cfg_data["name"], seed=cfg_data["seed"])
    sample_rng, init_rng = np.random.default_rng(config["seed"]).spawn(2)
    rows = sample_rng.choice(len(ds.X_train), size=cfg_data["n_train"], replace=False)
    X = np.ascontiguousarray(ds.X_train[rows][:, :: cfg_data["stride"]])
    y = ds.y_train[rows]
    model = nn.mlp(
        [X.shape[1], config["model"]["hidden"], ds.n_classes],
        activation=config["model"]["activation"],
        init=initializers.get("xavier_normal"),
        rng=init_rng,
    )
    loss = losses.CrossEntropyLoss()
    starts = sorted(int(e) for e in cfg_gd["starts"])
    snaps = gd_snapshots(model, loss, X, y, lr=cfg_gd["lr"], epochs=starts)
    value_and_grad = gradient_function(model, loss, X.astype(np.float64), y)
    history, points = [], []
    n_hessians = 0
    for k, epoch in enumerate(starts):
        theta0, start_loss = snaps[epoch]
        found = critical_point_search(
            value_and_grad, theta0, max_hessians=cfg_search["max_hessians"], tol=cfg_search["tol"]
        )
        lam, V = np.linalg.eigh(hessian(value_and_grad, found["theta"]))
        n_hessians += found["hessians"] + 1
        spectrum = classify_spectrum(lam)
        escape = math.nan
        if spectrum["n_neg"]:
            escape = escape_ratio(
                value_and_grad, found["theta"], lam[0], V[:, 0], config["escape"]["step"]
            )
        points.append({**spectrum, **found, "escape": escape, "lambda_min": float(lam[0])})
        history.append(
            {
                "epoch": k,
                "start_loss": start_loss,
                "cp_loss": found["loss"],
                "cp_index": spectrum["index"],
                "cp_min_ratio": spectrum["min_ratio"],
                "cp_grad_norm_log10": math.log10(max(found["grad_norm"], 1e-300)),
            }
        )
    # The last GD iterate itself, without a Newton search: where plain GD has got to.
    theta_gd = snaps[starts[-1]][0]
    gd_spectrum = classify_spectrum(np.linalg.eigvalsh(hessian(value_and_grad, theta_gd)))
    n_hessians += 1
    cp_loss = np.array([p["loss"] for p in points])
    index = np.array([p["index"] for p in points])
    escapes = np.array([p["escape"] for p in points if p["n_neg"]])
    summary = {
        "n_points": float(len(points)),
        "frac_minima": float(np.mean([p["is_minimum"] for p in points])),
        "mean_min_ratio": float(np.nanmean([p["min_ratio"] for p in points])),
        "mean_index": float(index.mean()),
        "index_loss_spearman": spearman(cp_loss, index),
        "escape_ratio_max": float(escapes.max()) if escapes.size else math.nan,
        "final_grad_norm_max": float(max(p["grad_norm"] for p in points)),
        "grad_norm_reduction_min": float(
            min(p["start_grad_norm"] / p["grad_norm"] for p in points)
        ),
        "lowest_cp_loss": float(cp_loss.min()),
        "gd_end_index": gd_spectrum["index"],
        "gd_end_min_ratio": gd_spectrum["min_ratio"],
        "gd_end_grad_norm": float(np.linalg.norm(value_and_grad(theta_gd)[1])),
        "hessians": float(n_hessians),
        "seconds": time.perf_counter() - clock,
    }
    source = (
        f"dlkit.data.load({cfg_data['name']!r}, seed={cfg_data['seed']}): "
        f"{cfg_data['n_train']} training rows per seed, every {cfg_data['stride']}th feature"
    )
    datasets = data_inputs(cfg_data["name"], source, train=(X, y))
    return TrialResult(history=history, summary=summary, datasets=datasets)


# ----------------------------------------------------------------------------- the study

LEE = (
    "Hung-yi Lee, Machine Learning 2021 lecture 'When gradient is small: local minimum and "
    "saddle point', as restated by the seed notes 003 (Sec. 3.4.1, 'local minima and saddle "
    "points')"
)
LEE_SETTING = (
    "a small network trained until its loss stops moving (its gradient is small), then the "
    "signs of the Hessian's eigenvalues at the end points against the training loss (the "
    "notes' example, shown only as an image); the notes give no net, data or budget, and the "
    "lecture itself was not read for this study"
)
DAUPHIN = (
    "Dauphin, Pascanu, Gulcehre, Cho, Ganguli & Bengio 2014, 'Identifying and attacking the "
    "saddle point problem in high-dimensional non-convex optimization', NeurIPS"
)
PASCANU = (
    "Pascanu, Dauphin, Ganguli & Bengio 2014, 'On the saddle point problem for non-convex "
    "optimization', arXiv"
)
DAUPHIN_SETTING = (
    "random error functions in high dimension and neural networks trained on image data "
    "(the abstract and Sec. 1 were read; the paper's experiments relating a critical "
    "point's index to its error, and Bray & Dean 2007, were not read for this study)"
)

DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="saddle",
    question="Where a small net's gradient is small, is it at a local minimum or at a "
    "saddle point, and do points of higher loss have more negative Hessian eigenvalues?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " "),
    data="MNIST-1D (mnist1d generator, seed 0): each seed draws 150 training rows; every "
    "fourth of the 40 standardized features (10), 10 classes.",
    base_config=BASE_CONFIG,
    trial=trial,
    metrics=METRICS,
    design=DESIGN,
    stages=[Stage("main", {"newton_on_grad_norm": Arm({})})],
    quick={
        "data": {"n_train": 40},
        "model": {"hidden": 3},
        "gd": {"starts": [0, 15, 63]},
        "search": {"max_hessians": 2},
    },
    claims=[
        Claim(
            id="most_points_not_minima",
            text="Most points where a Newton-type search for a small gradient norm comes to "
            "rest are not local minima: fewer than half of them have a Hessian with no "
            "negative eigenvalue.",
            statistic="per seed, the fraction of the 5 points found whose Hessian has no "
            "eigenvalue below -1e-6 max|lambda|, claimed below 0.5 (t-test)",
            evaluate=mean_threshold("frac_minima", threshold=0.5, above=False),
            source=f"{LEE}: 'training is usually stuck at a saddle point' (translated) and the "
            "example where, once the loss stops moving, the eigenvalues are not all positive; "
            f"{DAUPHIN}, "
            "abstract (saddle points, not local minima, proliferate in high dimensions)",
            setting=LEE_SETTING,
            expected="supported",
        ),
        Claim(
            id="higher_loss_more_negative_eigenvalues",
            text="Such points of higher loss have more negative Hessian eigenvalues: across "
            "the points one seed finds, the index (fraction of negative eigenvalues) rises "
            "with the loss.",
            statistic="per seed, Spearman correlation between loss and index over the 6 "
            "points, claimed above 0 (t-test)",
            evaluate=mean_threshold("index_loss_spearman", threshold=0.0, above=True),
            source=f"{PASCANU}, Sec. 1 (local minima with high error relative to the global "
            f"minimum are exponentially rare in high dimension; critical points of high "
            f"error are saddles); {DAUPHIN}, abstract and Sec. 1",
            setting=DAUPHIN_SETTING,
            expected="supported",
        ),
        Claim(
            id="negative_eigenvector_lowers_loss",
            text="At such a point with a negative eigenvalue, a step along that eigenvalue's "
            "eigenvector lowers the loss (the notes' way out of a saddle).",
            statistic="per seed, the largest over its saddle points of (loss change of a "
            "0.25-long step along ±u) / (|lambda_min| 0.25² / 2), claimed below 0 (t-test)",
            evaluate=mean_threshold("escape_ratio_max", threshold=0.0, above=False),
            source=f"{LEE}: 'find an eigenvector u of a negative eigenvalue and update theta "
            "along it, and the loss decreases' (translated)",
            setting=LEE_SETTING,
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "learning_curves",
            "Minimum ratio (positive fraction of the non-zero eigenvalues) at each point found",
            metric="cp_min_ratio",
            x_label="start point k (GD iterate after 0, 7, 31, 127, 511 epochs)",
        ),
        Plot(
            "learning_curves",
            "Loss at each point found (start points later along the GD path)",
            metric="cp_loss",
            x_label="start point k (GD iterate after 0, 7, 31, 127, 511 epochs)",
        ),
        Plot(
            "learning_curves",
            "Index (fraction of negative eigenvalues) at each point found",
            metric="cp_index",
            x_label="start point k (GD iterate after 0, 7, 31, 127, 511 epochs)",
        ),
        Plot(
            "learning_curves",
            "log10 gradient norm at each point found",
            metric="cp_grad_norm_log10",
            x_label="start point k (GD iterate after 0, 7, 31, 127, 511 epochs)",
        ),
        Plot(
            "final_metric",
            "Spearman correlation of loss and index across one seed's points",
            metric="index_loss_spearman",
        ),
        Plot(
            "final_metric",
            "Minimum ratio at the last GD iterate itself (no Newton search)",
            metric="gd_end_min_ratio",
        ),
    ],
)
