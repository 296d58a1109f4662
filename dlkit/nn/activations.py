"""Activation functions as layers.

Each activation is elementwise except ``Softmax``. ``forward`` caches what ``backward`` needs;
``derivative()`` returns the local derivative dy/dx of the last forward pass, from which
:mod:`dlkit.diagnostics` defines saturation uniformly: a unit is *saturated* where its local
derivative is below 1 % of the activation's largest derivative (``max_derivative``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from dlkit.nn.base import DTYPE, Layer, Parameter, check_array_input
from dlkit.validation import check_choice, check_finite_number, check_non_negative


class Activation(Layer):
    """Elementwise activation ``y = f(x)``; ``backward`` is ``dy * f'(x)``.

    Shapes
    ------
    Any shape: x (N, ...) -> y of the same shape.
    """

    #: largest value of f'(x) over all x, the reference for saturation
    max_derivative: float = 1.0

    def __init__(self):
        self._x = None
        self._y = None

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input(self, x)
        self._x = x
        self._y = self._f(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._y is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        return dy * self.derivative()

    def derivative(self) -> np.ndarray:
        """Local derivative f'(x) at the last forward input, same shape as x."""
        raise NotImplementedError

    def _f(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Identity(Activation):
    """``y = x`` (the linear output of a regression network)."""

    def _f(self, x):
        return x

    def backward(self, dy):
        return dy.copy()

    def derivative(self):
        return np.ones_like(self._x)


class Step(Activation):
    """Heaviside step ``y = 1[x > 0]`` (McCulloch & Pitts 1943; the perceptron's output).

    Its derivative is zero almost everywhere, so no gradient flows through it: it exists to
    show why gradient descent needs a differentiable activation.
    """

    max_derivative = 0.0

    def _f(self, x):
        return (x > 0).astype(x.dtype)

    def backward(self, dy):
        return np.zeros_like(dy)

    def derivative(self):
        return np.zeros_like(self._x)


class Sigmoid(Activation):
    """Logistic function ``y = 1 / (1 + exp(-x))``; f' = y (1 - y) <= 1/4."""

    max_derivative = 0.25

    def _f(self, x):
        return expit(x)

    def derivative(self):
        y = self._y
        return y * (1 - y)


class Tanh(Activation):
    """Hyperbolic tangent; f' = 1 - y**2 <= 1."""

    def _f(self, x):
        return np.tanh(x)

    def derivative(self):
        y = self._y
        return 1 - y * y


class HardSigmoid(Activation):
    """Hard logistic ``y = clip(0.25 x + 0.5, 0, 1)``: the seed notes' piecewise-linear
    approximation of the logistic function by its first-order Taylor expansion at 0.

    Its slope, 1/4 on (-2, 2) and 0 outside, matches the logistic derivative's maximum.
    Note that this is *not* ``torch.nn.Hardsigmoid`` (which is ``relu6(x + 3) / 6``, slope 1/6).
    """

    max_derivative = 0.25

    def _f(self, x):
        y = x * np.asarray(0.25, x.dtype)
        y += np.asarray(0.5, x.dtype)
        return np.clip(y, 0, 1, out=y)

    def derivative(self):
        x = self._x
        return ((x > -2) & (x < 2)).astype(x.dtype) * np.asarray(0.25, x.dtype)


class ReLU(Activation):
    """Rectified linear unit ``y = max(x, 0)`` (Nair & Hinton 2010; Glorot et al. 2011)."""

    def forward(self, x, *, train):
        check_array_input(self, x)
        self._x = x
        self._mask = x > 0
        self._y = x * self._mask
        return self._y

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        return dy * self._mask

    def derivative(self):
        return self._mask.astype(self._x.dtype)


class LeakyReLU(Activation):
    """``y = x`` for x > 0, ``negative_slope * x`` otherwise (Maas et al. 2013)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        # torch.nn.LeakyReLU accepts any slope; a negative one makes the unit non-monotone
        # (-1 is |x|), never what a "leaky" ReLU means, so it is refused here.
        self.negative_slope = check_non_negative("negative_slope", negative_slope)

    def _f(self, x):
        return np.where(x > 0, x, x * np.asarray(self.negative_slope, x.dtype))

    def derivative(self):
        x = self._x
        return np.where(x > 0, np.asarray(1, x.dtype), np.asarray(self.negative_slope, x.dtype))

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class PReLU(Activation):
    """Parametric ReLU with one learnable slope ``alpha`` for x <= 0 (He et al. 2015).

    Parameters
    ----------
    init : float
        Initial slope, 0.25 as in the paper and ``torch.nn.PReLU``.

    Attributes
    ----------
    alpha : Parameter, shape (1,)
        Named ``"alpha"``, so weight penalties (which act on ``"weight"``) leave it alone.
    """

    def __init__(self, init: float = 0.25):
        super().__init__()
        self.alpha = Parameter(np.full(1, check_finite_number("init", init), DTYPE), "alpha")

    def _f(self, x):
        a = self.alpha.data.astype(x.dtype, copy=False)
        return np.where(x > 0, x, x * a)

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        x = self._x
        neg = x <= 0
        self.alpha.grad += np.sum(dy * x * neg, dtype=self.alpha.grad.dtype)
        return dy * self.derivative()

    def derivative(self):
        x = self._x
        a = self.alpha.data.astype(x.dtype, copy=False)
        return np.where(x > 0, np.asarray(1, x.dtype), a)

    def parameters(self):
        return [self.alpha]

    def __repr__(self):
        return f"PReLU(alpha={float(self.alpha.data[0]):.4g})"


class ELU(Activation):
    """Exponential linear unit: x for x > 0, ``alpha (exp(x) - 1)`` otherwise
    (Clevert et al. 2016)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = check_non_negative("alpha", alpha)
        # the slope just left of 0 is alpha, which exceeds 1 when alpha > 1
        self.max_derivative = max(1.0, self.alpha)

    def _f(self, x):
        a = np.asarray(self.alpha, x.dtype)
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))

    def derivative(self):
        x, y = self._x, self._y
        return np.where(x > 0, np.asarray(1, x.dtype), y + np.asarray(self.alpha, x.dtype))

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class SiLU(Activation):
    """Swish / SiLU ``y = x * sigmoid(x)`` (Ramachandran et al. 2017; Elfwing et al. 2018).

    Its derivative peaks at about 1.0998 (x ≈ 2.4).
    """

    max_derivative = 1.0998

    def forward(self, x, *, train):
        check_array_input(self, x)
        self._x = x
        self._s = expit(x)
        self._y = x * self._s
        return self._y

    def derivative(self):
        s, x = self._s, self._x
        return s * (1 + x * (1 - s))


class Softmax(Activation):
    """``y_i = exp(x_i) / sum_j exp(x_j)`` over the last axis, computed stably.

    For classification prefer :class:`dlkit.losses.CrossEntropyLoss` on logits, which fuses
    softmax and log-likelihood and never forms tiny probabilities.
    """

    max_derivative = 0.25  # of the Jacobian's diagonal y (1 - y)

    def _f(self, x):
        z = x - x.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        y = self._y
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))

    def derivative(self):
        """Diagonal of the Jacobian, y (1 - y): used only for saturation statistics."""
        y = self._y
        return y * (1 - y)


ACTIVATIONS = {
    "identity": Identity,
    "linear": Identity,
    "step": Step,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "hard_sigmoid": HardSigmoid,
    "hard_logistic": HardSigmoid,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "elu": ELU,
    "silu": SiLU,
    "swish": SiLU,
    "softmax": Softmax,
}


def activation(name: str, **kwargs) -> Activation:
    """Build an activation layer from its lower-case name, e.g. ``activation("leaky_relu")``.

    Keyword arguments go to the constructor (``negative_slope``, ``alpha``, ``init``).
    """
    cls = ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]
    return cls(**kwargs)
