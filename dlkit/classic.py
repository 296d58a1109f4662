"""Classic probabilistic classifiers as scikit-learn estimators.

Three models from the generative-versus-discriminative chapter of Hung-yi Lee's machine
learning course, written out in NumPy so that each can be checked against scikit-learn:

- :class:`GaussianGenerative` models ``p(x | k)`` as a Gaussian per class and classifies by
  Bayes' rule. With a shared covariance the log-odds are linear in ``x`` (it is linear
  discriminant analysis with the maximum-likelihood covariance); with one covariance per
  class they are quadratic (quadratic discriminant analysis).
- :class:`GaussianNaiveBayes` is the same model with diagonal per-class covariances.
- :class:`LogisticRegression` fits the posterior ``p(k | x)`` directly (the discriminative
  model with the same linear function set) by gradient descent on the cross-entropy.

All three follow the scikit-learn estimator contract: constructors only store their
arguments, ``fit`` validates and returns ``self``, fitted state ends with ``_``, and they
work in ``Pipeline`` and ``cross_val_score``. They compute in float64: the models are small,
and float64 lets the tests compare them with scikit-learn to many digits.

References
----------
.. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer, 2006,
   sections 4.2 (probabilistic generative models) and 4.3 (logistic regression).
.. [2] T. Hastie, R. Tibshirani, J. Friedman, *The Elements of Statistical Learning*,
   2nd ed., Springer, 2009, section 4.3 (linear and quadratic discriminant analysis).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.special import expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from dlkit.validation import check_non_negative

__all__ = [
    "GaussianGenerative",
    "GaussianNaiveBayes",
    "LogisticRegression",
    "SingularCovarianceWarning",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


class SingularCovarianceWarning(UserWarning):
    """A class covariance was singular and a ridge was added to its diagonal to fit anyway."""


def _check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a real number > 0, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a real number > 0, got {value!r}")
    return float(value)


def _check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 1, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _check_real_non_negative(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a real number >= 0, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}")
    return float(check_non_negative(name, value))


def _data_scale(x: np.ndarray) -> float:
    """Mean per-feature variance of ``x``, shape (N, D); 1.0 if every feature is constant.

    Regularizers are multiples of this, so they act the same whatever the units of ``x``.
    """
    scale = float(np.var(x, axis=0).mean())
    return scale if scale > 0.0 else 1.0


class _PosteriorClassifier(ClassifierMixin, BaseEstimator):
    """Shared prediction methods for classifiers that score each class by a log posterior.

    Subclasses implement ``_class_scores(x)``: the log posterior ``log p(k | x)`` of every
    class up to a term that depends on the sample only, shape (N, K). Everything else
    (probabilities, labels, the decision function) is derived from it in one place, so the
    methods always agree with each other.
    """

    def _validate_training_data(self, x, y):
        """Validate ``x``, ``y`` for ``fit``; set ``classes_``; return x (N, D), class ids (N,)."""
        x, y = validate_data(self, x, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        return x, y_index

    def _validate_prediction_data(self, x) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, x, reset=False, dtype=np.float64)

    def decision_function(self, X):
        """Per-class scores: log posteriors up to a per-sample constant.

        Parameters
        ----------
        X : array-like, shape (N, D)

        Returns
        -------
        scores : ndarray, shape (N,) for two classes, else (N, K)
            With two classes, the log-odds ``log p(classes_[1] | x) - log p(classes_[0] | x)``,
            positive where ``classes_[1]`` is predicted (the scikit-learn convention).
        """
        scores = self._class_scores(self._validate_prediction_data(X))
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_log_proba(self, X):
        """Log posterior probabilities, normalised with log-sum-exp so none overflows.

        Parameters
        ----------
        X : array-like, shape (N, D)

        Returns
        -------
        log_proba : ndarray, shape (N, K)
            Columns in the order of ``classes_``.
        """
        scores = self._class_scores(self._validate_prediction_data(X))
        return scores - logsumexp(scores, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Posterior probabilities ``p(k | x)``.

        Parameters
        ----------
        X : array-like, shape (N, D)

        Returns
        -------
        proba : ndarray, shape (N, K)
            Rows sum to one; columns in the order of ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like, shape (N, D)

        Returns
        -------
        labels : ndarray, shape (N,)
            Elements of ``classes_``.
        """
        scores = self._class_scores(self._validate_prediction_data(X))
        return self.classes_[np.argmax(scores, axis=1)]


class GaussianGenerative(_PosteriorClassifier):
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
        reg = _check_positive("reg", self.reg)
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


class GaussianNaiveBayes(_PosteriorClassifier):
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
        var_smoothing = _check_real_non_negative("var_smoothing", self.var_smoothing)
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


class LogisticRegression(_PosteriorClassifier):
    """Logistic regression trained by (mini-batch) gradient descent in NumPy.

    The discriminative counterpart of :class:`GaussianGenerative`: the same linear function
    set, with weights fitted to maximise the likelihood of the labels directly. It minimises

    ``L(W, b) = mean_i CE(softmax(x_i W + b), y_i) + (l2 / 2) * ||W||_F^2``

    (the intercept ``b`` is not penalised) by plain gradient descent from zero weights, for
    a fixed number of epochs. With K > 2 classes the model is multinomial: ``W`` has one
    column per class. With two classes it is the sigmoid model: one column ``w``, with
    ``p(classes_[1] | x) = sigmoid(x . w + b)`` (equivalently a softmax over the logits
    ``(0, x . w + b)``). Those are the parametrisations of scikit-learn's
    ``LogisticRegression``, whose objective is ``C * sum_i CE_i + ||W||^2 / 2``; dividing it
    by ``C * N`` shows that the two have the same minimiser when ``C = 1 / (l2 * N)``.

    Training is in float64. Each epoch is one full-batch step if ``batch_size`` is None, else
    one pass over a fresh random permutation in batches of ``batch_size`` (the last one
    smaller), with the mean loss of the batch plus the same penalty. If the loss becomes
    non-finite (the learning rate is too large), training stops, the parameters of the last
    finished epoch are kept and a ``ConvergenceWarning`` is emitted.

    Parameters
    ----------
    lr : float, default=0.1
        Learning rate (step size). Must be > 0.
    epochs : int, default=100
        Passes over the training data. Must be >= 1.
    l2 : float, default=0.0
        Strength of the L2 penalty ``(l2 / 2) ||W||^2`` on the weights. Must be >= 0.
    batch_size : int or None, default=None
        Mini-batch size; None for full-batch gradient descent.
    random_state : int, numpy.random.Generator or None, default=None
        Source of the mini-batch shuffles, passed to ``np.random.default_rng``: an int seeds
        a new generator in every ``fit`` (same seed, same model), None draws fresh entropy, and
        a Generator is used as is, so refitting continues its stream. Unused for full-batch
        training, which is deterministic.

    Attributes
    ----------
    classes_ : ndarray, shape (K,)
        Class labels, sorted.
    coef_ : ndarray, shape (1, D) for two classes, else (K, D)
        Weights (the transpose of ``W``), as in scikit-learn.
    intercept_ : ndarray, shape (1,) for two classes, else (K,)
        Biases.
    loss_curve_ : list of float
        Penalised training loss per epoch: the mean over the epoch's batches, each evaluated
        before its update.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(self, lr=0.1, epochs=100, l2=0.0, batch_size=None, random_state=None):
        self.lr = lr
        self.epochs = epochs
        self.l2 = l2
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y):
        """Minimise the penalised cross-entropy by gradient descent.

        Parameters
        ----------
        X : array-like, shape (N, D)
        y : array-like, shape (N,)
            Class labels; at least two classes.

        Returns
        -------
        self : LogisticRegression
        """
        lr = _check_positive("lr", self.lr)
        epochs = _check_positive_int("epochs", self.epochs)
        l2 = _check_real_non_negative("l2", self.l2)
        if self.batch_size is not None:
            _check_positive_int("batch_size", self.batch_size)
        x, y_index = self._validate_training_data(X, y)
        n_samples, n_features = x.shape
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"LogisticRegression needs samples of at least 2 classes; got 1 class: "
                f"{self.classes_.tolist()!r}"
            )
        binary = n_classes == 2
        targets = y_index[:, None].astype(np.float64) if binary else np.eye(n_classes)[y_index]
        batch_size = n_samples if self.batch_size is None else min(self.batch_size, n_samples)
        rng = np.random.default_rng(self.random_state)

        weight = np.zeros((n_features, targets.shape[1]))
        bias = np.zeros(targets.shape[1])
        self.loss_curve_ = []
        # Overflow in a diverging run is detected below and reported once as a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(epochs):
                start_weight, start_bias = weight.copy(), bias.copy()
                order = (
                    np.arange(n_samples) if self.batch_size is None else rng.permutation(n_samples)
                )
                batch_losses = []
                for begin in range(0, n_samples, batch_size):
                    rows = order[begin : begin + batch_size]
                    loss, grad_logits = _cross_entropy(
                        x[rows] @ weight + bias, targets[rows], binary
                    )
                    batch_losses.append(loss + 0.5 * l2 * np.sum(weight**2))
                    weight -= lr * (x[rows].T @ grad_logits + l2 * weight)
                    bias -= lr * grad_logits.sum(axis=0)
                epoch_loss = float(np.mean(batch_losses))
                if not (np.isfinite(epoch_loss) and np.all(np.isfinite(weight))):
                    weight, bias = start_weight, start_bias
                    warnings.warn(
                        f"training diverged in epoch {epoch + 1} (non-finite loss); lr={lr:g} "
                        f"is too large; keeping the parameters after epoch {epoch}",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
                    break
                self.loss_curve_.append(epoch_loss)
        self.coef_ = weight.T.copy()
        self.intercept_ = bias
        return self

    def _class_scores(self, x: np.ndarray) -> np.ndarray:
        """Logits, shape (N, K), from ``x`` (N, D); a leading zero column for two classes."""
        logits = x @ self.coef_.T + self.intercept_
        if len(self.classes_) == 2:
            return np.hstack([np.zeros_like(logits), logits])
        return logits


def _cross_entropy(logits: np.ndarray, targets: np.ndarray, binary: bool):
    """Mean cross-entropy of a batch and its gradient with respect to the logits.

    Parameters
    ----------
    logits : ndarray, shape (B, 1) if ``binary`` else (B, K)
    targets : ndarray, same shape as ``logits``
        The positive-class indicator (binary) or one-hot labels.
    binary : bool
        Sigmoid (one logit) instead of softmax.

    Returns
    -------
    loss : float
    grad : ndarray, same shape as ``logits``
        ``(p - t) / B``, the gradient of the mean loss for both link functions.
    """
    batch = logits.shape[0]
    if binary:
        # log(1 + e^z) - t z is the sigmoid cross-entropy without overflow for large |z|.
        loss = np.sum(np.logaddexp(0.0, logits) - targets * logits) / batch
        probabilities = expit(logits)
    else:
        log_probabilities = logits - logsumexp(logits, axis=1, keepdims=True)
        loss = -np.sum(targets * log_probabilities) / batch
        probabilities = np.exp(log_probabilities)
    return float(loss), (probabilities - targets) / batch
