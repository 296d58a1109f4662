"""The engine's only door to MLflow: a thin, timed, retrying wrapper around ``MlflowClient``.

Only the driver process writes. Every call is timed (``Tracker.seconds``) so a study can report
how much of its wall time went to tracking, and every call is retried with backoff when SQLite
answers "database is locked" (two studies sharing one store file). Metrics always go through
``log_batch`` in chunks within MLflow's per-request limits, never one call per value.

Non-finite values: NaN is stored as NaN; MLflow's SQL store clamps ``±inf`` to
``±sys.float_info.max`` (1.797e308), which is how "never reached" summaries such as
``epochs_to_target = inf`` read back. :func:`restore_inf` maps them back.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import numpy as np

from studies.paths import REPO_ROOT

# MLflow 3 ships usage telemetry that phones home; a study tool must never do that.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Against a tracking server MLflow writes "View run ... at: URL" to stdout for every run it
# closes; a study closes dozens, and its report links them all anyway.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from studies.store._bulk import search_all_runs, write_metrics  # noqa: E402

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
# MLflow's log_batch limits per request (metrics: see studies.store._bulk).
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_TAG_VALUE = 8000
MAX_PARAM_VALUE = 6000
_RETRIES = 12
_BACKOFF_START = 0.05
_BACKOFF_MAX = 2.0
# A tracking server that does not answer /health this fast is treated as down: better one clear
# error at start than MLflow's own retries (minutes) after the first trials have trained.
SERVER_CHECK_TIMEOUT = 5.0

T = TypeVar("T")


def quiet_mlflow() -> None:
    """Keep MLflow's, alembic's and SQLAlchemy's chatter out of the user's terminal.

    Their INFO logs (schema migrations on a fresh store) and the deprecation warnings MLflow
    triggers inside SQLAlchemy say nothing about the study.
    """
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
    warnings.filterwarnings("ignore", module=r"alembic(\.|$)")


quiet_mlflow()


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Write-ahead log and ``synchronous=NORMAL`` for every SQLite connection MLflow opens.

    With the default rollback journal every MLflow call commits with several fsyncs; on a busy
    disk that alone made a trial's logging 2x slower (measured: ~165 ms vs ~75 ms per trial).
    In WAL mode a commit appends to the log and readers never block the writer (two studies
    sharing one store); ``NORMAL`` skips the per-commit fsync, which can lose the last commits
    on power loss but never corrupts the database.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # Another process may hold a lock mid-switch; it sets WAL itself (the mode is persistent).
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


event.listen(Engine, "connect", _sqlite_pragmas)


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<repo root>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None (in-memory or another backend)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///") :].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path(path).resolve()


def restore_inf(value: float) -> float:
    """Map MLflow's clamped infinities (``±sys.float_info.max``) back to ``±inf``."""
    if abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value


def _is_lock_error(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        text = str(seen).lower()
        if "database is locked" in text or "database table is locked" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """Block until this process holds an exclusive lock on ``path`` (no-op for None)."""
    try:
        import fcntl
    except ImportError:
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class StudyBusyError(RuntimeError):
    """Another process is running the same study against the same store."""


class TrackingServerError(ConnectionError):
    """The MLflow tracking server of an ``http(s)://`` tracking URI does not answer."""


def check_server(uri: str, timeout: float = SERVER_CHECK_TIMEOUT) -> None:
    """Raise :class:`TrackingServerError` unless the server at ``uri`` answers ``/health``.

    Parameters
    ----------
    uri : str
        An ``http://`` or ``https://`` tracking URI (other URIs are not checked).
    timeout : float
        Seconds to wait for the answer.
    """
    if not uri.startswith(("http://", "https://")):
        return
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    url = f"{uri.rstrip('/')}/health"
    try:
        with urlopen(url, timeout=timeout) as response:
            response.read()
    except HTTPError as err:
        reason = f"{url} answered HTTP {err.code}"
    except (URLError, OSError) as err:
        reason = str(getattr(err, "reason", err))
    else:
        return
    raise TrackingServerError(
        f"the MLflow tracking server at {uri} is unreachable ({reason}); start it "
        "(e.g. `make cluster-up`) or point MLFLOW_TRACKING_URI at a running one"
    )


class Tracker:
    """Timed, retrying access to one MLflow tracking store.

    Parameters
    ----------
    tracking_uri : str, optional
        Defaults to :func:`default_tracking_uri`.

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
            db.parent.mkdir(parents=True, exist_ok=True)
        check_server(self.uri)
        # Creating the client opens (and on first use migrates) the store; timed on its own.
        start = time.perf_counter()
        with _file_lock(db.with_name(f"{db.name}-open.lock") if db is not None else None):
            # Serialised: two processes creating the same fresh SQLite file race in MLflow's
            # schema migration ("expected to match one row ... in 'alembic_version'").
            self.client = MlflowClient(tracking_uri=self.uri)
            self.client.search_experiments(max_results=1)
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
        tags["driver"] = self.driver
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
        """Log metrics ``(key, value, step)``, params and tags in few calls: params and tags
        in as few ``log_batch`` calls as MLflow's limits allow (≤ 100 params, ≤ 100 tags per
        call), metrics through :func:`studies.store._bulk.write_metrics` (bulk inserts on a
        SQL store, ``log_batch`` calls of ≤ 1000 metrics otherwise)."""
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
        self.log(run_id, tags={"driver": self.driver})

    def delete_run(self, run_id: str) -> None:
        self.call(self.client.delete_run, run_id)

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` of one metric, latest value per step, by step."""
        by_step: dict[int, tuple[int, float]] = {}
        for m in self.call(self.client.get_metric_history, run_id, key):
            if m.step not in by_step or m.timestamp >= by_step[m.step][0]:
                by_step[m.step] = (m.timestamp, restore_inf(m.value))
        return [(step, v) for step, (_, v) in sorted(by_step.items())]

    def close_orphans(self, experiment_id: str) -> int:
        """Mark RUNNING runs whose driver process is gone as KILLED; return how many.

        A run is orphaned when its ``driver`` tag names this host and a process that no longer
        exists, or this very process in an earlier invocation (an interrupted run inside a
        long-lived Python session). Runs of live drivers elsewhere are left alone.
        """
        host, pid, _ = self.driver.split(":")
        closed = 0
        for run in self.search(experiment_id, "attributes.status = 'RUNNING'"):
            driver = run.data.tags.get("driver", "")
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
