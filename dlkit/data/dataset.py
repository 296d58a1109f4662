"""The :class:`Dataset` every loader returns, and its stratified validation split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dlkit.validation import check_fraction, check_generator

# What a loader returns: unscaled float64 or float32 arrays X (N_train, D), y (N_train,),
# X_test (N_test, D), y_test (N_test,), plus the dataset-specific part of ``meta``.
Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


class ValidationSplit(NamedTuple):
    """A train/validation split of a dataset's training part (unpacks as a 4-tuple)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split with its metadata, as returned by :func:`load`.

    Attributes
    ----------
    X_train : ndarray, shape (N_train, D), float32
        Training features, scaled with statistics of these rows only.
    y_train : ndarray, shape (N_train,), int64
        Training labels in ``0 .. n_classes - 1``.
    X_test : ndarray, shape (N_test, D), float32
        Test features, scaled with the *training* statistics.
    y_test : ndarray, shape (N_test,), int64
        Test labels.
    n_classes : int
        Number of classes.
    name : str
        The name passed to :func:`load`.
    meta : dict
        JSON-serialisable description: ``source``, ``n_train``, ``n_test``, ``seed``,
        ``test_size``, ``scaling``, ``class_names`` and, for generated sets, ``options`` (the
        effective generator arguments).
    scaler : StandardScaler or MinMaxScaler or None
        The fitted scikit-learn scaler (fitted in float64 on the unscaled training rows), to
        transform new data the same way; ``None`` for ``scale="none"``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    scaler: StandardScaler | MinMaxScaler | None = None

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return int(self.X_train.shape[1])

    def split_validation(self, fraction: float, rng: np.random.Generator) -> ValidationSplit:
        """Split the training part into train and validation rows, stratified by class.

        The test set is never touched. The rows keep the scaling of the whole training part
        (one scaler for train, validation and test, so a model sees every split in the same
        units); the validation rows therefore took part in fitting that scaler, as with
        Keras' ``validation_split``.

        Parameters
        ----------
        fraction : float
            Fraction of the training rows that go to validation, in (0, 1).
        rng : numpy.random.Generator
            Source of the split's randomness.

        Returns
        -------
        ValidationSplit
            ``(X_train, y_train, X_val, y_val)`` with shapes (N_train - N_val, D),
            (N_train - N_val,), (N_val, D), (N_val,), where N_val = ceil(fraction * N_train).
        """
        check_fraction("fraction", fraction)
        check_generator(rng)
        X_tr, X_val, y_tr, y_val = train_test_split(
            self.X_train,
            self.y_train,
            test_size=fraction,
            random_state=_sklearn_seed(rng),
            stratify=self.y_train,
        )
        return ValidationSplit(X_tr, y_tr, X_val, y_val)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, X_train={self.X_train.shape}, "
            f"X_test={self.X_test.shape}, n_classes={self.n_classes}, "
            f"scaling={self.meta.get('scaling')!r})"
        )


def _sklearn_seed(rng: np.random.Generator) -> int:
    # scikit-learn takes an int seed (< 2**32) rather than a Generator.
    return int(rng.integers(0, 2**32))
