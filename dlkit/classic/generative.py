"""Probabilistic generative classifiers: Gaussian class densities and Bayes' rule.

References
----------
.. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer, 2006, section 4.2.
.. [2] T. Hastie, R. Tibshirani, J. Friedman, *The Elements of Statistical Learning*,
   2nd ed., Springer, 2009, section 4.3.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular

from dlkit.classic.base import PosteriorClassifier, check_positive, check_real_non_negative

_LOG_2PI = float(np.log(2.0 * np.pi))


class SingularCovarianceWarning(UserWarning):
    """A class covariance was singular and a ridge was added to its diagonal to fit anyway."""


def _data_scale(x: np.ndarray) -> float:
    """Mean per-feature variance of ``x``, shape (N, D); 1.0 if every feature is constant.

    Regularizers are multiples of this, so they act the same whatever the units of ``x``.
    """
    scale = float(np.var(x, axis=0).mean())
    return scale if scale > 0.0 else 1.0


class GaussianGenerative(PosteriorClassifier):
    """Probabilistic generative classifier with Gaussian class-conditional densities.

    Fits class priors ``pi_k`` (class frequencies), class means ``mu_k`` and covariances by
    maximum likelihood, then classifies by Bayes' rule,
    ``p(k | x) ∝ pi_k N(x; mu_k, Sigma_k)``.

    With ``shared_covariance=True`` every class uses the pooled covariance
    ``Sigma = (1/N) sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T`` (the maximum-likelihood estimate:
    the sum of the class scatters divided by N, not N - K). The quadratic terms cancel and
    ``log p(k | x) = w_k . x + b_k + const(x)`` with ``w_k = Sigma^{-1} mu_k`` and
    ``b_k = -mu_k^T Sigma^{-1} mu_k / 2 + log pi_k``: the same linear function set as logistic
    regression, with parameters computed in closed form instead of fitted. This is linear
    discriminant analysis; it equals scikit-learn's ``LinearDiscriminantAnalysis`` with
    ``solver="lsqr"`` or ``"eigen"`` and the default priors, whose covariance is the
    prior-weighted sum of the per-class maximum-likelihood covariances, i.e. the same matrix.

    With ``shared_covariance=False`` class ``k`` uses its own maximum-likelihood covariance
    ``Sigma_k = (1/N_k) sum_{i: y_i = k} (x_i - mu_k)(x_i - mu_k)^T`` and the boundaries are
    quadratic (quadratic discriminant analysis). scikit-learn 1.9's
    ``QuadraticDiscriminantAnalysis`` (both solvers) uses the same 1/N_k estimate.

    Densities are evaluated through Cholesky factors (triangular solves, no matrix inverse)
    and posteriors are normalised with log-sum-exp.

    A singular covariance (a constant or duplicated feature, or fewer samples than features)
    has no Gaussian density. Then ``reg`` times the mean feature variance of the training
    data is added to its diagonal and a :class:`SingularCovarianceWarning` (a ``UserWarning``)
    says so; a covariance that is not singular is used exactly as estimated.

    Parameters
    ----------
    shared_covariance : bool, default=True
        One pooled covariance for all classes (linear boundaries) or one per class
        (quadratic boundaries).
    reg : float, default=1e-6
        Ridge for singular covariances, relative to the mean feature variance of the
        training data (to 1 if every feature is constant). Must be > 0.

    Attributes
    ----------
    classes_ : ndarray, shape (K,)
        Class labels, sorted.
    priors_ : ndarray, shape (K,)
        Class frequencies in the training data.
    class_count_ : ndarray, shape (K,)
        Number of training samples per class.
    means_ : ndarray, shape (K, D)
        Class means.
    covariance_ : ndarray, shape (D, D) if ``shared_covariance`` else (K, D, D)
        The covariance(s) used, including any ridge.
    ridge_ : float if ``shared_covariance`` else ndarray, shape (K,)
        Ridge added to the diagonal of each covariance; 0 where none was needed.
    coef_ : ndarray, shape (K, D)
        Only if ``shared_covariance``: the linear weights ``w_k = Sigma^{-1} mu_k``.
    intercept_ : ndarray, shape (K,)
        Only if ``shared_covariance``: the biases ``b_k``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(self, shared_covariance=True, reg=1e-6):
        self.shared_covariance = shared_covariance
        self.reg = reg

    def fit(self, X, y):
        """Estimate priors, means and covariance(s) by maximum likelihood.

        Parameters
        ----------
        X : array-like, shape (N, D)
        y : array-like, shape (N,)
            Class labels (any hashable, sortable type).

        Returns
        -------
        self : GaussianGenerative
        """
        if not isinstance(self.shared_covariance, bool | np.bool_):
            raise ValueError(
                f"shared_covariance must be True or False, got {self.shared_covariance!r}"
            )
        reg = check_positive("reg", self.reg)
        x, y_index = self._validate_training_data(X, y)
        n_samples, n_features = x.shape
        n_classes = len(self.classes_)

        self.class_count_ = np.bincount(y_index, minlength=n_classes)
        self.priors_ = self.class_count_ / n_samples
        one_hot = np.eye(n_classes)[y_index]
        self.means_ = (one_hot.T @ x) / self.class_count_[:, None]
        centred = x - self.means_[y_index]
        ridge = reg * _data_scale(x)

        if self.shared_covariance:
            scatter = centred.T @ centred / n_samples
            self.covariance_, self.ridge_ = _regularize(scatter, ridge, n_samples)
            if self.ridge_ > 0:
                _warn_singular("the shared covariance", self.ridge_, reg)
            factor = cholesky(self.covariance_, lower=True)
            self.coef_ = cho_solve((factor, True), self.means_.T).T
            self.intercept_ = -0.5 * np.sum(self.means_ * self.coef_, axis=1) + np.log(self.priors_)
            return self

        covariances = np.empty((n_classes, n_features, n_features))
        ridges = np.zeros(n_classes)
        for k in range(n_classes):
            rows = centred[y_index == k]
            scatter = rows.T @ rows / len(rows)
            covariances[k], ridges[k] = _regularize(scatter, ridge, len(rows))
        singular = np.flatnonzero(ridges > 0)
        if singular.size:
            names = ", ".join(repr(c) for c in self.classes_[singular].tolist())
            _warn_singular(f"the covariance of class(es) {names}", ridge, reg)
        self.covariance_ = covariances
        self.ridge_ = ridges
        self._cholesky = np.stack([cholesky(c, lower=True) for c in covariances])
        return self

    def _class_scores(self, x: np.ndarray) -> np.ndarray:
        """Log posterior up to a per-sample constant, shape (N, K), from ``x`` (N, D)."""
        if self.shared_covariance:
            # The common quadratic term x^T Sigma^{-1} x and the normaliser cancel in the
            # posterior, so the linear part alone is the score.
            return x @ self.coef_.T + self.intercept_
        n_features = x.shape[1]
        scores = np.empty((x.shape[0], len(self.classes_)))
        for k, factor in enumerate(self._cholesky):
            whitened = solve_triangular(factor, (x - self.means_[k]).T, lower=True)
            log_det = 2.0 * np.sum(np.log(np.diag(factor)))
            mahalanobis = np.sum(whitened**2, axis=0)
            scores[:, k] = -0.5 * (mahalanobis + log_det + n_features * _LOG_2PI)
        return scores + np.log(self.priors_)


def _regularize(covariance: np.ndarray, ridge: float, n_samples: int):
    """Add ``ridge`` to the diagonal of ``covariance`` (D, D) if it is numerically singular.

    Returns the covariance to use, shape (D, D), and the ridge added (0.0 if none).
    Singular means an eigenvalue below ``max(N, D) * eps`` times the largest, NumPy's
    ``matrix_rank`` rule: there the Cholesky factor would be meaningless or fail.
    """
    eigenvalues = np.linalg.eigvalsh(covariance)
    tolerance = max(n_samples, covariance.shape[0]) * np.finfo(np.float64).eps
    if eigenvalues[0] > tolerance * eigenvalues[-1]:
        return covariance, 0.0
    return covariance + ridge * np.eye(covariance.shape[0]), ridge


def _warn_singular(what: str, ridge: float, reg: float) -> None:
    warnings.warn(
        f"{what} is singular (a constant or duplicated feature, or fewer samples than "
        f"features); added {ridge:.3g} (reg={reg:g} times the mean feature variance) to "
        "its diagonal",
        SingularCovarianceWarning,
        stacklevel=3,
    )


class GaussianNaiveBayes(PosteriorClassifier):
    """Gaussian naive Bayes: the generative classifier with diagonal class covariances.

    Each feature is modelled as an independent Gaussian per class. Variances are the
    maximum-likelihood (1/N_k) estimates plus ``epsilon_ = var_smoothing`` times the largest
    feature variance of the training data, so a feature that is constant within a class
    does not divide by zero. This is the model and the smoothing of scikit-learn's
    ``GaussianNB`` (without ``priors`` or ``partial_fit``); unlike it, a training set whose
    features are all constant smooths with ``var_smoothing`` itself instead of 0.

    Parameters
    ----------
    var_smoothing : float, default=1e-9
        Fraction of the largest feature variance added to every variance. Must be >= 0.

    Attributes
    ----------
    classes_ : ndarray, shape (K,)
        Class labels, sorted.
    class_count_ : ndarray, shape (K,)
        Number of training samples per class.
    class_prior_ : ndarray, shape (K,)
        Class frequencies in the training data.
    theta_ : ndarray, shape (K, D)
        Per-class feature means.
    var_ : ndarray, shape (K, D)
        Per-class feature variances, smoothing included.
    epsilon_ : float
        The smoothing added to every variance.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(self, var_smoothing=1e-9):
        self.var_smoothing = var_smoothing

    def fit(self, X, y):
        """Estimate per-class feature means and variances.

        Parameters
        ----------
        X : array-like, shape (N, D)
        y : array-like, shape (N,)

        Returns
        -------
        self : GaussianNaiveBayes
        """
        var_smoothing = check_real_non_negative("var_smoothing", self.var_smoothing)
        x, y_index = self._validate_training_data(X, y)
        n_classes = len(self.classes_)
        largest = float(np.var(x, axis=0).max())
        self.epsilon_ = var_smoothing * (largest if largest > 0.0 else 1.0)
        self.class_count_ = np.bincount(y_index, minlength=n_classes)
        self.class_prior_ = self.class_count_ / x.shape[0]
        self.theta_ = np.stack([x[y_index == k].mean(axis=0) for k in range(n_classes)])
        self.var_ = np.stack([x[y_index == k].var(axis=0) for k in range(n_classes)])
        self.var_ += self.epsilon_
        return self

    def _class_scores(self, x: np.ndarray) -> np.ndarray:
        """Log joint ``log p(x, k)``, shape (N, K), from ``x`` (N, D)."""
        log_norm = -0.5 * np.sum(np.log(2.0 * np.pi * self.var_), axis=1)
        squared = (x[:, None, :] - self.theta_[None, :, :]) ** 2 / self.var_[None, :, :]
        return np.log(self.class_prior_) + log_norm - 0.5 * np.sum(squared, axis=2)
