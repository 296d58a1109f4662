"""A thin, timed, retrying wrapper around ``MlflowClient``: the writer's plumbing.

Only the driver process writes. Every call is timed (``Tracker.seconds``) so a study can report
how much of its wall time went to tracking, and every call is retried with backoff when SQLite
answers "database is locked" (two studies sharing one store file). Metrics always go through
:func:`studies.store._bulk.write_metrics` (bulk rows on a SQL store, ``log_batch`` in chunks
within MLflow's per-request limits otherwise), never one call per value.

Non-finite values: NaN is stored as NaN; MLflow's SQL store clamps ``±inf`` to
``±sys.float_info.max`` (1.797e308), which :func:`studies.store.schema.restore_inf` maps back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from studies.store._bulk import search_all_runs, write_metrics
from studies.store._client import (
    StoreError,
    TrackingServerError,
    back_up,
    check_server,
    check_store,
    configure_mlflow,
    default_tracking_uri,
    open_client,
    sqlite_path,
    store_problem,
)
from studies.store.schema import DRIVER_TAG

__all__ = [
    "StoreError",
    "StudyBusyError",
    "Tracker",
    "TrackingServerError",
    "check_server",
    "now_ms",
]

log = logging.getLogger(__name__)

# MLflow's log_batch limits per request (metrics: see studies.store._bulk).
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_TAG_VALUE = 8000
MAX_PARAM_VALUE = 6000
_RETRIES = 12
_BACKOFF_START = 0.05
_BACKOFF_MAX = 2.0
T = TypeVar("T")


class StudyBusyError(RuntimeError):
    """Another process is running the same study against the same store."""


def now_ms() -> int:
    """Wall-clock time in milliseconds, MLflow's timestamps."""
    return int(time.time() * 1000)


class Tracker:
    """Timed, retrying access to one MLflow tracking store.

    Parameters
    ----------
    tracking_uri : str, optional
        Defaults to :func:`studies.store._client.default_tracking_uri`.

    Attributes
    ----------
    uri : str
    client : MlflowClient
    seconds : float
        Wall time spent inside MLflow calls (including retries) after construction.
    open_seconds : float
        Wall time to open the store: connecting and checking its schema, or creating and
        migrating it (about 1.5 s) the first time a store file is used.
    calls : int
        Number of MLflow calls made.
    retries : int
        Calls repeated because SQLite answered "database is locked".
    by_call : dict of str to float
        Seconds per MLflow method (``log_batch``, ``create_run``, ...).
    driver : str
        ``host:pid:invocation`` — tagged on every run this tracker opens, so a later start can
        tell an orphaned RUNNING run (its driver died) from one still in progress.
    """

    def __init__(self, tracking_uri: str | None = None):
        self.uri = tracking_uri or default_tracking_uri()
        self.seconds = 0.0
        self.calls = 0
        self.retries = 0
        self.by_call: dict[str, float] = {}
        self.driver = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        # Backoff jitter only; it does not need to be reproducible.
        self._jitter = np.random.default_rng()
        db = sqlite_path(self.uri)
        if db is not None:
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(
                    f"the MLflow store {db} cannot be created ({err.strerror}: {db.parent}); "
                    "point MLFLOW_TRACKING_URI at a writable place, e.g. sqlite:////tmp/mlflow.db"
                ) from None
        check_store(self.uri)  # one line within seconds, before MLflow is even imported
        configure_mlflow()  # imports MLflow: not part of opening the store
        # Creating the client opens (and on first use migrates) the store; timed on its own,
        # with the copy of a SQLite store a corrupt file can be restored from.
        start = time.perf_counter()
        self.client = open_client(self.uri, checked=True)
        if db is not None and db.is_file():
            back_up(db)
        self.open_seconds = time.perf_counter() - start

    # -- plumbing ---------------------------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one MLflow call, timed, retrying with exponential backoff on a locked SQLite."""
        start = time.perf_counter()
        delay, attempt = _BACKOFF_START, 0
        try:
            while True:
                self.calls += 1
                try:
                    return fn(*args, **kwargs)
                except Exception as err:
                    if attempt == _RETRIES or not _is_lock_error(err):
                        problem = store_problem(self.uri, err)
                        if problem:  # the store itself broke mid-run: one line, not a trace
                            raise StoreError(problem) from err
                        raise
                attempt += 1
                self.retries += 1
                log.debug("store locked (%s); retry %d in %.2fs", fn.__name__, attempt, delay)
                time.sleep(delay * (0.5 + self._jitter.random()))
                delay = min(2 * delay, _BACKOFF_MAX)
        finally:
            spent = time.perf_counter() - start
            self.seconds += spent
            name = getattr(fn, "__name__", "call")
            self.by_call[name] = self.by_call.get(name, 0.0) + spent

    def stats(self) -> dict[str, Any]:
        """What tracking cost so far, as ``timing.json`` records it.

        Returns
        -------
        dict
            ``tracking_seconds``, ``store_open_seconds``, ``tracking_calls``,
            ``tracking_by_call`` (seconds per MLflow method, rounded to 0.1 ms) and
            ``lock_retries``.
        """
        return {
            "tracking_seconds": self.seconds,
            "store_open_seconds": self.open_seconds,
            "tracking_calls": self.calls,
            "tracking_by_call": {k: round(v, 4) for k, v in sorted(self.by_call.items())},
            "lock_retries": self.retries,
        }

    @contextlib.contextmanager
    def study_lock(self, study: str) -> Iterator[None]:
        """Hold an exclusive lock on ``study`` in this store (SQLite stores only).

        Two processes running the *same* study would train the same trials twice; different
        studies may share the store freely.

        Raises
        ------
        StudyBusyError
            If another process holds the lock.
        """
        db = sqlite_path(self.uri)
        try:
            import fcntl
        except ImportError:
            fcntl = None
        if db is None or fcntl is None:
            yield
            return
        lock_path = db.with_name(f"{db.name}-study-{study}.lock")
        with open(lock_path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise StudyBusyError(
                    f"study {study!r} is already running against {db} ({holder}); "
                    "wait for it to finish or stop it, then run again"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- experiments ------------------------------------------------------------------------
    def experiment(self, name: str, tags: Mapping[str, str]) -> str:
        """Get or create the experiment ``name`` and set ``tags`` on it; return its id."""
        from mlflow.exceptions import MlflowException

        exp = self.call(self.client.get_experiment_by_name, name)
        if exp is None:
            db = sqlite_path(self.uri)
            location = (db.parent / "mlartifacts" / name).as_uri() if db is not None else None
            try:
                exp_id = self.call(self.client.create_experiment, name, artifact_location=location)
            except MlflowException:
                # Another process created it between our lookup and create.
                exp = self.call(self.client.get_experiment_by_name, name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            if exp.lifecycle_stage == "deleted":
                self.call(self.client.restore_experiment, exp.experiment_id)
            exp_id = exp.experiment_id
        self.set_experiment_tags(exp_id, tags)
        return exp_id

    def set_experiment_tags(self, experiment_id: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.call(self.client.set_experiment_tag, experiment_id, key, value)

    # -- runs -------------------------------------------------------------------------------
    def search(self, experiment_id: str, filter_string: str = "") -> list:
        """All active runs of the experiment matching ``filter_string`` (every page)."""
        return self.call(search_all_runs, self.client, experiment_id, filter_string)

    def create_run(
        self,
        experiment_id: str,
        name: str,
        tags: Mapping[str, Any],
        *,
        start_time: int | None = None,
    ) -> str:
        """Create a RUNNING run named ``name``; return its id. Tag values are stringified."""
        tags = {k: _tag_value(v) for k, v in tags.items()}
        tags[DRIVER_TAG] = self.driver
        run = self.call(
            self.client.create_run, experiment_id, start_time=start_time, tags=tags, run_name=name
        )
        return run.info.run_id

    def log(
        self,
        run_id: str,
        *,
        metrics: Iterable[tuple[str, float, int]] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log metrics ``(key, value, step)``, params and tags in few calls.

        Params and tags go in as few ``log_batch`` calls as MLflow's limits allow (≤ 100
        params, ≤ 100 tags per call), metrics through
        :func:`studies.store._bulk.write_metrics`.
        """
        from mlflow.entities import Metric, Param, RunTag

        ts = now_ms()
        metric_list = [Metric(k, float(v), ts, int(s)) for k, v, s in metrics]
        param_list = [Param(k, _clip(str(v), MAX_PARAM_VALUE)) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, _tag_value(v)) for k, v in (tags or {}).items()]
        while param_list or tag_list:
            p, param_list = param_list[:MAX_PARAMS], param_list[MAX_PARAMS:]
            t, tag_list = tag_list[:MAX_TAGS], tag_list[MAX_TAGS:]
            self.call(self.client.log_batch, run_id, metrics=[], params=p, tags=t)
        if metric_list:
            self.call(write_metrics, self.client, run_id, metric_list)

    def log_artifacts(self, run_id: str, artifacts: Mapping[str, Any], *, prefix: str = "") -> None:
        """Write small artifacts: dict/list as ``<name>.json``, str as text, bytes verbatim."""
        for name, content in artifacts.items():
            path = f"{prefix}{name}"
            if isinstance(content, Mapping | list | tuple):
                path = path if path.endswith(".json") else f"{path}.json"
                self.call(self.client.log_dict, run_id, _jsonify(content), path)
            elif isinstance(content, str):
                self.call(self.client.log_text, run_id, content, path)
            elif isinstance(content, bytes | bytearray):
                folder, _, file = path.rpartition("/")
                with tempfile.TemporaryDirectory() as tmp:
                    local = Path(tmp) / file
                    local.write_bytes(bytes(content))
                    self.call(self.client.log_artifact, run_id, str(local), folder or None)
            else:
                raise ValueError(
                    f"artifact {name!r} must be dict, list, str or bytes, "
                    f"got {type(content).__name__}"
                )

    def terminate(self, run_id: str, status: str, *, end_time: int | None = None) -> None:
        self.call(self.client.set_terminated, run_id, status, end_time)

    def reopen(self, run_id: str) -> None:
        """Mark a KILLED/FAILED run RUNNING again (resuming an arm's parent run)."""
        self.call(self.client.update_run, run_id, status="RUNNING")
        self.log(run_id, tags={DRIVER_TAG: self.driver})

    def delete_run(self, run_id: str) -> None:
        self.call(self.client.delete_run, run_id)

    def close_orphans(self, experiment_id: str) -> int:
        """Mark RUNNING runs whose driver process is gone as KILLED; return how many.

        A run is orphaned when its ``driver`` tag names this host and a process that no longer
        exists, or this very process in an earlier invocation (an interrupted run inside a
        long-lived Python session). Runs of live drivers elsewhere are left alone.
        """
        host, pid, _ = self.driver.split(":")
        closed = 0
        for run in self.search(experiment_id, "attributes.status = 'RUNNING'"):
            driver = run.data.tags.get(DRIVER_TAG, "")
            parts = driver.split(":")
            if len(parts) != 3 or not parts[1].isdigit():
                orphan = True
            else:
                same_host = parts[0] == host
                other_invocation = parts[1] == pid and driver != self.driver
                orphan = same_host and (other_invocation or not _pid_alive(int(parts[1])))
            if orphan:
                self.terminate(run.info.run_id, "KILLED")
                closed += 1
        if closed:
            log.info("marked %d orphaned RUNNING run(s) as KILLED", closed)
        return closed


def _is_lock_error(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        text = str(seen).lower()
        if "database is locked" in text or "database table is locked" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ...[truncated]"


def _tag_value(value: Any) -> str:
    return _clip(value if isinstance(value, str) else str(value), MAX_TAG_VALUE)


def _jsonify(obj: Any) -> Any:
    """Plain JSON types (NumPy scalars/arrays -> Python)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonify(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonify(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj
