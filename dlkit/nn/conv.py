"""Convolution layers ``Conv1d`` and ``Conv2d`` (channels-first), computed as im2col + one GEMM.

A convolution layer (LeCun et al. 1998) slides ``out_channels`` kernels of shape
``(in_channels, *kernel_size)`` over the input and takes a dot product at every position, i.e.
a cross-correlation as in every deep-learning framework. Unrolling every receptive field into a
column ("im2col", Chellapilla, Puri and Simard 2006) turns the whole layer into a single matrix
product ``W (O, C*K) @ cols (C*K, positions)``; backpropagation (the seed notes'
"convolutional backprop": the kernel gradient is a correlation of the input with ``dy``, the
input gradient a full convolution of ``dy`` with the kernel) is then two more matrix products,
``dW = dy @ cols.T`` and ``dcols = W.T @ dy``, followed by "col2im", which adds each kernel
tap's column block back onto the input positions it was read from.

Memory layout
-------------
The columns are laid out ``(C, *kernel, *out_positions, N)`` so that every copy in im2col and
col2im moves contiguous runs of the batch axis. The GEMM result is therefore ordered
``(O, *out_positions, N)``, and ``forward`` returns it as a **transposed view** with the usual
shape ``(N, O, *out_positions)``; ``backward`` likewise returns ``dx`` as a view of shape
``(N, C, *in_positions)``. Such views are ordinary NumPy arrays (elementwise layers keep their
memory order, ``reshape`` copies when it must), and when they feed the next convolution its
im2col copy runs along contiguous memory.

References
----------
Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998.
K. Chellapilla, S. Puri and P. Simard, "High performance convolutional neural networks for
document processing", IWFHR 2006.
Seed notes ``000_*.txt``: convolution, valid/same padding, backpropagation through convolution
and pooling layers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from dlkit import init as _init
from dlkit.nn.base import DTYPE, Layer, Parameter, check_array_input
from dlkit.validation import check_bool, check_choice, check_generator

PADDING_MODES = ("same", "valid")


def int_tuple(name: str, value: int | Sequence[int], ndim: int, minimum: int) -> tuple:
    """``value`` (an int or a length-``ndim`` sequence of ints >= ``minimum``) as a tuple."""
    if isinstance(value, (int, np.integer)):
        value = (value,) * ndim
    ok = isinstance(value, Sequence) and not isinstance(value, str)
    ok = (
        ok
        and len(value) == ndim
        and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
            for v in value
        )
    )
    if not ok:
        raise ValueError(
            f"{name} must be an int >= {minimum} or a tuple of {ndim} such ints, got {value!r}"
        )
    return tuple(int(v) for v in value)


def conv_padding(
    padding: str | int | Sequence[int], kernel: tuple, stride: tuple
) -> tuple[tuple[int, int], ...]:
    """Per spatial axis ``(before, after)`` zero padding, with PyTorch's rules.

    Parameters
    ----------
    padding : {"valid", "same"} or int or tuple of int
        ``"valid"`` pads nothing; ``"same"`` keeps the input size (stride 1 only, as in
        PyTorch) by padding ``k - 1`` in total, the odd element at the end for even kernels;
        an int (or one int per axis) pads that many zeros on both sides.
    kernel, stride : tuple of int
        One entry per spatial axis.

    Returns
    -------
    tuple of (int, int)
    """
    ndim = len(kernel)
    if isinstance(padding, str):
        check_choice("padding", padding, PADDING_MODES)
        if padding == "valid":
            return ((0, 0),) * ndim
        if any(s != 1 for s in stride):
            raise ValueError(
                f"padding='same' needs stride 1 (as in PyTorch), got stride={stride}; "
                "use an int padding with strided convolutions"
            )
        return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)
    pads = int_tuple("padding", padding, ndim, 0)
    return tuple((p, p) for p in pads)


def check_spatial_input(
    layer: Layer, x: np.ndarray, ndim: int, channels: int | None = None
) -> None:
    """Raise a ValueError naming ``layer`` and both shapes unless ``x`` is (N, C, *spatial)."""
    check_array_input(layer, x)
    ok = x.ndim == ndim + 2 and (channels is None or x.shape[1] == channels)
    if not ok:
        c = "C" if channels is None else str(channels)
        spatial = ("L",) if ndim == 1 else ("H", "W")
        want = "(" + ", ".join(("N", c, *spatial)) + ")"
        raise ValueError(f"{layer!r} expects input of shape {want}, got {tuple(x.shape)}")


def output_size(
    layer: Layer, x_shape: tuple, kernel: tuple, stride: tuple, pads: tuple
) -> tuple[int, ...]:
    """Output positions per spatial axis, ``(n + before + after - k) // s + 1``.

    Raises a ValueError naming ``layer`` when a kernel is larger than its padded input.
    """
    padded = padded_shape(x_shape[2:], pads)
    if any(k > n for k, n in zip(kernel, padded, strict=True)):
        raise ValueError(
            f"{layer!r}: kernel {kernel} is larger than the padded input {padded} "
            f"(input shape {tuple(x_shape)}, padding {pads})"
        )
    return tuple((n - k) // s + 1 for n, k, s in zip(padded, kernel, stride, strict=True))


def padded_shape(spatial: tuple, pads: tuple) -> tuple[int, ...]:
    """Spatial sizes after adding ``pads`` (one ``(before, after)`` pair per axis)."""
    return tuple(m + a + b for m, (a, b) in zip(spatial, pads, strict=True))


def interior(spatial: tuple, pads: tuple) -> tuple[slice, ...]:
    """Slices of a padded buffer's spatial axes that hold the unpadded input."""
    return tuple(slice(a, a + m) for m, (a, _) in zip(spatial, pads, strict=True))


def tap_slices(kernel: tuple, stride: tuple, out: tuple) -> list[tuple[slice, ...]]:
    """For every kernel tap (row-major), the strided slices of the padded spatial axes it reads.

    Tap ``t`` of output position ``o`` reads padded input position ``t + s * o``, so the
    input positions one tap reads over all outputs are ``t, t + s, ..., t + s * (out - 1)``.
    """
    return [
        tuple(slice(t, t + s * (o - 1) + 1, s) for t, s, o in zip(taps, stride, out, strict=True))
        for taps in itertools.product(*(range(k) for k in kernel))
    ]


class _ConvNd(Layer):
    """Shared implementation of ``Conv1d`` and ``Conv2d`` over ``_ndim`` spatial axes."""

    _ndim = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: str | int | Sequence[int] = "valid",
        *,
        init="standard",
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ):
        name = type(self).__name__
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} {arg} must be an int >= 1, got {value!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = int_tuple("kernel_size", kernel_size, self._ndim, 1)
        self.stride = int_tuple("stride", stride, self._ndim, 1)
        self.padding = padding
        self._pads = conv_padding(padding, self.kernel_size, self.stride)
        bias = check_bool("bias", bias)
        self.init = init
        rng = np.random.default_rng() if rng is None else check_generator(rng)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        w = _init.get(init)(shape, rng)
        self.weight = Parameter(np.asarray(w, dtype=DTYPE), "weight")
        self.bias = Parameter(np.zeros(self.out_channels, DTYPE), "bias") if bias else None
        self._padded = any(a or b for a, b in self._pads)
        self._taps = math.prod(self.kernel_size)
        # (N, C, *spatial) <-> (C, *spatial, N)
        self._to_batch_last = (*range(1, self._ndim + 2), 0)
        self._to_batch_first = (self._ndim + 1, *range(self._ndim + 1))
        self._cache = None
        self._plan_cache = None

    def _plan(self, x_shape: tuple) -> tuple:
        """Output size, padded size, interior and per-tap slices for inputs of ``x_shape``.

        Computed once per input shape: a training loop sees one or two shapes (the batch and
        the last partial batch), and the Python bookkeeping costs as much as a small GEMM.
        """
        if self._plan_cache is None or self._plan_cache[0] != x_shape:
            out = output_size(self, x_shape, self.kernel_size, self.stride, self._pads)
            padded = padded_shape(x_shape[2:], self._pads)
            inner = (slice(None), *interior(x_shape[2:], self._pads))
            taps = [(slice(None), *sl) for sl in tap_slices(self.kernel_size, self.stride, out)]
            self._plan_cache = (x_shape, (out, padded, inner, taps))
        return self._plan_cache[1]

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        """Cross-correlate ``x`` with the kernels and add the bias.

        Parameters
        ----------
        x : ndarray, shape (N, in_channels, *spatial)

        Returns
        -------
        y : ndarray, shape (N, out_channels, *out_spatial)
            A transposed view of a ``(out_channels, *out_spatial, N)`` buffer (module notes).
        """
        check_spatial_input(self, x, self._ndim, self.in_channels)
        out, padded, inner, _ = self._plan(x.shape)
        w = self.weight.data
        n, c = x.shape[:2]
        batch_last = x.strides[0] == x.itemsize and x.dtype == w.dtype
        if self._padded or not batch_last:
            # copy (and pad) into the (C, *spatial, N) layout first: im2col then copies
            # contiguous runs of N, which is faster than gathering them K times from x
            src = (np.zeros if self._padded else np.empty)((c, *padded, n), dtype=w.dtype)
            src[inner] = x.transpose(self._to_batch_last)
            s_c, *s_sp, s_n = src.strides
        else:
            src = x
            s_n, s_c, *s_sp = src.strides
        windows = as_strided(
            src,
            shape=(c, *self.kernel_size, *out, n),
            strides=(s_c, *s_sp, *(s * st for s, st in zip(s_sp, self.stride, strict=True)), s_n),
            writeable=False,
        )
        cols = np.ascontiguousarray(windows, dtype=w.dtype).reshape(c * self._taps, -1)
        y = w.reshape(self.out_channels, -1) @ cols
        if self.bias is not None:
            y += self.bias.data[:, None]
        self._cache = (x.shape, cols)
        return y.reshape(self.out_channels, *out, n).transpose(self._to_batch_first)

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """Accumulate ``dW``, ``db``; return ``dx`` (None when ``input_grad`` is False).

        Parameters
        ----------
        dy : ndarray, shape (N, out_channels, *out_spatial)

        Returns
        -------
        dx : ndarray, shape (N, in_channels, *spatial), or None
        """
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        x_shape, cols = self._cache
        out, padded, inner, taps = self._plan(x_shape)
        n, c = x_shape[:2]
        expected = (n, self.out_channels, *out)
        if dy.shape != expected:
            raise ValueError(f"{self!r}: dy must have shape {expected}, got {tuple(dy.shape)}")
        w = self.weight
        # (O, *out, N): a free reshape when dy comes in the layout forward produced
        dy2 = dy.transpose(self._to_batch_last).reshape(self.out_channels, -1)
        w.grad += (dy2 @ cols.T).reshape(w.grad.shape)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=1)
        if not self.input_grad:
            return None
        dcols = (w.data.reshape(self.out_channels, -1).T @ dy2).reshape(c, self._taps, *out, n)
        dxp = np.zeros((c, *padded, n), dtype=dcols.dtype)
        # col2im: each tap adds its block back onto the positions it read; taps overlap
        # when stride < kernel, hence += one tap at a time
        for t, sl in enumerate(taps):
            dxp[sl] += dcols[:, t]
        return dxp[inner].transpose(self._to_batch_first)

    def parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self) -> str:
        k = self.kernel_size[0] if self._ndim == 1 else self.kernel_size
        s = self.stride[0] if self._ndim == 1 else self.stride
        return (
            f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={k}, "
            f"stride={s}, padding={self.padding!r}, bias={self.bias is not None})"
        )


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C, L)`` inputs (LeCun et al. 1998), as im2col + one GEMM.

    ``y[n, o, l] = b[o] + sum_{c, k} W[o, c, k] * xpad[n, c, stride * l + k]``, the
    cross-correlation of ``torch.nn.Conv1d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int
        Kernel length ``K``.
    stride : int
        Step between output positions.
    padding : {"valid", "same"} or int
        ``"valid"`` (no padding), ``"same"`` (output length = input length; stride 1 only;
        an even kernel puts the extra zero at the end, as PyTorch does) or a number of zeros
        added at both ends.
    init : str or callable
        Weight initializer from :mod:`dlkit.init` or ``f(shape, rng)``. The default
        ``"standard"`` is PyTorch's default ``U[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` with
        ``fan_in = in_channels * K``.
    bias : bool
        Whether to learn an additive per-channel bias (initialised to zero).
    rng : numpy.random.Generator, optional
        Source of the initial weights; None draws fresh OS entropy.

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels, K)
    bias : Parameter, shape (out_channels,) or None

    Shapes
    ------
    forward: x (N, in_channels, L) -> y (N, out_channels, L_out) with
    ``L_out = (L + pad_before + pad_after - K) // stride + 1``; backward: dy of y's shape ->
    dx of x's shape. See the module notes on the memory layout of y and dx.
    """

    _ndim = 1


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C, H, W)`` inputs (LeCun et al. 1998), as im2col + one GEMM.

    ``y[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] * xpad[n, c, sh * i + p, sw * j + q]``,
    the cross-correlation of ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output.
    kernel_size : int or (int, int)
        Kernel height and width ``(KH, KW)``.
    stride : int or (int, int)
        Steps between output rows and columns.
    padding : {"valid", "same"} or int or (int, int)
        ``"valid"``, ``"same"`` (stride 1 only; extra zero at the bottom/right for even
        kernels, as PyTorch does), or zeros added on both sides of each axis.
    init : str or callable
        Weight initializer from :mod:`dlkit.init` or ``f(shape, rng)``; default ``"standard"``
        (PyTorch's default, ``fan_in = in_channels * KH * KW``).
    bias : bool
        Whether to learn an additive per-channel bias (initialised to zero).
    rng : numpy.random.Generator, optional
        Source of the initial weights; None draws fresh OS entropy.

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels, KH, KW)
    bias : Parameter, shape (out_channels,) or None

    Shapes
    ------
    forward: x (N, in_channels, H, W) -> y (N, out_channels, H_out, W_out) with
    ``H_out = (H + pad_top + pad_bottom - KH) // sh + 1`` (likewise W_out); backward: dy of y's
    shape -> dx of x's shape. See the module notes on the memory layout of y and dx.
    """

    _ndim = 2
