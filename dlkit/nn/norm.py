"""Normalization layers as ``torch.nn``: batch, group, instance and layer normalization.

Every layer here standardizes ``x`` over some axes, ``xhat = (x - mean) / sqrt(var + eps)``
with the *biased* variance, then applies a learnable per-channel (per-feature) scale
``gamma`` and shift ``beta`` (torch's ``weight`` and ``bias``):

- :class:`BatchNorm1d`, :class:`BatchNorm2d` (Ioffe & Szegedy 2015): statistics per channel
  over the batch and the spatial axes; running statistics for evaluation;
- :class:`GroupNorm` (Wu & He 2018): statistics per sample over groups of channels;
- :class:`InstanceNorm1d`, :class:`InstanceNorm2d` (Ulyanov et al. 2016): statistics per
  sample and channel over the spatial axes (GroupNorm with one channel per group);
- :class:`LayerNorm` (Ba, Kiros & Hinton 2016): statistics per sample over the trailing
  ``normalized_shape`` axes.

The backward pass of a standardization over axes ``A`` (m elements each) is
``dx = (dxhat - mean_A(dxhat) - xhat * mean_A(dxhat * xhat)) / sqrt(var + eps)``.
"""

from __future__ import annotations

import numpy as np

from dlkit.nn.base import DTYPE, Layer, Parameter, check_array_input
from dlkit.validation import check_bool, check_int, check_non_negative, check_range


def _standardize(x: np.ndarray, axes: tuple, eps: float):
    """``(xhat, inv_std, mean, var)`` of ``x`` over ``axes`` (biased variance, kept dims)."""
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + np.asarray(eps, var.dtype))
    return xc * inv_std, inv_std, mean, var


def _standardize_backward(dxhat, xhat, inv_std, axes: tuple) -> np.ndarray:
    """Input gradient of :func:`_standardize` given the gradient of ``xhat``."""
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = np.mean(dxhat * xhat, axis=axes, keepdims=True)
    return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * inv_std


def _check_momentum(momentum: object) -> float | None:
    """None (a cumulative average, as torch) or a number in [0, 1]."""
    if momentum is None:
        return None
    return check_range("momentum", momentum, 0.0, 1.0, high_inclusive=True)


class _Affine(Layer):
    """Shared parts: the optional per-channel ``gamma`` and ``beta`` and their gradients."""

    gamma: Parameter | None
    beta: Parameter | None

    def _setup_channels(
        self, num_features: int, eps: float, momentum, affine: bool, track_running_stats: bool
    ) -> None:
        """Check and keep the per-channel settings of BatchNorm / InstanceNorm, make the affine
        parameters and the running statistics (when tracked)."""
        self.num_features = check_int("num_features", num_features, 1)
        self.eps = check_non_negative("eps", eps)
        self.momentum = _check_momentum(momentum)
        self.affine = check_bool("affine", affine)
        self.track_running_stats = check_bool("track_running_stats", track_running_stats)
        self._make_affine((self.num_features,), self.affine)
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features, DTYPE)
            self.running_var = np.ones(self.num_features, DTYPE)
        else:
            self.running_mean = self.running_var = None
        self.num_batches_tracked = 0
        self._cache = None

    def _make_affine(self, shape: tuple, affine: bool, bias: bool = True) -> None:
        self.gamma = Parameter(np.ones(shape, DTYPE), "gamma") if affine else None
        self.beta = Parameter(np.zeros(shape, DTYPE), "beta") if affine and bias else None

    def _apply_affine(self, xhat: np.ndarray, view: tuple) -> np.ndarray:
        y = xhat
        if self.gamma is not None:
            y = y * self.gamma.data.reshape(view)
        if self.beta is not None:
            y = y + self.beta.data.reshape(view)
        return y

    def _affine_backward(self, dy: np.ndarray, xhat: np.ndarray, view: tuple, axes: tuple):
        """Accumulate the parameter gradients and return the gradient of ``xhat``."""
        if self.beta is not None:
            self.beta.grad += dy.sum(axis=axes).reshape(self.beta.shape)
        if self.gamma is None:
            return dy
        self.gamma.grad += np.sum(dy * xhat, axis=axes).reshape(self.gamma.shape)
        return dy * self.gamma.data.reshape(view)

    def parameters(self) -> list[Parameter]:
        return [p for p in (self.gamma, self.beta) if p is not None]


class _BatchNorm(_Affine):
    """Batch normalization over every axis but the channel axis 1 (subclasses fix the rank).

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float
        Added to the variance for numerical stability, >= 0.
    momentum : float or None
        Weight of the newest batch in the running statistics, in [0, 1]; None keeps a
        cumulative (equal-weight) average of all batches, as torch does.
    affine : bool
        Learn ``gamma`` (initialised to 1) and ``beta`` (initialised to 0).
    track_running_stats : bool
        Keep running statistics and use them in evaluation. Without them the batch
        statistics are used in training and in evaluation alike.

    Attributes
    ----------
    gamma, beta : Parameter of shape (C,), or None without ``affine``
    running_mean, running_var : ndarray of shape (C,), or None without tracking
        Updated in training as ``running = (1 - momentum) * running + momentum * batch``,
        where ``batch`` is the batch mean and the *unbiased* batch variance (the output is
        normalized with the biased one), exactly as ``torch.nn.BatchNorm*``.
    num_batches_tracked : int
        Training batches seen (the cumulative average's count when ``momentum`` is None).

    Raises
    ------
    ValueError
        From ``forward`` when batch statistics are needed and there is only one value per
        channel (``N * L == 1`` or ``N * H * W == 1``): its variance is undefined, and torch
        raises there too.
    """

    _NDIMS: tuple[int, ...] = ()
    _SHAPES = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        self._setup_channels(num_features, eps, momentum, affine, track_running_stats)

    def _check(self, x: np.ndarray) -> None:
        check_array_input(self, x)
        if x.ndim not in self._NDIMS or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r} expects input of shape {self._SHAPES} with C={self.num_features}, "
                f"got {tuple(x.shape)}"
            )

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        self._check(x)
        axes = (0, *range(2, x.ndim))
        view = (1, -1) + (1,) * (x.ndim - 2)
        if train or not self.track_running_stats:
            n = x.size // self.num_features
            if n <= 1:
                raise ValueError(
                    f"{self!r} expected more than 1 value per channel when using batch "
                    f"statistics (training, or track_running_stats=False), got input of shape "
                    f"{tuple(x.shape)}; torch raises here too: use a batch of at least 2 "
                    "samples or evaluate with train=False"
                )
            xhat, inv_std, mean, var = _standardize(x, axes, self.eps)
            if train and self.track_running_stats:
                self._update_running(mean.reshape(-1), var.reshape(-1) * (n / (n - 1)))
            self._cache = (xhat, inv_std, axes, view, True)
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + np.asarray(self.eps, DTYPE))
            inv_std = inv_std.reshape(view).astype(x.dtype)
            xhat = (x - self.running_mean.reshape(view)) * inv_std
            self._cache = (xhat, inv_std, axes, view, False)
        return self._apply_affine(xhat, view)

    def _update_running(self, mean: np.ndarray, unbiased_var: np.ndarray) -> None:
        self.num_batches_tracked += 1
        m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        self.running_mean *= 1 - m
        self.running_mean += (m * mean).astype(DTYPE)
        self.running_var *= 1 - m
        self.running_var += (m * unbiased_var).astype(DTYPE)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        xhat, inv_std, axes, view, batch_stats = self._cache
        dxhat = self._affine_backward(dy, xhat, view, axes)
        if not batch_stats:
            return dxhat * inv_std
        return _standardize_backward(dxhat, xhat, inv_std, axes)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.num_features}, eps={self.eps}, "
            f"momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats})"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` input (Ioffe & Szegedy 2015), as
    ``torch.nn.BatchNorm1d``: statistics per channel over N (and L).

    See :class:`_BatchNorm` for the parameters, attributes and running statistics.

    Shapes
    ------
    x (N, C) or (N, C, L) -> y of the same shape.
    """

    _NDIMS = (2, 3)
    _SHAPES = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` input (Ioffe & Szegedy 2015, Sec. 3.2 for
    convolutions), as ``torch.nn.BatchNorm2d``: statistics per channel over N, H and W.

    See :class:`_BatchNorm` for the parameters, attributes and running statistics.

    Shapes
    ------
    x (N, C, H, W) -> y of the same shape.
    """

    _NDIMS = (4,)
    _SHAPES = "(N, C, H, W)"


class GroupNorm(_Affine):
    """Group normalization (Wu & He 2018), as ``torch.nn.GroupNorm``.

    The C channels are split into ``num_groups`` groups of consecutive channels; each sample
    is normalized over each group's channels and spatial positions. No batch statistics, so
    training and evaluation compute the same thing at any batch size.

    Parameters
    ----------
    num_groups : int
        G, >= 1, dividing ``num_channels``. G = 1 normalizes each sample over all of its
        channels and positions; G = C is instance normalization (with per-channel affine).
    num_channels : int
        C.
    eps : float
        Added to the variance, >= 0.
    affine : bool
        Learn per-channel ``gamma`` (ones) and ``beta`` (zeros).

    Shapes
    ------
    x (N, C, *) -> y of the same shape.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine=True):
        self.num_groups = check_int("num_groups", num_groups, 1)
        self.num_channels = check_int("num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(
                f"num_channels must be divisible by num_groups, got num_channels="
                f"{num_channels!r} and num_groups={num_groups!r}"
            )
        self.eps = check_non_negative("eps", eps)
        self.affine = check_bool("affine", affine)
        self._make_affine((self.num_channels,), self.affine)
        self._cache = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"{self!r} expects input of shape (N, {self.num_channels}, *), got {tuple(x.shape)}"
            )
        grouped = x.reshape(x.shape[0], self.num_groups, -1)
        xhat_g, inv_std, _, _ = _standardize(grouped, (2,), self.eps)
        xhat = xhat_g.reshape(x.shape)
        view = (1, -1) + (1,) * (x.ndim - 2)
        self._cache = (xhat_g, inv_std, view, (0, *range(2, x.ndim)))
        return self._apply_affine(xhat, view)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        xhat_g, inv_std, view, axes = self._cache
        dxhat = self._affine_backward(dy, xhat_g.reshape(dy.shape), view, axes)
        dx = _standardize_backward(dxhat.reshape(xhat_g.shape), xhat_g, inv_std, (2,))
        return dx.reshape(dy.shape)

    def __repr__(self) -> str:
        return (
            f"GroupNorm({self.num_groups}, {self.num_channels}, eps={self.eps}, "
            f"affine={self.affine})"
        )


class _InstanceNorm(_Affine):
    """Instance normalization (Ulyanov, Vedaldi & Lempitsky 2016), as
    ``torch.nn.InstanceNorm1d/2d``: each sample's each channel is normalized over its
    spatial positions.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        Added to the variance, >= 0.
    momentum : float or None
        As :class:`BatchNorm1d`, for the running statistics (only with tracking); None
        freezes them, because torch's InstanceNorm passes None on as 0 (it keeps no
        cumulative average and ``num_batches_tracked`` stays 0).
    affine : bool
        Learn per-channel ``gamma`` and ``beta``; **False by default, as in torch**.
    track_running_stats : bool
        **False by default, as in torch.** When True, training updates running statistics
        with the mean over the batch of each instance's mean and unbiased variance (what
        torch computes), and evaluation normalizes with them.

    Shapes
    ------
    x (N, C, *spatial) or unbatched (C, *spatial) -> y of the same shape.
    """

    _SPATIAL = 1

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
    ):
        self._setup_channels(num_features, eps, momentum, affine, track_running_stats)

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        batched = self._SPATIAL + 2
        if x.ndim not in (batched, batched - 1) or x.shape[x.ndim - batched + 1] != (
            self.num_features
        ):
            spatial = "L" if self._SPATIAL == 1 else "H, W"
            raise ValueError(
                f"{self!r} expects input of shape (N, {self.num_features}, {spatial}) or "
                f"({self.num_features}, {spatial}), got {tuple(x.shape)}"
            )
        unbatched = x.ndim < batched
        xb = x[None] if unbatched else x
        axes = tuple(range(2, xb.ndim))
        view = (1, -1) + (1,) * self._SPATIAL
        if train or not self.track_running_stats:
            m = int(np.prod(xb.shape[2:]))
            if m <= 1:
                raise ValueError(
                    f"{self!r} expected more than 1 spatial element when using instance "
                    f"statistics, got input of shape {tuple(x.shape)} (torch raises here too)"
                )
            xhat, inv_std, mean, var = _standardize(xb, axes, self.eps)
            if train and self.track_running_stats:
                # torch's InstanceNorm passes momentum None on as 0 (statistics frozen) and
                # never counts batches; so does this one
                f = 0.0 if self.momentum is None else self.momentum
                unbiased = var * (m / (m - 1))
                self.running_mean *= 1 - f
                self.running_mean += (f * mean.mean(axis=0).reshape(-1)).astype(DTYPE)
                self.running_var *= 1 - f
                self.running_var += (f * unbiased.mean(axis=0).reshape(-1)).astype(DTYPE)
            batch_stats = True
        else:
            inv_std = 1.0 / np.sqrt(self.running_var + np.asarray(self.eps, DTYPE))
            inv_std = inv_std.reshape(view).astype(xb.dtype)
            xhat = (xb - self.running_mean.reshape(view)) * inv_std
            batch_stats = False
        self._cache = (xhat, inv_std, axes, view, batch_stats, unbatched)
        y = self._apply_affine(xhat, view)
        return y[0] if unbatched else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        xhat, inv_std, axes, view, batch_stats, unbatched = self._cache
        dyb = dy[None] if unbatched else dy
        dxhat = self._affine_backward(dyb, xhat, view, (0, *axes))
        dx = _standardize_backward(dxhat, xhat, inv_std, axes) if batch_stats else dxhat * inv_std
        return dx[0] if unbatched else dx

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.num_features}, eps={self.eps}, "
            f"momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats})"
        )


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of ``(N, C, L)`` or ``(C, L)`` input, as
    ``torch.nn.InstanceNorm1d`` (affine=False, track_running_stats=False by default).
    See :class:`_InstanceNorm`."""

    _SPATIAL = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of ``(N, C, H, W)`` or ``(C, H, W)`` input, as
    ``torch.nn.InstanceNorm2d`` (affine=False, track_running_stats=False by default).
    See :class:`_InstanceNorm`."""

    _SPATIAL = 2


def _check_normalized_shape(value: object) -> tuple[int, ...]:
    """An int >= 1 or a non-empty sequence of them, as a tuple."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    ok = len(items) > 0 and all(
        not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, np.integer)) and v >= 1
        for v in items
    )
    if not ok:
        raise ValueError(
            f"normalized_shape must be an integer >= 1 or a non-empty tuple of them, got {value!r}"
        )
    return tuple(int(v) for v in items)


class LayerNorm(_Affine):
    """Layer normalization (Ba, Kiros & Hinton 2016), as ``torch.nn.LayerNorm``.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape normalized over, e.g. ``D`` for ``(N, D)`` input or ``(C, L)`` to
        normalize each ``(N, C, L)`` sample as a whole.
    eps : float
        Added to the variance for numerical stability, >= 0.
    elementwise_affine : bool
        Learn ``gamma`` (ones) and, with ``bias``, ``beta`` (zeros) of ``normalized_shape``.
    bias : bool
        Learn ``beta`` (only with ``elementwise_affine``).

    Attributes
    ----------
    normalized_shape : tuple of int
    gamma, beta : Parameter of shape ``normalized_shape``, or None

    Shapes
    ------
    x (..., *normalized_shape) -> y of the same shape; statistics per leading index.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ):
        self.normalized_shape = _check_normalized_shape(normalized_shape)
        self.eps = check_non_negative("eps", eps)
        self.elementwise_affine = check_bool("elementwise_affine", elementwise_affine)
        self.bias = check_bool("bias", bias)
        self._make_affine(self.normalized_shape, self.elementwise_affine, self.bias)
        self._cache = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k :]) != self.normalized_shape:
            dims = ", ".join(map(str, self.normalized_shape))
            raise ValueError(f"{self!r} expects input of shape (..., {dims}), got {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        xhat, inv_std, _, _ = _standardize(x, axes, self.eps)
        self._cache = (xhat, inv_std, axes)
        return self._apply_affine(xhat, self.normalized_shape)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        xhat, inv_std, axes = self._cache
        lead = tuple(range(dy.ndim - len(axes)))
        dxhat = self._affine_backward(dy, xhat, self.normalized_shape, lead)
        return _standardize_backward(dxhat, xhat, inv_std, axes)

    def __repr__(self) -> str:
        shape = (
            self.normalized_shape[0] if len(self.normalized_shape) == 1 else (self.normalized_shape)
        )
        return f"LayerNorm({shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine})"
