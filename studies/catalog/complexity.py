"""Model complexity, bias and variance: polynomial regression of growing degree, and ridge.

The seed notes (``003_*``, Regression) follow Hung-yi Lee's course: five nested regression
models, each more complex than the last, whose training error falls with the complexity while
the test error rises again for the most complex ones; the error comes from a bias and a
variance (underfitting: large bias, overfitting: large variance), and regularization (an L2
term, the bias ``b`` left out of it) makes the function smoother, raising the training error
and possibly lowering the test error.

Here the setting is the classic one of Geman, Bienenstock & Doursat (1992): a small noisy
sample of a known function, ``y = sin(2πx) + ε`` with ``ε ~ N(0, 0.3²)``, ``n = 20`` points
``x`` spread over [0, 1] (one per stratum ``[i/n, (i+1)/n)``), fitted by a polynomial of degree
1 to 10 in ``2x - 1`` (scikit-learn's PolynomialFeatures and LinearRegression, closed-form
least squares in float64). Each seed draws the design ``x``, 200 test points and ``R = 300``
noise draws of the training targets (the resampled training sets) with fresh noise on the
test targets. Over the ``R`` fits, at the test points: the expected training and test error,
``bias² = mean_x (f̄(x) - f(x))²`` (``f̄`` the mean fit), ``variance = mean_x Var_r f̂_r(x)``,
and how far ``bias² + variance + σ²`` is from the Monte-Carlo test error. Stage ``ridge`` fits
the degree-10 polynomial with scikit-learn's Ridge (the intercept not penalised) at
``λ = 0, 10⁻³ .. 10`` on the same data (paired by seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.preprocessing import PolynomialFeatures

from studies.engine.claims import all_of, paired_comparison, usable_rows
from studies.engine.spec import Arm, Claim, Plot, Stage, Study, TrialResult, data_inputs
from studies.stats import Comparison, Evidence, SequentialDesign

#: Summary figures and which way is better (None: neither).
METRICS: dict[str, str | None] = {
    "train_mse": "lower",
    "test_mse": "lower",
    "bias2": "lower",
    "variance": "lower",
    "decomposition_gap": None,
    "sample_train_mse": "lower",
    "sample_test_mse": "lower",
}
DEGREES = tuple(range(1, 11))
LAMBDAS = (0.0, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
#: The degree the U-shape claim compares the ends with, fixed before the runs: a cubic is the
#: lowest degree that follows one period of a sine.
MIDDLE_DEGREE = 3
#: The ridge claim's λ, fixed before the runs, and the degree of the ridge stage.
MIDDLE_LAMBDA = 1e-2
RIDGE_DEGREE = 10
#: The decomposition claim: |test - (bias² + variance + σ²)| / test below this for every degree.
GAP_TOLERANCE = 0.02
#: Points of the grid the mean fit and the pointwise variance are recorded on (x = k / GRID).
GRID = 50

BASE_CONFIG: dict[str, Any] = {
    "data": {"n_train": 20, "n_test": 200, "noise": 0.3, "resamples": 300},
    "model": {"degree": 3, "alpha": 0.0},
}


# ------------------------------------------------------------------------------- helpers


def target(x: np.ndarray) -> np.ndarray:
    """The true function, ``sin(2πx)``."""
    return np.sin(2.0 * np.pi * np.asarray(x, dtype=np.float64))


def stratified_design(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in [0, 1], one uniform draw per stratum ``[i/n, (i+1)/n)`` (sorted)."""
    return (np.arange(n) + rng.uniform(0.0, 1.0, n)) / n


def fit_predict(
    x: np.ndarray, Y: np.ndarray, x_eval: np.ndarray, *, degree: int, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a degree-``degree`` polynomial in ``2x - 1`` to every column of ``Y`` at once.

    Least squares (scikit-learn LinearRegression) when ``alpha`` is 0, else Ridge with
    penalty ``alpha`` on the coefficients (the intercept is not penalised).

    Parameters
    ----------
    x : ndarray, shape (n,)
    Y : ndarray, shape (n, R)
        One column of targets per resampled training set.
    x_eval : ndarray, shape (m,)

    Returns
    -------
    fitted, predicted : ndarray, shapes (n, R) and (m, R)
    """
    features = PolynomialFeatures(degree, include_bias=False)
    A = features.fit_transform((2.0 * np.asarray(x) - 1.0)[:, None])
    A_eval = features.transform((2.0 * np.asarray(x_eval) - 1.0)[:, None])
    model = LinearRegression() if alpha == 0 else Ridge(alpha=alpha)
    model.fit(A, Y)
    return model.predict(A).reshape(Y.shape), model.predict(A_eval).reshape(len(x_eval), -1)


def decompose(
    predictions: np.ndarray, truth: np.ndarray, test_targets: np.ndarray, noise: float
) -> dict[str, float]:
    """Bias-variance decomposition of the test error over resampled training sets.

    Parameters
    ----------
    predictions : ndarray, shape (m, R)
        Each fit's prediction at the ``m`` test points.
    truth : ndarray, shape (m,)
        The true function there.
    test_targets : ndarray, shape (m, R)
        Noisy test targets, fresh for every fit.
    noise : float
        The noise's standard deviation ``σ``.

    Returns
    -------
    dict
        ``test_mse`` (Monte-Carlo mean of ``(f̂_r(x) - y)²``), ``bias2`` (mean over x of
        ``(f̄(x) - f(x))²``), ``variance`` (mean over x of the variance over r of ``f̂_r(x)``),
        ``noise2`` (``σ²``) and ``decomposition_gap`` (``(test_mse - bias2 - variance -
        noise2) / test_mse``).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    mean_fit = predictions.mean(axis=1)
    bias2 = float(np.mean((mean_fit - truth) ** 2))
    variance = float(np.mean(predictions.var(axis=1)))
    test_mse = float(np.mean((predictions - test_targets) ** 2))
    noise2 = float(noise) ** 2
    return {
        "test_mse": test_mse,
        "bias2": bias2,
        "variance": variance,
        "noise2": noise2,
        "decomposition_gap": (test_mse - bias2 - variance - noise2) / test_mse,
    }


def trial(config: dict) -> TrialResult:
    """Fit the arm's model to every resampled training set of the seed; expected errors, the
    decomposition, the seed's own sample's errors, and per grid point the mean fit, the
    truth and the pointwise variance."""
    cfg_data, cfg_model = config["data"], config["model"]
    design_rng, test_rng, noise_rng = np.random.default_rng(config["seed"]).spawn(3)
    n, m, R, sigma = (
        cfg_data["n_train"],
        cfg_data["n_test"],
        cfg_data["resamples"],
        cfg_data["noise"],
    )
    x = stratified_design(n, design_rng)
    x_test = test_rng.uniform(0.0, 1.0, m)
    Y = target(x)[:, None] + sigma * noise_rng.standard_normal((n, R))
    Y_test = target(x_test)[:, None] + sigma * noise_rng.standard_normal((m, R))
    grid = np.arange(GRID + 1) / GRID
    x_eval = np.concatenate([x_test, grid])
    fitted, predicted = fit_predict(
        x, Y, x_eval, degree=int(cfg_model["degree"]), alpha=float(cfg_model["alpha"])
    )
    at_test, at_grid = predicted[:m], predicted[m:]
    parts = decompose(at_test, target(x_test), Y_test, sigma)
    summary = {
        "train_mse": float(np.mean((fitted - Y) ** 2)),
        "test_mse": parts["test_mse"],
        "bias2": parts["bias2"],
        "variance": parts["variance"],
        "decomposition_gap": parts["decomposition_gap"],
        "sample_train_mse": float(np.mean((fitted[:, 0] - Y[:, 0]) ** 2)),
        "sample_test_mse": float(np.mean((at_test[:, 0] - Y_test[:, 0]) ** 2)),
    }
    mean_grid, var_grid, truth_grid = at_grid.mean(axis=1), at_grid.var(axis=1), target(grid)
    history = [
        {
            "epoch": k,
            "mean_fit": float(np.clip(mean_grid[k], -3.0, 3.0)),
            "true_function": float(truth_grid[k]),
            "pointwise_variance": float(var_grid[k]),
        }
        for k in range(GRID + 1)
    ]
    source = f"y = sin(2 pi x) + N(0, {sigma:g}^2), stratified x in [0, 1], {R} noise draws"
    datasets = data_inputs("sine", source, train=(x, Y), test=(x_test, Y_test))
    return TrialResult(history=history, summary=summary, datasets=datasets)


# ----------------------------------------------------------------------------- claims


def _degree_arm(degree: int) -> str:
    return f"degree={degree}"


def _lambda_arm(alpha: float) -> str:
    return f"lambda={alpha:g}"


def per_seed_columns(summaries: pd.DataFrame, metric: str, stage: str) -> pd.DataFrame:
    """``metric`` of the usable trials of ``stage`` as a seeds x arms table (NaN where a
    trial is missing)."""
    rows = usable_rows(summaries, stage=stage)
    return rows.pivot_table(index="seed", columns="arm", values=metric, aggfunc="first")


def _degree_table(summaries: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, list[int]]:
    table = per_seed_columns(summaries, metric, "degree")
    degrees = sorted(d for d in DEGREES if _degree_arm(d) in table.columns)
    table = table[[_degree_arm(d) for d in degrees]].dropna()
    return table, degrees


def largest_training_rise(summaries: pd.DataFrame) -> Comparison:
    """Per seed, the largest change of the expected training MSE from one degree to the next
    (claimed below 0: it falls at every step)."""
    table, degrees = _degree_table(summaries, "train_mse")
    rise = np.diff(table.to_numpy(float), axis=1).max(axis=1) if len(degrees) > 1 else []
    return Comparison(
        rise,
        table.index.astype(int).to_numpy() if len(degrees) > 1 else [],
        "less",
        label="largest rise of train_mse from one degree to the next",
        arms=tuple(_degree_arm(d) for d in degrees),
    )


def training_error_falls(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the training-error claim."""
    return Evidence([largest_training_rise(summaries)])


_MIDDLE_BEATS_LINE = paired_comparison(
    "test_mse", _degree_arm(MIDDLE_DEGREE), _degree_arm(1), better="lower", stage="degree"
)
_MIDDLE_BEATS_TOP = paired_comparison(
    "test_mse",
    _degree_arm(MIDDLE_DEGREE),
    _degree_arm(max(DEGREES)),
    better="lower",
    stage="degree",
)


def test_error_u_shaped(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the U-shape claim: the middle degree's expected test MSE below both ends'."""
    return all_of(
        [
            ("vs_degree1", _MIDDLE_BEATS_LINE(summaries, histories)),
            (f"vs_degree{max(DEGREES)}", _MIDDLE_BEATS_TOP(summaries, histories)),
        ]
    )


def log_slope(summaries: pd.DataFrame, metric: str) -> Comparison:
    """Per seed, the least-squares slope of log10 ``metric`` on the degree (claimed above 0)."""
    table, degrees = _degree_table(summaries, metric)
    values = table.to_numpy(float)
    keep = np.all(values > 0, axis=1) & np.all(np.isfinite(values), axis=1)
    slopes = [float(np.polyfit(degrees, np.log10(row), 1)[0]) for row in values[keep]]
    return Comparison(
        slopes,
        table.index.astype(int).to_numpy()[keep],
        "greater",
        label=f"slope of log10 {metric} on the degree",
        arms=tuple(_degree_arm(d) for d in degrees),
    )


_BIAS_FALLS = paired_comparison(
    "bias2", _degree_arm(max(DEGREES)), _degree_arm(1), better="lower", stage="degree"
)


def bias_variance_trade(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the bias-variance claim: variance's log-slope on the degree above 0, and
    bias² at the top degree below bias² at degree 1."""
    return all_of(
        [
            ("variance", Evidence([log_slope(summaries, "variance")])),
            ("bias", _BIAS_FALLS(summaries, histories)),
        ]
    )


def largest_gap(summaries: pd.DataFrame) -> Comparison:
    """Per seed, the largest ``|decomposition_gap|`` over the degree arms, minus the
    tolerance (claimed below 0)."""
    table, degrees = _degree_table(summaries, "decomposition_gap")
    worst = np.abs(table.to_numpy(float)).max(axis=1) if degrees else []
    return Comparison(
        np.asarray(worst, dtype=float) - GAP_TOLERANCE,
        table.index.astype(int).to_numpy() if degrees else [],
        "less",
        reference=GAP_TOLERANCE,
        label="largest |test - (bias2 + variance + noise)| / test over degrees",
        arms=tuple(_degree_arm(d) for d in degrees),
    )


def decomposition_adds_up(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the decomposition claim."""
    return Evidence([largest_gap(summaries)], numbers={"tolerance": GAP_TOLERANCE})


_RIDGE_TEST_VS_OLS = paired_comparison(
    "test_mse", _lambda_arm(MIDDLE_LAMBDA), _lambda_arm(0.0), better="lower", stage="ridge"
)
_RIDGE_TEST_VS_LARGE = paired_comparison(
    "test_mse", _lambda_arm(MIDDLE_LAMBDA), _lambda_arm(max(LAMBDAS)), better="lower", stage="ridge"
)
_RIDGE_TRAIN_RISES = paired_comparison(
    "train_mse", _lambda_arm(MIDDLE_LAMBDA), _lambda_arm(0.0), better="higher", stage="ridge"
)


def ridge_moves_minimum(summaries: pd.DataFrame, histories: Any) -> Evidence:
    """Evaluator of the ridge claim: at the middle λ the degree-10 test MSE is below both the
    unregularized and the largest λ's, and the training MSE above the unregularized one's."""
    return all_of(
        [
            ("test_vs_ols", _RIDGE_TEST_VS_OLS(summaries, histories)),
            ("test_vs_large", _RIDGE_TEST_VS_LARGE(summaries, histories)),
            ("train_rises", _RIDGE_TRAIN_RISES(summaries, histories)),
        ]
    )


DEGREE_ARMS = {
    _degree_arm(d): Arm({"model": {"degree": d}}, factors={"degree": str(d)}) for d in DEGREES
}
RIDGE_ARMS = {
    _lambda_arm(a): Arm(
        {"model": {"degree": RIDGE_DEGREE, "alpha": a}}, factors={"lambda": f"{a:g}"}
    )
    for a in LAMBDAS
}
#: ``--quick`` runs only the arms the claims compare (the slopes use every degree given).
QUICK_DEGREE_ARMS = {
    _degree_arm(d): DEGREE_ARMS[_degree_arm(d)] for d in (1, 2, MIDDLE_DEGREE, max(DEGREES))
}
QUICK_RIDGE_ARMS = {
    _lambda_arm(a): RIDGE_ARMS[_lambda_arm(a)] for a in (0.0, MIDDLE_LAMBDA, max(LAMBDAS))
}

GEMAN = (
    "Geman, Bienenstock & Doursat 1992, 'Neural networks and the bias/variance dilemma', "
    "Neural Computation 4"
)
GEMAN_READ = (
    "only its abstract and the opening of Sec. 1 were read; the decomposition is restated from "
    "the standard textbook form, not from the paper's pages"
)
GEMAN_SETTING = (
    "Geman et al.: a tutorial on nonparametric regression estimators, feed-forward networks "
    "among them, with experiments on artificial data and handwritten numerals (abstract)"
)
NOTES = "the seed notes 003 (Regression: model selection, where does the error come from)"
LEE_SETTING = (
    "Hung-yi Lee's ML course as restated by the seed notes: Pokémon combat-power regression, "
    "five nested polynomial models, training and test error per model"
)
DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="complexity",
    question="As a polynomial's degree grows on a small noisy sample, does the training error "
    "fall while the test error is U-shaped, do bias² and variance trade off and add up with "
    "the noise to the test error, and does an L2 penalty move the best point?",
    description=__doc__.split("\n\n", 1)[1].replace("\n", " ").replace("``", ""),
    data="Synthetic: y = sin(2πx) + N(0, 0.3²) at 20 stratified points of [0, 1], 300 noise "
    "draws of the training targets per seed, 200 uniform test points with fresh noise; the "
    "design, test points and noise are drawn per seed and shared by every arm of the seed.",
    base_config=BASE_CONFIG,
    trial=trial,
    metrics=METRICS,
    design=DESIGN,
    stages=[
        Stage("degree", DEGREE_ARMS, quick_arms=QUICK_DEGREE_ARMS),
        Stage("ridge", RIDGE_ARMS, quick_arms=QUICK_RIDGE_ARMS),
    ],
    quick={"data": {"resamples": 60, "n_test": 100}},
    claims=[
        Claim(
            id="training_error_falls_with_degree",
            text="The expected training error of the least-squares polynomial falls at every "
            "step of the degree from 1 to 10 (the models are nested).",
            statistic="per seed, the largest change of the expected training MSE from one "
            "degree to the next, claimed below 0 (t-test)",
            evaluate=training_error_falls,
            source=f"{NOTES}, restating Hung-yi Lee's lecture: five models, "
            "each more complex than the last and containing it, so the training error "
            "decreases with the complexity",
            setting=LEE_SETTING,
            expected="supported",
        ),
        Claim(
            id="test_error_is_u_shaped",
            text=f"The expected test error is U-shaped in the degree: degree {MIDDLE_DEGREE} "
            f"has a lower test MSE than both degree 1 and degree {max(DEGREES)}.",
            statistic=f"per seed, degree {MIDDLE_DEGREE}'s expected test MSE minus degree 1's "
            f"and minus degree {max(DEGREES)}'s, both claimed below 0 (paired t-tests, both "
            "needed)",
            evaluate=test_error_u_shaped,
            source=f"{NOTES}: the most complex models' test error rises again (overfitting), "
            "restating Hung-yi Lee's lecture; the bias/variance trade-off of "
            f"{GEMAN} ({GEMAN_READ})",
            setting=LEE_SETTING,
            expected="supported",
        ),
        Claim(
            id="variance_rises_bias_falls",
            text="Over resampled training sets, the variance of the fit grows with the degree "
            "while its squared bias falls (degree 10 below degree 1).",
            statistic="per seed, the slope of log10 variance on the degree claimed above 0 "
            "(t-test), and bias² of degree 10 minus degree 1 claimed below 0 (paired t-test); "
            "both needed",
            evaluate=bias_variance_trade,
            source=f"{NOTES} (underfitting: large bias, add features or a more complex "
            "model; overfitting: large variance, more data or regularization); the "
            f"bias/variance dilemma of {GEMAN} ({GEMAN_READ})",
            setting=GEMAN_SETTING,
            expected="supported",
        ),
        Claim(
            id="decomposition_adds_up",
            text="The expected test error equals bias² + variance + noise: over 300 resampled "
            "training sets the Monte-Carlo test MSE and the sum differ by less than "
            f"{GAP_TOLERANCE:.0%} of the test MSE at every degree.",
            statistic="per seed, the largest |test MSE - (bias² + variance + σ²)| / test MSE "
            f"over the ten degrees, claimed below {GAP_TOLERANCE:g} (t-test)",
            evaluate=decomposition_adds_up,
            source=f"{GEMAN}: the decomposition of the expected squared error over training "
            "sets into noise + bias² + variance, E[(y - f̂(x))²] = σ² + (E f̂(x) - f(x))² + "
            f"Var f̂(x) ({GEMAN_READ})",
            setting=GEMAN_SETTING,
            expected="supported",
        ),
        Claim(
            id="ridge_moves_the_minimum",
            text=f"An L2 penalty moves the degree-{RIDGE_DEGREE} polynomial towards the best "
            f"complexity: at λ = {MIDDLE_LAMBDA:g} its expected test MSE is below both the "
            f"unpenalized fit's and the λ = {max(LAMBDAS):g} fit's, while its training MSE is "
            "above the unpenalized one's.",
            statistic=f"per seed, at degree {RIDGE_DEGREE}: λ = {MIDDLE_LAMBDA:g} minus λ = 0 "
            f"and minus λ = {max(LAMBDAS):g} expected test MSE, claimed below 0, and λ = "
            f"{MIDDLE_LAMBDA:g} minus λ = 0 training MSE claimed above 0 (paired t-tests, all "
            "needed)",
            evaluate=ridge_moves_minimum,
            source=f"{NOTES} ('the larger λ, the larger the training loss; the test loss may be "
            "smaller'; we prefer a smooth function, but not too smooth; the bias b is left out "
            "of the penalty), restating Hung-yi Lee's lecture",
            setting=LEE_SETTING + ", with an L2 penalty swept over λ",
            expected="supported",
        ),
    ],
    plots=[
        Plot(
            "sweep",
            "Expected training MSE against the degree",
            x="model.degree",
            metric="train_mse",
            stage="degree",
        ),
        Plot(
            "sweep",
            "Expected test MSE against the degree (U-shape)",
            x="model.degree",
            metric="test_mse",
            stage="degree",
        ),
        Plot("sweep", "Bias² against the degree", x="model.degree", metric="bias2", stage="degree"),
        Plot(
            "sweep",
            "Variance against the degree",
            x="model.degree",
            metric="variance",
            stage="degree",
        ),
        Plot(
            "learning_curves",
            "Mean fit over the resampled training sets, per degree (truth: sin 2πx)",
            metric="mean_fit",
            x_label="grid point k (x = k/50)",
            stage="degree",
        ),
        Plot(
            "learning_curves",
            "Variance of the fit at each x, per degree",
            metric="pointwise_variance",
            log_y=True,
            x_label="grid point k (x = k/50)",
            stage="degree",
        ),
        Plot(
            "sweep",
            f"Degree {RIDGE_DEGREE} with ridge: expected test MSE against λ (λ = 0 not shown)",
            x="model.alpha",
            metric="test_mse",
            log_x=True,
            stage="ridge",
        ),
        Plot(
            "sweep",
            f"Degree {RIDGE_DEGREE} with ridge: expected training MSE against λ",
            x="model.alpha",
            metric="train_mse",
            log_x=True,
            stage="ridge",
        ),
        Plot(
            "final_metric",
            "Relative gap (test - bias² - variance - σ²) / test, per degree",
            metric="decomposition_gap",
            stage="degree",
        ),
    ],
)
