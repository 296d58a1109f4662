"""Argument validation: one clear ValueError naming the argument, the value and what is allowed.

This module is public: dlkit's constructors, ``fit`` and ``load`` use it, and so may any code
built on dlkit (the studies do). Every function returns the value it accepted (converted where
its name says so), so a check reads as an assignment, ``p = check_range("p", p, 0.0, 1.0)``.

- :func:`check_choice`: a name among a fixed set (``"relu"`` among the activations);
- :func:`check_range`: a number in ``[low, high)`` or ``[low, high]``;
- :func:`check_non_negative`: a number ``>= 0`` (NaN is rejected);
- :func:`check_int`: an integer (not a bool) ``>= minimum``;
- :func:`check_fraction`: a real number strictly between 0 and 1;
- :func:`check_non_negative_number`: a real number (not a bool) ``>= 0``, as a float;
- :func:`check_generator`: a ``numpy.random.Generator``, the only source of randomness dlkit
  accepts.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = [
    "check_choice",
    "check_fraction",
    "check_generator",
    "check_int",
    "check_non_negative",
    "check_non_negative_number",
    "check_range",
]


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
    """Raise a ValueError unless ``low <= value < high`` (``<= high`` if ``high_inclusive``)."""
    ok = low <= value <= high if high_inclusive else low <= value < high
    if not ok:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}, got {value!r}")
    return value


def check_non_negative(name: str, value: float) -> float:
    """Raise a ValueError if ``value`` is negative (or NaN)."""
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


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
    """Return ``value`` as a float if it is a real number ``>= 0``; bools are rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(check_non_negative(name, float(value)))


def check_generator(rng: object, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise a ValueError."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        )
    return rng
