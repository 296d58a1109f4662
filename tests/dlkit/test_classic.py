"""Tests for dlkit.classic: the estimator contract, and agreement with scikit-learn's models.

Closed-form models (LDA, QDA, naive Bayes) must agree with scikit-learn to rounding error;
logistic regression, trained by gradient descent, to the accuracy its stopping allows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_classification
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from dlkit.classic import (
    GaussianGenerative,
    GaussianNaiveBayes,
    LogisticRegression,
    SingularCovarianceWarning,
)

# Closed-form fits differ from scikit-learn's only by the order of floating-point operations.
CLOSED_FORM_ATOL = 1e-9


def _synthetic(n_classes):
    # n_redundant=0 keeps every class covariance full rank, so no ridge is involved.
    return make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        random_state=0,
    )


DATASETS = {
    "iris": lambda: load_iris(return_X_y=True),
    "wine": lambda: load_wine(return_X_y=True),
    "synthetic_3class": lambda: _synthetic(3),
    "synthetic_binary": lambda: _synthetic(2),
}


@pytest.fixture(params=sorted(DATASETS))
def dataset(request):
    return DATASETS[request.param]()


def _fit_without_warnings(estimator, x, y):
    """Fit, failing on any warning: these data sets need no regularization."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimator.fit(x, y)


# The estimator contract. Every scikit-learn check passes (only check_array_api_input is
# skipped, as it needs SCIPY_ARRAY_API), so no check is listed as an expected failure.
@parametrize_with_checks(
    [
        GaussianGenerative(),
        GaussianGenerative(shared_covariance=False),
        GaussianNaiveBayes(),
        LogisticRegression(),
        LogisticRegression(batch_size=16, random_state=0),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # Some checks fit on a single sample or constant columns on purpose.
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        check(estimator)


@pytest.mark.parametrize("solver", ["lsqr", "eigen"])
def test_shared_covariance_matches_lda(dataset, solver):
    # LDA's lsqr/eigen covariance is sum_k prior_k * (1/N_k) scatter_k; with the default
    # (empirical) priors that is sum_k scatter_k / N, the pooled MLE used here.
    x, y = dataset
    ours = _fit_without_warnings(GaussianGenerative(shared_covariance=True), x, y)
    lda = LinearDiscriminantAnalysis(solver=solver).fit(x, y)

    np.testing.assert_allclose(ours.priors_, lda.priors_, rtol=1e-12)
    np.testing.assert_allclose(ours.means_, lda.means_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.covariance_, lda.covariance_, rtol=1e-10, atol=1e-12)
    assert ours.ridge_ == 0.0
    np.testing.assert_allclose(ours.predict_proba(x), lda.predict_proba(x), atol=CLOSED_FORM_ATOL)
    np.testing.assert_allclose(
        ours.decision_function(x), lda.decision_function(x), rtol=1e-7, atol=1e-7
    )
    np.testing.assert_array_equal(ours.predict(x), lda.predict(x))


def test_shared_covariance_is_the_lecture_linear_model():
    # Binary case from the lecture: sigma(w.x + b) with w = S^-1 (mu1 - mu0) and
    # b = -mu1' S^-1 mu1 / 2 + mu0' S^-1 mu0 / 2 + log(N1 / N0), S the 1/N pooled covariance.
    x, y = _synthetic(2)
    mu0, mu1 = x[y == 0].mean(axis=0), x[y == 1].mean(axis=0)
    centred = np.where((y == 1)[:, None], x - mu1, x - mu0)
    pooled = centred.T @ centred / len(x)
    w = np.linalg.solve(pooled, mu1 - mu0)
    b = (
        -0.5 * mu1 @ np.linalg.solve(pooled, mu1)
        + 0.5 * mu0 @ np.linalg.solve(pooled, mu0)
        + np.log(np.sum(y == 1) / np.sum(y == 0))
    )
    model = GaussianGenerative().fit(x, y)
    np.testing.assert_allclose(model.decision_function(x), x @ w + b, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        model.predict_proba(x)[:, 1], 1.0 / (1.0 + np.exp(-(x @ w + b))), atol=CLOSED_FORM_ATOL
    )


def test_separate_covariances_match_qda(dataset):
    # scikit-learn 1.9's QDA estimates each class covariance with 1/N_k (maximum likelihood),
    # exactly what shared_covariance=False uses, so no tolerance for n-1 vs n is needed; the
    # covariance assertions below would catch a change of convention.
    x, y = dataset
    ours = _fit_without_warnings(GaussianGenerative(shared_covariance=False), x, y)
    for k, label in enumerate(ours.classes_):
        np.testing.assert_allclose(
            ours.covariance_[k], np.cov(x[y == label], rowvar=False, bias=True), rtol=1e-10
        )
    for solver in ("svd", "eigen"):
        qda = QuadraticDiscriminantAnalysis(solver=solver, store_covariance=True).fit(x, y)
        np.testing.assert_allclose(
            ours.covariance_, np.asarray(qda.covariance_), rtol=1e-8, atol=1e-10
        )
        np.testing.assert_allclose(
            ours.predict_proba(x), qda.predict_proba(x), atol=CLOSED_FORM_ATOL
        )
        np.testing.assert_array_equal(ours.predict(x), qda.predict(x))
    np.testing.assert_array_equal(ours.ridge_, np.zeros(len(ours.classes_)))


def test_naive_bayes_matches_gaussian_nb(dataset):
    x, y = dataset
    ours = GaussianNaiveBayes().fit(x, y)
    reference = GaussianNB().fit(x, y)
    assert ours.epsilon_ == pytest.approx(reference.epsilon_, rel=1e-12)
    np.testing.assert_allclose(ours.theta_, reference.theta_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.var_, reference.var_, rtol=1e-10)
    np.testing.assert_allclose(ours.class_prior_, reference.class_prior_, rtol=1e-12)
    np.testing.assert_allclose(
        ours.predict_proba(x), reference.predict_proba(x), atol=CLOSED_FORM_ATOL
    )
    np.testing.assert_allclose(
        ours.predict_log_proba(x), reference.predict_log_proba(x), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_array_equal(ours.predict(x), reference.predict(x))


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
def test_logistic_regression_matches_sklearn(loader):
    # Ours minimises mean CE + (l2/2)||W||^2; sklearn minimises C sum CE + ||W||^2/2. Dividing
    # sklearn's by C*N gives the same minimiser for C = 1/(l2 N), binary and multiclass alike.
    x, y = loader(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    l2 = 1e-2
    ours = LogisticRegression(lr=1.0, epochs=3000, l2=l2).fit(x, y)
    reference = SklearnLogisticRegression(C=1.0 / (l2 * len(x)), tol=1e-12, max_iter=100_000)
    reference.fit(x, y)

    assert ours.coef_.shape == reference.coef_.shape
    np.testing.assert_allclose(ours.predict_proba(x), reference.predict_proba(x), atol=1e-4)
    np.testing.assert_allclose(ours.coef_, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, atol=1e-4)
    assert np.mean(ours.predict(x) == reference.predict(x)) >= 0.99


def test_logistic_regression_loss_curve_is_the_penalised_objective():
    x, y = load_iris(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    l2 = 0.1
    model = LogisticRegression(lr=0.1, epochs=200, l2=l2).fit(x, y)
    curve = np.asarray(model.loss_curve_)
    assert len(curve) == 200
    assert curve[0] == pytest.approx(np.log(3))  # uniform predictions from zero weights
    assert np.all(np.diff(curve) < 0)  # lr is well below 2 / smoothness for standardized data
    # The last entry is the objective one step before the end; the penalty is ~0.12 of it.
    cross_entropy = -np.mean(model.predict_log_proba(x)[np.arange(len(y)), y])
    objective = cross_entropy + 0.5 * l2 * np.sum(model.coef_**2)
    assert curve[-1] == pytest.approx(objective, abs=1e-4)


def test_logistic_regression_minibatch_is_seeded_and_converges():
    x, y = load_iris(return_X_y=True)
    x = StandardScaler().fit_transform(x)

    def fit(seed, batch_size=32):
        return LogisticRegression(
            lr=0.1, epochs=300, l2=1e-2, batch_size=batch_size, random_state=seed
        ).fit(x, y)

    first, again, other = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(first.coef_, again.coef_)
    assert not np.array_equal(first.coef_, other.coef_)

    # One batch holding every sample is full-batch descent, whatever the shuffle.
    full = LogisticRegression(lr=0.1, epochs=300, l2=1e-2).fit(x, y)
    np.testing.assert_allclose(fit(0, batch_size=len(x)).coef_, full.coef_, rtol=1e-9)

    # Constant-step SGD hovers near the optimum; it should still get close to it.
    reference = SklearnLogisticRegression(C=1.0 / (1e-2 * len(x)), tol=1e-12, max_iter=100_000)
    reference.fit(x, y)
    np.testing.assert_allclose(first.predict_proba(x), reference.predict_proba(x), atol=0.1)
    assert np.mean(first.predict(x) == reference.predict(x)) >= 0.95


def test_logistic_regression_divergence_warns_and_keeps_finite_parameters():
    x, y = load_iris(return_X_y=True)
    # lr * l2 > 2 makes the weight decay factor (1 - lr * l2) exceed 1 in size: it explodes.
    model = LogisticRegression(lr=100.0, epochs=500, l2=1.0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.fit(x, y)
    assert 0 < len(model.loss_curve_) < 500
    assert np.all(np.isfinite(model.coef_))
    assert np.all(np.isfinite(model.predict_proba(x)))


def test_logistic_regression_needs_two_classes():
    x = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(x, np.zeros(10))


def test_constant_feature_warns_and_matches_fit_without_it():
    x, y = load_iris(return_X_y=True)
    with_constant = np.hstack([x, np.full((len(x), 1), 0.1)])
    for shared in (True, False):
        with pytest.warns(SingularCovarianceWarning, match="singular"):
            model = GaussianGenerative(shared_covariance=shared).fit(with_constant, y)
        # The constant feature carries no information; the small ridge barely moves the rest.
        plain = GaussianGenerative(shared_covariance=shared).fit(x, y)
        np.testing.assert_allclose(
            model.predict_proba(with_constant), plain.predict_proba(x), atol=1e-4
        )
        np.testing.assert_array_equal(model.predict(with_constant), plain.predict(x))


@pytest.mark.parametrize("shared", [True, False])
def test_fewer_samples_than_features_warns_and_predicts(shared):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 20))
    y = np.repeat([0, 1, 2], 4)
    x[y == 1] += 3.0
    model = GaussianGenerative(shared_covariance=shared, reg=1e-3)
    with pytest.warns(UserWarning, match="singular") as record:
        model.fit(x, y)
    assert len(record) == 1  # one warning per fit, naming every singular covariance
    if not shared:
        assert "class(es) 0, 1, 2" in str(record[0].message)
    assert np.all(model.ridge_ > 0)
    proba = model.predict_proba(x)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(x), y)


@pytest.mark.parametrize("shared", [True, False])
def test_redundant_features_warn_and_match_fit_without_them(shared):
    # With shuffle=False the last two features are linear combinations of the first four,
    # so the data lie in a 4-dimensional subspace and every covariance is singular.
    x, y = make_classification(
        n_samples=200, n_features=6, n_informative=4, n_redundant=2, shuffle=False, random_state=0
    )
    with pytest.warns(SingularCovarianceWarning, match="singular"):
        model = GaussianGenerative(shared_covariance=shared).fit(x, y)
    # The means lie in that subspace too, so the ridge barely changes the posterior.
    informative = GaussianGenerative(shared_covariance=shared).fit(x[:, :4], y)
    np.testing.assert_allclose(
        model.predict_proba(x), informative.predict_proba(x[:, :4]), atol=1e-4
    )
    np.testing.assert_array_equal(model.predict(x), informative.predict(x[:, :4]))


@pytest.mark.parametrize(
    "estimator, message",
    [
        (GaussianGenerative(shared_covariance="yes"), "shared_covariance must be True or False"),
        (GaussianGenerative(reg=0.0), "reg must be a real number > 0"),
        (GaussianNaiveBayes(var_smoothing=-1.0), "var_smoothing must be >= 0"),
        (LogisticRegression(lr=0.0), "lr must be a real number > 0"),
        (LogisticRegression(epochs=0), "epochs must be an integer >= 1"),
        (LogisticRegression(epochs=2.5), "epochs must be an integer >= 1"),
        (LogisticRegression(l2=-0.1), "l2 must be >= 0"),
        (LogisticRegression(batch_size=0), "batch_size must be an integer >= 1"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_bad_parameters_raise_in_fit(estimator, message):
    x, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=message):
        estimator.fit(x, y)


@pytest.mark.parametrize(
    "estimator",
    [
        GaussianGenerative(),
        GaussianGenerative(shared_covariance=False),
        GaussianNaiveBayes(),
        LogisticRegression(lr=0.5, epochs=300, l2=1e-3),
    ],
    ids=["lda", "qda", "naive_bayes", "logistic"],
)
def test_pipeline_and_cross_val_score(estimator):
    x, y = load_wine(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), estimator)
    scores = cross_val_score(pipeline, x, y, cv=5)
    assert scores.shape == (5,)
    assert scores.mean() > 0.9
    proba = pipeline.fit(x, y).predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_string_labels_round_trip():
    x, y = load_iris(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    species = np.array(["setosa", "versicolor", "virginica"])
    for estimator in (GaussianGenerative(), GaussianNaiveBayes(), LogisticRegression()):
        predicted = estimator.fit(x, species[y]).predict(x)
        np.testing.assert_array_equal(estimator.classes_, species)
        assert predicted.dtype == species.dtype
        assert np.mean(predicted == species[y]) > 0.9
