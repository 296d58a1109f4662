"""Shape-only layers."""

from __future__ import annotations

import numpy as np

from dlkit.nn.base import Layer, check_array_input


class Flatten(Layer):
    """Flatten every axis but the first: x (N, d1, d2, ...) -> y (N, d1 * d2 * ...)."""

    def __init__(self):
        self._shape = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._shape is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        return dy.reshape(self._shape)
