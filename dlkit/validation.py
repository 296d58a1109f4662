"""Argument validation: one clear ValueError naming the argument, the value and what is allowed.

This module is public: dlkit's constructors, ``fit`` and ``load`` use it, and so may any code
built on dlkit (the studies do). Every function returns the value it accepted (converted where
its name says so), so a check reads as an assignment, ``p = check_range("p", p, 0.0, 1.0)``.

- :func:`check_choice`: a name among a fixed set (``"relu"`` among the activations);
- :func:`check_range`: a real number (not a bool) in ``[low, high)`` or ``[low, high]``;
- :func:`check_non_negative`: a finite real number (not a bool) ``>= 0``;
- :func:`check_finite_number`: a finite real number (not a bool), optionally ``>= low``;
- :func:`check_int`: an integer (not a bool) ``>= minimum``;
- :func:`check_bool`: ``True`` or ``False``;
- :func:`check_fraction`: a real number strictly between 0 and 1;
- :func:`check_non_negative_number`: the same as :func:`check_non_negative` (an alias);
- :func:`check_generator`: a ``numpy.random.Generator``, the only source of randomness dlkit
  accepts;
- :func:`check_array`: a numeric ``numpy.ndarray`` with at least one sample and, where asked,
  only finite values (its message names the argument and the first bad entry);
- :func:`check_same_length`: two arrays with as many samples each.

Every message has the form ``"<argument> must be <what is allowed>, got <value>"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_array",
    "check_bool",
    "check_choice",
    "check_finite_number",
    "check_fraction",
    "check_generator",
    "check_int",
    "check_non_negative",
    "check_non_negative_number",
    "check_range",
    "check_same_length",
]


def is_real(value: object) -> bool:
    """Whether ``value`` is a real number: a Python or NumPy int or float, but not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(
        value, (int, float, np.integer, np.floating)
    )


def check_choice(kind: str, value: object, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError naming both.

    Parameters
    ----------
    kind : str
        What is being chosen, e.g. ``"activation"``; used in the message.
    value : object
        The user's value.
    choices : iterable of str
        The valid names.
    """
    choices = sorted(choices)
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; valid choices: {', '.join(choices)}")
    return value  # type: ignore[return-value]


def check_range(name: str, value: float, low: float, high: float, *, high_inclusive=False) -> float:
    """Return ``value`` as a float if it is a real number with ``low <= value < high``
    (``<= high`` if ``high_inclusive``), else raise a ValueError."""
    bracket = "]" if high_inclusive else ")"
    if not is_real(value):
        raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")
    ok = low <= value <= high if high_inclusive else low <= value < high
    if not ok:
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")
    return float(value)


def check_non_negative(name: str, value: float) -> float:
    """Return ``value`` as a float if it is a finite real number ``>= 0``, else raise a
    ValueError (strings, bools, NaN and infinities included)."""
    if not is_real(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def check_finite_number(name: str, value: object, *, low: float | None = None) -> float:
    """Return ``value`` as a float if it is a finite real number (``>= low`` when given)."""
    allowed = "a finite number" if low is None else f"a finite number >= {low}"
    if not is_real(value) or not math.isfinite(value) or (low is not None and value < low):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a bool if it is ``True`` or ``False`` (NumPy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``; bools are rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a real number in the open interval (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"{name} must be a float in (0, 1), got {value!r}")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


def check_non_negative_number(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number ``>= 0``; bools are rejected.

    The same check as :func:`check_non_negative` (kept for the code that calls it by this
    name)."""
    return check_non_negative(name, value)


def check_generator(rng: object, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise a ValueError."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        )
    return rng


def _describe(value: object) -> str:
    """A short description of a rejected array argument: its type, or shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def check_array(
    name: str, value: object, *, finite: bool = True, min_samples: int = 1
) -> np.ndarray:
    """Return ``value`` if it is a numeric ``numpy.ndarray`` with a sample axis, at least
    ``min_samples`` samples and (with ``finite``) no NaN or infinity; else raise a ValueError.

    Parameters
    ----------
    name : str
        The argument's name, e.g. ``"X_val"``; used in the message.
    value : object
        The user's value. Lists are rejected rather than converted: dlkit never copies the
        data behind the caller's back.
    finite : bool
        Also reject NaN and infinite entries (one pass over the array).
    min_samples : int
        Fewest entries along the first axis.
    """
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a numpy array (np.asarray(...)), got {_describe(value)}")
    if value.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be an array of numbers, got {_describe(value)}")
    if value.ndim == 0:
        raise ValueError(f"{name} must have a sample axis (ndim >= 1), got {_describe(value)}")
    if len(value) < min_samples:
        raise ValueError(
            f"{name} must hold at least {min_samples} sample(s), got "
            f"{'an empty array' if len(value) == 0 else f'{len(value)}'} of shape {value.shape}"
        )
    if finite and value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = ~np.isfinite(value)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must hold only finite values, got {int(bad.sum())} NaN or infinite "
            f"entries (the first, {float(value[first])!r}, at index {first}) in "
            f"{_describe(value)}"
        )
    return value


def check_same_length(names: tuple[str, str], first: np.ndarray, second: np.ndarray) -> None:
    """Raise a ValueError unless ``first`` and ``second`` have as many samples each."""
    if len(first) != len(second):
        raise ValueError(
            f"{names[1]} must have as many samples as {names[0]} ({len(first)}), got {len(second)}"
        )
