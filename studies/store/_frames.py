"""The pure half of the reader: runs and values already read -> the reported runs and frames.

No MLflow calls here: each function takes the ``mlflow.entities.Run`` objects of a search (or
values already read), picks the runs of the reported invocation or builds one of the frames of
:class:`studies.store.reader.StudyRuns`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from studies.store.schema import (
    AGGREGATE_SUFFIXES,
    ARM_TAG,
    CONFIG_HASH_TAG,
    CONFIG_PREFIX,
    DIVERGED_EPOCH_TAG,
    DLKIT_VERSION_TAG,
    FACTOR_PREFIX,
    GIT_COMMIT_TAG,
    N_DIVERGED_TAG,
    N_FAILED_TAG,
    N_TRIALS_TAG,
    PARENT_TAG,
    SEED_TAG,
    STAGE_TAG,
    STATUS_TAG,
    decode_optional_int,
    decode_param,
    restore_inf,
)

__all__ = [
    "TRIAL_ID_COLUMNS",
    "arms_frame",
    "declared_arms",
    "declared_artifacts",
    "history_frame",
    "identity",
    "latest_per_trial",
    "latest_values",
    "select_arms",
    "select_trials",
    "stages_of",
    "to_datetime",
    "trials_frame",
]

# Columns of ``StudyRuns.trials`` that describe a trial rather than measure it.
TRIAL_ID_COLUMNS = (
    "run_id",
    "run_name",
    "stage",
    "arm",
    "seed",
    "status",
    "diverged_epoch",
    "run_status",
    "parent_run_id",
    "config_hash",
    "git_commit",
    "dlkit_version",
    "start_time",
    "end_time",
)
HISTORY_ID_COLUMNS = ["run_id", "stage", "arm", "seed", "status", "epoch"]

logger = logging.getLogger(__name__)


def to_datetime(ms: int | None) -> datetime | None:
    """An MLflow timestamp (ms since the epoch) as an aware UTC datetime."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def latest_values(
    records: list[tuple[str, int, str, float, int]],
) -> dict[tuple[str, int, str], float]:
    """One value per (run, step, key) from raw history rows: the latest logged, ``inf`` restored.

    Parameters
    ----------
    records : list of (run_id, step, key, value, timestamp)
        As :func:`studies.store._bulk.metric_histories` returns them; a step logged twice (a
        resumed trial) appears twice.

    Returns
    -------
    dict
        ``{(run_id, step, key): value}``; of two rows with equal timestamps the later one wins.
    """
    latest: dict[tuple[str, int, str], tuple[int, float]] = {}
    for run_id, step, key, value, timestamp in records:
        current = latest.get((run_id, step, key))
        if current is None or timestamp >= current[0]:
            latest[(run_id, step, key)] = (timestamp, value)
    return {where: restore_inf(value) for where, (_, value) in latest.items()}


def declared_arms(study: dict) -> dict[str, dict]:
    """Normalise ``study.json``'s arms to ``{name: {"overrides": dict, "factors": dict}}``.

    Accepts the engine's mapping name -> ``{"overrides", "factors", "stage"}``, a plain
    mapping name -> overrides, or a list of ``{"name": ..., "overrides": ..., ...}``;
    ``"group"`` is read as a synonym of ``"factors"`` and the stage defaults to ``"main"``.
    """
    arms = study.get("arms") or {}
    if isinstance(arms, list):
        arms = {
            str(a.get("name", i)): {k: v for k, v in a.items() if k != "name"}
            for i, a in enumerate(arms)
            if isinstance(a, dict)
        }
    out = {}
    for name, spec in arms.items():
        spec = spec if isinstance(spec, dict) else {}
        structured = isinstance(spec.get("overrides"), dict) or isinstance(spec.get("config"), dict)
        if structured:
            overrides = spec.get("overrides", spec.get("config")) or {}
            factors = spec.get("factors") or spec.get("group") or {}
        else:
            overrides = {k: v for k, v in spec.items() if k not in ("factors", "group", "stage")}
            factors = spec.get("factors") or spec.get("group") or {}
        out[str(name)] = {
            "overrides": overrides,
            "factors": factors if isinstance(factors, dict) else {},
            "stage": str(spec.get("stage") or "main"),
        }
    return out


def stages_of(study: dict) -> dict[str, str]:
    """``{arm: stage}`` of the arms ``study.json`` declares."""
    return {name: arm["stage"] for name, arm in declared_arms(study).items()}


def identity(run: Any, stages: dict[str, str]) -> dict:
    """The columns that say which trial a run is: ``run_id``, ``stage``, ``arm``, ``seed``,
    ``status`` (the trial's own ``ok``/``diverged``/``failed``)."""
    tags = run.data.tags
    arm = tags.get(ARM_TAG, "")
    seed = decode_optional_int(tags.get(SEED_TAG))
    return {
        "run_id": run.info.run_id,
        "stage": tags.get(STAGE_TAG) or stages.get(arm, "main"),
        "arm": arm,
        "seed": -1 if seed is None else seed,
        "status": tags.get(STATUS_TAG) or ("failed" if run.info.status == "FAILED" else "ok"),
    }


def trials_frame(trial_runs: list, summary_keys: list[str], study: dict) -> pd.DataFrame:
    """``StudyRuns.trials``: one row per trial run (columns: see ``StudyRuns``)."""
    arms = declared_arms(study)
    stages = {name: arm["stage"] for name, arm in arms.items()}
    rows = []
    for run in trial_runs:
        tags = run.data.tags
        row = {
            **identity(run, stages),
            "run_name": run.info.run_name,
            "diverged_epoch": decode_optional_int(tags.get(DIVERGED_EPOCH_TAG)),
            "run_status": run.info.status,
            "parent_run_id": tags.get(PARENT_TAG, ""),
            "config_hash": tags.get(CONFIG_HASH_TAG, ""),
            "git_commit": tags.get(GIT_COMMIT_TAG, ""),
            "dlkit_version": tags.get(DLKIT_VERSION_TAG, ""),
            "start_time": to_datetime(run.info.start_time),
            "end_time": to_datetime(run.info.end_time),
        }
        metrics = run.data.metrics
        for key in summary_keys:
            row[key] = restore_inf(metrics[key]) if key in metrics else np.nan
        for key, value in run.data.params.items():
            row[CONFIG_PREFIX + key] = decode_param(value)
        for key, value in arms.get(row["arm"], {}).get("factors", {}).items():
            row[FACTOR_PREFIX + key] = value
        row.update({k: v for k, v in tags.items() if k.startswith(FACTOR_PREFIX)})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(TRIAL_ID_COLUMNS) + summary_keys)
    if rows:
        frame = pd.DataFrame(rows)
        frame = frame[list(TRIAL_ID_COLUMNS) + [c for c in frame if c not in TRIAL_ID_COLUMNS]]
    frame["diverged_epoch"] = frame["diverged_epoch"].astype("Int64")
    return frame.sort_values(["stage", "arm", "seed"], kind="stable").reset_index(drop=True)


def history_frame(
    values: dict[tuple[str, int, str], float],
    trial_runs: list,
    history_keys: list[str],
    study: dict,
) -> pd.DataFrame:
    """``StudyRuns.history``: one row per trial and epoch.

    Parameters
    ----------
    values : dict
        ``{(run_id, epoch, key): value}`` from :func:`latest_values`, history keys only.
    trial_runs : list of mlflow.entities.Run
    history_keys : list of str
    study : dict
        ``study.json`` (gives the stage of an arm whose runs carry no stage tag).
    """
    if not values:
        return pd.DataFrame(columns=HISTORY_ID_COLUMNS + history_keys)
    long = pd.DataFrame(
        [(run_id, epoch, key, value) for (run_id, epoch, key), value in values.items()],
        columns=["run_id", "epoch", "key", "value"],
    )
    wide = long.pivot(index=["run_id", "epoch"], columns="key", values="value").reset_index()
    wide.columns.name = None
    stages = stages_of(study)
    ident = pd.DataFrame([identity(run, stages) for run in trial_runs])
    wide = ident.merge(wide, on="run_id", how="inner")
    for key in history_keys:
        if key not in wide:
            wide[key] = np.nan
    wide[history_keys] = wide[history_keys].astype(float)
    wide["epoch"] = wide["epoch"].astype(int)
    wide = wide[HISTORY_ID_COLUMNS + history_keys]
    return wide.sort_values(["stage", "arm", "seed", "epoch"], kind="stable").reset_index(drop=True)


def arms_frame(arm_runs: list, summary_keys: list[str]) -> pd.DataFrame:
    """``StudyRuns.arms``: the latest parent run of each arm, its counts and seed aggregates."""
    latest: dict[str, Any] = {}
    for run in arm_runs:
        arm = run.data.tags.get(ARM_TAG, run.info.run_name)
        if arm not in latest or (run.info.start_time or 0) > (latest[arm].info.start_time or 0):
            latest[arm] = run
    rows = []
    for arm, run in sorted(latest.items()):
        tags = run.data.tags
        row = {
            "arm": arm,
            "run_id": run.info.run_id,
            "n_trials": int(tags.get(N_TRIALS_TAG, 0) or 0),
            "n_diverged": int(tags.get(N_DIVERGED_TAG, 0) or 0),
            "n_failed": int(tags.get(N_FAILED_TAG, 0) or 0),
        }
        for key, value in run.data.params.items():
            row[CONFIG_PREFIX + key] = decode_param(value)
        for key in summary_keys:
            for suffix in AGGREGATE_SUFFIXES:
                value = run.data.metrics.get(key + suffix)
                if value is not None:
                    row[key + suffix] = restore_inf(value)
        rows.append(row)
    columns = ["arm", "run_id", "n_trials", "n_diverged", "n_failed"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def declared_artifacts(study: dict) -> list[str]:
    """Names of the trial artifacts the study's plots read (their ``artifact`` option)."""
    names = []
    for plot in study.get("plots") or []:
        if isinstance(plot, dict):
            options = plot.get("options") if isinstance(plot.get("options"), dict) else plot
            name = options.get("artifact")
            if name and name not in names:
                names.append(str(name))
    return names


def select_trials(
    trial_runs: list, listed: list | None, summary_run: dict | None, stages: dict[str, str]
) -> list:
    """The trial runs of the reported invocation.

    The engine lists them (run ids, reused ones included) in the summary run's
    ``trials.json``; a listed run no longer in the store is recorded in
    ``summary_run["missing_trials"]``. Without that list (a store written by something
    else), the latest run of every (stage, arm, seed) is taken.
    """
    if listed is None:
        return latest_per_trial(trial_runs, stages)
    by_id = {run.info.run_id: run for run in trial_runs}
    chosen = []
    for entry in listed:
        run = by_id.get(str(entry.get("run_id", ""))) if isinstance(entry, dict) else None
        if run is not None:
            chosen.append(run)
        elif isinstance(entry, dict) and summary_run is not None:
            summary_run["missing_trials"].append(
                {k: entry.get(k) for k in ("stage", "arm", "seed", "run_id")}
            )
    return chosen


def select_arms(arm_runs: list, trial_runs: list) -> list:
    """The parent runs of ``trial_runs`` (else, for a store without that link, all of them)."""
    parents = {run.data.tags.get(PARENT_TAG) for run in trial_runs} - {None}
    chosen = [run for run in arm_runs if run.info.run_id in parents]
    return chosen or arm_runs


def latest_per_trial(trial_runs: list, stages: dict[str, str]) -> list:
    """Keep one run per (stage, arm, seed): a finished one if any, else the most recent.

    A resumed or forced study can leave several runs for the same trial in one experiment.
    """
    best: dict[tuple, Any] = {}
    for run in trial_runs:
        ident = identity(run, stages)
        key = (ident["stage"], ident["arm"], ident["seed"])
        rank = (run.info.status == "FINISHED", run.info.start_time or 0)
        current = best.get(key)
        if current is None or rank > (
            current.info.status == "FINISHED",
            current.info.start_time or 0,
        ):
            best[key] = run
    dropped = len(trial_runs) - len(best)
    if dropped:
        logger.info("ignored %d superseded trial runs (same stage, arm and seed)", dropped)
    return list(best.values())
