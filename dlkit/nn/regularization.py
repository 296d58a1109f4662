"""Dropout."""

from __future__ import annotations

import numpy as np

from dlkit.nn.base import Layer, check_array_input
from dlkit.validation import check_generator, check_range


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training each unit is zeroed with
    probability ``p`` and the survivors are scaled by ``1 / (1 - p)``, so evaluation is the
    identity and needs no rescaling.

    Parameters
    ----------
    p : float in [0, 1)
        Probability of *dropping* a unit (PyTorch's convention).
    rng : numpy.random.Generator, optional
        Source of the masks; None draws fresh OS entropy.

    Shapes
    ------
    Any shape: x (N, ...) -> y of the same shape.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None):
        self.p = check_range("dropout p", p, 0.0, 1.0)
        self.rng = np.random.default_rng() if rng is None else check_generator(rng)
        self._mask = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        if not train or self.p == 0.0:
            self._mask = None
            return x.copy()
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self._mask = keep.astype(x.dtype)
        self._mask *= np.asarray(1.0 / (1.0 - self.p), x.dtype)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.copy() if self._mask is None else dy * self._mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
