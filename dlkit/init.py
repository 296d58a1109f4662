"""Weight initializers: ``f(shape, rng, ...) -> float32 ndarray``.

Every initializer takes the shape dlkit stores and a ``np.random.Generator``:

- Dense weights are ``(in_features, out_features)`` -- the *transpose* of PyTorch's
  ``(out_features, in_features)`` -- so ``fan_in = shape[0]`` and ``fan_out = shape[1]``;
- convolution kernels are ``(out_channels, in_channels, *kernel_size)`` as in PyTorch, so
  ``fan_in = in_channels * prod(kernel_size)`` and ``fan_out = out_channels * prod(kernel_size)``;
- 1-D shapes (biases, normalization scales) use ``fan_in = fan_out = shape[0]``.

With these fans the bounds and standard deviations are those of ``torch.nn.init`` for the same
layer: ``xavier_uniform((784, 100), rng)`` has the spread of PyTorch's ``xavier_uniform_`` on a
``Linear(784, 100).weight``.

``get(name)`` resolves the names a layer's ``init=`` accepts (see ``NAMES``); ``"standard"`` is
PyTorch's default ``Linear``/``Conv`` weight init, ``U[-1/sqrt(fan_in), 1/sqrt(fan_in)]``.

References
----------
X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward neural
networks", AISTATS 2010.
K. He, X. Zhang, S. Ren and J. Sun, "Delving deep into rectifiers: surpassing human-level
performance on ImageNet classification", ICCV 2015.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence

import numpy as np

from dlkit.validation import check_choice, check_non_negative

DTYPE = np.float32

Initializer = Callable[..., np.ndarray]

_LINEAR_GAINS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)
NONLINEARITIES = (*_LINEAR_GAINS, "tanh", "relu", "leaky_relu", "selu")


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(shape)
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in shape):
        raise ValueError(f"shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(d) for d in shape)


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), got {rng!r}"
        )
    return rng


def fan_in_and_fan_out(shape: int | Sequence[int]) -> tuple[int, int]:
    """Fans of a weight stored in dlkit's layout.

    Parameters
    ----------
    shape : tuple of int
        ``(n,)`` for a bias, ``(in_features, out_features)`` for Dense,
        ``(out_channels, in_channels, *kernel_size)`` for convolutions.

    Returns
    -------
    fan_in, fan_out : int
        For Dense and conv shapes, what ``torch.nn.init._calculate_fan_in_and_fan_out`` returns
        for the PyTorch layout of the same layer; ``(n, n)`` for a 1-D shape.
    """
    shape = _shape(shape)
    if len(shape) == 0:
        raise ValueError("fan_in and fan_out are undefined for a scalar (shape ())")
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(shape: tuple[int, ...], mode: str) -> int:
    fan_in, fan_out = fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"cannot initialize a weight of shape {shape}: its {mode} is 0")
    return fan


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Parameters
    ----------
    nonlinearity : str
        One of ``NONLINEARITIES``: ``"linear"``, the conv names and ``"sigmoid"`` give 1,
        ``"tanh"`` 5/3, ``"relu"`` sqrt(2), ``"leaky_relu"`` sqrt(2 / (1 + slope**2)),
        ``"selu"`` 3/4.
    param : float, optional
        The negative slope for ``"leaky_relu"`` (default 0.01); ignored otherwise.

    Returns
    -------
    float
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 0.75
    if param is None:
        slope = 0.01
    elif isinstance(param, (int, float, np.integer, np.floating)) and not isinstance(param, bool):
        slope = float(param)
    else:
        raise ValueError(f"negative_slope {param!r} is not a valid number")
    return math.sqrt(2.0 / (1.0 + slope**2))


def _uniform(shape: tuple[int, ...], rng: np.random.Generator, bound: float) -> np.ndarray:
    """``U[-bound, bound)`` drawn in float32 without a float64 intermediate."""
    w = rng.random(shape, dtype=DTYPE)
    w *= 2.0 * bound
    w -= bound
    return w


def _normal(shape: tuple[int, ...], rng: np.random.Generator, mean: float, std: float):
    w = rng.standard_normal(shape, dtype=DTYPE)
    w *= std
    if mean:
        w += mean
    return w


def zeros(shape: int | Sequence[int], rng: np.random.Generator | None = None) -> np.ndarray:
    """All zeros (biases; ``rng`` is accepted for a uniform signature and unused).

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    return np.zeros(_shape(shape), dtype=DTYPE)


def ones(shape: int | Sequence[int], rng: np.random.Generator | None = None) -> np.ndarray:
    """All ones (normalization scales; ``rng`` is unused).

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    return np.ones(_shape(shape), dtype=DTYPE)


def constant(
    shape: int | Sequence[int], rng: np.random.Generator | None = None, *, value: float
) -> np.ndarray:
    """Every entry equal to ``value`` (``rng`` is unused).

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    return np.full(_shape(shape), value, dtype=DTYPE)


def normal(
    shape: int | Sequence[int], rng: np.random.Generator, *, mean: float = 0.0, std: float = 0.01
) -> np.ndarray:
    """``N(mean, std**2)``; the default ``std=0.01`` is the classic fixed small-weight init.

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    check_non_negative("std", std)
    return _normal(_shape(shape), _check_rng(rng), mean, std)


def uniform(
    shape: int | Sequence[int],
    rng: np.random.Generator,
    *,
    low: float = -0.05,
    high: float = 0.05,
) -> np.ndarray:
    """``U[low, high)``; the default ``[-0.05, 0.05)`` is Keras' ``RandomUniform`` default.

    (PyTorch's ``uniform_`` defaults to ``[0, 1)``, which is not a usable weight init.)

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    if not low <= high:
        raise ValueError(f"uniform needs low <= high, got low={low!r}, high={high!r}")
    w = _check_rng(rng).random(_shape(shape), dtype=DTYPE)
    w *= high - low
    w += low
    return w


def default_uniform(shape: int | Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """PyTorch's default Linear/Conv weight init: ``U[-1/sqrt(fan_in), 1/sqrt(fan_in)]``.

    ``torch.nn.Linear`` calls ``kaiming_uniform_(w, a=sqrt(5))``, whose gain
    ``sqrt(2 / (1 + 5)) = sqrt(1/3)`` turns the bound ``gain * sqrt(3 / fan_in)`` into
    ``1 / sqrt(fan_in)`` (LeCun et al., "Efficient BackProp", 1998 use the same scale).
    Registered as ``"standard"``.

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    shape = _shape(shape)
    return _uniform(shape, _check_rng(rng), 1.0 / math.sqrt(_fan(shape, "fan_in")))


def xavier_uniform(
    shape: int | Sequence[int], rng: np.random.Generator, *, gain: float = 1.0
) -> np.ndarray:
    """Glorot/Xavier uniform: ``U[-b, b]`` with ``b = gain * sqrt(6 / (fan_in + fan_out))``.

    Keeps the variance of activations and of back-propagated gradients roughly constant
    across layers of a linear (or tanh, near 0) network (Glorot & Bengio, AISTATS 2010).

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    shape = _shape(shape)
    bound = gain * math.sqrt(6.0 / _fan_sum(shape))
    return _uniform(shape, _check_rng(rng), bound)


def xavier_normal(
    shape: int | Sequence[int], rng: np.random.Generator, *, gain: float = 1.0
) -> np.ndarray:
    """Glorot/Xavier normal: ``N(0, std**2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Glorot & Bengio, AISTATS 2010.

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    shape = _shape(shape)
    std = gain * math.sqrt(2.0 / _fan_sum(shape))
    return _normal(shape, _check_rng(rng), 0.0, std)


def _fan_sum(shape: tuple[int, ...]) -> int:
    """``fan_in + fan_out`` of a weight shape (Xavier's denominator); 0 is an error."""
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if fan_in + fan_out == 0:
        raise ValueError(f"cannot initialize a weight of shape {shape}: fan_in + fan_out is 0")
    return fan_in + fan_out


def _kaiming_std(shape: tuple[int, ...], a: float, mode: str, nonlinearity: str) -> float:
    check_choice("mode", mode, ("fan_in", "fan_out"))
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))


def kaiming_uniform(
    shape: int | Sequence[int],
    rng: np.random.Generator,
    *,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
) -> np.ndarray:
    """He/Kaiming uniform: ``U[-b, b]`` with ``b = gain * sqrt(3 / fan)``.

    Keeps the variance of activations constant through ReLU layers (He et al., ICCV 2015).
    The defaults are ``torch.nn.init.kaiming_uniform_``'s: ``a=0`` with
    ``nonlinearity="leaky_relu"`` gives the ReLU gain ``sqrt(2)``, and ``mode="fan_in"``
    preserves the forward variance (``"fan_out"`` preserves the backward one).

    Parameters
    ----------
    a : float
        Negative slope of the leaky ReLU that follows (only used with ``"leaky_relu"``).
    mode : {"fan_in", "fan_out"}
    nonlinearity : str
        One of ``NONLINEARITIES``, see ``calculate_gain``.

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    shape = _shape(shape)
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return _uniform(shape, _check_rng(rng), bound)


def kaiming_normal(
    shape: int | Sequence[int],
    rng: np.random.Generator,
    *,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
) -> np.ndarray:
    """He/Kaiming normal: ``N(0, std**2)`` with ``std = gain / sqrt(fan)``.

    He et al., ICCV 2015. Defaults as ``torch.nn.init.kaiming_normal_`` (gain ``sqrt(2)``,
    ``mode="fan_in"``); see ``kaiming_uniform`` for the parameters.

    Returns
    -------
    ndarray, shape ``shape``, float32
    """
    shape = _shape(shape)
    std = _kaiming_std(shape, a, mode, nonlinearity)
    return _normal(shape, _check_rng(rng), 0.0, std)


_REGISTRY: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "standard": default_uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
}
NAMES = tuple(sorted(_REGISTRY))


def get(name_or_callable: str | Initializer, **kwargs) -> Initializer:
    """Resolve an initializer name (or pass a callable through).

    Parameters
    ----------
    name_or_callable : str or callable
        One of ``NAMES`` or a callable ``f(shape, rng) -> ndarray``.
    **kwargs
        Keyword arguments bound to a named initializer, e.g.
        ``get("kaiming_normal", nonlinearity="relu")`` or ``get("constant", value=0.1)``.

    Returns
    -------
    callable
        ``f(shape, rng) -> ndarray``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists ``NAMES``), an unknown keyword or a missing
        required one.
    """
    if callable(name_or_callable):
        return functools.partial(name_or_callable, **kwargs) if kwargs else name_or_callable
    check_choice("initializer", name_or_callable, NAMES)
    fn = _REGISTRY[name_or_callable]
    keywords = {
        p.name: p
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = sorted(set(kwargs) - set(keywords))
    if unknown:
        valid = ", ".join(keywords) if keywords else "none"
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)} for initializer {name_or_callable!r}; "
            f"valid: {valid}"
        )
    missing = [k for k, p in keywords.items() if p.default is p.empty and k not in kwargs]
    if missing:
        raise ValueError(
            f"initializer {name_or_callable!r} needs {', '.join(missing)} "
            f"(e.g. get({name_or_callable!r}, {missing[0]}=...))"
        )
    return functools.partial(fn, **kwargs) if kwargs else fn
