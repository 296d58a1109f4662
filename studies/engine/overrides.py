"""Command-line variations of a study: ``--set key.path=value`` and ``--arms a,b``.

``--set``: overrides of a study's base config.
A value is parsed as the type of the key's current value (bool, int, float, str; a list, a
dict or a None as JSON), and applied to every config of the study that has the key — the
study's base config and any stage's own — before the arms' overrides, so the trials of an
overridden run hash differently and never reuse the default run's.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
from collections.abc import Sequence
from typing import Any

from studies.engine.config import deep_merge
from studies.engine.spec import ArmChoiceError, Study, normalize_arms
from studies.store.schema import flatten

__all__ = ["apply_overrides", "arm_selected", "parse_arms", "parse_assignment", "select_arms"]

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


def parse_arms(text: str) -> list[str]:
    """``"adam,sgd"`` -> ``["adam", "sgd"]`` (blanks around names dropped; a ValueError for
    an empty list or a repeated name)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--arms needs arm names separated by commas, got {text!r}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--arms names {', '.join(repeated)} more than once")
    return names


def select_arms(study: Study, names: Sequence[str]) -> Study:
    """``study`` with only the arms ``names`` (every stage; a stage left with none is dropped).

    A name with ``*``, ``?`` or ``[`` is a shell-style pattern (``"relu/*"``), as
    :mod:`fnmatch` reads it; the others match exactly.

    The trials are the same trials, so a subset run reuses those of a full run (and the
    reverse). A stage whose arms are chosen from earlier results keeps the chosen arms that
    are among ``names``. Claims that compare other arms end "not evaluated"
    (:func:`studies.engine.claims.judge_study`).

    Raises
    ------
    ValueError
        For a name that is no arm of the study (listing the arms), when no stage chooses its
        arms at run time (a name might be one of those).
    """
    wanted = list(dict.fromkeys(names))
    static = {
        name
        for stage in study.stages
        for spec in (stage.arms, stage.quick_arms)
        if spec is not None and not callable(spec)
        for name in normalize_arms(spec)
    }
    chooses = any(callable(spec) for s in study.stages for spec in (s.arms, s.quick_arms))
    unknown = [n for n in wanted if not any(_matches(arm, n) for arm in static)]
    if unknown and not chooses:
        near = [m for n in unknown for m in difflib.get_close_matches(n, sorted(static), n=3)]
        hint = f" (nearest: {', '.join(dict.fromkeys(near))})" if near else ""
        raise ValueError(
            f"--arms {','.join(unknown)}: no such arm in study {study.name!r}{hint}; its arms: "
            f"{', '.join(sorted(static))}"
        )
    stages = []
    for stage in study.stages:
        arms = _subset(stage.arms, wanted, stage.name)
        quick_arms = _subset(stage.quick_arms, wanted, stage.name)
        if arms is None or (stage.quick_arms is not None and quick_arms is None):
            continue
        stages.append(dataclasses.replace(stage, arms=arms, quick_arms=quick_arms))
    if not stages:
        raise ValueError(f"--arms {','.join(wanted)} leaves study {study.name!r} no arm to run")
    return dataclasses.replace(study, arms=None, stages=stages)


def _subset(spec: Any, wanted: Sequence[str], stage: str) -> Any:
    """The arms of ``spec`` (a mapping or a factory) that are in ``wanted``; None for a
    mapping with none of them."""
    if spec is None:
        return None
    if callable(spec):
        return _ChosenSubset(spec, tuple(wanted), stage)
    arms = {name: arm for name, arm in normalize_arms(spec).items() if arm_selected(name, wanted)}
    return arms or None


def _matches(arm: str, name: str) -> bool:
    if any(ch in name for ch in "*?["):
        return fnmatch.fnmatchcase(arm, name)
    return arm == name


def arm_selected(arm: str, wanted: Sequence[str]) -> bool:
    """True when ``arm`` is one of ``wanted`` (names, or shell-style patterns)."""
    return any(_matches(arm, name) for name in wanted)


@dataclasses.dataclass(frozen=True)
class _ChosenSubset:
    """A stage's arms factory, keeping only the arms ``--arms`` selected."""

    factory: Any
    wanted: tuple[str, ...]
    stage: str

    def __call__(self, previous: Any) -> dict:
        chosen = normalize_arms(self.factory(previous))
        kept = {name: arm for name, arm in chosen.items() if arm_selected(name, self.wanted)}
        if not kept:
            raise ArmChoiceError(
                f"--arms selects none of the arms stage {self.stage!r} chose ({', '.join(chosen)})"
            )
        return kept
