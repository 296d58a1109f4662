"""What the runner logs: one invocation of a study in the MLflow layout of DESIGN.md.

:class:`StudyWriter` owns the layout (names in :mod:`studies.store.schema`); the runner says
what happened and never spells a tag. :meth:`~StudyWriter.open` sets up the experiment and the
invocation's summary run and indexes what this commit can reuse; :meth:`~StudyWriter.parent_for`
and :meth:`~StudyWriter.finish_parent` manage parent runs (reused, reopened, or replaced by a
fresh one that takes over the old one's children) and their seed aggregates;
:meth:`~StudyWriter.log_trial` writes a finished trial as a child run all at once, so an
interrupted study never leaves half-logged trials; :meth:`~StudyWriter.log_summary`,
:meth:`~StudyWriter.finish` and :meth:`~StudyWriter.abort` close the invocation. Every call
goes through a :class:`~studies.store.tracker.Tracker` (timed, retried on a locked SQLite).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from studies.store.reader import load_trial_results
from studies.store.schema import (
    ARM_TAG,
    ARTIFACTS,
    COMMAND_TAG,
    CONFIG_HASH_TAG,
    DATASET_CONTEXT_TAG,
    DATASET_SOURCE_TYPE,
    DIVERGED_EPOCH_TAG,
    DLKIT_VERSION_TAG,
    ERROR_TAG,
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    FACTOR_PREFIX,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    KIND_TAG,
    N_ARMS_TAG,
    N_DIVERGED_TAG,
    N_FAILED_TAG,
    N_REUSED_TAG,
    N_TRIALS_TAG,
    NOTE_TAG,
    PARENT_HASH_TAG,
    PARENT_TAG,
    QUESTION_TAG,
    QUICK_TAG,
    SEED_TAG,
    STAGE_TAG,
    STATUS_TAG,
    STUDY_TAG,
    SUMMARY_KEYS_TAG,
    TRACEBACK_ARTIFACT,
    TRIAL_ARTIFACT_DIR,
    TRIAL_SET_TAG,
    canonical_json,
    encode_bool,
    encode_keys,
    encode_param,
    flatten,
)
from studies.store.tracker import StoreError, StudyBusyError, Tracker, TrackingServerError, now_ms

__all__ = [
    "StoreError",
    "StudyBusyError",
    "StudyWriter",
    "Tracker",
    "TrackingServerError",
    "derived_datasets",
    "experiment_note",
]

log = logging.getLogger(__name__)


class StudyWriter:
    """The runs of one invocation of a study, written in the store's layout.

    Trials, results, claims and records are read by attribute (the engine's ``TrialSpec``,
    ``TrialResult``, ``Arm``, ``Claim``/``ClaimResult`` and ``TrialRecord``), so the store
    does not import the engine.

    Parameters
    ----------
    tracker : Tracker
    study : str
        The study's name (= experiment name).
    question : str
    code : mapping
        ``git_commit``, ``git_dirty`` (bool) and ``dlkit_version``, tagged on every run.
    quick : bool
        Whether this is a ``--quick`` invocation (tagged on every run).
    command : str
        The command that reproduces the invocation (tagged on the summary run).

    Attributes
    ----------
    experiment_id, summary_id : str
        Set by :meth:`open`.
    open_runs : set of str
        Runs this invocation opened and has not closed yet.
    """

    def __init__(
        self,
        tracker: Tracker,
        study: str,
        *,
        question: str,
        code: Mapping[str, Any],
        quick: bool,
        command: str,
    ):
        self.tracker = tracker
        self.study = study
        self.question = question
        self.code = code
        self.command = command
        self.base_tags = {
            STUDY_TAG: study,
            GIT_COMMIT_TAG: str(code["git_commit"]),
            GIT_DIRTY_TAG: encode_bool(bool(code["git_dirty"])),
            DLKIT_VERSION_TAG: str(code["dlkit_version"]),
            QUICK_TAG: encode_bool(quick),
        }
        self.experiment_id = ""
        self.summary_id = ""
        self.open_runs: set[str] = set()
        self._finished: dict[str, Any] = {}
        # Earlier trial runs per config hash (any status): replaced when the trial is logged.
        self._earlier: dict[str, list[str]] = {}
        self._parents: dict[str, Any] = {}
        self._parent_params: dict[str, dict[str, str]] = {}
        # The datasets of the trials logged under each open parent (logged on it at the end).
        self._parent_datasets: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}

    # -- set-up -----------------------------------------------------------------------------
    def open(self, *, reuse: bool) -> None:
        """Experiment, orphans, summary run; index the runs this commit can reuse.

        Parameters
        ----------
        reuse : bool
            Index finished trial runs for :meth:`finished_results` (False: ``--force``).
        """
        tracker = self.tracker
        tags = {
            STUDY_TAG: self.study,
            QUESTION_TAG: self.question,
            EXPERIMENT_KIND_TAG: EXPERIMENT_KIND,
        }
        self.experiment_id = tracker.experiment(self.study, tags)
        tracker.close_orphans(self.experiment_id)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.summary_id = tracker.create_run(
            self.experiment_id,
            f"summary-{stamp}",
            {**self.base_tags, KIND_TAG: "summary", COMMAND_TAG: self.command},
        )
        self.open_runs.add(self.summary_id)
        # Trial and parent hashes include the code version, so only runs tagged with this
        # commit can match: the lookup does not grow with the runs of earlier commits.
        same_code = f"tags.{GIT_COMMIT_TAG} = '{self.code['git_commit']}'"
        trials = tracker.search(self.experiment_id, f"tags.{KIND_TAG} = 'trial' and {same_code}")
        self._earlier = {}
        for run in trials:
            config = run.data.tags.get(CONFIG_HASH_TAG)
            if config:
                self._earlier.setdefault(config, []).append(run.info.run_id)
        if reuse:
            finished = [run for run in trials if run.info.status == "FINISHED"]
            self._finished = _latest_by_tag(finished, CONFIG_HASH_TAG)
        parents = []
        for kind in ("arm", "stage"):
            parents += tracker.search(
                self.experiment_id, f"tags.{KIND_TAG} = '{kind}' and {same_code}"
            )
        self._parents = _latest_by_tag(parents, PARENT_HASH_TAG)

    def finished_results(self, config_hashes: Sequence[str]) -> dict[str, tuple[str, dict]]:
        """The stored results of the trials among ``config_hashes`` that have a finished run.

        Returns
        -------
        dict
            ``{config_hash: (run_id, fields)}``; ``fields`` are the keyword arguments of the
            trial's ``TrialResult`` (:func:`studies.store.reader.load_trial_results`).
        """
        runs = {h: self._finished[h] for h in config_hashes if h in self._finished}
        if not runs:
            return {}
        loaded = self.tracker.call(load_trial_results, self.tracker.client, list(runs.values()))
        return {h: (run.info.run_id, loaded[run.info.run_id]) for h, run in runs.items()}

    # -- parent runs ------------------------------------------------------------------------
    def parent_for(
        self,
        key: str,
        name: str,
        *,
        stage: str,
        arm: Any | None,
        n_arms: int,
        reused_set: str,
        has_pending: bool,
    ) -> str:
        """The parent run of a group of trials: reuse, reopen or replace the stored one.

        Parameters
        ----------
        key : str
            The group's identity (tag ``parent_hash``).
        name : str
            Run name: the arm's, or the stage's for a stage-wide parent.
        stage : str
        arm : Arm or None
            The arm of an arm's parent (its ``factors`` are tagged, its ``overrides`` are the
            params); None for a stage-wide parent of ``n_arms`` arms.
        n_arms : int
        reused_set : str
            Identity of the reused trial runs of the group (tag ``trial_set``).
        has_pending : bool
            Whether trials of the group are still to run.

        Returns
        -------
        str
            The run id; a reused FINISHED parent is returned as is (not opened).
        """
        tracker = self.tracker
        existing = self._parents.get(key)
        if existing is not None:
            tags = existing.data.tags
            same = tags.get(TRIAL_SET_TAG) == reused_set and not has_pending
            if same and existing.info.status == "FINISHED":
                return existing.info.run_id
            if TRIAL_SET_TAG not in tags:
                # Never finished (its first invocation was interrupted): carry on with it.
                if existing.info.status != "RUNNING":
                    tracker.reopen(existing.info.run_id)
                self.open_runs.add(existing.info.run_id)
                self._parent_params[existing.info.run_id] = {}
                return existing.info.run_id
        tags = {**self.base_tags, STAGE_TAG: stage, PARENT_HASH_TAG: key}
        if arm is None:
            tags.update({KIND_TAG: "stage", N_ARMS_TAG: n_arms})
            params: dict[str, str] = {}
        else:
            tags.update({KIND_TAG: "arm", ARM_TAG: name})
            tags.update({f"{FACTOR_PREFIX}{k}": v for k, v in arm.factors.items()})
            params = {k: encode_param(v) for k, v in flatten(arm.overrides).items()}
        run_id = tracker.create_run(self.experiment_id, name, tags)
        self.open_runs.add(run_id)
        self._parent_params[run_id] = params
        if existing is not None:
            old = existing.info.run_id
            for child in tracker.search(self.experiment_id, f"tags.`{PARENT_TAG}` = '{old}'"):
                tracker.log(child.info.run_id, tags={PARENT_TAG: run_id})
            tracker.delete_run(old)
        return run_id

    def finish_parent(
        self,
        parent_id: str,
        results: Sequence[Any],
        *,
        trial_set: str,
        aggregates: Sequence[tuple[str, float, int]] = (),
    ) -> None:
        """Log counts (and, for an arm, the seed aggregates) and mark the parent FINISHED.

        A parent this invocation did not open (a reused FINISHED one) is left as it is.

        Parameters
        ----------
        parent_id : str
        results : sequence of TrialResult
            Every trial under the parent.
        trial_set : str
            Identity of the trial runs under it (tag ``trial_set``).
        aggregates : sequence of (key, value, step)
            The seed aggregates of an arm parent (``<key>_mean``, ``_ci_lo``, ``_ci_hi``; see
            :func:`studies.engine.aggregates.aggregate_metrics`); a stage-wide sweep has none.
        """
        if parent_id not in self.open_runs:
            return
        metrics = list(aggregates)
        statuses = [r.status for r in results]
        tags = {
            N_TRIALS_TAG: len(results),
            N_DIVERGED_TAG: statuses.count("diverged"),
            N_FAILED_TAG: statuses.count("failed"),
            TRIAL_SET_TAG: trial_set,
        }
        params = self._parent_params.pop(parent_id, {})
        self.tracker.log(parent_id, metrics=metrics, params=params, tags=tags)
        datasets = self._parent_datasets.pop(parent_id, {})
        for result in results:  # trials that name their data, reused ones included
            for entry in getattr(result, "datasets", None) or ():
                datasets.setdefault(_dataset_key(entry), dict(entry))
        if datasets:
            self._log_datasets(parent_id, list(datasets.values()))
        self.tracker.terminate(parent_id, "FINISHED")
        self.open_runs.discard(parent_id)

    # -- trials -----------------------------------------------------------------------------
    def log_trial(
        self, spec: Any, result: Any, parent_id: str, *, seconds: float, error: str | None
    ) -> str:
        """Write one trial as a child run of ``parent_id``, FINISHED (FAILED if it failed).

        Parameters
        ----------
        spec : TrialSpec
        result : TrialResult
        parent_id : str
        seconds : float
            The trial's compute time (the run starts that long before it ends, now).
        error : str or None
            The traceback of a trial that raised or whose worker died.

        Returns
        -------
        str
            The run id.
        """
        tracker = self.tracker
        end = now_ms()
        tags = {
            **self.base_tags,
            KIND_TAG: "trial",
            ARM_TAG: spec.arm,
            STAGE_TAG: spec.stage,
            SEED_TAG: spec.seed,
            CONFIG_HASH_TAG: spec.config_hash,
            STATUS_TAG: result.status,
            PARENT_TAG: parent_id,
            SUMMARY_KEYS_TAG: encode_keys(result.summary),
        }
        if spec.seed_label != SEED_TAG:
            tags[spec.seed_label] = spec.seed
        tags.update({f"{FACTOR_PREFIX}{k}": v for k, v in spec.factors.items()})
        if result.status == "diverged":
            tags[DIVERGED_EPOCH_TAG] = result.diverged_epoch
        if error is not None:
            tags[ERROR_TAG] = error.strip().splitlines()[-1]
        run_id = tracker.create_run(
            self.experiment_id, spec.run_name, tags, start_time=end - int(seconds * 1000)
        )
        metrics = [
            (key, value, int(record["epoch"]))
            for record in result.history
            for key, value in record.items()
            if key != "epoch"
        ]
        metrics += [(key, value, 0) for key, value in result.summary.items()]
        params = {k: encode_param(v) for k, v in flatten(spec.config).items()}
        tracker.log(run_id, metrics=metrics, params=params)
        datasets = list(getattr(result, "datasets", None) or ()) or derived_datasets(
            self.study, spec.config
        )
        self._log_datasets(run_id, datasets)
        gathered = self._parent_datasets.setdefault(parent_id, {})
        for entry in datasets:
            gathered.setdefault(_dataset_key(entry), entry)
        if result.artifacts:
            tracker.log_artifacts(run_id, dict(result.artifacts), prefix=TRIAL_ARTIFACT_DIR)
        if error is not None:
            tracker.log_artifacts(run_id, {TRACEBACK_ARTIFACT: error})
        status = "FAILED" if result.status == "failed" else "FINISHED"
        tracker.terminate(run_id, status, end_time=end)
        self._supersede(spec.config_hash, run_id)
        return run_id

    def _log_datasets(self, run_id: str, datasets: Sequence[Mapping[str, Any]]) -> None:
        """Log ``datasets`` (entries of ``TrialResult.datasets``) as the run's dataset inputs,
        in one call."""
        if datasets:
            inputs = [dataset_input(entry) for entry in datasets]
            self.tracker.call(self.tracker.client.log_inputs, run_id, datasets=inputs)

    def _supersede(self, config_hash: str, run_id: str) -> None:
        """Delete (MLflow's soft delete) the earlier runs of a trial just logged again.

        A forced rerun, or the rerun of a failed or killed trial, leaves one active run per
        (stage, arm, seed, config) — the new one — in the UI and the reader alike.
        """
        for old in self._earlier.pop(config_hash, []):
            if old != run_id:
                self.tracker.delete_run(old)

    # -- the end ----------------------------------------------------------------------------
    def log_summary(
        self, claims: Sequence[tuple[Any, Any]], records: Sequence[Any], study_json: dict
    ) -> None:
        """``claims.json``, ``study.json`` and ``trials.json`` on the summary run; verdicts in
        the experiment's description (:func:`experiment_note`).

        Parameters
        ----------
        claims : sequence of (Claim, ClaimResult)
        records : sequence of TrialRecord
            Every trial of the invocation (``spec``, ``result``, ``run_id``, ``reused``).
        study_json : dict
            What the reporter needs of the study's definition.
        """
        claims_json = [claim_json(c, r) for c, r in claims]
        trials_json = [
            {
                "stage": r.spec.stage,
                "arm": r.spec.arm,
                "seed": r.spec.seed,
                "run_id": r.run_id,
                "config_hash": r.spec.config_hash,
                "status": r.result.status,
                "reused": r.reused,
            }
            for r in records
        ]
        artifacts = {
            ARTIFACTS["claims"]: claims_json,
            ARTIFACTS["study"]: study_json,
            ARTIFACTS["trials"]: trials_json,
        }
        self.tracker.log_artifacts(self.summary_id, artifacts)
        note = experiment_note(self.question, claims, self.command)
        self.tracker.set_experiment_tags(self.experiment_id, {NOTE_TAG: note})

    def finish(self, timing: Mapping[str, Any]) -> None:
        """``timing.json`` and the counts on the summary run; mark it FINISHED.

        Parameters
        ----------
        timing : mapping
            With at least ``n_trials``, ``n_reused`` and ``n_failed``.
        """
        self.tracker.log_artifacts(self.summary_id, {ARTIFACTS["timing"]: dict(timing)})
        counts = {
            N_TRIALS_TAG: timing["n_trials"],
            N_REUSED_TAG: timing["n_reused"],
            N_FAILED_TAG: timing["n_failed"],
        }
        self.tracker.log(self.summary_id, tags=counts)
        self.tracker.terminate(self.summary_id, "FINISHED")
        self.open_runs.discard(self.summary_id)

    def abort(self, status: str) -> None:
        """Mark every run this invocation left open with ``status`` (best effort)."""
        for run_id in list(self.open_runs):
            try:
                self.tracker.terminate(run_id, status)
            except Exception:
                log.warning("could not mark run %s %s", run_id, status, exc_info=True)
            self.open_runs.discard(run_id)


def _latest_by_tag(runs: Sequence[Any], tag: str) -> dict[str, Any]:
    """``{tag value: run}`` keeping the latest-started run per value (runs without it left out)."""
    latest: dict[str, Any] = {}
    for run in runs:
        value = run.data.tags.get(tag)
        current = latest.get(value)
        if value and (current is None or run.info.start_time > current.info.start_time):
            latest[value] = run
    return latest


def derived_datasets(study: str, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dataset of a trial that does not name its own: one training set, from the config.

    Parameters
    ----------
    study : str
    config : mapping
        The trial's resolved config; its ``data`` section (if any) describes the data.

    Returns
    -------
    list of dict
        One ``{"name", "digest", "source", "context"}`` entry: the name is ``data.name`` (else
        the study's), the digest the first 8 hex digits of the SHA-256 of the canonical data
        section with that name (equal configs, equal digests), the source the loader call
        ``dlkit.data.load(NAME, seed=S)`` when the section names a data set (its other keys
        after it), else the study.
    """
    section = config.get("data")
    data = dict(section) if isinstance(section, Mapping) else {}
    name = str(data.get("name") or study)
    digest = hashlib.sha256(canonical_json({"name": name, "data": data}).encode()).hexdigest()
    if data.get("name"):
        args = [repr(name)] + ([f"seed={data['seed']!r}"] if "seed" in data else [])
        rest = {k: v for k, v in data.items() if k not in ("name", "seed")}
        source = f"dlkit.data.load({', '.join(args)})"
        if rest:
            source += "; " + ", ".join(f"{k}={canonical_json(v)}" for k, v in rest.items())
    elif data:
        source = f"study {study}, data " + canonical_json(data)
    else:
        source = f"study {study} (its trial function makes its data)"
    return [{"name": name, "digest": digest[:8], "source": source, "context": "train"}]


def dataset_input(entry: Mapping[str, Any]) -> Any:
    """An MLflow ``DatasetInput`` for one entry of ``TrialResult.datasets``.

    The source is a code source (``DATASET_SOURCE_TYPE``) naming the call; ``n`` and
    ``shape`` (when given) form the profile the UI shows; the context is the input's tag.
    """
    from mlflow.entities import Dataset, DatasetInput, InputTag

    profile = {k: entry[k] for k in ("n", "shape") if entry.get(k) is not None}
    if "n" in profile:
        profile = {"num_rows": profile.pop("n"), **profile}
    dataset = Dataset(
        name=str(entry["name"]),
        digest=str(entry["digest"]),
        source_type=DATASET_SOURCE_TYPE,
        source=json.dumps({"tags": {"mlflow.source.name": str(entry["source"])}}),
        profile=canonical_json(profile) if profile else None,
    )
    return DatasetInput(dataset, tags=[InputTag(DATASET_CONTEXT_TAG, str(entry["context"]))])


def _dataset_key(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(entry["name"]), str(entry["digest"]), str(entry["context"]))


def claim_json(claim: Any, result: Any) -> dict[str, Any]:
    """One entry of ``claims.json``: the claim and its result, sequential fields included.

    ``seeds``, ``look``, ``level`` (Holm-adjusted), ``alpha``, ``family``, ``test``,
    ``seeds_needed`` and ``parts`` (per comparison: the statistic at each look and the
    boundaries) are None / empty for a claim judged without the sequential design.
    ``source``, ``setting`` and ``expected`` restate the claim's source; ``explanation`` is
    the claim's reason for a verdict that differs from ``expected`` (None when it does not).
    """
    return {
        "id": claim.id,
        "text": claim.text,
        "statistic": result.statistic,
        "verdict": result.verdict,
        "numbers": {k: float(v) for k, v in result.numbers.items()},
        "detail": result.detail,
        "seeds": result.seeds,
        "look": result.look,
        "level": result.level,
        "alpha": result.alpha,
        "family": result.family,
        "test": result.test,
        "seeds_needed": result.seeds_needed,
        "parts": [dict(p) for p in result.parts],
        "source": getattr(claim, "source", "") or "",
        "setting": getattr(claim, "setting", "") or "",
        "expected": getattr(claim, "expected", None),
        "explanation": claim.explains(result.verdict) if hasattr(claim, "explains") else None,
    }


def experiment_note(question: str, claims: Sequence[tuple[Any, Any]], command: str) -> str:
    """Markdown for the experiment's description: the question and each claim's verdict.

    Parameters
    ----------
    question : str
    claims : sequence of (Claim, ClaimResult)
    command : str
        The command of the invocation (the note ends with it and the time).
    """
    lines = [f"**Question.** {question}", ""]
    if claims:
        # The source's verdict, for studies whose claims name one (every catalogue study).
        sourced = any(getattr(claim, "expected", None) for claim, _ in claims)
        head = ["claim", "verdict", *(["source reports"] if sourced else []), "seeds (look)"]
        lines += [f"| {' | '.join(head)} | key number |", "|---" * (len(head) + 1) + "|"]
        for claim, result in claims:
            text = claim.text.replace("|", "\\|")
            seeds = "" if result.seeds is None else f"{result.seeds} (look {result.look})"
            if result.verdict == "inconclusive" and result.seeds_needed:
                seeds += f"; ~{result.seeds_needed} needed"
            cells = [text, f"**{result.verdict}**"]
            if sourced:
                source = (getattr(claim, "source", "") or "").replace("|", "\\|")
                expected = getattr(claim, "expected", None) or ""
                cells.append(f"{expected} ({source})" if source and expected else expected)
            lines.append(f"| {' | '.join([*cells, seeds, key_number(result)])} |")
        lines.append("")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"_Last run {stamp}: `{command}`._")
    return "\n".join(lines)


def key_number(result: Any) -> str:
    """The number that decides a claim, as text: each comparison's mean with its interval
    (or, for a claim without comparisons, its figures)."""
    if not result.parts:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in result.numbers.items())
    texts = []
    for p in result.parts:
        label, part = p.get("label") or "", p.get("name") or ""
        name = label or part or "mean"
        if len(result.parts) > 1 and part and part not in label:
            name = f"{part}: {name}"  # parts with one label apiece (e.g. one per task)
        texts.append(f"{name} = {p['mean']:.4g} [{p['ci_lo']:.4g}, {p['ci_hi']:.4g}]")
    return "; ".join(texts).replace("|", "\\|")


def _fmt(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
