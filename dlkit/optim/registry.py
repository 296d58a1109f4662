"""``build``: an optimizer from its lower-case name, as a study's config names it."""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from dlkit.nn.base import Parameter
from dlkit.optim.adadelta import Adadelta
from dlkit.optim.adagrad import Adagrad
from dlkit.optim.adam import Adam
from dlkit.optim.adamw import AdamW
from dlkit.optim.optimizer import Optimizer, hyper_names
from dlkit.optim.rmsprop import RMSprop
from dlkit.optim.sgd import SGD
from dlkit.validation import check_choice

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
    valid = [n for n in hyper_names(cls) if not (name == "nesterov" and n == "nesterov")]
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
