"""``--set key.path=value``: command-line overrides of a study's base config.

A value is parsed as the type of the key's current value (bool, int, float, str; a list, a
dict or a None as JSON), and applied to every config of the study that has the key — the
study's base config and any stage's own — before the arms' overrides, so the trials of an
overridden run hash differently and never reuse the default run's.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Sequence
from typing import Any

from studies.engine.config import deep_merge
from studies.engine.spec import Study
from studies.store.schema import flatten

__all__ = ["apply_overrides", "parse_assignment"]

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_assignment(text: str) -> tuple[str, str]:
    """``"train.epochs=20"`` -> ``("train.epochs", "20")``; a ValueError without ``=``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set needs KEY.PATH=VALUE (e.g. train.epochs=20), got {text!r}")
    return key.strip(), value.strip()


def _parse(key: str, text: str, current: Any) -> Any:
    """``text`` as a value of ``current``'s type, or a ValueError naming key, value, type."""
    kind = type(current).__name__
    try:
        if isinstance(current, bool):
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if isinstance(current, str):
            return text
        value = json.loads(text)
        if current is not None and not isinstance(value, type(current)):
            raise ValueError
        return value
    except ValueError:
        expected = "JSON" if current is None else kind
        raise ValueError(
            f"--set {key}={text!r}: expected a value of type {expected} (the current value is "
            f"{current!r})"
        ) from None


def apply_overrides(study: Study, assignments: Sequence[str]) -> Study:
    """``study`` with every ``KEY.PATH=VALUE`` of ``assignments`` set in its configs.

    Raises
    ------
    ValueError
        For a malformed assignment, a key no config of the study has (naming the nearest
        valid keys), or a value that does not parse as the key's type.
    """
    if not assignments:
        return study
    base = dict(study.base_config)
    stages = list(study.stages)
    configs = [flatten(base)] + [flatten(s.base_config) for s in stages if s.base_config]
    known = sorted({k for flat in configs for k in flat})
    for text in assignments:
        key, raw = parse_assignment(text)
        holders = [flat for flat in configs if key in flat]
        if not holders:
            near = difflib.get_close_matches(key, known, n=5, cutoff=0.5) or known[:8]
            raise ValueError(
                f"--set {key}: no such key in the study's config; nearest: {', '.join(near)}"
            )
        value = _parse(key, raw, holders[0][key])
        nested: dict[str, Any] = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        if key in configs[0]:
            base = deep_merge(base, nested, what="--set")
        stages = [
            dataclasses.replace(s, base_config=deep_merge(s.base_config, nested, what="--set"))
            if s.base_config and key in flatten(s.base_config)
            else s
            for s in stages
        ]
    # A study declared with arms= builds its one stage itself (it must not get both).
    return dataclasses.replace(study, base_config=base, stages=() if study.arms else stages)
