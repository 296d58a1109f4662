"""The MLflow layout of a study, defined once: tag names, prefixes, encodings, artifact names.

The writer logs with these names and the reader reads with them; nothing else spells them.

* One experiment per study; its description (``NOTE_TAG``) holds the question and verdicts.
* Runs carry ``KIND_TAG`` = one of :data:`KINDS`: a *summary* run per invocation, a parent run
  per arm (*arm*) or per one-seed stage (*stage*), one child *trial* run per (arm, seed),
  nested under its parent by ``PARENT_TAG``.
* A trial's params are its flattened config (:func:`flatten`, values by :func:`encode_param`);
  its metrics are the per-epoch history at ``step = epoch`` and the summary figures, whose
  keys ``SUMMARY_KEYS_TAG`` lists, at step 0.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ARTIFACTS",
    "CONFIG_PREFIX",
    "FACTOR_PREFIX",
    "KINDS",
    "KIND_TAG",
    "NOTE_TAG",
    "PARENT_TAG",
    "SUMMARY_KEYS_TAG",
    "decode_bool",
    "decode_optional_int",
    "decode_param",
    "encode_bool",
    "encode_param",
    "flatten",
    "restore_inf",
]

#: MLflow's own tag nesting a run under its parent (the UI draws the tree from it).
PARENT_TAG = "mlflow.parentRunId"
#: MLflow's own tag holding an experiment's (or run's) markdown description.
NOTE_TAG = "mlflow.note.content"
#: What a run is: see :data:`KINDS`.
KIND_TAG = "kind"
KINDS = ("summary", "arm", "stage", "trial")
#: Comma-separated summary keys of a trial run (the rest of its metrics are per epoch).
SUMMARY_KEYS_TAG = "summary_keys"
#: Column prefixes of the tidy frames: resolved config entries and an arm's factor labels
#: (``factor.<name>`` is also the tag of the factor on arm and trial runs).
CONFIG_PREFIX = "config."
FACTOR_PREFIX = "factor."
#: Artifacts of the summary run of an invocation.
ARTIFACTS = {
    "claims": "claims.json",
    "study": "study.json",
    "trials": "trials.json",
    "timing": "timing.json",
}


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys: ``{"a": {"b": 1}} -> {"a.b": 1}``.

    An empty dict stays a value (``{"hyper": {}} -> {"hyper": {}}``), so it still shows.
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def encode_param(value: Any) -> str:
    """How a config value is stored as an MLflow param: strings as-is, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


def decode_param(value: str) -> Any:
    """Invert :func:`encode_param` (a string that is not JSON stays a string)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def encode_bool(value: bool) -> str:
    """A boolean tag: ``"true"`` or ``"false"``."""
    return "true" if value else "false"


def decode_bool(value: str | None) -> bool:
    """Invert :func:`encode_bool`; a missing tag is False."""
    return value == "true"


def decode_optional_int(value: str | None) -> int | None:
    """An integer tag that may be absent (e.g. ``diverged_epoch``): None when missing."""
    if value in (None, "", "None"):
        return None
    return int(value)


def restore_inf(value: float) -> float:
    """Map MLflow's clamped infinities (``±sys.float_info.max``) back to ``±inf``.

    MLflow's SQL store stores ``±inf`` as ``±sys.float_info.max``; a summary such as
    ``epochs_to_target = inf`` (never reached) reads back through this.
    """
    if abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value


def _plain(obj: Any) -> Any:
    # NumPy scalars and arrays, tuples and sets: stored as plain JSON.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    raise ValueError(f"config value {obj!r} of type {type(obj).__name__} is not JSON-serialisable")
