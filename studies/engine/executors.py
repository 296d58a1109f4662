"""Executors: run trial functions in-process, on a local process pool or on a Dask cluster.

Workers only compute; they never see MLflow. An outcome comes back as soon as its trial ends
(joblib's ``return_as="generator_unordered"``) so the driver can log it while other trials
still run.

Failure containment:

* a trial that raises becomes an :class:`Outcome` with the traceback (the study goes on);
* a worker process that dies (segfault, ``os._exit``, the OOM killer) breaks the whole loky
  pool. Each worker touches a marker file when it starts a trial, so the driver knows which
  trials were in flight; each of those is rerun alone in a fresh worker, and the one that
  kills its worker again is reported as failed. The trials that never started are resubmitted.

The Dask executor submits each trial to a ``distributed`` scheduler (an existing cluster, or a
``LocalCluster`` of single-threaded worker processes started for the run) and yields outcomes
through ``as_completed``. A worker that dies mid-trial makes the scheduler rerun the trial on
another worker; a trial that takes a second worker down with it comes back as failed
(``KilledWorker``, after ``allowed-failures = 1``), and the study goes on.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

from dlkit.validation import check_choice
from studies.engine.spec import TrialResult

log = logging.getLogger(__name__)

EXECUTORS = ("local", "dask")
# Where ``--executor dask`` finds its scheduler when ``--scheduler`` is not given; unset means a
# LocalCluster for the run.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
# A wrong or unreachable address must fail in seconds, not after distributed's 30 s default.
CONNECT_TIMEOUT = 5.0
# Worker deaths a trial may cause before the scheduler gives up on it: one rerun, on another
# worker (distributed's default of 3 would let one poisonous trial kill four workers).
ALLOWED_FAILURES = 1
# Pool workers run at the lowest priority so the driver, which logs every result as it
# arrives, is not starved of CPU by them when there are as many workers as cores (measured on
# 2 cores: next to two nice-5 workers a trial's logging took ~49 ms instead of ~23 ms alone).
# The workers still get every cycle the driver does not use.
WORKER_NICE = 19
# Loggers of Dask's own libraries, kept at WARNING in the driver.
DASK_LOGGERS = ("distributed", "dask", "bokeh", "tornado")
# How often a pool worker checks that its driver is still alive (seconds).
PARENT_CHECK_SECONDS = 1.0
_niced = False
#: Whether this process has started loky's worker pool (see :func:`stop_local_pool`).
_pool_started = False
#: Warm-up threads still submitting to that pool; :func:`stop_local_pool` waits for them.
_warm_ups: list[threading.Thread] = []


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


def _import_modules(modules: Sequence[str]) -> int:
    """Import ``modules`` in a pool worker (the warm-up task, at the workers' low priority so
    the driver keeps its core); returns the worker's pid."""
    import importlib

    _lower_priority()

    for name in modules:
        importlib.import_module(name)
    return os.getpid()


def _lower_priority() -> None:
    """Set a pool worker up once: lower priority, and exit when its driver dies."""
    global _niced
    if not _niced:
        if hasattr(os, "nice"):
            os.nice(WORKER_NICE)
        _watch_parent()
        _niced = True


def _watch_parent(interval: float = PARENT_CHECK_SECONDS) -> None:
    """Exit this worker process soon after the process that started it is gone.

    A driver killed with SIGKILL cannot stop its pool, and loky keeps idle workers (about
    230 MB each) for minutes; the orphan is adopted by another process, so its parent id
    changes, and a daemon thread that sees it ends the process.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


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
        self._warming: threading.Thread | None = None

    def warm_up(self, modules: Sequence[str] = ()) -> None:
        """Start the pool's workers in the background and import ``modules`` in each.

        Returns at once. The driver meanwhile opens the MLflow store (seconds on a new store),
        so the first trials no longer wait for process start-up and imports. A no-op with one
        job; a failed warm-up only costs the time it saved (:meth:`run` starts the pool anyway).
        """
        if self.jobs == 1 or self._warming is not None:
            return
        self._warming = threading.Thread(
            target=self._warm, args=(tuple(modules),), name="pool-warm-up", daemon=True
        )
        self._warming.start()
        _warm_ups[:] = [t for t in _warm_ups if t.is_alive()] + [self._warming]

    def _warm(self, modules: tuple[str, ...]) -> None:
        from joblib import Parallel, delayed

        _mark_pool_started()
        try:
            Parallel(n_jobs=self.jobs, backend="loky", batch_size=1)(
                delayed(_import_modules)(modules) for _ in range(self.jobs)
            )
        except Exception as err:  # an optimisation only: run() starts the pool itself
            log.debug("pool warm-up failed: %s", err)

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per task, in completion order."""
        if self._warming is not None:
            self._warming.join()
            self._warming = None
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
        _mark_pool_started()
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


def _mark_pool_started() -> None:
    global _pool_started
    _pool_started = True


def stop_local_pool() -> None:
    """Stop loky's worker pool, if this process started one, and wait for its workers.

    For the end of a command, so idle workers do not outlive it and the pool's resource
    tracker cleans up while the driver still runs. Left to the interpreter's exit, that
    tracker sometimes unregisters a joblib temporary folder twice and prints a KeyError
    traceback after the run (3 of 8 ``make study-exploding QUICK=1``; 0 of 8 with this call);
    it still happens now and then (once in 12 runs of several studies): a known race of
    joblib's folder clean-up, harmless to the results. A no-op when no pool was started, so
    it never spawns one.

    A warm-up still submitting its imports (a run that failed while opening its store) is
    waited for first: shutting the pool down under it deadlocked loky's ``submit`` against
    ``get_reusable_executor`` (a CI run hung in a store-fault test; 3 of 8 loops of 40-80
    failing runs in one process hung, none of 4 loops of 80 with the wait). ``reuse=True``
    takes the existing pool whatever arguments joblib made it with, instead of replacing it.
    """
    global _pool_started
    while _warm_ups:
        _warm_ups.pop().join()
    if not _pool_started:
        return
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor(reuse=True).shutdown(wait=True)
    _pool_started = False


def _worker_died_errors() -> tuple[type[BaseException], ...]:
    from joblib.externals.loky.process_executor import BrokenProcessPool, TerminatedWorkerError

    return (TerminatedWorkerError, BrokenProcessPool)


class SchedulerUnavailableError(ConnectionError):
    """The Dask scheduler given by ``--scheduler`` / ``DASK_SCHEDULER_ADDRESS`` cannot be
    reached."""


class DaskExecutor:
    """Run tasks on a Dask ``distributed`` cluster; yield outcomes as they complete.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:PORT``). It is connected to at once, with
        a :data:`CONNECT_TIMEOUT` second timeout, so a wrong address fails before any work.
        Without one, a ``LocalCluster`` of ``jobs`` single-threaded worker processes (BLAS
        limited to one thread each) is started on 127.0.0.1 when the first tasks arrive.
    jobs : int, optional
        Workers of the LocalCluster (default: all cores). Ignored with ``scheduler``: the
        cluster's own workers decide.

    Attributes
    ----------
    jobs : int
        Worker threads available: the LocalCluster's workers, or the cluster's total threads
        when connecting.

    Raises
    ------
    SchedulerUnavailableError
        When ``scheduler`` does not answer within :data:`CONNECT_TIMEOUT` seconds.
    ValueError
        When ``scheduler`` is not an address (no port, unknown scheme).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, jobs: int | None = None):
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.scheduler = scheduler or None
        # Client and cluster live in a list shared with the finalizer, so they are closed
        # when the executor is dropped even if nobody calls close().
        self._resources: list[Any] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._resources)
        if self.scheduler is None:
            self.jobs = jobs or os.cpu_count() or 1
            return
        if jobs is not None:
            log.info("--jobs %d ignored: the cluster at %s has its own workers", jobs, scheduler)
        client = self._client()
        threads = sum(client.nthreads().values())
        if threads == 0:
            log.warning(
                "the Dask scheduler at %s has no workers yet; trials wait for some", scheduler
            )
        self.jobs = max(1, threads)
        log.info("connected to the Dask scheduler at %s (%d worker threads)", scheduler, self.jobs)

    def _client(self) -> Any:
        if self._resources:
            return self._resources[-1]
        import dask
        from distributed import Client, LocalCluster

        # distributed sets its loggers to INFO when imported (scheduler start, every worker
        # and connection: ~30 lines a run); a study prints its own progress, Dask's warnings.
        for name in DASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        if self.scheduler is not None:
            try:
                client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except OSError as err:
                raise SchedulerUnavailableError(
                    f"cannot reach the Dask scheduler at {self.scheduler!r} within "
                    f"{CONNECT_TIMEOUT:g} s ({err}); start it (e.g. `make cluster-up`) or fix "
                    f"--scheduler / {SCHEDULER_ENV}"
                ) from None
            except ValueError as err:
                raise ValueError(
                    f"bad Dask scheduler address {self.scheduler!r}: {err}; "
                    "expected tcp://HOST:PORT"
                ) from None
            self._resources.append(client)
            return client
        # The scheduler of a LocalCluster lives in this process, so the setting applies.
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(
                n_workers=self.jobs,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
        self._resources.append(cluster)
        client = Client(cluster, set_as_default=False)
        self._resources.append(client)
        log.info("started a Dask LocalCluster with %d worker processes", self.jobs)
        return client

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """Submit every task and yield one :class:`Outcome` per task, in completion order.

        Closing the generator early (Ctrl-C in the driver) cancels the trials not yet done.
        """
        if not tasks:
            return
        from distributed import as_completed

        client = self._client()
        run_id = uuid.uuid4().hex[:8]
        by_key: dict[str, Task] = {}
        futures = []
        for task in tasks:
            future = client.submit(
                run_task,
                task,
                worker=True,
                key=f"trial-{run_id}-{task.index}",
                pure=False,
                retries=1,
            )
            by_key[future.key] = task
            futures.append(future)
        pending = set(by_key)
        try:
            for future in as_completed(futures, loop=client.loop):
                task = by_key[future.key]
                pending.discard(future.key)
                yield _outcome_of(task, future)
                future.release()
        finally:
            left = [f for f in futures if f.key in pending]
            if left:
                client.cancel(left)

    def close(self) -> None:
        """Close the client and stop the LocalCluster this executor started (if any)."""
        self._finalizer()


def _outcome_of(task: Task, future: Any) -> Outcome:
    """The task's Outcome from a future that ``as_completed`` handed back.

    ``result()`` rather than the future's status: with ``retries=1`` a future can be yielded
    as erred and be resubmitted a moment later, so its status is not final yet; ``result()``
    waits for the retry and raises only the final error.
    """
    try:
        return future.result()
    except Exception as exc:  # a trial's own exceptions arrive inside its Outcome, not here
        err = exc
    name = type(err).__name__
    if name == "KilledWorker":
        message = (
            f"the worker process running this trial died, and so did the worker it was retried "
            f"on, so the trial is the likely cause ({name}: {err})"
        )
    else:
        message = f"the Dask cluster could not run this trial ({name}: {err})"
    return Outcome(task.index, None, message, 0.0)


def _shutdown(resources: list[Any]) -> None:
    # Clients before the cluster they talk to; a failure to close must not mask the study's
    # own outcome.
    for resource in reversed(resources):
        try:
            resource.close()
        except Exception:
            log.debug("closing %r failed", resource, exc_info=True)
    resources.clear()


def make_executor(
    name: str, jobs: int | None, scheduler: str | None = None
) -> LocalExecutor | DaskExecutor:
    """Build the executor called ``name``.

    Parameters
    ----------
    name : {"local", "dask"}
    jobs : int, optional
        Worker processes (default: all cores); ignored by ``dask`` with a scheduler address.
    scheduler : str, optional
        Dask scheduler address; default ``DASK_SCHEDULER_ADDRESS``; neither starts a
        LocalCluster. Only used by ``dask``.
    """
    check_choice("executor", name, EXECUTORS)
    if name == "dask":
        return DaskExecutor(scheduler or os.environ.get(SCHEDULER_ENV), jobs)
    if jobs is None:
        jobs = os.cpu_count() or 1
    return LocalExecutor(jobs)
