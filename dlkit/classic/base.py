"""What every classic estimator shares: the prediction methods derived from one per-class
score, and the checks of hyper-parameters that ``fit`` runs."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from dlkit.validation import check_non_negative


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a real number > 0, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a real number > 0, got {value!r}")
    return float(value)


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an integer >= 1, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_real_non_negative(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a real number >= 0, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}")
    return float(check_non_negative(name, value))


class PosteriorClassifier(ClassifierMixin, BaseEstimator):
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
