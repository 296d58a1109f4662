"""The MLflow layout of a study, defined once: tag names, prefixes, encodings, artifact names.

The writer logs with these names and the reader reads with them; nothing else spells them.

* One experiment per study; its tags are ``STUDY_TAG``, ``QUESTION_TAG``,
  ``EXPERIMENT_KIND_TAG`` (the UI's model-training view) and its markdown description
  (``NOTE_TAG``: the question and verdicts).
* Runs carry ``KIND_TAG`` = one of :data:`KINDS`: a *summary* run per invocation, a parent run
  per arm (*arm*) or per one-seed stage (*stage*), one child *trial* run per (arm, seed),
  nested under its parent by ``PARENT_TAG``.
* A trial's params are its flattened config (:func:`flatten`, values by :func:`encode_param`);
  its metrics are the per-epoch history at ``step = epoch`` and the summary figures, whose
  keys ``SUMMARY_KEYS_TAG`` lists (:func:`encode_keys`), at step 0; its data are MLflow
  dataset inputs (context tag ``DATASET_CONTEXT_TAG``), also on its arm's parent run.
* The summary run holds the report under ``REPORT_DIR`` and its figures under
  ``FIGURES_DIR``.
* A parent run of an arm holds the seed aggregates ``<key><suffix>`` for every suffix of
  :data:`AGGREGATE_SUFFIXES`, per epoch and (for summary keys) at step 0.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "AGGREGATE_SUFFIXES",
    "ARTIFACTS",
    "ARM_TAG",
    "COMMAND_TAG",
    "CONFIG_HASH_TAG",
    "CONFIG_PREFIX",
    "DATASET_CONTEXT_TAG",
    "DATASET_SOURCE_TYPE",
    "DIVERGED_EPOCH_TAG",
    "DLKIT_VERSION_TAG",
    "DRIVER_TAG",
    "ERROR_TAG",
    "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG",
    "FIGURES_DIR",
    "FACTOR_PREFIX",
    "GIT_COMMIT_TAG",
    "GIT_DIRTY_TAG",
    "KINDS",
    "KIND_TAG",
    "NOTE_TAG",
    "N_ARMS_TAG",
    "N_DIVERGED_TAG",
    "N_FAILED_TAG",
    "N_REUSED_TAG",
    "N_TRIALS_TAG",
    "PARENT_HASH_TAG",
    "PARENT_TAG",
    "QUESTION_TAG",
    "QUICK_TAG",
    "REPORT_DIR",
    "SEED_TAG",
    "STAGE_TAG",
    "STATUS_TAG",
    "STUDY_TAG",
    "SUMMARY_KEYS_TAG",
    "TRACEBACK_ARTIFACT",
    "LEGACY_TRIAL_ARTIFACT_DIR",
    "TRIAL_ARTIFACT_DIR",
    "TRIAL_SET_TAG",
    "canonical_json",
    "decode_bool",
    "decode_keys",
    "decode_optional_int",
    "decode_param",
    "encode_bool",
    "encode_keys",
    "encode_param",
    "flatten",
    "restore_inf",
    "trial_artifact_path",
]

#: MLflow's own tag nesting a run under its parent (the UI draws the tree from it).
PARENT_TAG = "mlflow.parentRunId"
#: MLflow's own tag holding an experiment's (or run's) markdown description.
NOTE_TAG = "mlflow.note.content"
#: MLflow 3's tag choosing an experiment's view: ``custom_model_development`` is the model
#: training (runs) view, where the UI's workflow switch is off (``studies.store.ui``).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
#: MLflow's tag of a dataset input saying what the run used it for (train, validation, test).
DATASET_CONTEXT_TAG = "mlflow.data.context"
#: Source type of the dataset inputs: the data came from code (a loader call), as MLflow's
#: ``CodeDatasetSource``; the source JSON is ``{"tags": {"mlflow.source.name": <call>}}``.
DATASET_SOURCE_TYPE = "code"
#: What a run is: see :data:`KINDS`.
KIND_TAG = "kind"
KINDS = ("summary", "arm", "stage", "trial")
#: Comma-separated summary keys of a trial run (the rest of its metrics are per epoch).
SUMMARY_KEYS_TAG = "summary_keys"

# Tags of the experiment and of every run of an invocation (the code version and --quick).
STUDY_TAG = "study"
QUESTION_TAG = "question"
GIT_COMMIT_TAG = "git_commit"
GIT_DIRTY_TAG = "git_dirty"
DLKIT_VERSION_TAG = "dlkit_version"
QUICK_TAG = "quick"
#: ``host:pid:invocation`` of the process that opened a run (tells orphans from live runs).
DRIVER_TAG = "driver"
# The summary run: the command that reproduces it and its counts.
COMMAND_TAG = "command"
N_TRIALS_TAG = "n_trials"
N_REUSED_TAG = "n_reused"
N_FAILED_TAG = "n_failed"
# Parent runs: their identity, the trials under them and their counts.
PARENT_HASH_TAG = "parent_hash"
TRIAL_SET_TAG = "trial_set"
N_DIVERGED_TAG = "n_diverged"
N_ARMS_TAG = "n_arms"
# Trial runs (``ARM_TAG`` and ``STAGE_TAG`` also on parents). A stage whose seed index is a
# fold also tags ``fold`` (its ``seed_label``) with the same value as ``SEED_TAG``.
ARM_TAG = "arm"
STAGE_TAG = "stage"
SEED_TAG = "seed"
CONFIG_HASH_TAG = "config_hash"
#: The trial's own outcome: ``ok``, ``diverged`` or ``failed``.
STATUS_TAG = "status"
DIVERGED_EPOCH_TAG = "diverged_epoch"
#: The last line of a failed trial's traceback.
ERROR_TAG = "error"

#: Column prefixes of the tidy frames: resolved config entries and an arm's factor labels
#: (``factor.<name>`` is also the tag of the factor on arm and trial runs).
CONFIG_PREFIX = "config."
FACTOR_PREFIX = "factor."
#: Seed aggregates of an arm's parent run: ``<key>_mean``, ``<key>_ci_lo``, ``<key>_ci_hi``.
AGGREGATE_SUFFIXES = ("_mean", "_ci_lo", "_ci_hi")

#: Artifacts of the summary run of an invocation.
ARTIFACTS = {
    "claims": "claims.json",
    "study": "study.json",
    "trials": "trials.json",
    "timing": "timing.json",
}
#: Folder of the summary run holding the rendered report.
REPORT_DIR = "report"
#: Folder of the summary run holding the report's figures, one PNG per plot.
FIGURES_DIR = "figures"
#: Where a trial run's own artifacts (``TrialResult.artifacts``) go: the top of the run's
#: artifacts (MLflow's artifact root is already a folder called ``artifacts``).
TRIAL_ARTIFACT_DIR = ""
#: Where stores written before that kept them (``.../artifacts/artifacts/<name>.json``).
LEGACY_TRIAL_ARTIFACT_DIR = "artifacts/"
#: A failed trial's traceback, at the top of its run's artifacts.
TRACEBACK_ARTIFACT = "traceback.txt"


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


def canonical_json(obj: Any) -> str:
    """Sorted-key, compact JSON: equal configs give equal strings (and hashes).

    NumPy scalars and arrays, tuples and sets are written as plain JSON.

    Raises
    ------
    ValueError
        For a value JSON cannot hold, naming it.
    """
    try:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), default=_plain, allow_nan=True
        )
    except TypeError as err:
        raise ValueError(f"config is not JSON-serialisable: {err}") from err


def encode_param(value: Any) -> str:
    """How a config value is stored as an MLflow param: strings as-is, the rest as JSON."""
    return value if isinstance(value, str) else canonical_json(value)


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


def encode_keys(keys: Iterable[str]) -> str:
    """A list of metric keys as one tag value (``SUMMARY_KEYS_TAG``): comma separated."""
    return ",".join(keys)


def decode_keys(value: str | None) -> list[str]:
    """Invert :func:`encode_keys`; a missing or empty tag is no keys."""
    return [key for key in (value or "").split(",") if key]


def trial_artifact_path(name: str) -> str:
    """Where a trial's dict artifact ``name`` is stored: ``<name>.json``.

    ``name`` may carry the ``.json`` suffix or the folder older stores used (a plot's
    ``artifact`` option is written either way); see :data:`LEGACY_TRIAL_ARTIFACT_DIR`.
    """
    path = f"{TRIAL_ARTIFACT_DIR}{name.removeprefix(LEGACY_TRIAL_ARTIFACT_DIR)}"
    return path if path.endswith(".json") else f"{path}.json"


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
