"""Logistic regression, the discriminative model, trained by gradient descent in NumPy.

References
----------
.. [1] C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer, 2006, section 4.3.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.exceptions import ConvergenceWarning

from dlkit.classic.base import (
    PosteriorClassifier,
    check_positive,
    check_positive_int,
    check_real_non_negative,
)


class LogisticRegression(PosteriorClassifier):
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
        lr = check_positive("lr", self.lr)
        epochs = check_positive_int("epochs", self.epochs)
        l2 = check_real_non_negative("l2", self.l2)
        if self.batch_size is not None:
            check_positive_int("batch_size", self.batch_size)
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
