"""Run a study end to end: resolve trials, reuse cached ones, execute the rest, log, judge.

One invocation of :func:`run_study`:

1. gets or creates the study's MLflow experiment and marks orphaned RUNNING runs (their driver
   died) KILLED;
2. opens a *summary* run for this invocation;
3. for each stage: resolves its arms (a stage may choose them from earlier results), builds
   every (arm, seed) trial with its ``config_hash``, reuses each trial whose hash has a
   FINISHED run (unless ``force``), executes the others and logs each result the moment it
   arrives as a child run nested under its arm's parent run; when an arm's last trial is in,
   the parent gets the seed aggregates (per-epoch mean and 95% t-interval, final
   ``*_mean`` / ``*_ci_lo`` / ``*_ci_hi``);
4. evaluates the claims on the trials' frames and writes ``claims.json``, ``study.json``,
   ``trials.json`` and ``timing.json`` to the summary run, and the verdicts to the
   experiment's description.

Child runs are created only when their result is in hand, so an interrupted study never
leaves half-logged trials: Ctrl-C marks the open parent and summary runs KILLED, a killed
driver's runs are marked KILLED at the next start, and the rerun resumes from the trials that
finished.

A parent run (one per arm, or one per stage for a one-seed sweep, see ``Stage.nest``) is
identified by ``parent_hash``: the study, the stage, the configs of its trials without the seed,
and the code version. When the set of trials behind it changes (a resumed, forced or re-seeded
study), a fresh parent takes over the old one's children and the old parent is deleted, so each
parent's aggregates describe exactly the trials nested under it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from studies.engine.code_version import code_version
from studies.engine.executors import LocalExecutor, Outcome, Task, make_executor
from studies.engine.progress import Progress
from studies.engine.spec import (
    Arm,
    Claim,
    ClaimResult,
    Stage,
    Study,
    TrialResult,
    TrialSpec,
    canonical_json,
    config_hash,
    histories_frame,
    summaries_frame,
)
from studies.stats import t_interval
from studies.store._bulk import metric_histories
from studies.store.schema import encode_param, flatten
from studies.store.writer import NOTE_TAG, PARENT_TAG, Tracker, now_ms, restore_inf

log = logging.getLogger(__name__)

__all__ = ["StudyOutcome", "TrialRecord", "run_study"]

# Tag holding the comma-separated summary keys of a trial run, so a reused trial's metrics
# can be split back into summary figures and per-epoch history.
SUMMARY_KEYS_TAG = "summary_keys"
TRACKING_BUDGET = 0.05
# Distributions whose versions ``study.json`` records (the report's environment section).
PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "mlflow",
    "seaborn",
    "matplotlib",
    "jinja2",
    "joblib",
    "dlkit-studies",
)


@dataclass
class TrialRecord:
    """A trial of this invocation: its spec, its result, its child run and whether it ran."""

    spec: TrialSpec
    result: TrialResult
    run_id: str
    reused: bool
    seconds: float = 0.0


@dataclass
class StudyOutcome:
    """What :func:`run_study` did.

    Attributes
    ----------
    study : str
    tracking_uri : str
    experiment_id : str
    summary_run_id : str
    records : list of TrialRecord
        Every trial of the invocation, all stages, reused ones included.
    claims : list of (Claim, ClaimResult)
    timing : dict
        ``wall_seconds``, ``tracking_seconds``, ``tracking_fraction`` and counts (as logged in
        ``timing.json``).
    """

    study: str
    tracking_uri: str
    experiment_id: str
    summary_run_id: str
    records: list[TrialRecord]
    claims: list[tuple[Claim, ClaimResult]]
    timing: dict[str, Any] = field(default_factory=dict)


def run_study(
    study: Study,
    *,
    quick: bool = False,
    n_seeds: int | None = None,
    jobs: int | None = None,
    force: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
    tracking_uri: str | None = None,
    command: str | None = None,
    progress_bar: bool | None = None,
) -> StudyOutcome:
    """Run every trial of ``study`` that is not already in the store, log it, judge the claims.

    Parameters
    ----------
    study : Study
    quick : bool
        Use the study's ``--quick`` overrides (fewer epochs and seeds), same code path.
    n_seeds : int, optional
        Seeds per arm (stages with ``fixed_seeds`` keep theirs).
    jobs : int, optional
        Worker processes; 1 runs in-process; default: the number of cores.
    force : bool
        Rerun trials even when a finished run with the same ``config_hash`` exists.
    executor : {"local", "dask"}
    scheduler : str, optional
        Dask scheduler address for ``executor="dask"`` (default ``DASK_SCHEDULER_ADDRESS``;
        neither starts a LocalCluster of ``jobs`` workers for this run).
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI`` or ``sqlite:///<repo>/mlflow.db``.
    command : str, optional
        Recorded on the summary run as the command that reproduces it; the CLI passes the
        command line it was given.
    progress_bar : bool, optional
        Force the progress bar on or off (default: on when stderr is a terminal).

    Returns
    -------
    StudyOutcome

    Raises
    ------
    KeyboardInterrupt
        Re-raised after the open runs are marked KILLED; rerunning resumes.
    studies.store.writer.StudyBusyError
        When the same study is already running against the same store.
    """
    wall_start = time.perf_counter()
    runner = make_executor(executor, jobs, scheduler)
    warm_up = getattr(runner, "warm_up", None)
    if warm_up is not None:
        # Workers start (and import the trial code) while the driver opens the store.
        warm_up(sorted({study.stage_trial(s).__module__ for s in study.stages}))
    tracker = Tracker(tracking_uri)
    code = code_version()
    command = command or f"run_study({study.name!r}) from Python"
    with tracker.study_lock(study.name):
        inv = _Invocation(
            study,
            tracker,
            code,
            quick=quick,
            force=force,
            command=command,
            progress_bar=progress_bar,
            jobs=runner.jobs,
        )
        try:
            inv.open()
            for stage in study.stages:
                stage_start = time.perf_counter()
                inv.run_stage(stage, n_seeds, runner)
                inv.stage_seconds[stage.name] = time.perf_counter() - stage_start
            claims = inv.judge()
            timing = inv.close(wall_start, claims)
        except KeyboardInterrupt:
            inv.abort("KILLED")
            raise
        except BaseException:
            inv.abort("FAILED")
            raise
        finally:
            close = getattr(runner, "close", None)
            if close is not None:
                close()  # a LocalCluster started for this run stops now, not at exit
    return StudyOutcome(
        study=study.name,
        tracking_uri=tracker.uri,
        experiment_id=inv.experiment_id,
        summary_run_id=inv.summary_id,
        records=inv.records,
        claims=claims,
        timing=timing,
    )


def package_versions() -> dict[str, str]:
    """``{distribution: version}`` for :data:`PACKAGES` that are installed."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _in_process(runner: Any) -> bool:
    """True when ``runner`` executes trials in this process (the local executor, one job)."""
    return getattr(runner, "name", "") == "local" and getattr(runner, "jobs", 0) == 1


def parent_hash(study: str, specs: Sequence[TrialSpec], code: Mapping[str, Any]) -> str:
    """Identity of a parent run: the configs (without seeds) of the trials under it + code."""
    configs = sorted(
        {canonical_json({k: v for k, v in s.config.items() if k != "seed"}) for s in specs}
    )
    return config_hash({"study": study, "stage": specs[0].stage, "configs": configs}, code)


def trial_set_hash(run_ids: Sequence[str]) -> str:
    return config_hash({"runs": sorted(run_ids)}, {})


class _Invocation:
    """State of one ``run_study`` call (kept out of the public API)."""

    def __init__(
        self,
        study: Study,
        tracker: Tracker,
        code: Mapping[str, Any],
        *,
        quick: bool,
        force: bool,
        command: str,
        progress_bar: bool | None,
        jobs: int,
    ):
        self.study = study
        self.tracker = tracker
        self.code = code
        self.quick = quick
        self.force = force
        self.command = command
        self.progress_bar = progress_bar
        self.jobs = jobs
        self.experiment_id = ""
        self.summary_id = ""
        self.records: list[TrialRecord] = []
        self.open_runs: set[str] = set()
        self.stage_arms: dict[str, dict[str, Arm]] = {}
        self.stage_seeds: dict[str, list[int]] = {}
        self.stage_seconds: dict[str, float] = {}
        self.finished: dict[str, Any] = {}
        self.parents: dict[str, Any] = {}
        self.parent_params: dict[str, dict[str, str]] = {}
        self.compute_seconds = 0.0

    @property
    def base_tags(self) -> dict[str, str]:
        return {
            "study": self.study.name,
            "git_commit": str(self.code["git_commit"]),
            "git_dirty": str(self.code["git_dirty"]).lower(),
            "dlkit_version": str(self.code["dlkit_version"]),
            "quick": str(self.quick).lower(),
        }

    # -- set-up -----------------------------------------------------------------------------
    def open(self) -> None:
        study, tracker = self.study, self.tracker
        self.experiment_id = tracker.experiment(
            study.name, {"study": study.name, "question": study.question}
        )
        tracker.close_orphans(self.experiment_id)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.summary_id = tracker.create_run(
            self.experiment_id,
            f"summary-{stamp}",
            {**self.base_tags, "kind": "summary", "command": self.command},
        )
        self.open_runs.add(self.summary_id)
        # Trial and parent hashes include the code version, so only runs tagged with this
        # commit can match: the lookup does not grow with the runs of earlier commits.
        same_code = f"tags.git_commit = '{self.code['git_commit']}'"
        if not self.force:
            for run in tracker.search(
                self.experiment_id,
                f"tags.kind = 'trial' and attributes.status = 'FINISHED' and {same_code}",
            ):
                h = run.data.tags.get("config_hash")
                current = self.finished.get(h)
                if h and (current is None or run.info.start_time > current.info.start_time):
                    self.finished[h] = run
        parents = tracker.search(self.experiment_id, f"tags.kind = 'arm' and {same_code}")
        parents += tracker.search(self.experiment_id, f"tags.kind = 'stage' and {same_code}")
        for run in parents:
            h = run.data.tags.get("parent_hash")
            current = self.parents.get(h)
            if h and (current is None or run.info.start_time > current.info.start_time):
                self.parents[h] = run

    # -- one stage --------------------------------------------------------------------------
    def run_stage(self, stage: Stage, n_seeds: int | None, runner: LocalExecutor) -> None:
        study = self.study
        previous = summaries_frame(self.records)
        arms = study.stage_arms(stage, previous, quick=self.quick)
        for earlier, earlier_arms in self.stage_arms.items():
            clash = sorted(set(arms) & set(earlier_arms))
            if clash:
                raise ValueError(
                    f"stage {stage.name!r} reuses arm name(s) {clash} of stage {earlier!r}; "
                    "arm names must be unique within a study"
                )
        seeds = study.stage_seeds(stage, quick=self.quick, n_seeds=n_seeds)
        self.stage_arms[stage.name], self.stage_seeds[stage.name] = arms, seeds
        specs = study.trial_specs(stage, arms, seeds, quick=self.quick, code=self.code)
        trial_fn = study.stage_trial(stage)

        # Parent runs: one per arm, or one for the whole stage (a one-seed sweep).
        def group_of(spec: TrialSpec) -> str:
            return spec.arm if stage.nest == "arm" else stage.name

        groups: dict[str, list[TrialSpec]] = defaultdict(list)
        for spec in specs:
            groups[group_of(spec)].append(spec)
        pending = [s for s in specs if s.config_hash not in self.finished]
        pending_groups = {group_of(s) for s in pending}

        records: dict[str, list[TrialRecord]] = defaultdict(list)
        reused = [s for s in specs if s.config_hash in self.finished]
        loaded = self._load_results([self.finished[s.config_hash] for s in reused])
        for spec in reused:
            run = self.finished[spec.config_hash]
            record = TrialRecord(spec, loaded[run.info.run_id], run.info.run_id, reused=True)
            records[group_of(spec)].append(record)

        parent_ids = {
            name: self._parent_for(
                stage,
                name,
                arms[name] if stage.nest == "arm" else None,
                group_specs,
                [r.run_id for r in records[name]],
                has_pending=name in pending_groups,
            )
            for name, group_specs in groups.items()
        }
        for name in groups:
            if name not in pending_groups:
                self._finish_parent(parent_ids[name], records[name], aggregate=stage.nest == "arm")

        progress = Progress(
            f"{study.name}/{stage.name}", len(specs), len(reused), bar=self.progress_bar
        )
        left = {name: sum(group_of(s) == name for s in pending) for name in groups}
        tasks = [Task(i, trial_fn, spec.config) for i, spec in enumerate(pending)]
        outcomes = runner.run(tasks)
        blas = contextlib.ExitStack()
        if _in_process(runner):
            # Trials run in this process as the loop below pulls them: one BLAS thread, as in
            # a pool worker. Measured on 2 cores: multi-threaded OpenBLAS on small matrices
            # under load made a trial 10-100x slower.
            blas.enter_context(threadpool_limits(limits=1))
        try:
            for outcome in outcomes:
                spec = pending[outcome.index]
                group = group_of(spec)
                record = self._log_trial(spec, outcome, parent_ids[group])
                records[group].append(record)
                progress.update(spec.run_name, record.result.status, outcome.seconds)
                left[group] -= 1
                if left[group] == 0:
                    self._finish_parent(
                        parent_ids[group], records[group], aggregate=stage.nest == "arm"
                    )
        finally:
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()
            blas.close()
            progress.close()
        order = {spec.key: i for i, spec in enumerate(specs)}
        done = [r for recs in records.values() for r in recs]
        self.records.extend(sorted(done, key=lambda r: order[r.spec.key]))

    def _parent_for(
        self,
        stage: Stage,
        name: str,
        arm: Arm | None,
        specs: list[TrialSpec],
        reused_ids: list[str],
        *,
        has_pending: bool,
    ) -> str:
        """The parent run of a group of trials: reuse, reopen or replace the stored one.

        ``arm`` is None for a stage-wide parent.
        """
        tracker = self.tracker
        key = parent_hash(self.study.name, specs, self.code)
        existing = self.parents.get(key)
        if existing is not None:
            tags = existing.data.tags
            same = tags.get("trial_set") == trial_set_hash(reused_ids) and not has_pending
            if same and existing.info.status == "FINISHED":
                return existing.info.run_id
            if "trial_set" not in tags:
                # Never finished (its first invocation was interrupted): carry on with it.
                if existing.info.status != "RUNNING":
                    tracker.reopen(existing.info.run_id)
                self.open_runs.add(existing.info.run_id)
                self.parent_params[existing.info.run_id] = {}
                return existing.info.run_id
        tags = {**self.base_tags, "stage": stage.name, "parent_hash": key}
        if arm is None:
            tags.update({"kind": "stage", "n_arms": len({s.arm for s in specs})})
            params: dict[str, str] = {}
        else:
            tags.update({"kind": "arm", "arm": name})
            tags.update({f"factor.{k}": v for k, v in arm.factors.items()})
            params = {k: encode_param(v) for k, v in flatten(arm.overrides).items()}
        run_id = tracker.create_run(self.experiment_id, name, tags)
        self.open_runs.add(run_id)
        self.parent_params[run_id] = params
        if existing is not None:
            old = existing.info.run_id
            for child in tracker.search(self.experiment_id, f"tags.`{PARENT_TAG}` = '{old}'"):
                tracker.log(child.info.run_id, tags={PARENT_TAG: run_id})
            tracker.delete_run(old)
        return run_id

    def _finish_parent(
        self, parent_id: str, records: list[TrialRecord], *, aggregate: bool
    ) -> None:
        """Log counts (and, for an arm, the seed aggregates) and mark the parent FINISHED."""
        if parent_id not in self.open_runs:
            return
        metrics = aggregate_metrics([r.result for r in records]) if aggregate else []
        statuses = [r.result.status for r in records]
        tags = {
            "n_trials": len(records),
            "n_diverged": statuses.count("diverged"),
            "n_failed": statuses.count("failed"),
            "trial_set": trial_set_hash([r.run_id for r in records]),
        }
        params = self.parent_params.pop(parent_id, {})
        self.tracker.log(parent_id, metrics=metrics, params=params, tags=tags)
        self.tracker.terminate(parent_id, "FINISHED")
        self.open_runs.discard(parent_id)

    def _log_trial(self, spec: TrialSpec, outcome: Outcome, parent_id: str) -> TrialRecord:
        tracker = self.tracker
        self.compute_seconds += outcome.seconds
        if outcome.result is None:
            result = TrialResult(status="failed")
            log.warning("trial %s failed:\n%s", spec.run_name, outcome.error)
        else:
            result = outcome.result
        end = now_ms()
        tags = {
            **self.base_tags,
            "kind": "trial",
            "arm": spec.arm,
            "stage": spec.stage,
            "seed": spec.seed,
            "config_hash": spec.config_hash,
            "status": result.status,
            PARENT_TAG: parent_id,
            SUMMARY_KEYS_TAG: ",".join(result.summary),
        }
        if spec.seed_label != "seed":
            tags[spec.seed_label] = spec.seed
        tags.update({f"factor.{k}": v for k, v in spec.factors.items()})
        if result.status == "diverged":
            tags["diverged_epoch"] = result.diverged_epoch
        if outcome.error is not None:
            tags["error"] = outcome.error.strip().splitlines()[-1]
        run_id = tracker.create_run(
            self.experiment_id, spec.run_name, tags, start_time=end - int(outcome.seconds * 1000)
        )
        metrics = [
            (key, value, int(rec["epoch"]))
            for rec in result.history
            for key, value in rec.items()
            if key != "epoch"
        ]
        metrics += [(key, value, 0) for key, value in result.summary.items()]
        params = {k: encode_param(v) for k, v in flatten(spec.config).items()}
        tracker.log(run_id, metrics=metrics, params=params)
        artifacts = dict(result.artifacts)
        if artifacts:
            tracker.log_artifacts(run_id, artifacts, prefix="artifacts/")
        if outcome.error is not None:
            tracker.log_artifacts(run_id, {"traceback.txt": outcome.error})
        status = "FAILED" if result.status == "failed" else "FINISHED"
        tracker.terminate(run_id, status, end_time=end)
        return TrialRecord(spec, result, run_id, reused=False, seconds=outcome.seconds)

    def _load_results(self, runs: Sequence[Any]) -> dict[str, TrialResult]:
        """Rebuild finished trials' TrialResults from their runs (artifacts stay in the store).

        Summary figures come from each run's latest metrics; the per-epoch histories of all
        ``runs`` come in one bulk query per history key (not one call per run and key: a
        study with per-layer metrics would make thousands).
        """
        summary_keys = {
            run.info.run_id: [k for k in run.data.tags.get(SUMMARY_KEYS_TAG, "").split(",") if k]
            for run in runs
        }
        run_keys = {
            run.info.run_id: sorted(set(run.data.metrics) - set(summary_keys[run.info.run_id]))
            for run in runs
        }
        latest: dict[tuple[str, int, str], tuple[int, float]] = {}
        if any(run_keys.values()):
            rows = self.tracker.call(metric_histories, self.tracker.client, run_keys)
            for run_id, step, key, value, timestamp in rows:
                # A step logged twice keeps its latest value.
                current = latest.get((run_id, step, key))
                if current is None or timestamp >= current[0]:
                    latest[(run_id, step, key)] = (timestamp, restore_inf(value))
        epochs: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for (run_id, step, key), (_, value) in sorted(latest.items()):
            epochs[run_id][step][key] = value
        results = {}
        for run in runs:
            run_id, tags, metrics = run.info.run_id, run.data.tags, run.data.metrics
            summary = {k: restore_inf(metrics[k]) for k in summary_keys[run_id] if k in metrics}
            history = [{"epoch": step, **values} for step, values in sorted(epochs[run_id].items())]
            diverged = tags.get("diverged_epoch")
            results[run_id] = TrialResult(
                history=history,
                summary=summary,
                status=tags.get("status", "ok"),
                diverged_epoch=int(diverged) if diverged not in (None, "", "None") else None,
            )
        return results

    # -- the end ----------------------------------------------------------------------------
    def judge(self) -> list[tuple[Claim, ClaimResult]]:
        summaries = summaries_frame(self.records)
        histories = histories_frame(self.records)
        results = []
        for claim in self.study.claims:
            try:
                result = claim.evaluate(summaries, histories)
            except Exception as err:
                log.warning(
                    "claim %r could not be evaluated:\n%s", claim.id, traceback.format_exc()
                )
                result = ClaimResult(
                    "inconclusive",
                    claim.statistic,
                    {},
                    f"could not be evaluated: {type(err).__name__}: {err}",
                )
            results.append((claim, result))
        return results

    def close(self, wall_start: float, claims: list[tuple[Claim, ClaimResult]]) -> dict:
        study, tracker = self.study, self.tracker
        statuses = [r.result.status for r in self.records]
        n_run = sum(not r.reused for r in self.records)
        claims_json = [
            {
                "id": c.id,
                "text": c.text,
                "statistic": r.statistic,
                "verdict": r.verdict,
                "numbers": {k: float(v) for k, v in r.numbers.items()},
                "detail": r.detail,
            }
            for c, r in claims
        ]
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
            for r in self.records
        ]
        study_json = study.to_json(
            quick=self.quick, stage_arms=self.stage_arms, stage_seeds=self.stage_seeds
        )
        study_json["code"] = dict(self.code)
        study_json["packages"] = package_versions()
        study_json["command"] = self.command
        tracker.log_artifacts(
            self.summary_id,
            {
                "claims.json": claims_json,
                "study.json": study_json,
                "trials.json": trials_json,
            },
        )
        tracker.set_experiment_tags(
            self.experiment_id, {NOTE_TAG: experiment_note(study, claims, self.command)}
        )
        wall = time.perf_counter() - wall_start
        timing = {
            "wall_seconds": wall,
            "tracking_seconds": tracker.seconds,
            "tracking_fraction": tracker.seconds / wall if wall > 0 else 0.0,
            "store_open_seconds": tracker.open_seconds,
            "tracking_calls": tracker.calls,
            "tracking_by_call": {k: round(v, 4) for k, v in sorted(tracker.by_call.items())},
            "lock_retries": tracker.retries,
            "compute_seconds": self.compute_seconds,
            "stage_seconds": dict(self.stage_seconds),
            "jobs": self.jobs,
            "n_trials": len(self.records),
            "n_run": n_run,
            "n_reused": len(self.records) - n_run,
            "n_diverged": statuses.count("diverged"),
            "n_failed": statuses.count("failed"),
        }
        tracker.log_artifacts(self.summary_id, {"timing.json": timing})
        tracker.log(
            self.summary_id,
            tags={
                "n_trials": timing["n_trials"],
                "n_reused": timing["n_reused"],
                "n_failed": timing["n_failed"],
            },
        )
        tracker.terminate(self.summary_id, "FINISHED")
        self.open_runs.discard(self.summary_id)
        # Only worth a warning when trials did real work; for a study that reuses everything
        # or trains for milliseconds, tracking naturally dominates.
        if timing["tracking_fraction"] > TRACKING_BUDGET and self.compute_seconds > 10:
            log.warning(
                "tracking took %.1f%% of the wall time (budget %.0f%%)",
                100 * timing["tracking_fraction"],
                100 * TRACKING_BUDGET,
            )
        return timing

    def abort(self, status: str) -> None:
        """Mark every run this invocation left open with ``status`` (best effort)."""
        for run_id in list(self.open_runs):
            try:
                self.tracker.terminate(run_id, status)
            except Exception:
                log.warning("could not mark run %s %s", run_id, status, exc_info=True)
            self.open_runs.discard(run_id)


def aggregate_metrics(results: Sequence[TrialResult]) -> list[tuple[str, float, int]]:
    """Seed aggregates of an arm's trials for its parent run.

    Per-epoch ``<key>_mean`` (and ``<key>_ci_lo`` / ``<key>_ci_hi`` from a 95% Student-t
    interval when at least two seeds have a finite value that epoch) at ``step = epoch``, and
    the same three for every summary key at step 0. Failed trials are left out.

    Parameters
    ----------
    results : sequence of TrialResult

    Returns
    -------
    list of (key, value, step)
    """
    usable = [r for r in results if r.status != "failed"]
    per_epoch: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    finals: dict[str, list[float]] = defaultdict(list)
    for result in usable:
        for record in result.history:
            for key, value in record.items():
                if key != "epoch":
                    per_epoch[key][int(record["epoch"])].append(float(value))
        for key, value in result.summary.items():
            finals[key].append(float(value))
    metrics: list[tuple[str, float, int]] = []

    def emit(key: str, values: list[float], step: int, *, keep_inf: bool) -> None:
        x = np.asarray(values, dtype=float)
        if not keep_inf:
            x = x[np.isfinite(x)]
        x = x[~np.isnan(x)]
        if x.size == 0:
            return
        mean, lo, hi = t_interval(x)
        metrics.append((f"{key}_mean", mean, step))
        if x.size >= 2 and math.isfinite(lo):
            metrics.append((f"{key}_ci_lo", lo, step))
            metrics.append((f"{key}_ci_hi", hi, step))

    for key, by_epoch in per_epoch.items():
        for epoch, values in sorted(by_epoch.items()):
            emit(key, values, epoch, keep_inf=False)
    for key, values in finals.items():
        # A summary of inf (a target never reached) makes the mean inf, honestly.
        emit(key, values, 0, keep_inf=True)
    return metrics


def experiment_note(study: Study, claims: Sequence[tuple[Claim, ClaimResult]], command: str) -> str:
    """Markdown for the experiment's description: the question and each claim's verdict."""
    lines = [f"**Question.** {study.question}", ""]
    if claims:
        lines += ["| claim | verdict | numbers |", "|---|---|---|"]
        for claim, result in claims:
            numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in result.numbers.items())
            text = claim.text.replace("|", "\\|")
            lines.append(f"| {text} | **{result.verdict}** | {numbers} |")
        lines.append("")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"_Last run {stamp}: `{command}`._")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
