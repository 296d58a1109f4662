"""First-order optimizers with the update rules documented for ``torch.optim``.

Every optimizer here follows, line by line, the pseudo-code of its ``torch.optim`` namesake
(same hyper-parameter names, defaults, eps placement, bias corrections), so a run can be
checked step by step against PyTorch; each ``step`` spells its rule out in full.

Flat buffers
------------
A tiny network trains in microseconds per batch, so per-parameter Python loops would dominate
the step. At construction the optimizer therefore packs all its parameters into **one**
contiguous data buffer and **one** gradient buffer: it copies the current values in, then
rebinds every ``p.data`` and ``p.grad`` to a view of those buffers. Layers read
``self.weight.data`` at every call and accumulate into ``p.grad`` in place, so they stay
connected, and a step is a handful of in-place NumPy operations over the whole flat array
(preallocated state and scratch, no per-step allocation). ``zero_grad`` is one ``fill(0)``.

Consequences for users:

- ``p.data`` and ``p.grad`` must be changed **in place** (``p.data[...] = x``,
  ``p.grad += g``, ``np.copyto``), never rebound. ``step`` and ``zero_grad`` check that every
  parameter still holds the arrays the optimizer bound (an identity check, no copy) and raise
  RuntimeError otherwise, instead of silently training arrays nobody reads.
- If the parameters already are consecutive views of one flat buffer (e.g. a second
  optimizer over the same parameters), that buffer is reused as is; nothing is rebound and
  the first optimizer keeps working.
- A parameter listed twice (weight tying) is packed once: its single ``.grad`` already holds
  the sum of both uses.
- All parameters must share one floating dtype (float32 normally, float64 for checks).

Hyper-parameters are plain Python floats, so ``float32 * scalar`` stays float32; ``lr`` is a
property read at every step, so a schedule may assign ``optimizer.lr`` between steps.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.validation import check_choice, check_non_negative, check_range

__all__ = [
    "SGD",
    "Adagrad",
    "Adadelta",
    "RMSprop",
    "Adam",
    "AdamW",
    "Optimizer",
    "build",
    "clip_grad_norm",
    "NAMES",
]


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _consecutive_views(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer of which ``arrays`` are consecutive C-contiguous views, or None."""
    base = arrays[0].base
    if (
        not isinstance(base, np.ndarray)
        or base.ndim != 1
        or not base.flags.c_contiguous
        or base.dtype != arrays[0].dtype
    ):
        return None
    itemsize = base.itemsize
    start = _address(arrays[0]) - _address(base)
    if start < 0 or start % itemsize:
        return None
    position = _address(arrays[0])
    total = 0
    for a in arrays:
        if (
            a.base is not base
            or a.dtype != base.dtype
            or not a.flags.c_contiguous
            or a.size == 0
            or _address(a) != position
        ):
            return None
        position += a.nbytes
        total += a.size
    offset = start // itemsize
    if offset + total > base.size:
        return None
    return base[offset : offset + total]


def _check_disjoint(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """Packing copies each array, which would silently untie arrays sharing memory."""
    spans = sorted(
        (_address(a), _address(a) + a.nbytes, name)
        for a, name in zip(arrays, names, strict=True)
        if a.nbytes
    )
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise ValueError(
                f"parameters {first!r} and {second!r} share memory; tie weights by listing "
                "the same Parameter object twice, not two Parameters over one array"
            )


def _pack(arrays: Sequence[np.ndarray], names: Sequence[str]) -> tuple[np.ndarray, list]:
    """Return ``(flat, views)``: reuse a flat buffer the arrays already view, else copy in."""
    flat = _consecutive_views(arrays)
    if flat is not None:
        return flat, list(arrays)
    _check_disjoint(arrays, names)
    flat = np.empty(sum(a.size for a in arrays), dtype=arrays[0].dtype)
    views, offset = [], 0
    for a in arrays:
        view = flat[offset : offset + a.size].reshape(a.shape)
        view[...] = a
        views.append(view)
        offset += a.size
    return flat, views


class Optimizer:
    """Base class: flat-buffer packing, ``lr``, ``zero_grad`` and the rebinding guard.

    Parameters
    ----------
    params : iterable of Parameter
        Deduplicated by identity, order kept.
    lr : float
        Learning rate, >= 0; may be reassigned between steps.

    Attributes
    ----------
    params : list of Parameter
    t : int
        Number of steps taken.
    """

    def __init__(self, params: Iterable[Parameter], lr: float):
        unique: dict[int, Parameter] = {}
        for p in params:
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise TypeError(f"optimizer expects Parameters (with .data and .grad), got {p!r}")
            unique.setdefault(id(p), p)
        self.params = list(unique.values())
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        names = [getattr(p, "name", "param") for p in self.params]
        dtype = self.params[0].data.dtype
        for p, name in zip(self.params, names, strict=True):
            if p.data.dtype != dtype or p.grad.dtype != dtype or dtype.kind != "f":
                raise ValueError(
                    f"all parameters and gradients must share one float dtype; {name!r} has "
                    f"data {p.data.dtype} and grad {p.grad.dtype}, the first parameter {dtype}"
                )
            if p.grad.shape != p.data.shape:
                raise ValueError(
                    f"parameter {name!r}: grad shape {p.grad.shape} != data shape {p.data.shape}"
                )
        self._data, data_views = _pack([p.data for p in self.params], names)
        self._grad, grad_views = _pack([p.grad for p in self.params], names)
        for p, d, g in zip(self.params, data_views, grad_views, strict=True):
            p.data, p.grad = d, g
        self._bound = tuple(
            (p, d, g) for p, d, g in zip(self.params, data_views, grad_views, strict=True)
        )
        self.lr = lr
        self.t = 0

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        # Stored as a Python float: an np.float64 would upcast every float32 op of the step.
        self._lr = float(check_non_negative("lr", value))

    def _state(self) -> np.ndarray:
        """A zero buffer shaped like the flat parameters (optimizer state or scratch)."""
        return np.zeros_like(self._data)

    def _check_bound(self) -> None:
        for p, data, grad in self._bound:
            if p.data is not data or p.grad is not grad:
                which = ".data" if p.data is not data else ".grad"
                raise RuntimeError(
                    f"parameter {getattr(p, 'name', 'param')!r}: its {which} array was replaced "
                    f"after the {type(self).__name__} optimizer was built, so the optimizer no "
                    "longer sees it. dlkit optimizers keep all parameters in one flat buffer: "
                    "update .data and .grad in place (p.data[...] = x, p.grad += g, "
                    "np.copyto), or build a new optimizer after rebinding."
                )

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (one ``fill`` of the flat buffer)."""
        self._check_bound()
        self._grad.fill(0)

    def step(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in _hyper_names(type(self)))
        return f"{type(self).__name__}({hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    As ``torch.optim.SGD``: with ``g = grad + weight_decay * theta``,
    ``b_1 = g``, ``b_t = momentum * b_{t-1} + (1 - dampening) * g``; the step direction is
    ``g + momentum * b_t`` (Nesterov) or ``b_t``; ``theta -= lr * direction``.
    Nesterov momentum in this form is from Sutskever et al., ICML 2013.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    momentum : float
        >= 0; 0 disables the momentum buffer.
    dampening : float
        Scales the new gradient into the buffer by ``1 - dampening`` (not on the first step).
    nesterov : bool
        Requires ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float
        Coupled L2 penalty: ``weight_decay * theta`` is added to the gradient.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        self.momentum = float(check_non_negative("momentum", momentum))
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "nesterov=True requires momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r}, dampening={dampening!r}"
            )
        super().__init__(params, lr)
        self._decayed = self._state() if self.weight_decay else None
        self._buf = self._state() if self.momentum else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        lr, mu, wd = self._lr, self.momentum, self.weight_decay
        theta, g, s = self._data, self._grad, self._scratch
        if wd:
            np.multiply(theta, wd, out=self._decayed)
            self._decayed += g
            g = self._decayed
        if mu:
            buf = self._buf
            if self.t == 0:
                np.copyto(buf, g)
            else:
                buf *= mu
                if self.dampening:
                    np.multiply(g, 1.0 - self.dampening, out=s)
                    buf += s
                else:
                    buf += g
            if self.nesterov:
                np.multiply(buf, mu, out=s)
                s += g
                g = s
            else:
                g = buf
        np.multiply(g, lr, out=s)
        theta -= s
        self.t += 1


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer, JMLR 2011), as ``torch.optim.Adagrad``.

    With ``g = grad + weight_decay * theta`` and ``clr = lr / (1 + (t - 1) * lr_decay)``:
    ``sum += g**2``; ``theta -= clr * g / (sqrt(sum) + eps)``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    lr_decay : float
        Learning-rate decay per step (``clr`` above), >= 0.
    eps : float
        Added to the square root, outside it.
    weight_decay : float
    initial_accumulator_value : float
        Starting value of ``sum``, >= 0.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        lr_decay: float = 0.0,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ):
        self.lr_decay = float(check_non_negative("lr_decay", lr_decay))
        self.eps = float(check_non_negative("eps", eps))
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        self.initial_accumulator_value = float(
            check_non_negative("initial_accumulator_value", initial_accumulator_value)
        )
        super().__init__(params, lr)
        self._sum = np.full_like(self._data, self.initial_accumulator_value)
        self._decayed = self._state() if self.weight_decay else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        self.t += 1
        theta, g, s = self._data, self._grad, self._scratch
        if self.weight_decay:
            np.multiply(theta, self.weight_decay, out=self._decayed)
            self._decayed += g
            g = self._decayed
        clr = self._lr / (1.0 + (self.t - 1) * self.lr_decay)
        np.multiply(g, g, out=s)
        self._sum += s
        # eps outside the square root, as torch: sqrt(sum) + eps.
        np.sqrt(self._sum, out=s)
        s += self.eps
        np.divide(g, s, out=s)
        s *= clr
        theta -= s


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    With ``g = grad + weight_decay * theta``: ``v = rho * v + (1 - rho) * g**2``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho * u + (1 - rho) * delta**2``;
    ``theta -= lr * delta``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Scales ``delta``; 1.0 is Zeiler's original rule.
    rho : float
        Decay of both running averages, in [0, 1].
    eps : float
        Added inside both square roots.
    weight_decay : float
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ):
        self.rho = float(check_range("rho", rho, 0.0, 1.0, high_inclusive=True))
        self.eps = float(check_non_negative("eps", eps))
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        super().__init__(params, lr)
        self._square_avg = self._state()
        self._acc_delta = self._state()
        self._delta = self._state()
        self._decayed = self._state() if self.weight_decay else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        rho, eps = self.rho, self.eps
        theta, g, s = self._data, self._grad, self._scratch
        v, u, delta = self._square_avg, self._acc_delta, self._delta
        if self.weight_decay:
            np.multiply(theta, self.weight_decay, out=self._decayed)
            self._decayed += g
            g = self._decayed
        v *= rho
        np.multiply(g, g, out=s)
        s *= 1.0 - rho
        v += s
        # delta = sqrt(u + eps) / sqrt(v + eps) * g: eps inside both roots.
        np.add(v, eps, out=s)
        np.sqrt(s, out=s)
        np.add(u, eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= s
        delta *= g
        u *= rho
        np.multiply(delta, delta, out=s)
        s *= 1.0 - rho
        u += s
        np.multiply(delta, self._lr, out=s)
        theta -= s
        self.t += 1


class RMSprop(Optimizer):
    """RMSprop (Hinton, Coursera lecture 6e, 2012), as ``torch.optim.RMSprop``.

    With ``g = grad + weight_decay * theta``: ``v = alpha * v + (1 - alpha) * g**2``;
    centered: ``g_avg = alpha * g_avg + (1 - alpha) * g`` and ``v~ = v - g_avg**2`` (Graves,
    2013), else ``v~ = v``; ``d = g / (sqrt(v~) + eps)``; with momentum ``b = momentum * b + d``
    and ``theta -= lr * b``, else ``theta -= lr * d``.

    The centered ``v - g_avg**2`` is mathematically >= 0; it is clipped at 0 so that float
    rounding on a constant gradient cannot make its square root NaN (torch would return NaN
    there; everywhere else the results are identical).

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    alpha : float
        Decay of the running averages, >= 0.
    eps : float
        Added to the square root, outside it.
    momentum : float
    centered : bool
    weight_decay : float
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        centered: bool = False,
        weight_decay: float = 0.0,
    ):
        self.alpha = float(check_non_negative("alpha", alpha))
        self.eps = float(check_non_negative("eps", eps))
        self.momentum = float(check_non_negative("momentum", momentum))
        self.centered = bool(centered)
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        super().__init__(params, lr)
        self._square_avg = self._state()
        self._grad_avg = self._state() if self.centered else None
        self._buf = self._state() if self.momentum else None
        self._decayed = self._state() if self.weight_decay else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        alpha = self.alpha
        theta, g, s, v = self._data, self._grad, self._scratch, self._square_avg
        if self.weight_decay:
            np.multiply(theta, self.weight_decay, out=self._decayed)
            self._decayed += g
            g = self._decayed
        v *= alpha
        np.multiply(g, g, out=s)
        s *= 1.0 - alpha
        v += s
        if self.centered:
            g_avg = self._grad_avg
            np.subtract(g, g_avg, out=s)
            s *= 1.0 - alpha
            g_avg += s
            np.multiply(g_avg, g_avg, out=s)
            np.subtract(v, s, out=s)
            np.maximum(s, 0.0, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(v, out=s)
        s += self.eps
        np.divide(g, s, out=s)
        if self.momentum:
            self._buf *= self.momentum
            self._buf += s
            np.multiply(self._buf, self._lr, out=s)
        else:
            s *= self._lr
        theta -= s
        self.t += 1


def _check_betas(betas: Sequence[float]) -> tuple[float, float]:
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = check_range("betas[0]", betas[0], 0.0, 1.0)
    beta2 = check_range("betas[1]", betas[1], 0.0, 1.0)
    return float(beta1), float(beta2)


class Adam(Optimizer):
    """Adam (Kingma & Ba, ICLR 2015), optionally AMSGrad (Reddi et al., ICLR 2018).

    As ``torch.optim.Adam``: with ``g = grad + weight_decay * theta`` (coupled L2),
    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g**2``;
    AMSGrad keeps ``v_max = max(v_max, v)`` (of the *uncorrected* ``v``) and uses it for ``v``;
    ``theta -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``, i.e. eps is
    added to the bias-corrected root, outside it.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    betas : (float, float)
        Each in [0, 1).
    eps : float
    weight_decay : float
        Coupled: added to the gradient. For decoupled decay use ``AdamW``.
    amsgrad : bool
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        self.betas = _check_betas(betas)
        self.eps = float(check_non_negative("eps", eps))
        self.weight_decay = float(check_non_negative("weight_decay", weight_decay))
        self.amsgrad = bool(amsgrad)
        super().__init__(params, lr)
        self._exp_avg = self._state()
        self._exp_avg_sq = self._state()
        self._max_exp_avg_sq = self._state() if self.amsgrad else None
        coupled = self.weight_decay and not self.decoupled
        self._decayed = self._state() if coupled else None
        self._scratch = self._state()

    def step(self) -> None:
        """Apply one update from the current gradients."""
        self._check_bound()
        self.t += 1
        beta1, beta2 = self.betas
        lr, wd = self._lr, self.weight_decay
        theta, g, s = self._data, self._grad, self._scratch
        m, v = self._exp_avg, self._exp_avg_sq
        if wd and self.decoupled:
            theta *= 1.0 - lr * wd
        elif wd:
            np.multiply(theta, wd, out=self._decayed)
            self._decayed += g
            g = self._decayed
        np.subtract(g, m, out=s)
        s *= 1.0 - beta1
        m += s
        v *= beta2
        np.multiply(g, g, out=s)
        s *= 1.0 - beta2
        v += s
        if self.amsgrad:
            np.maximum(self._max_exp_avg_sq, v, out=self._max_exp_avg_sq)
            v = self._max_exp_avg_sq
        bias_correction1 = 1.0 - beta1**self.t
        bias_correction2 = 1.0 - beta2**self.t
        np.sqrt(v, out=s)
        s /= math.sqrt(bias_correction2)
        s += self.eps
        np.divide(m, s, out=s)
        s *= lr / bias_correction1
        theta -= s


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019).

    As ``torch.optim.AdamW``: first ``theta *= 1 - lr * weight_decay``, then the Adam update
    computed from the raw gradient (the decay never enters ``m`` or ``v``). Parameters as
    ``Adam``, with ``weight_decay`` defaulting to 1e-2.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Rescale gradients in place so their global 2-norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: ``total`` is the 2-norm of all gradients taken
    together, and every gradient is multiplied by ``min(1, max_norm / (total + 1e-6))``.

    Parameters
    ----------
    params : iterable of Parameter
    max_norm : float
        >= 0.

    Returns
    -------
    float
        The total norm *before* clipping.
    """
    check_non_negative("max_norm", max_norm)
    grads = list({id(p): p.grad for p in params}.values())
    total = 0.0
    for g in grads:
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    total = math.sqrt(total)
    coef = max_norm / (total + 1e-6)
    # `not coef >= 1` also catches NaN, which (as in torch) then propagates into the grads.
    if not coef >= 1.0:
        for g in grads:
            g *= coef
    return total


_BUILDERS: dict[str, tuple[type[Optimizer], dict]] = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "adadelta": (Adadelta, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
    "adamw": (AdamW, {}),
}
NAMES = tuple(_BUILDERS)


def _hyper_names(cls: type[Optimizer]) -> list[str]:
    return [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "params")]


def build(name: str, params: Iterable[Parameter], **hyper) -> Optimizer:
    """Build an optimizer from its lower-case name.

    Parameters
    ----------
    name : str
        One of ``NAMES``: ``"sgd"``, ``"momentum"`` (SGD, momentum 0.9 unless given),
        ``"nesterov"`` (SGD with Nesterov momentum, 0.9 unless given), ``"adagrad"``,
        ``"adadelta"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``.
    params : iterable of Parameter
    **hyper
        Constructor arguments (``lr``, ``momentum``, ``betas``, ...). ``"nesterov"`` fixes
        ``nesterov=True``.

    Returns
    -------
    Optimizer

    Raises
    ------
    ValueError
        For an unknown name, an unknown or fixed hyper-parameter, or a missing required one
        (``lr`` for the SGD family).
    """
    check_choice("optimizer", name, NAMES)
    cls, defaults = _BUILDERS[name]
    valid = [n for n in _hyper_names(cls) if not (name == "nesterov" and n == "nesterov")]
    unknown = sorted(set(hyper) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown hyper-parameter(s) {', '.join(unknown)} for optimizer {name!r}; "
            f"valid: {', '.join(valid)}"
        )
    signature = inspect.signature(cls.__init__).parameters
    missing = [
        n
        for n in valid
        if signature[n].default is inspect.Parameter.empty and n not in hyper and n not in defaults
    ]
    if missing:
        raise ValueError(f"optimizer {name!r} needs {', '.join(missing)} (e.g. lr=0.1)")
    return cls(params, **{**defaults, **hyper})
