"""Configs: merging an arm's overrides into the base config, seed lists, the config hash.

A trial's config is ``deep_merge(base_config, arm.overrides)`` plus ``{"arm", "seed"}``; its
``config_hash`` (with the code version) is the address under which a finished trial is
found again in the store.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from dlkit.validation import check_choice
from studies.store.schema import canonical_json

__all__ = ["config_hash", "deep_merge", "jsonable", "seed_list"]


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    """``n`` -> ``[0, ..., n-1]``; a sequence is kept (as ints)."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return list(range(seeds))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be a non-empty list of distinct ints, got {seeds!r}")
    return out


def deep_merge(
    base: Mapping[str, Any], override: Mapping[str, Any], *, what: str = "override", _path: str = ""
) -> dict:
    """Return a copy of ``base`` with ``override`` merged in, refusing unknown keys.

    An override may only set keys that exist in ``base`` (a typo must not silently create a
    new, unused setting) — except inside a dict that is empty in ``base``, which is open
    (e.g. ``{"hyper": {}}`` for optimizer-specific extras). A dict in ``base`` can only be
    replaced by a dict.

    Raises
    ------
    ValueError
        Naming the bad key and the valid keys at that level.
    """
    merged = copy.deepcopy(dict(base))
    open_level = not base
    for key, value in override.items():
        where = f"{_path}{key}"
        if key not in base and not open_level:
            check_choice(
                f"config key in {what} (at {_path or 'top level'!r})",
                where,
                [f"{_path}{k}" for k in base],
            )
        old = base.get(key)
        if isinstance(old, Mapping):
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"{what}: {where!r} must be a dict like the base config's "
                    f"({sorted(old)}), got {value!r}"
                )
            merged[key] = deep_merge(old, value, what=what, _path=f"{where}.")
        else:
            if isinstance(value, Mapping) and key in base:
                raise ValueError(
                    f"{what}: {where!r} is a value ({old!r}) in the base config, "
                    f"not a dict; got {value!r}"
                )
            merged[key] = copy.deepcopy(value)
    return merged


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (NumPy values, tuples and sets converted)."""
    return json.loads(canonical_json(obj))


def config_hash(config: Mapping[str, Any], code: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the resolved config and the code version."""
    payload = canonical_json({"config": config, "code": code})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
