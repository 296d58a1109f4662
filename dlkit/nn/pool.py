"""Max and average pooling over ``(N, C, L)`` and ``(N, C, H, W)`` inputs, PyTorch semantics.

Pooling (LeCun et al. 1998's subsampling layers; the seed notes' "pooling kernel": shape,
stride and max or average) summarises every window of each channel by its largest value or
its mean. Both are computed with one vectorized operation per kernel tap over strided views of
the (padded) input, so the Python loop runs over the ``K`` (or ``KH * KW``) taps, never over
samples or positions.

- Max pooling pads with ``-inf``, so padding never wins a window. Its backward routes each
  output's gradient to the first largest element of the window in row-major scan order (a NaN
  counts as largest and the last NaN wins), exactly as PyTorch's CPU kernel does, so ties
  get the same gradient as in PyTorch.
- Average pooling pads with zeros and always divides by the full window size ``K``
  (PyTorch's default ``count_include_pad=True``); its backward spreads ``dy / K`` over the
  window.

As in PyTorch, ``stride`` defaults to ``kernel_size``, the output size is
``(n + 2 * padding - k) // stride + 1`` (``ceil_mode=False``) and ``padding`` may be at most
half the kernel. Outputs keep the memory order of the input (see :mod:`dlkit.nn.conv`).

References
----------
Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998.
Seed notes ``000_*.txt``: pooling, padding, and the residual of the layer before a pooling
layer in convolutional backprop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlkit.nn.base import DTYPE, Layer
from dlkit.nn.conv import (
    check_spatial_input,
    int_tuple,
    interior,
    output_size,
    padded_shape,
    tap_slices,
)


def _buffer_like(x: np.ndarray, shape: tuple, fill: float) -> np.ndarray:
    """A ``shape`` array filled with ``fill`` whose memory order follows ``x``'s strides.

    Keeping the input's axis order means the strided views the taps read, and the ufuncs
    over them, walk memory in the same order as ``x`` does.
    """
    order = sorted(range(x.ndim), key=lambda a: x.strides[a], reverse=True)
    buf = np.full(tuple(shape[a] for a in order), fill, dtype=x.dtype)
    return buf.transpose(np.argsort(order))


class _PoolNd(Layer):
    """Shared geometry of the pooling layers over ``_ndim`` spatial axes."""

    _ndim = 0

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
    ):
        d = self._ndim
        self.kernel_size = int_tuple("kernel_size", kernel_size, d, 1)
        self.stride = self.kernel_size if stride is None else int_tuple("stride", stride, d, 1)
        self.padding = int_tuple("padding", padding, d, 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(
                f"{type(self).__name__}: padding {self.padding} must be at most half the "
                f"kernel size {self.kernel_size} (as in PyTorch)"
            )
        self._pads = tuple((p, p) for p in self.padding)
        self._cache = None

    def _windows(self, x: np.ndarray, fill: float):
        """Validate ``x``; return it (as floats), its padded copy, the output size and the
        per-tap slices of the padded input."""
        check_spatial_input(self, x, self._ndim)
        out = output_size(self, x.shape, self.kernel_size, self.stride, self._pads)
        if x.dtype.kind != "f":
            x = x.astype(DTYPE)
        if any(self.padding):
            xp = _buffer_like(x, (*x.shape[:2], *padded_shape(x.shape[2:], self._pads)), fill)
            xp[(slice(None), slice(None), *interior(x.shape[2:], self._pads))] = x
        else:
            xp = x
        taps = [
            (slice(None), slice(None), *sl) for sl in tap_slices(self.kernel_size, self.stride, out)
        ]
        return x, xp, out, taps

    def _check_dy(self, dy: np.ndarray) -> None:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        expected = self._cache[1]
        if dy.shape != expected:
            raise ValueError(f"{self!r}: dy must have shape {expected}, got {tuple(dy.shape)}")

    def _input_grad(self, x: np.ndarray, dy: np.ndarray, tap_grads) -> np.ndarray:
        """Add each tap's gradient (from ``tap_grads``) onto the positions it read."""
        shape = (*x.shape[:2], *padded_shape(x.shape[2:], self._pads))
        dxp = _buffer_like(x, shape, 0.0).astype(np.result_type(x, dy), copy=False)
        for sl, g in tap_grads:
            dxp[sl] += g
        if any(self.padding):
            return dxp[(slice(None), slice(None), *interior(x.shape[2:], self._pads))]
        return dxp

    def __repr__(self) -> str:
        one = self._ndim == 1

        def fmt(t):
            return t[0] if one else t

        return (
            f"{type(self).__name__}(kernel_size={fmt(self.kernel_size)}, "
            f"stride={fmt(self.stride)}, padding={fmt(self.padding)})"
        )


class _MaxPoolNd(_PoolNd):
    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        """Largest value of each window.

        Parameters
        ----------
        x : ndarray, shape (N, C, *spatial)

        Returns
        -------
        y : ndarray, shape (N, C, *out_spatial)
        """
        x, xp, out, taps = self._windows(x, -np.inf)
        y = xp[taps[0]].copy(order="K")
        # index of the winning tap per output; uint8 suffices for windows up to 255 taps
        arg = np.zeros_like(y, dtype=np.uint8 if len(taps) < 256 else np.intp)
        better = np.empty_like(y, dtype=bool)
        step = np.empty_like(arg)
        for t, sl in enumerate(taps[1:], start=1):
            v = xp[sl]
            # strictly greater keeps the first maximum in scan order, as PyTorch does
            np.greater(v, y, out=better)
            np.maximum(y, v, out=y)
            # arg = where(better, t, arg) as arithmetic: masked writes are several times
            # slower than three passes over small integers (unsigned wrap-around cancels)
            np.subtract(t, arg, out=step)
            np.multiply(step, better, out=step)
            arg += step
        if np.isnan(y).any():
            # PyTorch lets every NaN take over the running maximum, so the last NaN wins
            for t, sl in enumerate(taps):
                np.isnan(xp[sl], out=better)
                np.subtract(t, arg, out=step)
                np.multiply(step, better, out=step)
                arg += step
        self._cache = (x, y.shape, arg, taps)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Route each output's gradient to its window's maximum.

        Parameters
        ----------
        dy : ndarray, shape (N, C, *out_spatial)

        Returns
        -------
        dx : ndarray, shape (N, C, *spatial)
        """
        self._check_dy(dy)
        x, _, arg, taps = self._cache
        # dy * mask is faster than where(mask, dy, 0) but turns inf * 0 into NaN
        finite = np.isfinite(dy).all()
        mask = np.empty_like(arg, dtype=bool)

        def routed(t):
            np.equal(arg, t, out=mask)
            return dy * mask if finite else np.where(mask, dy, 0)

        return self._input_grad(x, dy, ((sl, routed(t)) for t, sl in enumerate(taps)))


class _AvgPoolNd(_PoolNd):
    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        """Mean of each window, zero padding included.

        Parameters
        ----------
        x : ndarray, shape (N, C, *spatial)

        Returns
        -------
        y : ndarray, shape (N, C, *out_spatial)
        """
        x, xp, out, taps = self._windows(x, 0.0)
        y = xp[taps[0]].copy(order="K")
        for sl in taps[1:]:
            y += xp[sl]
        y /= len(taps)
        self._cache = (x, y.shape, taps)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Spread ``dy / K`` evenly over each window.

        Parameters
        ----------
        dy : ndarray, shape (N, C, *out_spatial)

        Returns
        -------
        dx : ndarray, shape (N, C, *spatial)
        """
        self._check_dy(dy)
        x, _, taps = self._cache
        g = dy / len(taps)
        return self._input_grad(x, dy, ((sl, g) for sl in taps))


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling, ``torch.nn.MaxPool1d`` semantics (ties go to the first maximum).

    Parameters
    ----------
    kernel_size : int
        Window length ``K``.
    stride : int, optional
        Step between windows; defaults to ``kernel_size``.
    padding : int
        Implicit ``-inf`` added at both ends, at most ``K // 2``.

    Shapes
    ------
    forward: x (N, C, L) -> y (N, C, L_out), ``L_out = (L + 2 * padding - K) // stride + 1``;
    backward: dy (N, C, L_out) -> dx (N, C, L).
    """

    _ndim = 1


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling, ``torch.nn.MaxPool2d`` semantics (ties go to the first maximum in
    row-major order).

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window ``(KH, KW)``.
    stride : int or (int, int), optional
        Steps between windows; defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit ``-inf`` added on both sides of each axis, at most half the kernel.

    Shapes
    ------
    forward: x (N, C, H, W) -> y (N, C, H_out, W_out),
    ``H_out = (H + 2 * padding_h - KH) // stride_h + 1`` (likewise W_out);
    backward: dy (N, C, H_out, W_out) -> dx (N, C, H, W).
    """

    _ndim = 2


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling, ``torch.nn.AvgPool1d`` semantics (``count_include_pad=True``).

    Parameters
    ----------
    kernel_size : int
        Window length ``K``.
    stride : int, optional
        Step between windows; defaults to ``kernel_size``.
    padding : int
        Zeros added at both ends (counted in the mean), at most ``K // 2``.

    Shapes
    ------
    forward: x (N, C, L) -> y (N, C, L_out), ``L_out = (L + 2 * padding - K) // stride + 1``;
    backward: dy (N, C, L_out) -> dx (N, C, L).
    """

    _ndim = 1


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling, ``torch.nn.AvgPool2d`` semantics (``count_include_pad=True``).

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window ``(KH, KW)``.
    stride : int or (int, int), optional
        Steps between windows; defaults to ``kernel_size``.
    padding : int or (int, int)
        Zeros added on both sides of each axis (counted in the mean), at most half the kernel.

    Shapes
    ------
    forward: x (N, C, H, W) -> y (N, C, H_out, W_out),
    ``H_out = (H + 2 * padding_h - KH) // stride_h + 1`` (likewise W_out);
    backward: dy (N, C, H_out, W_out) -> dx (N, C, H, W).
    """

    _ndim = 2
