"""Run a study end to end: resolve trials, reuse stored ones, execute the rest, judge the claims.

One invocation of :func:`run_study`:

1. opens the study's runs through a :class:`~studies.store.writer.StudyWriter` (experiment,
   orphaned runs marked KILLED, a *summary* run for this invocation);
2. look 1: for each stage, resolves its arms (a stage may choose them from earlier results),
   builds every (arm, seed) trial of the design's first look (a ``fixed_seeds`` stage: its
   own seeds) with its ``config_hash``, reuses each trial whose hash has a FINISHED run
   (unless ``force``), executes the others and has each logged the moment it arrives as a
   child run nested under its arm's parent run;
3. judges the claims (:func:`studies.engine.claims.judge_study`: the study's sequential
   design, Holm across its claims); while a claim is undecided and a look is left, runs the
   next look's seeds for exactly the arms the undecided claims compare, and judges again;
4. gives every parent its seed aggregates over all the seeds it ran, and writes the claims
   (with the seeds and look of each verdict) to the summary run and the experiment's
   description, with the study's definition, the design and the timing of each look.

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
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from threadpoolctl import threadpool_limits

from studies.engine.aggregates import aggregate_metrics
from studies.engine.claims import judge_study
from studies.engine.code_version import code_version, source_digest
from studies.engine.config import config_hash
from studies.engine.executors import LocalExecutor, Outcome, Task, make_executor
from studies.engine.frames import histories_frame, summaries_frame
from studies.engine.overrides import apply_overrides, select_arms
from studies.engine.progress import Progress
from studies.engine.spec import (
    Arm,
    ArmChoiceError,
    Claim,
    ClaimResult,
    Stage,
    Study,
    TrialResult,
    TrialSpec,
)
from studies.stats import Judgement, SequentialDesign
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
    quick : bool
        A ``--quick`` smoke run (its verdicts are not meant to match the sources').
    """

    study: str
    tracking_uri: str
    experiment_id: str
    summary_run_id: str
    records: list[TrialRecord]
    claims: list[tuple[Claim, ClaimResult]]
    timing: dict[str, Any] = field(default_factory=dict)
    quick: bool = False


def run_study(
    study: Study,
    *,
    quick: bool = False,
    n_seeds: int | None = None,
    max_seeds: int | None = None,
    jobs: int | None = None,
    force: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
    tracking_uri: str | None = None,
    command: str | None = None,
    progress_bar: bool | None = None,
    overrides: Sequence[str] = (),
    arms: Sequence[str] | None = None,
) -> StudyOutcome:
    """Run every trial of ``study`` that is not already in the store, log it, judge the claims.

    Parameters
    ----------
    study : Study
    quick : bool
        Use the study's ``--quick`` overrides (fewer epochs and seeds), same code path.
    n_seeds : int, optional
        Run exactly this many seeds per arm and judge the claims once on them (a one-look
        design); stages with ``fixed_seeds`` keep theirs. Default: the study's sequential
        design, which adds seeds look by look to the arms of undecided claims.
    max_seeds : int, optional
        Cap the design's looks at this many seeds (the last look becomes ``max_seeds``).
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
    overrides : sequence of str
        ``"key.path=value"`` settings of the base config for every arm (the CLI's ``--set``;
        see :func:`studies.engine.overrides.apply_overrides`): overridden trials hash
        differently, so they never reuse the default run's. Recorded in ``study.json``.
    arms : sequence of str, optional
        Run only these arms (the CLI's ``--arms``); claims comparing other arms end "not
        evaluated". Recorded in ``study.json``.

    Returns
    -------
    StudyOutcome

    Raises
    ------
    ValueError
        For ``n_seeds < 1`` or ``max_seeds < 2``, a bad override or an unknown arm, before
        anything is opened or run.
    KeyboardInterrupt
        Re-raised after the open runs are marked KILLED; rerunning resumes.
    studies.store.writer.StudyBusyError
        When the same study is already running against the same store.
    """
    wall_start = time.perf_counter()
    overrides = list(overrides)
    study = apply_overrides(study, overrides)
    if arms is not None:
        arms = list(dict.fromkeys(arms))
        study = select_arms(study, arms)
    # The design and each stage's first seeds, resolved once (bad values fail before anything
    # opens or runs).
    design = study.sequential_design(quick=quick, n_seeds=n_seeds, max_seeds=max_seeds)
    seeds = {
        s.name: study.stage_seeds(s, quick=quick, n_seeds=n_seeds, design=design)
        for s in study.stages
    }
    runner = make_executor(executor, jobs, scheduler)
    warm_up = getattr(runner, "warm_up", None)
    if warm_up is not None:
        # Workers start (and import the trial code) while the driver opens the store.
        warm_up(sorted({study.stage_trial(s).__module__ for s in study.stages}))
    tracker = Tracker(tracking_uri)
    code = code_version()
    # A study file outside the repository: its own edits change the code identity too.
    external = source_digest(study.stage_trial(s).__module__ for s in study.stages)
    if external:
        code = {**code, "study_source": external}
    command = command or f"run_study({study.name!r}) from Python"
    writer = StudyWriter(
        tracker, study.name, question=study.question, code=code, quick=quick, command=command
    )
    with tracker.study_lock(study.name):
        inv = _Invocation(
            study, writer, quick=quick, progress_bar=progress_bar, overrides=overrides, arms=arms
        )
        try:
            writer.open(reuse=not force)
            for stage in study.stages:
                inv.run_trials(stage, runner, seeds[stage.name])
            reached = 1
            judgements = inv.judge(design, reached)
            inv.note_look(reached, design, judgements)
            while reached < len(design.looks):
                need = inv.arms_needed(judgements)
                if not need:
                    break
                reached += 1
                block = range(design.looks[reached - 2], design.looks[reached - 1])
                for stage in study.stages:
                    arms = [a for a in inv.stage_arms[stage.name] if a in need]
                    if arms and not stage.fixed_seeds:
                        inv.run_trials(stage, runner, block, arms=arms, label=f" look {reached}")
                judgements = inv.judge(design, reached)
                inv.note_look(reached, design, judgements)
            inv.finish_parents()
            claims = [(c, j.result) for c, j in zip(study.claims, judgements, strict=True)]
            design_json = {
                "looks": list(design.looks),
                "alpha": design.alpha,
                "spending": design.spending,
                "reached": reached,
                "mode": "sequential" if quick is False and n_seeds is None else "fixed",
            }
            timing = inv.close(wall_start, claims, jobs=runner.jobs, design=design_json)
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
        quick=quick,
    )


@contextlib.contextmanager
def collect_warnings(logger: str = "studies"):
    """Collect the messages of WARNING records logged under ``logger`` meanwhile (they are
    still logged as usual): what a stage's arm choice warned about, for the report."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    target = logging.getLogger(logger)
    target.addHandler(handler)
    try:
        yield messages
    finally:
        target.removeHandler(handler)


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

    Trials are run stage by stage for the first look, then look by look for the arms of
    undecided claims (:meth:`run_trials` may be called several times per stage). A parent run
    is opened the first time one of its trials is logged and finished at the end
    (:meth:`finish_parents`), so its aggregates cover every seed the invocation ran.
    """

    def __init__(
        self,
        study: Study,
        writer: StudyWriter,
        *,
        quick: bool,
        progress_bar: bool | None,
        overrides: Sequence[str] = (),
        arms: Sequence[str] | None = None,
    ):
        self.study = study
        self.writer = writer
        self.quick = quick
        self.progress_bar = progress_bar
        self.overrides = list(overrides)
        self.selected_arms = list(arms) if arms is not None else None
        self.records: list[TrialRecord] = []
        self.stage_arms: dict[str, dict[str, Arm]] = {}
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self.compute_seconds = 0.0
        self.looks_run: list[dict[str, Any]] = []
        # What went wrong or was chosen with less data, for the report ("incomplete or abnormal").
        self.notes: list[str] = []
        # Per parent group (stage, arm or stage name): its trial specs and records, and the
        # run id once this invocation opened it.
        self.group_specs: dict[tuple[str, str], list[TrialSpec]] = defaultdict(list)
        self.group_records: dict[tuple[str, str], list[TrialRecord]] = defaultdict(list)
        self.parent_ids: dict[tuple[str, str], str] = {}
        self.stage_of: dict[str, Stage] = {s.name: s for s in study.stages}

    def arms_of(self, stage: Stage) -> dict[str, Arm]:
        """The stage's arms, resolved on first use (a factory sees the trials run so far)."""
        if stage.name not in self.stage_arms:
            with collect_warnings() as warned:
                try:
                    arms = self.study.stage_arms(
                        stage, summaries_frame(self.records), quick=self.quick
                    )
                except ArmChoiceError as err:
                    # A factory that cannot choose (e.g. every tuning trial of it failed):
                    # the stage is skipped, the claims that need its arms are not evaluated,
                    # and the rest of the study goes on and is reported.
                    log.warning(  # collected: the report says it too
                        "stage %r skipped: its arms could not be chosen (%s); the claims "
                        "that need it are not evaluated",
                        stage.name,
                        err,
                    )
                    arms = {}
            named = f"stage {stage.name!r}"
            self.notes += [t if t.startswith(named) else f"{named}: {t}" for t in warned]
            for earlier, earlier_arms in self.stage_arms.items():
                clash = sorted(set(arms) & set(earlier_arms))
                if clash:
                    raise ValueError(
                        f"stage {stage.name!r} reuses arm name(s) {clash} of stage {earlier!r}; "
                        "arm names must be unique within a study"
                    )
            self.stage_arms[stage.name] = arms
        return self.stage_arms[stage.name]

    def seeds_of(self, stage: str) -> list[int]:
        """Every seed run in ``stage`` so far (by any arm), sorted."""
        return sorted({r.spec.seed for r in self.records if r.spec.stage == stage})

    @staticmethod
    def _group(stage: Stage, spec: TrialSpec) -> tuple[str, str]:
        return (stage.name, spec.arm if stage.nest == "arm" else stage.name)

    # -- trials -----------------------------------------------------------------------------
    def run_trials(
        self,
        stage: Stage,
        runner: LocalExecutor,
        seeds: Sequence[int],
        *,
        arms: Sequence[str] | None = None,
        label: str = "",
    ) -> None:
        """Run (or reuse) the trials of ``arms`` (default: all) of ``stage`` at ``seeds``."""
        start = time.perf_counter()
        study, writer = self.study, self.writer
        all_arms = self.arms_of(stage)
        chosen = {name: all_arms[name] for name in (arms or all_arms)}
        specs = study.trial_specs(stage, chosen, seeds, quick=self.quick, code=writer.code)
        trial_fn = study.stage_trial(stage)
        for spec in specs:
            self.group_specs[self._group(stage, spec)].append(spec)
        stored = writer.finished_results([s.config_hash for s in specs])
        pending = [s for s in specs if s.config_hash not in stored]
        for spec in specs:
            if spec.config_hash in stored:
                run_id, fields = stored[spec.config_hash]
                self._add(stage, TrialRecord(spec, TrialResult(**fields), run_id, reused=True))

        progress = Progress(
            f"{study.name}/{stage.name}{label}",
            len(specs),
            len(specs) - len(pending),
            bar=self.progress_bar,
        )
        tasks = [Task(i, trial_fn, spec.config) for i, spec in enumerate(pending)]
        outcomes = runner.run(tasks) if tasks else iter(())
        blas = contextlib.ExitStack()
        if _in_process(runner):
            # Trials run in this process as the loop below pulls them: one BLAS thread, as in
            # a pool worker. Measured on 2 cores: multi-threaded OpenBLAS on small matrices
            # under load made a trial 10-100x slower.
            blas.enter_context(threadpool_limits(limits=1))
        try:
            for outcome in outcomes:
                spec = pending[outcome.index]
                parent_id = self._open_parent(stage, self._group(stage, spec))
                record = self._log_trial(spec, outcome, parent_id)
                self._add(stage, record)
                progress.update(spec.run_name, record.result.status, outcome.seconds)
        finally:
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()
            blas.close()
            progress.close()
        self.stage_seconds[stage.name] += time.perf_counter() - start

    def _add(self, stage: Stage, record: TrialRecord) -> None:
        self.records.append(record)
        self.group_records[self._group(stage, record.spec)].append(record)

    def _open_parent(self, stage: Stage, group: tuple[str, str]) -> str:
        """The parent run new trials of ``group`` are logged under (opened on first use)."""
        if group not in self.parent_ids:
            self.parent_ids[group] = self._parent_for(stage, group, has_pending=True)
        return self.parent_ids[group]

    def _parent_for(self, stage: Stage, group: tuple[str, str], *, has_pending: bool) -> str:
        specs = self.group_specs[group]
        name = group[1]
        return self.writer.parent_for(
            parent_hash(self.study.name, specs, self.writer.code),
            name,
            stage=stage.name,
            arm=self.stage_arms[stage.name][name] if stage.nest == "arm" else None,
            n_arms=len({s.arm for s in specs}),
            reused_set=trial_set_hash([r.run_id for r in self.group_records[group]]),
            has_pending=has_pending,
        )

    def finish_parents(self) -> None:
        """Aggregates and counts on every parent: those opened here, and stored ones whose
        trial set is checked (a stored parent over the same trials is reused untouched)."""
        for group, records in self.group_records.items():
            stage = self.stage_of[group[0]]
            parent_id = self.parent_ids.get(group)
            if parent_id is None:
                parent_id = self._parent_for(stage, group, has_pending=False)
            records.sort(key=lambda r: r.spec.seed)
            results = [r.result for r in records]
            self.writer.finish_parent(
                parent_id,
                results,
                trial_set=trial_set_hash([r.run_id for r in records]),
                aggregates=aggregate_metrics(results) if stage.nest == "arm" else (),
            )

    def ordered_records(self) -> list[TrialRecord]:
        """Records by stage, arm (in declaration order) and seed."""
        stages = {s.name: i for i, s in enumerate(self.study.stages)}
        arms = {a: i for arms in self.stage_arms.values() for i, a in enumerate(arms)}
        return sorted(
            self.records,
            key=lambda r: (stages[r.spec.stage], arms.get(r.spec.arm, 0), r.spec.seed),
        )

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

    # -- the claims -------------------------------------------------------------------------
    def arms_needed(self, judgements: Sequence[Judgement]) -> set[str]:
        """Arms whose next seeds an undecided claim needs (a claim that names no arms needs
        every arm of the stages the design adds seeds to)."""
        need: set[str] = set()
        every = {
            arm
            for stage in self.study.stages
            if not stage.fixed_seeds
            for arm in self.stage_arms.get(stage.name, {})
        }
        for j in judgements:
            if j.status == "continue":
                need.update(j.arms or every)
        return need

    def note_look(
        self, look: int, design: SequentialDesign, judgements: Sequence[Judgement]
    ) -> None:
        """Record what a look ran and decided (``timing.json``'s ``looks``)."""
        statuses = {c.id: j.status for c, j in zip(self.study.claims, judgements, strict=True)}
        self.looks_run.append(
            {
                "look": look,
                "seeds": design.looks[look - 1],
                "trials": len(self.records),
                "compute_seconds": self.compute_seconds,
                "claims": statuses,
            }
        )
        undecided = [cid for cid, status in statuses.items() if status == "continue"]
        if undecided and look < len(design.looks):
            log.info(
                "%s look %d (%d seeds): %d claim(s) undecided: %s",
                self.study.name,
                look,
                design.looks[look - 1],
                len(undecided),
                ", ".join(undecided),
            )

    def judge(self, design: SequentialDesign, reached: int) -> list[Judgement]:
        """Every claim at look ``reached`` (Holm across the claims; see ``judge_study``)."""
        summaries = summaries_frame(self.records)
        histories = histories_frame(self.records)
        return judge_study(
            self.study.claims,
            summaries,
            histories,
            design,
            reached=reached,
            selected_arms=self.selected_arms,
        )

    def close(
        self,
        wall_start: float,
        claims: list[tuple[Claim, ClaimResult]],
        *,
        jobs: int,
        design: dict[str, Any],
    ) -> dict:
        """Write the summary run (claims, study, trials, timing) and return the timing."""
        writer = self.writer
        self.records = self.ordered_records()
        stage_seeds = {name: self.seeds_of(name) for name in self.stage_arms}
        study_json = self.study.to_json(
            quick=self.quick, stage_arms=self.stage_arms, stage_seeds=stage_seeds
        )
        study_json["design"] = design
        study_json["overrides"] = self.overrides
        study_json["arms_selected"] = self.selected_arms
        study_json["arm_seeds"] = {
            arm: sorted(r.spec.seed for r in self.records if r.spec.arm == arm)
            for arms in self.stage_arms.values()
            for arm in arms
        }
        study_json["notes"] = list(self.notes)
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
            "looks": self.looks_run,
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
