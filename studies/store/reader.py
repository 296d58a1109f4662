"""Read a study's runs back: tidy frames for the reports, trial results for the runner.

The layout read here is the one :mod:`studies.store.writer` writes (names in
:mod:`studies.store.schema`): one experiment per study; a summary run per invocation with
``claims.json``, ``study.json``, ``trials.json`` (the run ids of the invocation's trials) and
``timing.json``; parent runs per arm (or per stage, for one-seed sweeps); one nested child run
per trial whose metrics hold the per-epoch history at ``step = epoch`` and the summary figures
(tag ``summary_keys``) at step 0.

* :func:`load_runs` — everything a report needs, as a :class:`StudyRuns`; the report describes
  the latest invocation that finished. Everything else in :mod:`reports` is a pure function of
  it, so plots and tables are tested on fixture frames without a store.
* :func:`load_trial_results` — the results of finished trial runs, for the runner to reuse.
* :func:`log_report` — attach a rendered report to the summary run it describes.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studies.store._bulk import metric_histories, search_all_runs
from studies.store._client import default_tracking_uri, open_client
from studies.store._frames import (
    TRIAL_ID_COLUMNS,
    arms_frame,
    declared_arms,
    declared_artifacts,
    history_frame,
    latest_values,
    select_arms,
    select_trials,
    stages_of,
    to_datetime,
    trials_frame,
)
from studies.store.schema import (
    ARM_TAG,
    ARTIFACTS,
    COMMAND_TAG,
    CONFIG_PREFIX,
    DIVERGED_EPOCH_TAG,
    DLKIT_VERSION_TAG,
    FACTOR_PREFIX,
    FIGURES_DIR,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    KIND_TAG,
    LEGACY_TRIAL_ARTIFACT_DIR,
    NOTE_TAG,
    PARENT_TAG,
    QUESTION_TAG,
    QUICK_TAG,
    REPORT_DIR,
    SEED_TAG,
    STATUS_TAG,
    SUMMARY_KEYS_TAG,
    decode_bool,
    decode_keys,
    decode_optional_int,
    restore_inf,
    trial_artifact_path,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "CONFIG_PREFIX",
    "FACTOR_PREFIX",
    "TRIAL_ID_COLUMNS",
    "StudyRuns",
    "declared_arms",
    "load_runs",
    "load_trial_results",
    "log_report",
]

logger = logging.getLogger(__name__)

#: Run ids per ``attributes.run_id IN (...)`` query.
_ID_CHUNK = 200
CLAIM_COLUMNS = [
    "id",
    "text",
    "statistic",
    "verdict",
    "numbers",
    "detail",
    "seeds",
    "look",
    "level",
    "alpha",
    "family",
    "test",
    "seeds_needed",
    "parts",
    "source",
    "setting",
    "expected",
    "explanation",
]


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
    claims : DataFrame, shape (n_claims, 18)
        Columns :data:`CLAIM_COLUMNS`: ``id``, ``text``, ``statistic``, ``verdict``,
        ``numbers`` (dict per row), ``detail``, the sequential design's ``seeds``,
        ``look``, ``level``, ``alpha``, ``family``, ``test``, ``seeds_needed`` and ``parts``
        (list of dict per row; see :func:`studies.store.writer.claim_json`), and the source's
        ``source``, ``setting``, ``expected`` and ``explanation``, from the latest summary
        run's ``claims.json``.
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
        root.

    Returns
    -------
    StudyRuns

    Raises
    ------
    ValueError
        If no experiment is called ``study_name``; the message lists the studies in the store.
    """
    from mlflow.entities import ViewType

    uri = tracking_uri or default_tracking_uri()
    client = open_client(uri)
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
        search_all_runs(client, exp_id, f"tags.{KIND_TAG} = 'summary'")
    )
    stages = stages_of(study)
    if listed is None:
        # No list of the invocation's trials: read the whole experiment and pick per trial.
        by_kind: dict[str, list] = {"arm": [], "trial": []}
        for run in search_all_runs(client, exp_id):
            kind = run.data.tags.get(KIND_TAG)
            if kind in by_kind:
                by_kind[kind].append(run)
        trials_runs = select_trials(by_kind["trial"], listed, summary_run, stages)
        arm_runs = select_arms(by_kind["arm"], trials_runs)
    else:
        # Only the runs the reported invocation names: the cost does not grow with the
        # number of earlier invocations kept in the experiment.
        listed_ids = [str(e.get("run_id", "")) for e in listed if isinstance(e, dict)]
        trial_candidates = _runs_by_id(client, exp_id, listed_ids)
        trials_runs = select_trials(trial_candidates, listed, summary_run, stages)
        parents = sorted({run.data.tags.get(PARENT_TAG) for run in trials_runs} - {None})
        arm_runs = select_arms(_runs_by_id(client, exp_id, parents), trials_runs)
    summary_keys, history_keys, values = _read_metrics(client, uri, trials_runs)
    tags = dict(experiment.tags)
    return StudyRuns(
        name=study_name,
        tracking_uri=uri,
        experiment={
            "id": experiment.experiment_id,
            "name": experiment.name,
            "question": tags.get(QUESTION_TAG, study.get("question", "")),
            "description": tags.get(NOTE_TAG, ""),
            "tags": tags,
        },
        study=study,
        summary_run=summary_run,
        claims=claims,
        trials=trials_frame(trials_runs, summary_keys, study),
        history=history_frame(values, trials_runs, history_keys, study),
        arms=arms_frame(arm_runs, summary_keys),
        artifacts=_artifacts_frame(trials_runs, declared_artifacts(study)),
        summary_keys=summary_keys,
        history_keys=history_keys,
    )


def load_trial_results(client: MlflowClient, runs: list) -> dict[str, dict[str, Any]]:
    """The results of finished trial runs, to reuse them instead of training again.

    Summary figures come from each run's latest metrics (the keys its ``summary_keys`` tag
    lists); the per-epoch histories of all ``runs`` come in one bulk query per history key,
    not one call per run and key (a study with per-layer metrics would make thousands).
    Artifacts stay in the store.

    Parameters
    ----------
    client : mlflow.MlflowClient
    runs : list of mlflow.entities.Run
        Trial runs written by :class:`studies.store.writer.StudyWriter`.

    Returns
    -------
    dict
        ``{run_id: {"history", "summary", "status", "diverged_epoch"}}``, the keyword
        arguments of the trial's ``studies.TrialResult``: ``history`` is one dict per epoch
        (``{"epoch": step, <key>: value, ...}``, keys sorted), ``inf`` restored everywhere.
    """
    summary_keys = {
        run.info.run_id: decode_keys(run.data.tags.get(SUMMARY_KEYS_TAG)) for run in runs
    }
    run_keys = {
        run.info.run_id: sorted(set(run.data.metrics) - set(summary_keys[run.info.run_id]))
        for run in runs
    }
    values = latest_values(metric_histories(client, run_keys)) if any(run_keys.values()) else {}
    epochs: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for (run_id, step, key), value in sorted(values.items()):
        epochs[run_id][step][key] = value
    results = {}
    for run in runs:
        run_id, tags, metrics = run.info.run_id, run.data.tags, run.data.metrics
        results[run_id] = {
            "history": [{"epoch": step, **row} for step, row in sorted(epochs[run_id].items())],
            "summary": {k: restore_inf(metrics[k]) for k in summary_keys[run_id] if k in metrics},
            "status": tags.get(STATUS_TAG, "ok"),
            "diverged_epoch": decode_optional_int(tags.get(DIVERGED_EPOCH_TAG)),
        }
    return results


def log_report(
    runs: StudyRuns,
    html_path: Path,
    figures: Mapping[str, bytes] | None = None,
    arm_figures: Mapping[str, Mapping[str, bytes]] | None = None,
) -> bool:
    """Log the report to the study's latest summary run: ``report/<file name>`` and figures.

    Parameters
    ----------
    runs : StudyRuns
        The frames the report was built from (gives the store and the summary run).
    html_path : Path
        The rendered report.
    figures : mapping of str to bytes, optional
        The report's plots as PNG files ``{file name: bytes}``, logged under
        ``FIGURES_DIR`` in one call (MLflow's UI previews them among the run's artifacts).
    arm_figures : mapping of run id to {file name: bytes}, optional
        Each arm's own figures, logged under ``FIGURES_DIR`` of the arm's parent run.

    Returns
    -------
    bool
        False (and a warning) when the study has no summary run to attach the report to.
    """
    if runs.summary_run is None:
        logger.warning("study %r has no summary run; the report is not logged to MLflow", runs.name)
        return False
    client = open_client(runs.tracking_uri)
    run_id = runs.summary_run["run_id"]
    client.log_artifact(run_id, str(html_path), artifact_path=REPORT_DIR)
    for target, files in [(run_id, figures or {}), *(arm_figures or {}).items()]:
        if not files:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for name, png in files.items():
                (Path(tmp) / name).write_bytes(png)
            client.log_artifacts(target, tmp, artifact_path=FIGURES_DIR)
    return True


def _read_metrics(
    client: MlflowClient, uri: str, trial_runs: list
) -> tuple[list[str], list[str], dict[tuple[str, int, str], float]]:
    """Tell summary figures from per-epoch metrics and read the per-epoch ones.

    The engine tags every trial run with its summary keys (``summary_keys``). For a run
    without that tag (a store written by something else), a key logged at a step > 0 is a
    per-epoch metric and one logged only at step 0 is a summary figure, which takes reading
    its history first. MLflow 3's public client reads one (run, key) history per call (100
    trials with 10 keys: 1000 calls, 3.5 s on a busy 2-core machine);
    :func:`studies.store._bulk.metric_histories` reads one key of many runs per query there.

    Returns
    -------
    summary_keys, history_keys : list of str
    values : dict
        ``{(run_id, epoch, key): value}`` of the history keys (:func:`latest_values`).
    """
    concurrent = uri.startswith(("http://", "https://"))
    tagged = [run for run in trial_runs if SUMMARY_KEYS_TAG in run.data.tags]
    untagged = [run for run in trial_runs if SUMMARY_KEYS_TAG not in run.data.tags]
    untagged_rows = metric_histories(
        client, {run.info.run_id: list(run.data.metrics) for run in untagged}, concurrent=concurrent
    )
    summary: set[str] = set()
    history: set[str] = set()
    for run in tagged:
        own = set(decode_keys(run.data.tags[SUMMARY_KEYS_TAG]))
        summary |= own
        history |= set(run.data.metrics) - own
    stepped = {key for _, step, key, _, _ in untagged_rows if step > 0}
    for run in untagged:
        logged = set(run.data.metrics)
        summary |= logged - stepped
        history |= logged & stepped
    history.discard("epoch")
    summary_keys, history_keys = sorted(summary - history), sorted(history)
    wanted = set(history_keys)
    tagged_rows = metric_histories(
        client,
        {run.info.run_id: [k for k in run.data.metrics if k in wanted] for run in tagged},
        concurrent=concurrent,
    )
    rows = tagged_rows + [row for row in untagged_rows if row[2] in wanted]
    return summary_keys, history_keys, latest_values(rows)


def _runs_by_id(client: MlflowClient, experiment_id: str, run_ids: list[str]) -> list:
    """The active runs among ``run_ids`` (ids not in the store are left out), in chunks of
    :data:`_ID_CHUNK` ids per query."""
    runs = []
    ids = [i for i in dict.fromkeys(run_ids) if i.isalnum()]
    for start in range(0, len(ids), _ID_CHUNK):
        quoted = ", ".join(f"'{i}'" for i in ids[start : start + _ID_CHUNK])
        runs += search_all_runs(client, experiment_id, f"attributes.run_id IN ({quoted})")
    return runs


def _read_json_artifact(run: Any, path: str) -> Any:
    """Return the run's parsed JSON artifact ``path``, or None when the run does not have it.

    Addressing the file by the run's artifact URI goes straight to the artifact store; the
    client's ``download_artifacts(run_id, ...)`` would look the run up twice per file.
    """
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

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
    if not summary_runs:
        return None, {}, pd.DataFrame(columns=CLAIM_COLUMNS), None
    by_time = sorted(summary_runs, key=lambda r: r.info.start_time or 0)
    finished = [r for r in by_time if r.info.status == "FINISHED"]
    run = finished[-1] if finished else by_time[-1]
    newer = [r for r in by_time if (r.info.start_time or 0) > (run.info.start_time or 0)]
    tags = run.data.tags
    study = _read_json_artifact(run, ARTIFACTS["study"]) or {}
    claims = _read_json_artifact(run, ARTIFACTS["claims"]) or []
    timing = _read_json_artifact(run, ARTIFACTS["timing"]) or {}
    listed = _read_json_artifact(run, ARTIFACTS["trials"])
    summary = {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "start_time": to_datetime(run.info.start_time),
        "end_time": to_datetime(run.info.end_time),
        "run_status": run.info.status,
        "command": tags.get(COMMAND_TAG, "") or study.get("command", ""),
        "git_commit": tags.get(GIT_COMMIT_TAG, ""),
        "git_dirty": decode_bool(tags.get(GIT_DIRTY_TAG)),
        "dlkit_version": tags.get(DLKIT_VERSION_TAG, ""),
        "quick": decode_bool(tags.get(QUICK_TAG)),
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
        [{c: claim.get(c) for c in CLAIM_COLUMNS} for claim in claims], columns=CLAIM_COLUMNS
    )
    frame["numbers"] = [n if isinstance(n, dict) else {} for n in frame["numbers"]]
    frame["parts"] = [p if isinstance(p, list) else [] for p in frame["parts"]]
    return summary, study, frame, listed if isinstance(listed, list) else None


def _artifacts_frame(trial_runs: list, names: list[str]) -> pd.DataFrame:
    """``StudyRuns.artifacts``: the JSON artifacts ``names`` of every trial run that has them."""
    rows = []
    for name in names:
        path = trial_artifact_path(name)
        for run in trial_runs:
            content = _read_json_artifact(run, path)
            if content is None:  # a store written before trial artifacts moved up a folder
                content = _read_json_artifact(run, f"{LEGACY_TRIAL_ARTIFACT_DIR}{path}")
            if content is not None:
                seed = decode_optional_int(run.data.tags.get(SEED_TAG))
                rows.append(
                    {
                        "run_id": run.info.run_id,
                        "arm": run.data.tags.get(ARM_TAG, ""),
                        "seed": -1 if seed is None else seed,
                        "name": name,
                        "content": content,
                    }
                )
    return pd.DataFrame(rows, columns=["run_id", "arm", "seed", "name", "content"])
