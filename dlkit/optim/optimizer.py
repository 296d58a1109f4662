"""The base class of every optimizer: flat-buffer packing, ``lr``, ``zero_grad`` and the guard
against rebound parameters (see :mod:`dlkit.optim.buffers`)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import numpy as np

from dlkit.nn.base import Parameter
from dlkit.optim.buffers import pack
from dlkit.validation import check_non_negative


class Optimizer:
    """Base class: flat-buffer packing, ``lr``, ``zero_grad`` and the rebinding guard.

    Parameters
    ----------
    params : iterable of Parameter
        Deduplicated by identity, order kept.
    lr : float
        Learning rate, a finite number >= 0; may be reassigned between steps (the same
        check runs then).

    Attributes
    ----------
    params : list of Parameter
    t : int
        Number of steps taken.
    """

    def __init__(self, params: Iterable[Parameter], lr: float):
        if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
            raise ValueError(
                f"params must be an iterable of Parameters (model.parameters()), got {params!r}"
            )
        unique: dict[int, Parameter] = {}
        for p in params:
            if not (hasattr(p, "data") and hasattr(p, "grad")):
                raise ValueError(
                    "params must be Parameters with .data and .grad (pass model.parameters()), "
                    f"got {p!r}"
                )
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
        self._data, data_views = pack([p.data for p in self.params], names)
        self._grad, grad_views = pack([p.grad for p in self.params], names)
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
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in hyper_names(type(self)))
        return f"{type(self).__name__}({hyper})"


def hyper_names(cls: type[Optimizer]) -> list[str]:
    """The hyper-parameter names of an optimizer class: its constructor's, but ``params``."""
    return [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "params")]
