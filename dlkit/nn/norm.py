"""Batch normalization and layer normalization."""

from __future__ import annotations

import numpy as np

from dlkit.nn.base import DTYPE, Layer, Parameter, check_array_input
from dlkit.nn.dense import check_input
from dlkit.validation import check_int, check_non_negative, check_range


class BatchNorm1d(Layer):
    """Batch normalization over the batch axis (Ioffe & Szegedy 2015).

    In training, each feature is normalised with the batch mean and (biased) variance and
    the running statistics are updated as in PyTorch:
    ``running = (1 - momentum) * running + momentum * batch_stat``, where the running variance
    uses the unbiased batch variance. In evaluation the running statistics are used.

    Parameters
    ----------
    num_features : int
        C, the number of features (channels).
    momentum : float
        Weight of the newest batch in the running statistics.
    eps : float
        Added to the variance for numerical stability.

    Attributes
    ----------
    gamma, beta : Parameter, shape (C,)
        Learnable scale (initialised to 1) and shift (initialised to 0).
    running_mean, running_var : ndarray, shape (C,)

    Shapes
    ------
    x (N, C) or (N, C, L) -> y of the same shape; statistics over N (and L).
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5):
        self.num_features = check_int("num_features", num_features, 1)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0, high_inclusive=True)
        self.eps = check_non_negative("eps", eps)
        self.gamma = Parameter(np.ones(self.num_features, DTYPE), "gamma")
        self.beta = Parameter(np.zeros(self.num_features, DTYPE), "beta")
        self.running_mean = np.zeros(self.num_features, DTYPE)
        self.running_var = np.ones(self.num_features, DTYPE)
        self._cache = None

    def _axes_and_view(self, x):
        if x.ndim == 2:
            check_input(self, x, (None, self.num_features))
            return (0,), (1, -1)
        check_input(self, x, (None, self.num_features, None))
        return (0, 2), (1, -1, 1)

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        axes, view = self._axes_and_view(x)
        gamma = self.gamma.data.reshape(view)
        beta = self.beta.data.reshape(view)
        if train:
            n = x.size // self.num_features
            if n < 2:
                raise ValueError(
                    f"{self!r} needs more than 1 value per feature in training, got input "
                    f"of shape {tuple(x.shape)}"
                )
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(view)
            var = np.mean(xc * xc, axis=axes)
            inv_std = 1.0 / np.sqrt(var + np.asarray(self.eps, var.dtype))
            xhat = xc * inv_std.reshape(view)
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += (m * mean).astype(self.running_mean.dtype)
            self.running_var *= 1 - m
            self.running_var += (m * var * (n / (n - 1))).astype(self.running_var.dtype)
            self._cache = (xhat, inv_std, axes, view, n)
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + np.asarray(self.eps, DTYPE))
            xhat = (x - self.running_mean.reshape(view)) * inv_std.reshape(view).astype(x.dtype)
            self._cache = (xhat, inv_std.astype(x.dtype), axes, view, None)
        return xhat * gamma + beta

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        xhat, inv_std, axes, view, n = self._cache
        self.gamma.grad += np.sum(dy * xhat, axis=axes)
        self.beta.grad += dy.sum(axis=axes)
        dxhat = dy * self.gamma.data.reshape(view)
        if n is None:
            return dxhat * inv_std.reshape(view)
        # d/dx of (x - mean) / std with batch statistics (Ioffe & Szegedy 2015, eq. in sec. 3)
        mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
        mean_dxhat_xhat = np.mean(dxhat * xhat, axis=axes, keepdims=True)
        return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * inv_std.reshape(view)

    def parameters(self) -> list[Parameter]:
        return [self.gamma, self.beta]

    def __repr__(self) -> str:
        return f"BatchNorm1d({self.num_features}, momentum={self.momentum}, eps={self.eps})"


class LayerNorm(Layer):
    """Layer normalization over the last axis (Ba, Kiros & Hinton 2016).

    Parameters
    ----------
    num_features : int
        D, the size of the last axis.
    eps : float
        Added to the variance for numerical stability.

    Attributes
    ----------
    gamma, beta : Parameter, shape (D,)

    Shapes
    ------
    x (..., D) -> y of the same shape; statistics per sample over D.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        self.num_features = check_int("num_features", num_features, 1)
        self.eps = check_non_negative("eps", eps)
        self.gamma = Parameter(np.ones(self.num_features, DTYPE), "gamma")
        self.beta = Parameter(np.zeros(self.num_features, DTYPE), "beta")
        self._cache = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        if x.ndim < 1 or x.shape[-1] != self.num_features:
            raise ValueError(
                f"{self!r} expects input of shape (..., {self.num_features}), got {tuple(x.shape)}"
            )
        mean = x.mean(axis=-1, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + np.asarray(self.eps, var.dtype))
        xhat = xc * inv_std
        self._cache = (xhat, inv_std)
        return xhat * self.gamma.data + self.beta.data

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        xhat, inv_std = self._cache
        lead = tuple(range(dy.ndim - 1))
        self.gamma.grad += np.sum(dy * xhat, axis=lead)
        self.beta.grad += dy.sum(axis=lead)
        dxhat = dy * self.gamma.data
        mean_dxhat = dxhat.mean(axis=-1, keepdims=True)
        mean_dxhat_xhat = np.mean(dxhat * xhat, axis=-1, keepdims=True)
        return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * inv_std

    def parameters(self) -> list[Parameter]:
        return [self.gamma, self.beta]

    def __repr__(self) -> str:
        return f"LayerNorm({self.num_features}, eps={self.eps})"
