"""Feature scaling and gradient descent: steps to a target loss, the condition number, 2/λ_max.

The seed notes (``003_*``, "Feature Scaling") say that when one feature's scale is much larger
than another's, the loss surface is a long thin valley and gradient descent does not head for
the minimum; scaling the features (min-max normalization or standardization) makes it round.
This study measures that on a full-batch linear regression, ``L(w) = ||A w - y||² / (2n)``
with ``A = [1, X]`` (an intercept column), whose Hessian is ``H = Aᵀ A / n``. The gradient
``Aᵀ (A w - y) / n`` is written with numpy in float32 and dlkit's optimizers take the steps
(``dlkit.optim.SGD`` without momentum, i.e. gradient descent, and ``dlkit.optim.Adagrad``).

Gradient descent at the step ``1/λ_max`` shrinks the error along an eigenvector of ``H`` with
eigenvalue ``λ`` by ``1 - λ/λ_max`` a step, so the slowest direction needs about
``κ ln(1/ε) / 2`` steps to cut the excess loss to a fraction ``ε`` (``κ = λ_max/λ_min``); any
step above ``2/λ_max`` makes the top direction grow. Arms ``diabetes/*`` fit scikit-learn's
diabetes data with its raw (unscaled) features, min-max normalized and standardized ones;
``diabetes/raw/adagrad`` runs Adagrad on the raw features at the best rate of a small grid
(chosen per seed by the final loss). Arms ``synthetic/kappa=K`` draw Gaussian features whose
standard deviations are spaced log-uniformly from 1 to ``√K``, so ``H`` has condition number
about ``K``. Every trial also finds, by bisection on its own data, the largest step at which
gradient descent does not blow up, and compares it with ``2/λ_max``. Seed ``s`` draws the
training sample (diabetes: 300 of the 442 patients; synthetic: a fresh sample) and the initial
weights, shared by the arms of the seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dlkit import optim
from dlkit.nn.base import Parameter
from studies.engine.claims import all_of, paired_comparison, rows_by_seed, usable_rows
from studies.engine.spec import Arm, Claim, Plot, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: Summary figures and which way is better (None: neither).
METRICS: dict[str, str | None] = {
    "steps_to_target": "lower",
    "log10_final_excess": "lower",
    "log10_kappa": None,
    "lambda_max": None,
    "stable_step_ratio": None,
    "theory_steps_bound": None,
    "steps_over_bound": None,
    "adagrad_lr": None,
}
#: A relative excess loss below this floor counts as the floor (float32 round-off).
EXCESS_FLOOR = 1e-12
#: The stability claim's margin: the measured largest stable step / (2/λ_max) within 1 ± this.
STABLE_MARGIN = 0.02
#: The condition-number claim's margin: the slope of log10 steps on log10 κ within 1 ± this.
SLOPE_MARGIN = 0.2
KAPPAS = (1, 10, 100, 1000)

BASE_CONFIG: dict[str, Any] = {
    "data": {
        "name": "diabetes",
        "scaling": "raw",
        "n_train": 300,
        "kappa": None,
        "n_features": 5,
        "noise": 0.5,
    },
    "optimizer": {"name": "sgd", "lr_factor": 1.0, "adagrad_lrs": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0]},
    "train": {"steps": 3000, "target": 0.01, "log_points": 60},
    "stability": {"steps": 300, "bisections": 14, "low": 0.5, "high": 1.5},
}


# ------------------------------------------------------------------------------- helpers


def scale_features(X: np.ndarray, scaling: str) -> np.ndarray:
    """``X`` as is (``"raw"``), min-max normalized to [0, 1] (``"minmax"``) or standardized to
    mean 0 and standard deviation 1 (``"standardized"``), per column, from its own rows."""
    X = np.asarray(X, dtype=np.float64)
    if scaling == "raw":
        return X
    if scaling == "minmax":
        low, high = X.min(axis=0), X.max(axis=0)
        return (X - low) / np.where(high > low, high - low, 1.0)
    if scaling == "standardized":
        std = X.std(axis=0)
        return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    raise ValueError(f"scaling must be 'raw', 'minmax' or 'standardized', got {scaling!r}")


def design_matrix(X: np.ndarray) -> np.ndarray:
    """``[1, X]``: the features with an intercept column in front (float64)."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([np.ones(len(X)), X])


def hessian_spectrum(A: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``H = Aᵀ A / n`` (the Hessian of ``||A w - y||² / (2n)``), ascending."""
    A = np.asarray(A, dtype=np.float64)
    return np.linalg.eigvalsh(A.T @ A / len(A))


def mse_half(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """``||A w - y||² / (2n)`` in float64."""
    r = np.asarray(A, dtype=np.float64) @ np.asarray(w, dtype=np.float64) - y
    return float(r @ r / (2 * len(r)))


def theory_steps_bound(kappa: float, target: float) -> float:
    """Steps after which gradient descent at ``1/λ_max`` has surely cut the excess loss to
    ``target`` of its start: the least ``t`` with ``(1 - 1/κ)^(2t) <= target`` (1 at κ = 1,
    where one step reaches the minimum)."""
    if kappa <= 1.0 + 1e-12:
        return 1.0
    return float(math.ceil(math.log(target) / (2.0 * math.log1p(-1.0 / kappa))))


def first_reach(excess: np.ndarray, target: float) -> float:
    """The first step whose relative excess loss is at most ``target`` (``excess[0]`` is the
    start, step 0), ``inf`` if none."""
    hits = np.flatnonzero(np.asarray(excess) <= target)
    return float(hits[0]) if hits.size else math.inf


def log_steps(steps: int, points: int) -> list[int]:
    """About ``points`` steps from 0 to ``steps``, log-spaced (0, 1, 2, ... then sparser)."""
    grid = np.unique(np.round(np.geomspace(1, steps, points)).astype(int))
    return [0, *[int(t) for t in grid]]


def descend(
    A: np.ndarray,
    y: np.ndarray,
    w0: np.ndarray,
    *,
    optimizer: str,
    lr: float,
    steps: int,
) -> np.ndarray:
    """Full-batch descent on ``||A w - y||² / (2n)`` from ``w0`` with dlkit's optimizer.

    The gradient ``Aᵀ (A w - y) / n`` is computed in float32 (weights and gradient are float32);
    ``optimizer`` is ``"sgd"`` (plain gradient descent) or ``"adagrad"``.

    Returns
    -------
    ndarray, shape (steps + 1,)
        The loss (float64) at steps 0 .. ``steps``; after a non-finite or overflowing loss the
        rest is ``inf``.
    """
    A32 = np.asarray(A, dtype=np.float32)
    y32 = np.asarray(y, dtype=np.float32)
    w = Parameter(np.array(w0, dtype=np.float32), name="w")
    if optimizer == "sgd":
        opt = optim.SGD([w], lr=lr)
    elif optimizer == "adagrad":
        opt = optim.Adagrad([w], lr=lr)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adagrad', got {optimizer!r}")
    n = np.float32(len(A32))
    losses = np.full(steps + 1, math.inf)
    losses[0] = mse_half(A, y, w.data)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            residual = A32 @ w.data - y32
            w.grad[...] = A32.T @ residual / n
            opt.step()
            loss = mse_half(A, y, w.data)
            if not math.isfinite(loss) or loss > 1e30:
                break
            losses[t] = loss
    return losses


def largest_stable_step(
    A: np.ndarray,
    y: np.ndarray,
    w0: np.ndarray,
    *,
    steps: int,
    bisections: int,
    low: float,
    high: float,
) -> float:
    """The largest step of gradient descent that does not blow up, in units of ``2/λ_max``.

    A step is stable when the loss after ``steps`` steps is finite and not above the start;
    bisection between ``low`` (assumed stable) and ``high`` (assumed not) over
    ``bisections`` rounds; returns the midpoint of the last bracket.
    """
    bound = 2.0 / hessian_spectrum(A)[-1]
    start = mse_half(A, y, w0)
    for _ in range(bisections):
        mid = 0.5 * (low + high)
        path = descend(A, y, w0, optimizer="sgd", lr=mid * bound, steps=steps)
        if math.isfinite(path[-1]) and path[-1] <= start:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def synthetic_data(
    n: int, n_features: int, kappa: float, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features with standard deviations log-spaced from 1 to ``√kappa`` (so their
    covariance has condition number ``kappa``), a linear target with unit-variance
    contributions per feature and Gaussian noise of standard deviation ``noise``."""
    scales = np.sqrt(kappa) ** np.linspace(0.0, 1.0, n_features)
    X = rng.standard_normal((n, n_features)) * scales
    w = rng.standard_normal(n_features) / scales
    y = X @ w + 1.0 + noise * rng.standard_normal(n)
    return X, y


def load_data(cfg: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """The seed's training features (unscaled), targets and a description of the source."""
    if cfg["name"] == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True, scaled=False)
        rows = rng.choice(len(X), size=cfg["n_train"], replace=False)
        return X[rows], y[rows], "sklearn.datasets.load_diabetes(scaled=False), rows per seed"
    if cfg["name"] == "synthetic":
        X, y = synthetic_data(
            cfg["n_train"], cfg["n_features"], float(cfg["kappa"]), cfg["noise"], rng
        )
        return X, y, f"Gaussian features, stds 1..sqrt({cfg['kappa']:g}), per seed"
    raise ValueError(f"data name must be 'diabetes' or 'synthetic', got {cfg['name']!r}")


def trial(config: dict) -> TrialResult:
    """Descend from the seed's initial weights on the arm's features; relative excess loss
    per (log-spaced) step, steps to the target, the final excess, the measured largest stable
    step; Adagrad runs each rate of its grid and keeps the one with the lowest final loss."""
    cfg_data, cfg_opt, cfg_train, cfg_stab = (
        config["data"],
        config["optimizer"],
        config["train"],
        config["stability"],
    )
    data_rng, init_rng = np.random.default_rng(config["seed"]).spawn(2)
    X_raw, y, source = load_data(cfg_data, data_rng)
    A = design_matrix(scale_features(X_raw, cfg_data["scaling"]))
    spectrum = hessian_spectrum(A)
    lam_max, kappa = float(spectrum[-1]), float(spectrum[-1] / spectrum[0])
    w_star = np.linalg.lstsq(A, y, rcond=None)[0]
    best = mse_half(A, y, w_star)
    w0 = 0.01 * init_rng.standard_normal(A.shape[1])
    steps = int(cfg_train["steps"])

    def relative(path: np.ndarray) -> np.ndarray:
        return np.maximum((path - best) / (path[0] - best), EXCESS_FLOOR)

    summary: dict[str, float] = {}
    if cfg_opt["name"] == "sgd":
        lr = float(cfg_opt["lr_factor"]) / lam_max
        excess = relative(descend(A, y, w0, optimizer="sgd", lr=lr, steps=steps))
        summary["adagrad_lr"] = math.nan
    else:
        paths = {
            float(rate): relative(descend(A, y, w0, optimizer="adagrad", lr=rate, steps=steps))
            for rate in cfg_opt["adagrad_lrs"]
        }
        rate = min(paths, key=lambda r: (paths[r][-1], r))
        excess = paths[rate]
        summary["adagrad_lr"] = rate
    summary.update(
        {
            "steps_to_target": first_reach(excess, cfg_train["target"]),
            "log10_final_excess": float(np.log10(min(excess[-1], 1e30))),
            "log10_kappa": math.log10(kappa),
            "lambda_max": lam_max,
            "stable_step_ratio": largest_stable_step(
                A,
                y,
                w0,
                steps=cfg_stab["steps"],
                bisections=cfg_stab["bisections"],
                low=cfg_stab["low"],
                high=cfg_stab["high"],
            ),
            "theory_steps_bound": theory_steps_bound(kappa, cfg_train["target"]),
        }
    )
    summary["steps_over_bound"] = summary["steps_to_target"] / summary["theory_steps_bound"]
    history = [
        {"epoch": t, "relative_excess": float(min(excess[t], 1e30))}
        for t in log_steps(steps, cfg_train["log_points"])
    ]
    datasets = data_inputs(cfg_data["name"], source, train=(X_raw, y))
    return TrialResult(history=history, summary=summary, datasets=datasets)


# ----------------------------------------------------------------------------- claims


def _synthetic(kappa: float) -> str:
    return f"synthetic/kappa={kappa:g}"


def kappa_slope(summaries: pd.DataFrame, kappas: tuple[float, ...] = KAPPAS[1:]) -> Comparison:
    """Per seed, the least-squares slope of log10 ``steps_to_target`` on the measured log10 κ
    across the synthetic arms ``kappas``, minus 1 (a seed where an arm missed the target or
    failed is left out): the equivalence comparison of the claim that the steps grow in
    proportion to κ."""
    rows = usable_rows(summaries)
    by_arm = {k: rows[rows["arm"] == _synthetic(k)].set_index("seed") for k in kappas}
    seeds = sorted(set.intersection(*(set(frame.index) for frame in by_arm.values())))
    values, kept = [], []
    for seed in seeds:
        steps = np.array([by_arm[k].loc[seed, "steps_to_target"] for k in kappas], dtype=float)
        logk = np.array([by_arm[k].loc[seed, "log10_kappa"] for k in kappas], dtype=float)
        if not (np.all(np.isfinite(steps)) and np.all(steps > 0) and np.all(np.isfinite(logk))):
            continue
        values.append(float(np.polyfit(logk, np.log10(steps), 1)[0]) - 1.0)
        kept.append(int(seed))
    return Comparison(
        values,
        kept,
        "equivalence",
        margin=SLOPE_MARGIN,
        reference=1.0,
        label="slope of log10 steps_to_target on log10 kappa",
        arms=tuple(_synthetic(k) for k in kappas),
    )


def steps_grow_with_kappa(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the condition-number claim: per seed slope within 1 ± margin."""
    return Evidence([kappa_slope(summaries)], numbers={"margin": SLOPE_MARGIN})


def stable_ratio(summaries: pd.DataFrame, arm: str) -> Comparison:
    """``stable_step_ratio - 1`` of ``arm`` per seed: the equivalence comparison of the claim
    that the largest stable step is 2/λ_max."""
    rows = rows_by_seed(summaries, ("stable_step_ratio",), arm=arm)
    x = rows["stable_step_ratio"].to_numpy(float)
    keep = np.isfinite(x)
    return Comparison(
        x[keep] - 1.0,
        rows["seed"].astype(int).to_numpy()[keep],
        "equivalence",
        margin=STABLE_MARGIN,
        reference=1.0,
        label=f"{arm} stable_step_ratio",
        arms=(arm,),
    )


def stable_step_claim(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the 2/λ_max claim on the raw diabetes features (κ ~ 10^7.7) and the
    best-conditioned synthetic design (κ ~ 1)."""
    parts = [("diabetes", "diabetes/raw"), ("kappa1", _synthetic(1))]
    return Evidence(
        [replace_name(stable_ratio(summaries, arm), name) for name, arm in parts],
        numbers={"margin": STABLE_MARGIN},
    )


def replace_name(comparison: Comparison, name: str) -> Comparison:
    """``comparison`` as the part ``name`` of a claim of several."""
    from dataclasses import replace

    return replace(comparison, name=name)


_STD_BEATS_MINMAX = paired_comparison(
    "log10_final_excess", "diabetes/standardized", "diabetes/minmax", better="lower"
)
_MINMAX_BEATS_RAW = paired_comparison(
    "log10_final_excess", "diabetes/minmax", "diabetes/raw", better="lower"
)


def scaling_claim(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the scaling claim: standardized < min-max < raw final excess loss."""
    return all_of(
        [
            ("minmax_vs_raw", _MINMAX_BEATS_RAW(summaries, histories)),
            ("standardized_vs_minmax", _STD_BEATS_MINMAX(summaries, histories)),
        ]
    )


_ADAGRAD_BEATS_RAW = paired_comparison(
    "log10_final_excess", "diabetes/raw/adagrad", "diabetes/raw", better="lower"
)
_STANDARDIZED_BEATS_ADAGRAD = paired_comparison(
    "log10_final_excess", "diabetes/standardized", "diabetes/raw/adagrad", better="lower"
)


def adagrad_claim(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the Adagrad claim: on raw features Adagrad ends below gradient descent,
    but above gradient descent on standardized features (a partial compensation)."""
    return all_of(
        [
            ("adagrad_vs_raw_gd", _ADAGRAD_BEATS_RAW(summaries, histories)),
            ("standardized_gd_vs_adagrad", _STANDARDIZED_BEATS_ADAGRAD(summaries, histories)),
        ]
    )


ARMS = {
    "diabetes/raw": Arm({}, factors={"data": "diabetes", "scaling": "raw", "optimizer": "gd"}),
    "diabetes/minmax": Arm(
        {"data": {"scaling": "minmax"}},
        factors={"data": "diabetes", "scaling": "minmax", "optimizer": "gd"},
    ),
    "diabetes/standardized": Arm(
        {"data": {"scaling": "standardized"}},
        factors={"data": "diabetes", "scaling": "standardized", "optimizer": "gd"},
    ),
    "diabetes/raw/adagrad": Arm(
        {"optimizer": {"name": "adagrad"}},
        factors={"data": "diabetes", "scaling": "raw", "optimizer": "adagrad"},
    ),
    **{
        _synthetic(k): Arm(
            {"data": {"name": "synthetic", "kappa": float(k)}},
            factors={"data": "synthetic", "scaling": "raw", "optimizer": "gd"},
        )
        for k in KAPPAS
    },
}

GOODFELLOW = "Goodfellow, Bengio & Courville 2016, Deep Learning"
LECUN = "LeCun, Bottou, Orr & Müller 1998, 'Efficient BackProp'"
ORR = (
    "Orr, CS449 lecture notes 'Preconditioning' (Willamette University; Orr is a co-author "
    "of Efficient BackProp)"
)
QUADRATIC_SETTING = (
    "textbook analysis of gradient descent with a fixed step on a quadratic loss (no experiment)"
)
DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="scaling",
    question="How much does feature scaling speed up gradient descent on a linear regression, "
    "how does the number of steps grow with the condition number, is 2/λ_max the largest "
    "stable step, and how much does Adagrad make up for unscaled features?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " ").replace("``", ""),
    data="scikit-learn's diabetes data (442 patients, 10 features, unscaled: age in years, "
    "sex coded 1/2, blood serum values up to about 300); each seed trains on its own 300 "
    "rows. Synthetic: 300 samples of 5 Gaussian features with standard deviations log-spaced "
    "from 1 to √κ, a linear target plus noise (sd 0.5), fresh per seed.",
    base_config=BASE_CONFIG,
    trial=trial,
    metrics=METRICS,
    design=DESIGN,
    arms=ARMS,
    quick={
        "train": {"steps": 200, "log_points": 15},
        "stability": {"steps": 80, "bisections": 6},
        "optimizer": {"adagrad_lrs": [1.0]},
    },
    claims=[
        Claim(
            id="scaling_speeds_up_gradient_descent",
            text="On the diabetes regression, gradient descent (step 1/λ_max) gets closer to "
            "the least-squares optimum within the same number of steps with min-max "
            "normalized features than with the raw ones, and closer still with standardized "
            "features.",
            statistic="per seed, the difference of log10 relative excess loss (L - L*) / "
            "(L0 - L*) after the budget, min-max minus raw and standardized minus min-max, "
            "each claimed below 0 (paired t-tests, both needed)",
            evaluate=scaling_claim,
            source=f"{ORR}: large inputs make a network ill-conditioned (a high condition "
            "number of the Hessian, long narrow valleys of the error), and rescaling the "
            "inputs before training removes it; Hinton, CSC321 lecture 10 slide "
            "'Convergence speed' (steepest descent does not point at the minimum unless the "
            f"ellipse is a circle); {LECUN} (not re-read for this study); the seed notes "
            "003 ('Feature Scaling': min-max normalization and standardization, 2023)",
            setting="Orr: a linear network fitted by gradient descent to a car data set, "
            "before and after rescaling; notes: Hung-yi Lee's ML course, a two-feature linear "
            "regression drawn as loss contours",
            expected="supported",
        ),
        Claim(
            id="steps_grow_with_condition_number",
            text="Gradient descent at step 1/λ_max needs a number of steps to cut the excess "
            "loss to 1 % that grows in proportion to the condition number κ of the Hessian "
            "(the feature covariance with intercept): on synthetic features with κ = 10, 100 "
            "and 1000, the slope of log10 steps on log10 κ is 1.",
            statistic="per seed, the least-squares slope of log10 steps_to_target on the "
            f"measured log10 κ of the three synthetic arms, claimed within 1 ± {SLOPE_MARGIN:g} "
            "(sequential TOST)",
            evaluate=steps_grow_with_kappa,
            source=f"{ORR}: ill-conditioning is a high condition number, the ratio of the "
            "Hessian's largest to smallest eigenvalue, and makes gradient descent slow; the "
            "rate (1 - λ/λ_max) per step is the textbook analysis of a quadratic "
            f"({GOODFELLOW}, and {LECUN}, were not re-read)",
            setting=QUADRATIC_SETTING,
            expected="supported",
        ),
        Claim(
            id="largest_stable_step_is_2_over_lambda_max",
            text="The largest step at which full-batch gradient descent on the least-squares "
            "loss does not blow up is 2/λ_max, whatever the scale of the features: on the raw "
            "diabetes features (κ of order 10^7) and on a well-conditioned synthetic design.",
            statistic="per seed, the largest stable step found by bisection (loss after 300 "
            "steps not above the start) divided by 2/λ_max, claimed within "
            f"1 ± {STABLE_MARGIN:g} on both arms (sequential TOSTs, both needed)",
            evaluate=stable_step_claim,
            source="the textbook analysis of gradient descent on a quadratic: the error "
            "along an eigenvector of H is multiplied by 1 - lr λ each step, so it diverges "
            "for lr > 2/λ_max (the 1-D case is checked exactly by this catalogue's "
            f"learning_rate study); {ORR} (too high a rate and the network diverges); "
            f"{GOODFELLOW}, and {LECUN}, were not re-read",
            setting=QUADRATIC_SETTING,
            expected="supported",
        ),
        Claim(
            id="adagrad_partly_compensates",
            text="Adagrad's per-parameter rates partly make up for unscaled features: on the "
            "raw diabetes features Adagrad (best rate of a grid) ends closer to the optimum "
            "than gradient descent on the raw features, but not as close as gradient descent "
            "on standardized features.",
            statistic="per seed, log10 relative excess loss after the budget, Adagrad (raw) "
            "minus GD (raw) claimed below 0 and GD (standardized) minus Adagrad (raw) "
            "claimed below 0 (paired t-tests, both needed)",
            evaluate=adagrad_claim,
            source="Duchi, Hazan & Singer 2011, 'Adaptive Subgradient Methods for Online "
            "Learning and Stochastic Optimization', JMLR 12, abstract (read: the methods "
            "'dynamically incorporate knowledge of the geometry of the data observed in "
            "earlier iterations', with regret as good as the best proximal function chosen "
            "in hindsight); the seed notes 003 ('Adagrad: every parameter has its own learning "
            "rate', 2023). That Adagrad only partly makes up for scaling is this study's "
            "reading, not the paper's",
            setting="Duchi et al.: online and stochastic convex optimization (regret bounds), "
            "experiments on sparse high-dimensional data; the body of the paper was not read",
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "learning_curves",
            "Relative excess loss (L - L*)/(L0 - L*) per step, every arm (log-log)",
            metric="relative_excess",
            log_y=True,
            log_x=True,
            x_label="step",
        ),
        Plot(
            "sweep",
            "Steps to 1 % excess loss against the condition number (synthetic, GD at 1/λ_max)",
            x="data.kappa",
            metric="steps_to_target",
            log_x=True,
        ),
        Plot(
            "sweep",
            "Steps to 1 % excess loss / theory's bound ln(0.01) / (2 ln(1 - 1/κ)) (synthetic)",
            x="data.kappa",
            metric="steps_over_bound",
            log_x=True,
        ),
        Plot(
            "final_metric",
            "Largest stable step / (2/λ_max), per arm (bisection)",
            metric="stable_step_ratio",
        ),
        Plot(
            "final_metric",
            "log10 relative excess loss after the budget, per arm",
            metric="log10_final_excess",
        ),
    ],
)
