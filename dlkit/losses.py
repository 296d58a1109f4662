"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dpred``.

Values and reductions are those of ``torch.nn``'s losses with ``reduction="mean"``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from dlkit.validation import check_choice


def _check_probabilities(loss, target: np.ndarray, name: str) -> None:
    """Raise a ValueError unless every entry of ``target`` is in [0, 1] (NaN fails too).

    torch accepts any float target here and returns a meaningless loss (a negative
    cross-entropy, a binary cross-entropy "for" a target of 2), so this is stricter than torch.
    """
    if target.size and not (target.min() >= 0 and target.max() <= 1):
        raise ValueError(
            f"{type(loss).__name__}: {name} must hold probabilities in [0, 1], got values in "
            f"[{float(target.min())!r}, {float(target.max())!r}]"
        )


def _check_same_shape(loss, pred: np.ndarray, target: np.ndarray) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{type(loss).__name__}: prediction shape {tuple(pred.shape)} does not match "
            f"target shape {tuple(target.shape)}"
        )


class Loss:
    """Base class: call ``forward`` then ``backward`` (which uses what forward cached)."""

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> float:
        return self.forward(pred, target)

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:  # pragma: no cover
        raise NotImplementedError

    def backward(self) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def check_target(self, target: np.ndarray, name: str = "target") -> None:
        """Raise a ValueError naming ``name`` if ``target`` can never be a valid target.

        ``fit`` and ``evaluate`` call it once on the whole ``y`` (and ``y_val``), so a bad
        label fails before training, naming the argument. The checks that need the
        predictions (shapes, the number of classes) stay in ``forward``. The base class
        accepts every numeric target.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error over every element: ``mean((pred - target) ** 2)``.

    Shapes
    ------
    pred, target : any identical shape, e.g. (N, D); backward returns (N, D).
    """

    def forward(self, pred, target):
        target = np.asarray(target, dtype=pred.dtype)
        _check_same_shape(self, pred, target)
        self._diff = pred - target
        return float(np.sum(self._diff * self._diff)) / self._diff.size

    def backward(self):
        d = self._diff
        return d * np.asarray(2.0 / d.size, d.dtype)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy on logits, fused and numerically stable.

    ``loss = mean_i [logsumexp(z_i) - z_i[y_i]]`` with the max subtracted before
    exponentiating, so logits of +-1000 give finite values and gradients. The gradient is
    ``(softmax(z) - onehot(y)) / N``.

    Shapes
    ------
    pred : (N, C) logits.
    target : (N,) integer class labels in [0, C), or (N, C) class probabilities in [0, 1]
        (as ``torch.nn.CrossEntropyLoss`` accepts; rows need not sum to 1, as in torch, but
        entries outside [0, 1], which torch silently accepts, are refused).
    """

    def check_target(self, target, name="target"):
        if target.ndim == 1:
            if target.dtype.kind not in "iu":
                raise ValueError(
                    f"CrossEntropyLoss: {name} of shape (N,) must hold integer class labels, "
                    f"got dtype {target.dtype} (cast with {name}.astype(np.int64); class "
                    "probabilities have shape (N, C))"
                )
            if target.size and target.min() < 0:
                raise ValueError(
                    f"CrossEntropyLoss: {name} must hold class labels >= 0, "
                    f"got {int(target.min())!r}"
                )
        elif target.ndim == 2:
            if target.dtype.kind in "biu" and target.shape[1] == 1:
                raise ValueError(
                    f"CrossEntropyLoss: {name} must be class labels of shape (N,) or class "
                    f"probabilities of shape (N, C), got integer labels of shape "
                    f"{target.shape} (use {name}.ravel())"
                )
            _check_probabilities(self, target, name)
        else:
            raise ValueError(
                f"CrossEntropyLoss: {name} must be class labels of shape (N,) or class "
                f"probabilities of shape (N, C), got shape {target.shape}"
            )

    def forward(self, pred, target):
        if pred.ndim != 2:
            raise ValueError(
                f"CrossEntropyLoss expects logits of shape (N, C), got {tuple(pred.shape)}"
            )
        target = np.asarray(target)
        n, c = pred.shape
        z = pred - pred.max(axis=1, keepdims=True)
        p = np.exp(z)
        s = p.sum(axis=1, keepdims=True)
        logsum = np.log(s)
        p /= s
        if target.ndim == 1 and target.dtype.kind in "iu":
            if target.shape[0] != n:
                raise ValueError(f"CrossEntropyLoss: {n} logit rows but {target.shape[0]} labels")
            if n and (target.min() < 0 or target.max() >= c):
                raise ValueError(
                    f"CrossEntropyLoss: labels must be in [0, {c}), got range "
                    f"[{target.min()}, {target.max()}]"
                )
            rows = np.arange(n)
            # sums divided by n rather than np.mean: on a (100, 10) batch np.mean's own
            # overhead costs more than the arithmetic
            loss = (float(logsum.sum()) - float(z[rows, target].sum())) / n
            p[rows, target] -= 1
        else:
            if target.shape != pred.shape:
                raise ValueError(
                    f"CrossEntropyLoss: target must be integer class labels of shape ({n},) "
                    f"or class probabilities of the logits' shape {pred.shape}, got shape "
                    f"{target.shape} and dtype {target.dtype}"
                    + (" (cast labels with .astype(np.int64))" if target.ndim == 1 else "")
                )
            target = target.astype(pred.dtype, copy=False)
            _check_probabilities(self, target, "target")
            loss = float(np.sum(target * (logsum - z))) / n
            # d/dz of sum_j t_j (logsumexp(z) - z_j) is softmax(z) * sum(t) - t: rows of soft
            # targets need not sum to 1 (torch accepts them).
            p *= target.sum(axis=1, keepdims=True)
            p -= target
        p *= np.asarray(1.0 / n, p.dtype)
        self._grad = p
        return float(loss)

    def backward(self):
        return self._grad.copy()


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits: ``mean(max(z, 0) - z t + log(1 + exp(-|z|)))``.

    The stable form never evaluates ``log(sigmoid(z))`` directly; the gradient is
    ``(sigmoid(z) - t) / numel``.

    Shapes
    ------
    pred, target : identical shapes, e.g. (N,) or (N, D); targets in [0, 1] (torch accepts
        any value; outside [0, 1] the loss means nothing, so it is refused here).
    """

    def check_target(self, target, name="target"):
        _check_probabilities(self, target, name)

    def forward(self, pred, target):
        target = np.asarray(target, dtype=pred.dtype)
        _check_same_shape(self, pred, target)
        _check_probabilities(self, target, "target")
        loss = np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))
        self._pred, self._target = pred, target
        return float(np.mean(loss))

    def backward(self):
        d = expit(self._pred) - self._target
        d *= np.asarray(1.0 / d.size, d.dtype)
        return d


LOSSES = {"mse": MSELoss, "cross_entropy": CrossEntropyLoss, "bce_with_logits": BCEWithLogitsLoss}


def build(name: str) -> Loss:
    """Build a loss from its lower-case name: ``mse``, ``cross_entropy``, ``bce_with_logits``."""
    return LOSSES[check_choice("loss", name, LOSSES)]()
