"""Input validation shared by dlkit: one clear error naming the bad value and the valid choices."""

from __future__ import annotations

from collections.abc import Iterable


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
