"""Executors: run trial functions in-process or on a local process pool, yield outcomes.

Workers only compute; they never see MLflow. An outcome comes back as soon as its trial ends
(joblib's ``return_as="generator_unordered"``) so the driver can log it while other trials
still run.

Failure containment:

* a trial that raises becomes an :class:`Outcome` with the traceback (the study goes on);
* a worker process that dies (segfault, ``os._exit``, the OOM killer) breaks the whole loky
  pool. Each worker touches a marker file when it starts a trial, so the driver knows which
  trials were in flight; each of those is rerun alone in a fresh worker, and the one that
  kills its worker again is reported as failed. The trials that never started are resubmitted.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

from dlkit._checks import check_choice
from studies.study import TrialResult

log = logging.getLogger(__name__)

EXECUTORS = ("local",)
# Pool workers run at the lowest priority so the driver, which logs every result as it
# arrives, is not starved of CPU by them when there are as many workers as cores (measured on
# 2 cores: next to two nice-5 workers a trial's logging took ~49 ms instead of ~23 ms alone).
# The workers still get every cycle the driver does not use.
WORKER_NICE = 19
_niced = False


@dataclass(frozen=True)
class Task:
    """One trial to execute: its index in the stage, the trial function and its config."""

    index: int
    trial: Callable[[dict], TrialResult]
    config: Mapping[str, Any]


@dataclass
class Outcome:
    """What came back from one task.

    Attributes
    ----------
    index : int
        The task's index.
    result : TrialResult or None
        None when the trial failed.
    error : str or None
        The traceback (or the reason the worker died) when it failed.
    seconds : float
        Wall time of the trial inside its worker.
    """

    index: int
    result: TrialResult | None
    error: str | None
    seconds: float


def check_result(result: Any) -> TrialResult:
    """Raise TypeError/ValueError unless ``result`` is a TrialResult with numeric values."""
    if not isinstance(result, TrialResult):
        raise TypeError(f"a trial must return a TrialResult, got {type(result).__name__}")
    for record in result.history:
        for key, value in record.items():
            if not isinstance(value, Real):
                raise ValueError(
                    f"history value {key}={value!r} (epoch {record.get('epoch')}) "
                    "is not a real number"
                )
    for key, value in result.summary.items():
        if not isinstance(value, Real):
            raise ValueError(f"summary value {key}={value!r} is not a real number")
    return result


def run_task(task: Task, *, worker: bool = False, marker_dir: str | None = None) -> Outcome:
    """Run one trial and capture its result or traceback.

    Parameters
    ----------
    task : Task
    worker : bool
        True in a pool worker: run at lower priority (the driver must stay responsive) with
        one BLAS/OpenMP thread — with N workers on N cores more threads oversubscribe the CPU
        and a training step can become ~60x slower.
    marker_dir : str, optional
        Directory in which to touch ``<index>`` when the trial starts (to find the trials a
        dying worker took down with it).
    """
    if marker_dir is not None:
        Path(marker_dir, str(task.index)).touch()
    if worker:
        _lower_priority()
    start = time.perf_counter()
    config = copy.deepcopy(dict(task.config))
    try:
        if worker:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                result = task.trial(config)
        else:
            result = task.trial(config)
        result = check_result(result)
    except Exception:
        return Outcome(task.index, None, traceback.format_exc(), time.perf_counter() - start)
    return Outcome(task.index, result, None, time.perf_counter() - start)


def _lower_priority() -> None:
    global _niced
    if not _niced and hasattr(os, "nice"):
        os.nice(WORKER_NICE)
        _niced = True


class LocalExecutor:
    """Run tasks in this process (``jobs == 1``) or on a loky process pool (``jobs > 1``).

    Parameters
    ----------
    jobs : int
        Number of worker processes; 1 runs every trial in the driver process, with all BLAS
        threads available to it.
    """

    name = "local"

    def __init__(self, jobs: int):
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per task, in completion order."""
        if self.jobs == 1:
            for task in tasks:
                yield run_task(task)
            return
        remaining = list(tasks)
        while remaining:
            done, started, broken = set(), set(), None
            marker_dir = tempfile.mkdtemp(prefix="studies-markers-")
            try:
                for outcome in self._pool(remaining, marker_dir):
                    done.add(outcome.index)
                    yield outcome
            except _worker_died_errors() as err:
                broken = err
                started = {int(p.name) for p in Path(marker_dir).iterdir()}
            finally:
                shutil.rmtree(marker_dir, ignore_errors=True)
            remaining = [t for t in remaining if t.index not in done]
            if broken is None:
                return
            suspects = [t for t in remaining if t.index in started]
            log.warning(
                "a worker process died (%s); rerunning %d in-flight trial(s) one by one",
                type(broken).__name__,
                len(suspects),
            )
            for task in suspects:
                yield self._isolated(task)
            remaining = [t for t in remaining if t.index not in started]

    def _pool(self, tasks: Sequence[Task], marker_dir: str) -> Iterator[Outcome]:
        from joblib import Parallel, delayed

        # At least two workers: joblib runs n_jobs=1 in-process, and a lone task still has to
        # be isolated from the driver.
        n_jobs = max(2, min(self.jobs, len(tasks)))
        parallel = Parallel(
            n_jobs=n_jobs,
            backend="loky",
            return_as="generator_unordered",
            batch_size=1,
            pre_dispatch="n_jobs",
        )
        yield from parallel(
            delayed(run_task)(task, worker=True, marker_dir=marker_dir) for task in tasks
        )

    def _isolated(self, task: Task) -> Outcome:
        start = time.perf_counter()
        marker_dir = tempfile.mkdtemp(prefix="studies-markers-")
        try:
            return next(iter(self._pool([task], marker_dir)))
        except _worker_died_errors() as err:
            codes = [ln for ln in str(err).splitlines() if "exit code" in ln.lower()]
            reason = f"{type(err).__name__}; {codes[0].strip()}" if codes else type(err).__name__
            return Outcome(
                task.index,
                None,
                "the worker process running this trial died, and died again when the trial was "
                f"rerun alone, so the trial is the cause ({reason})",
                time.perf_counter() - start,
            )
        finally:
            shutil.rmtree(marker_dir, ignore_errors=True)


def _worker_died_errors() -> tuple[type[BaseException], ...]:
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

    return (TerminatedWorkerError, BrokenProcessPool)


def make_executor(name: str, jobs: int | None) -> LocalExecutor:
    """Build the executor called ``name`` (``"local"``) with ``jobs`` workers (default: all
    cores)."""
    check_choice("executor", name, EXECUTORS)
    if jobs is None:
        jobs = os.cpu_count() or 1
    return LocalExecutor(jobs)
