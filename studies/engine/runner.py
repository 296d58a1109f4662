"""Run a study end to end: resolve trials, reuse stored ones, execute the rest, judge the claims.

One invocation of :func:`run_study`:

1. opens the study's runs through a :class:`~studies.store.writer.StudyWriter` (experiment,
   orphaned runs marked KILLED, a *summary* run for this invocation);
2. for each stage: resolves its arms (a stage may choose them from earlier results), builds
   every (arm, seed) trial with its ``config_hash``, reuses each trial whose hash has a
   FINISHED run (unless ``force``), executes the others and has each result logged the moment
   it arrives as a child run nested under its arm's parent run; when an arm's last trial is
   in, the parent gets the seed aggregates;
3. evaluates the claims on the trials' frames and has them written to the summary run and the
   experiment's description, with the study's definition and the timing.

The MLflow layout itself (tags, parent-run reuse, aggregates) lives in :mod:`studies.store`;
this module only orchestrates. Child runs are created only when their result is in hand, so an
interrupted study never leaves half-logged trials: Ctrl-C marks the open parent and summary
runs KILLED, a killed driver's runs are marked KILLED at the next start, and the rerun resumes
from the trials that finished.

A parent run (one per arm, or one per stage for a one-seed sweep, see ``Stage.nest``) is
identified by :func:`parent_hash`: the study, the stage, the configs of its trials without the
seed, and the code version. When the set of trials behind it changes (a resumed, forced or
re-seeded study), a fresh parent takes over the old one's children and the old parent is
deleted, so each parent's aggregates describe exactly the trials nested under it.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from threadpoolctl import threadpool_limits

from studies.engine.aggregates import aggregate_metrics
from studies.engine.code_version import code_version
from studies.engine.config import config_hash
from studies.engine.executors import LocalExecutor, Outcome, Task, make_executor
from studies.engine.frames import histories_frame, summaries_frame
from studies.engine.progress import Progress
from studies.engine.spec import (
    Arm,
    Claim,
    ClaimResult,
    Stage,
    Study,
    TrialResult,
    TrialSpec,
)
from studies.store.schema import canonical_json
from studies.store.writer import StudyWriter, Tracker

log = logging.getLogger(__name__)

__all__ = ["StudyOutcome", "TrialRecord", "run_study"]

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
    ValueError
        For ``n_seeds < 1``, before anything is opened or run.
    KeyboardInterrupt
        Re-raised after the open runs are marked KILLED; rerunning resumes.
    studies.store.writer.StudyBusyError
        When the same study is already running against the same store.
    """
    wall_start = time.perf_counter()
    # --seeds resolved once, per stage: the seeds each stage runs and study.json records.
    seeds = {s.name: study.stage_seeds(s, quick=quick, n_seeds=n_seeds) for s in study.stages}
    runner = make_executor(executor, jobs, scheduler)
    warm_up = getattr(runner, "warm_up", None)
    if warm_up is not None:
        # Workers start (and import the trial code) while the driver opens the store.
        warm_up(sorted({study.stage_trial(s).__module__ for s in study.stages}))
    tracker = Tracker(tracking_uri)
    code = code_version()
    command = command or f"run_study({study.name!r}) from Python"
    writer = StudyWriter(
        tracker, study.name, question=study.question, code=code, quick=quick, command=command
    )
    with tracker.study_lock(study.name):
        inv = _Invocation(study, writer, seeds, quick=quick, progress_bar=progress_bar)
        try:
            writer.open(reuse=not force)
            for stage in study.stages:
                stage_start = time.perf_counter()
                inv.run_stage(stage, runner)
                inv.stage_seconds[stage.name] = time.perf_counter() - stage_start
            claims = inv.judge()
            timing = inv.close(wall_start, claims, jobs=runner.jobs)
        except KeyboardInterrupt:
            writer.abort("KILLED")
            raise
        except BaseException:
            writer.abort("FAILED")
            raise
        finally:
            close = getattr(runner, "close", None)
            if close is not None:
                close()  # a LocalCluster started for this run stops now, not at exit
    return StudyOutcome(
        study=study.name,
        tracking_uri=tracker.uri,
        experiment_id=writer.experiment_id,
        summary_run_id=writer.summary_id,
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
    """Identity of the set of trial runs under a parent."""
    return config_hash({"runs": sorted(run_ids)}, {})


class _Invocation:
    """State of one ``run_study`` call (kept out of the public API).

    ``stage_seeds`` maps each stage to the seeds it runs (``--seeds`` resolved once).
    """

    def __init__(
        self,
        study: Study,
        writer: StudyWriter,
        stage_seeds: dict[str, list[int]],
        *,
        quick: bool,
        progress_bar: bool | None,
    ):
        self.study = study
        self.writer = writer
        self.stage_seeds = stage_seeds
        self.quick = quick
        self.progress_bar = progress_bar
        self.records: list[TrialRecord] = []
        self.stage_arms: dict[str, dict[str, Arm]] = {}
        self.stage_seconds: dict[str, float] = {}
        self.compute_seconds = 0.0

    # -- one stage --------------------------------------------------------------------------
    def run_stage(self, stage: Stage, runner: LocalExecutor) -> None:
        study, writer = self.study, self.writer
        arms = study.stage_arms(stage, summaries_frame(self.records), quick=self.quick)
        for earlier, earlier_arms in self.stage_arms.items():
            clash = sorted(set(arms) & set(earlier_arms))
            if clash:
                raise ValueError(
                    f"stage {stage.name!r} reuses arm name(s) {clash} of stage {earlier!r}; "
                    "arm names must be unique within a study"
                )
        self.stage_arms[stage.name] = arms
        specs = study.trial_specs(
            stage, arms, self.stage_seeds[stage.name], quick=self.quick, code=writer.code
        )
        trial_fn = study.stage_trial(stage)

        # Parent runs: one per arm, or one for the whole stage (a one-seed sweep).
        def group_of(spec: TrialSpec) -> str:
            return spec.arm if stage.nest == "arm" else stage.name

        groups: dict[str, list[TrialSpec]] = defaultdict(list)
        for spec in specs:
            groups[group_of(spec)].append(spec)
        stored = writer.finished_results([s.config_hash for s in specs])
        pending = [s for s in specs if s.config_hash not in stored]
        pending_groups = {group_of(s) for s in pending}

        records: dict[str, list[TrialRecord]] = defaultdict(list)
        for spec in specs:
            if spec.config_hash in stored:
                run_id, fields = stored[spec.config_hash]
                record = TrialRecord(spec, TrialResult(**fields), run_id, reused=True)
                records[group_of(spec)].append(record)

        parent_ids = {
            name: writer.parent_for(
                parent_hash(study.name, group_specs, writer.code),
                name,
                stage=stage.name,
                arm=arms[name] if stage.nest == "arm" else None,
                n_arms=len({s.arm for s in group_specs}),
                reused_set=trial_set_hash([r.run_id for r in records[name]]),
                has_pending=name in pending_groups,
            )
            for name, group_specs in groups.items()
        }

        def finish(name: str) -> None:
            results = [r.result for r in records[name]]
            writer.finish_parent(
                parent_ids[name],
                results,
                trial_set=trial_set_hash([r.run_id for r in records[name]]),
                aggregates=aggregate_metrics(results) if stage.nest == "arm" else (),
            )

        for name in groups:
            if name not in pending_groups:
                finish(name)

        progress = Progress(
            f"{study.name}/{stage.name}",
            len(specs),
            len(specs) - len(pending),
            bar=self.progress_bar,
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
                    finish(group)
        finally:
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()
            blas.close()
            progress.close()
        order = {spec.key: i for i, spec in enumerate(specs)}
        done = [r for recs in records.values() for r in recs]
        self.records.extend(sorted(done, key=lambda r: order[r.spec.key]))

    def _log_trial(self, spec: TrialSpec, outcome: Outcome, parent_id: str) -> TrialRecord:
        self.compute_seconds += outcome.seconds
        if outcome.result is None:
            result = TrialResult(status="failed")
            log.warning("trial %s failed:\n%s", spec.run_name, outcome.error)
        else:
            result = outcome.result
        run_id = self.writer.log_trial(
            spec, result, parent_id, seconds=outcome.seconds, error=outcome.error
        )
        return TrialRecord(spec, result, run_id, reused=False, seconds=outcome.seconds)

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

    def close(
        self, wall_start: float, claims: list[tuple[Claim, ClaimResult]], *, jobs: int
    ) -> dict:
        """Write the summary run (claims, study, trials, timing) and return the timing."""
        writer = self.writer
        study_json = self.study.to_json(
            quick=self.quick, stage_arms=self.stage_arms, stage_seeds=self.stage_seeds
        )
        study_json["code"] = dict(writer.code)
        study_json["packages"] = package_versions()
        study_json["command"] = writer.command
        writer.log_summary(claims, self.records, study_json)
        statuses = [r.result.status for r in self.records]
        n_run = sum(not r.reused for r in self.records)
        wall = time.perf_counter() - wall_start
        tracking = writer.tracker.stats()
        timing = {
            "wall_seconds": wall,
            "tracking_fraction": tracking["tracking_seconds"] / wall if wall > 0 else 0.0,
            **tracking,
            "compute_seconds": self.compute_seconds,
            "stage_seconds": dict(self.stage_seconds),
            "jobs": jobs,
            "n_trials": len(self.records),
            "n_run": n_run,
            "n_reused": len(self.records) - n_run,
            "n_diverged": statuses.count("diverged"),
            "n_failed": statuses.count("failed"),
        }
        writer.finish(timing)
        # Only worth a warning when trials did real work; for a study that reuses everything
        # or trains for milliseconds, tracking naturally dominates.
        if timing["tracking_fraction"] > TRACKING_BUDGET and self.compute_seconds > 10:
            log.warning(
                "tracking took %.1f%% of the wall time (budget %.0f%%)",
                100 * timing["tracking_fraction"],
                100 * TRACKING_BUDGET,
            )
        return timing
