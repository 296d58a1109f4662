"""The reporter's only door to MLflow: read a study's runs into tidy frames, log the report back.

Everything else in :mod:`reports` is a pure function of the :class:`StudyRuns` returned by
:func:`load_runs`, so plots and tables can be tested on fixture frames without a store.

The layout read here is the one the study engine writes: one experiment per study; a summary
run per invocation with ``claims.json``, ``study.json``, ``trials.json`` (the run ids of the
invocation's trials) and ``timing.json``; parent runs per arm (or per stage, for one-seed
sweeps); one nested child run per trial whose metrics hold the per-epoch history at
``step = epoch`` and the summary figures (tag ``summary_keys``) at step 0. The report
describes the latest invocation that finished.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# MLflow 3 ships usage telemetry that phones home; building a report must make no request.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlflow import MlflowClient  # noqa: E402
from mlflow.artifacts import download_artifacts  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from studies.store._bulk import metric_histories, search_all_runs  # noqa: E402
from studies.store.writer import default_tracking_uri, restore_inf  # noqa: E402

logger = logging.getLogger(__name__)


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
CONFIG_PREFIX = "config."
FACTOR_PREFIX = "factor."

#: Run ids per ``attributes.run_id IN (...)`` query.
_ID_CHUNK = 200
PARENT_TAG = "mlflow.parentRunId"
# The engine's tag listing a trial run's summary keys (comma separated).
SUMMARY_KEYS_TAG = "summary_keys"


@dataclass
class StudyRuns:
    """Everything a report needs from the store, as plain Python objects and tidy frames.

    Attributes
    ----------
    name : str
        Study (= experiment) name.
    tracking_uri : str
        The MLflow tracking URI the runs were read from.
    experiment : dict
        ``id``, ``name``, ``question``, ``description`` (markdown) and ``tags``.
    study : dict
        The latest summary run's ``study.json`` (base config, arms, seeds, plots, claims);
        empty when no summary run exists.
    summary_run : dict or None
        The reported invocation: ``run_id``, ``run_name``, ``start_time`` / ``end_time``
        (aware UTC datetimes), ``run_status``, ``command``, ``git_commit``, ``git_dirty``,
        ``dlkit_version``, ``quick`` (bool), ``tags``, ``timing`` (the parsed
        ``timing.json``), ``unfinished_after`` (later invocations that did not finish) and
        ``missing_trials`` (trials it lists that are gone from the store); None when the
        study has no summary run.
    claims : DataFrame, shape (n_claims, 6)
        Columns ``id``, ``text``, ``statistic``, ``verdict``, ``numbers`` (dict per row),
        ``detail``, from the latest summary run's ``claims.json``.
    trials : DataFrame, shape (n_trials, n_columns)
        One row per trial: :data:`TRIAL_ID_COLUMNS`, one column per summary metric (its plain
        name), one ``config.<dotted key>`` column per resolved config entry and one
        ``factor.<name>`` column per factor label of the trial's arm.
    history : DataFrame, shape (n_trials * n_epochs, n_columns)
        One row per trial and epoch: ``run_id``, ``stage``, ``arm``, ``seed``, ``status``,
        ``epoch`` and one column per per-epoch metric (NaN where a trial did not log that
        epoch; epoch 0 is before training).
    arms : DataFrame, shape (n_arm_runs, n_columns)
        One row per arm run: ``arm``, ``run_id``, ``n_trials``, ``n_diverged``, ``n_failed``,
        the ``config.*`` override columns and the logged seed aggregates
        ``<summary key>_mean``, ``_ci_lo``, ``_ci_hi``.
    artifacts : DataFrame, shape (n_loaded, 5)
        ``run_id``, ``arm``, ``seed``, ``name``, ``content`` (parsed JSON) for every trial
        artifact that a declared plot reads.
    summary_keys : list of str
        Metric names logged once per trial (columns of ``trials``).
    history_keys : list of str
        Metric names logged per epoch (columns of ``history``).
    """

    name: str
    tracking_uri: str
    experiment: dict
    study: dict
    summary_run: dict | None
    claims: pd.DataFrame
    trials: pd.DataFrame
    history: pd.DataFrame
    arms: pd.DataFrame
    artifacts: pd.DataFrame
    summary_keys: list[str] = field(default_factory=list)
    history_keys: list[str] = field(default_factory=list)


def load_runs(study_name: str, tracking_uri: str | None = None) -> StudyRuns:
    """Read every run of one study from MLflow into a :class:`StudyRuns`.

    Parameters
    ----------
    study_name : str
        The study's name, which is its MLflow experiment's name.
    tracking_uri : str, optional
        Defaults to ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` at the repository
        root (:func:`studies.store.writer.default_tracking_uri`).

    Returns
    -------
    StudyRuns

    Raises
    ------
    ValueError
        If no experiment is called ``study_name``; the message lists the studies in the store.
    """
    uri = tracking_uri or default_tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(study_name)
    if experiment is None:
        names = [e.name for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
        names = [n for n in names if n != "Default"]
        raise ValueError(
            f"unknown study {study_name!r} in the MLflow store {uri}; "
            f"valid choices: {', '.join(sorted(names)) or '(none: run a study first)'}"
        )
    exp_id = experiment.experiment_id
    summary_run, study, claims, listed = _read_summary(
        search_all_runs(client, exp_id, "tags.kind = 'summary'")
    )
    stages = {name: arm["stage"] for name, arm in declared_arms(study).items()}
    if listed is None:
        # No list of the invocation's trials: read the whole experiment and pick per trial.
        by_kind: dict[str, list] = {"arm": [], "trial": []}
        for run in search_all_runs(client, exp_id):
            kind = run.data.tags.get("kind")
            if kind in by_kind:
                by_kind[kind].append(run)
        trials_runs = _select_trials(by_kind["trial"], listed, summary_run, stages)
        arm_runs = _select_arms(by_kind["arm"], trials_runs)
    else:
        # Only the runs the reported invocation names: the cost does not grow with the
        # number of earlier invocations kept in the experiment.
        listed_ids = [str(e.get("run_id", "")) for e in listed if isinstance(e, dict)]
        trial_candidates = _runs_by_id(client, exp_id, listed_ids)
        trials_runs = _select_trials(trial_candidates, listed, summary_run, stages)
        parents = sorted({run.data.tags.get(PARENT_TAG) for run in trials_runs} - {None})
        arm_runs = _select_arms(_runs_by_id(client, exp_id, parents), trials_runs)
    summary_keys, history_keys = _split_metric_keys(trials_runs)
    trials = _trials_frame(trials_runs, summary_keys, study)
    history = _history_frame(client, uri, trials_runs, history_keys, study)
    arms = _arms_frame(arm_runs, summary_keys)
    artifacts = _artifacts_frame(trials_runs, _declared_artifacts(study))
    tags = dict(experiment.tags)
    return StudyRuns(
        name=study_name,
        tracking_uri=uri,
        experiment={
            "id": experiment.experiment_id,
            "name": experiment.name,
            "question": tags.get("question", study.get("question", "")),
            "description": tags.get("mlflow.note.content", ""),
            "tags": tags,
        },
        study=study,
        summary_run=summary_run,
        claims=claims,
        trials=trials,
        history=history,
        arms=arms,
        artifacts=artifacts,
        summary_keys=summary_keys,
        history_keys=history_keys,
    )


def log_report(runs: StudyRuns, html_path: Path) -> bool:
    """Log ``html_path`` as artifact ``report/<file name>`` of the study's latest summary run.

    Parameters
    ----------
    runs : StudyRuns
        The frames the report was built from (gives the store and the summary run).
    html_path : Path
        The rendered report.

    Returns
    -------
    bool
        False (and a warning) when the study has no summary run to attach the report to.
    """
    if runs.summary_run is None:
        logger.warning("study %r has no summary run; the report is not logged to MLflow", runs.name)
        return False
    client = MlflowClient(tracking_uri=runs.tracking_uri)
    client.log_artifact(runs.summary_run["run_id"], str(html_path), artifact_path="report")
    return True


def _runs_by_id(client: MlflowClient, experiment_id: str, run_ids: list[str]) -> list:
    """The active runs among ``run_ids`` (ids not in the store are left out), in chunks of
    :data:`_ID_CHUNK` ids per query."""
    runs = []
    ids = [i for i in dict.fromkeys(run_ids) if i.isalnum()]
    for start in range(0, len(ids), _ID_CHUNK):
        quoted = ", ".join(f"'{i}'" for i in ids[start : start + _ID_CHUNK])
        runs += search_all_runs(client, experiment_id, f"attributes.run_id IN ({quoted})")
    return runs


def _to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _read_json_artifact(run, path: str) -> Any:
    """Return the run's parsed JSON artifact ``path``, or None when the run does not have it.

    Addressing the file by the run's artifact URI goes straight to the artifact store; the
    client's ``download_artifacts(run_id, ...)`` would look the run up twice per file.
    """
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = download_artifacts(artifact_uri=f"{run.info.artifact_uri}/{path}", dst_path=tmp)
        except (MlflowException, OSError):
            return None
        with open(local, encoding="utf-8") as fh:
            return json.load(fh)


def _read_summary(summary_runs: list) -> tuple[dict | None, dict, pd.DataFrame, list | None]:
    """The latest finished invocation: its info, ``study.json``, claims and ``trials.json``.

    An invocation still running or interrupted (its summary run is not FINISHED) has no
    verdicts yet; the report then describes the last one that finished and says so.
    """
    claim_columns = ["id", "text", "statistic", "verdict", "numbers", "detail"]
    if not summary_runs:
        return None, {}, pd.DataFrame(columns=claim_columns), None
    by_time = sorted(summary_runs, key=lambda r: r.info.start_time or 0)
    finished = [r for r in by_time if r.info.status == "FINISHED"]
    run = finished[-1] if finished else by_time[-1]
    newer = [r for r in by_time if (r.info.start_time or 0) > (run.info.start_time or 0)]
    tags = run.data.tags
    study = _read_json_artifact(run, "study.json") or {}
    claims = _read_json_artifact(run, "claims.json") or []
    timing = _read_json_artifact(run, "timing.json") or {}
    listed = _read_json_artifact(run, "trials.json")
    summary = {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "start_time": _to_datetime(run.info.start_time),
        "end_time": _to_datetime(run.info.end_time),
        "run_status": run.info.status,
        "command": tags.get("command", "") or study.get("command", ""),
        "git_commit": tags.get("git_commit", ""),
        "git_dirty": tags.get("git_dirty", "false").lower() == "true",
        "dlkit_version": tags.get("dlkit_version", ""),
        "quick": tags.get("quick", "false").lower() == "true",
        "tags": dict(tags),
        "timing": timing,
        "n_summary_runs": len(summary_runs),
        "unfinished_after": [
            {"run_name": r.info.run_name, "status": r.info.status, "run_id": r.info.run_id}
            for r in newer
        ],
        "missing_trials": [],
    }
    frame = pd.DataFrame(
        [{c: claim.get(c) for c in claim_columns} for claim in claims], columns=claim_columns
    )
    frame["numbers"] = [n if isinstance(n, dict) else {} for n in frame["numbers"]]
    return summary, study, frame, listed if isinstance(listed, list) else None


def _select_trials(
    trial_runs: list, listed: list | None, summary_run: dict | None, stages: dict[str, str]
) -> list:
    """The trial runs of the reported invocation.

    The engine lists them (run ids, reused ones included) in the summary run's
    ``trials.json``; a listed run no longer in the store is recorded in
    ``summary_run["missing_trials"]``. Without that list (a store written by something
    else), the latest run of every (stage, arm, seed) is taken.
    """
    if listed is None:
        return _latest_per_trial(trial_runs, stages)
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


def _select_arms(arm_runs: list, trial_runs: list) -> list:
    """The parent runs of ``trial_runs`` (else, for a store without that link, all of them)."""
    parents = {run.data.tags.get(PARENT_TAG) for run in trial_runs} - {None}
    chosen = [run for run in arm_runs if run.info.run_id in parents]
    return chosen or arm_runs


def _identity(run, stages: dict[str, str]) -> dict:
    """The columns that say which trial a run is: ``run_id``, ``stage``, ``arm``, ``seed``,
    ``status`` (the trial's own ``ok``/``diverged``/``failed``)."""
    tags = run.data.tags
    arm = tags.get("arm", "")
    seed = tags.get("seed")
    return {
        "run_id": run.info.run_id,
        "stage": tags.get("stage") or stages.get(arm, "main"),
        "arm": arm,
        "seed": int(seed) if seed not in (None, "") else -1,
        "status": tags.get("status") or ("failed" if run.info.status == "FAILED" else "ok"),
    }


def _latest_per_trial(trial_runs: list, stages: dict[str, str]) -> list:
    """Keep one run per (stage, arm, seed): a finished one if any, else the most recent.

    A resumed or forced study can leave several runs for the same trial in one experiment.
    """
    best: dict[tuple, Any] = {}
    for run in trial_runs:
        ident = _identity(run, stages)
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


def _split_metric_keys(trial_runs: list) -> tuple[list[str], list[str]]:
    """Tell summary figures from per-epoch metrics.

    The engine tags every trial run with its summary keys (``summary_keys``, comma
    separated). For a run without that tag, a key whose latest value sits at a step > 0 is a
    per-epoch metric and one logged only at step 0 is a summary figure.
    """
    summary: set[str] = set()
    history: set[str] = set()
    for run in trial_runs:
        tagged = run.data.tags.get(SUMMARY_KEYS_TAG)
        if tagged is not None:
            own = {k for k in tagged.split(",") if k}
            summary |= own
            history |= set(run.data.metrics) - own
            continue
        # RunData keeps the latest Metric entities (with their step) only in `_metric_objs`;
        # the public `metrics` dict drops the step, which is what tells the two apart here.
        for metric in run.data._metric_objs:
            (history if metric.step > 0 else summary).add(metric.key)
    history.discard("epoch")
    return sorted(summary - history), sorted(history)


def _parse_param(value: str) -> Any:
    """Invert the engine's param encoding: strings as-is, every other value as JSON."""
    try:
        return json.loads(value)
    except ValueError:
        return value


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


def _metric_value(value: float) -> float:
    """A stored metric as the trial reported it (the SQL store clamps ``inf`` to float max)."""
    return restore_inf(value)


def _trials_frame(trial_runs: list, summary_keys: list[str], study: dict) -> pd.DataFrame:
    arms = declared_arms(study)
    stages = {name: arm["stage"] for name, arm in arms.items()}
    rows = []
    for run in trial_runs:
        tags = run.data.tags
        diverged = tags.get("diverged_epoch")
        row = {
            **_identity(run, stages),
            "run_name": run.info.run_name,
            "diverged_epoch": int(diverged) if diverged not in (None, "", "None") else None,
            "run_status": run.info.status,
            "parent_run_id": tags.get(PARENT_TAG, ""),
            "config_hash": tags.get("config_hash", ""),
            "git_commit": tags.get("git_commit", ""),
            "dlkit_version": tags.get("dlkit_version", ""),
            "start_time": _to_datetime(run.info.start_time),
            "end_time": _to_datetime(run.info.end_time),
        }
        metrics = run.data.metrics
        for key in summary_keys:
            row[key] = _metric_value(metrics[key]) if key in metrics else np.nan
        for key, value in run.data.params.items():
            row[CONFIG_PREFIX + key] = _parse_param(value)
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


def _history_frame(
    client: MlflowClient, uri: str, trial_runs: list, history_keys: list[str], study: dict
) -> pd.DataFrame:
    """Fetch every per-epoch metric of every trial.

    MLflow 3's public client only reads one (run, key) history per call; 100 trials with 10
    keys make 1000 calls (3.5 s on a busy 2-core machine).
    :func:`studies.store._bulk.metric_histories` asks a SQL store for one key of many runs per
    query instead (1.6 s there).
    """
    wanted = set(history_keys)
    run_keys = {run.info.run_id: [k for k in run.data.metrics if k in wanted] for run in trial_runs}
    records = metric_histories(client, run_keys, concurrent=uri.startswith(("http://", "https://")))
    id_columns = ["run_id", "stage", "arm", "seed", "status", "epoch"]
    if not records:
        return pd.DataFrame(columns=id_columns + history_keys)
    long = pd.DataFrame(records, columns=["run_id", "epoch", "key", "value", "timestamp"])
    # A step logged twice (a resumed trial) keeps its latest value.
    long = long.sort_values("timestamp", kind="stable")
    long = long.drop_duplicates(["run_id", "epoch", "key"], keep="last")
    wide = long.pivot(index=["run_id", "epoch"], columns="key", values="value").reset_index()
    wide.columns.name = None
    stages = {name: arm["stage"] for name, arm in declared_arms(study).items()}
    ident = pd.DataFrame([_identity(run, stages) for run in trial_runs])
    wide = ident.merge(wide, on="run_id", how="inner")
    for key in history_keys:
        if key not in wide:
            wide[key] = np.nan
    clamped = wide[history_keys].astype(float)
    wide[history_keys] = clamped.where(
        clamped.abs() != sys.float_info.max, np.sign(clamped) * np.inf
    )
    wide["epoch"] = wide["epoch"].astype(int)
    wide = wide[id_columns + history_keys]
    return wide.sort_values(["stage", "arm", "seed", "epoch"], kind="stable").reset_index(drop=True)


def _arms_frame(arm_runs: list, summary_keys: list[str]) -> pd.DataFrame:
    latest: dict[str, Any] = {}
    for run in arm_runs:
        arm = run.data.tags.get("arm", run.info.run_name)
        if arm not in latest or (run.info.start_time or 0) > (latest[arm].info.start_time or 0):
            latest[arm] = run
    rows = []
    for arm, run in sorted(latest.items()):
        tags = run.data.tags
        row = {
            "arm": arm,
            "run_id": run.info.run_id,
            "n_trials": int(tags.get("n_trials", 0) or 0),
            "n_diverged": int(tags.get("n_diverged", 0) or 0),
            "n_failed": int(tags.get("n_failed", 0) or 0),
        }
        for key, value in run.data.params.items():
            row[CONFIG_PREFIX + key] = _parse_param(value)
        for key in summary_keys:
            for suffix in ("_mean", "_ci_lo", "_ci_hi"):
                value = run.data.metrics.get(key + suffix)
                if value is not None:
                    row[key + suffix] = _metric_value(value)
        rows.append(row)
    columns = ["arm", "run_id", "n_trials", "n_diverged", "n_failed"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def _declared_artifacts(study: dict) -> list[str]:
    names = []
    for plot in study.get("plots") or []:
        if isinstance(plot, dict):
            options = plot.get("options") if isinstance(plot.get("options"), dict) else plot
            name = options.get("artifact")
            if name and name not in names:
                names.append(str(name))
    return names


def _artifact_path(name: str) -> str:
    """Map a plot's ``artifact`` option to its path in a trial run (``artifacts/<name>.json``)."""
    path = name if name.startswith("artifacts/") else f"artifacts/{name}"
    return path if path.endswith(".json") else f"{path}.json"


def _artifacts_frame(trial_runs: list, names: list[str]) -> pd.DataFrame:
    rows = []
    for name in names:
        path = _artifact_path(name)
        for run in trial_runs:
            content = _read_json_artifact(run, path)
            if content is not None:
                rows.append(
                    {
                        "run_id": run.info.run_id,
                        "arm": run.data.tags.get("arm", ""),
                        "seed": int(run.data.tags.get("seed") or -1),
                        "name": name,
                        "content": content,
                    }
                )
    return pd.DataFrame(rows, columns=["run_id", "arm", "seed", "name", "content"])
