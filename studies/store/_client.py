"""Opening MLflow: where the store is, how MLflow is configured, one client per store.

Nothing happens at import. :func:`open_client` (used by the writer's ``Tracker`` and by the
reader) first calls :func:`configure_mlflow` — once per process — and only then imports
MLflow, so MLflow's import-time telemetry set-up already sees the opt-out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from studies.paths import REPO_ROOT
from studies.store._bulk import tune_sql_store

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["configure_mlflow", "default_tracking_uri", "file_lock", "open_client", "sqlite_path"]

# Set by MLflow's own defaults unless the user chose otherwise (``setdefault``).
MLFLOW_ENV = {
    # MLflow 3 ships usage telemetry that phones home; a study tool must never do that.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Against a tracking server MLflow writes "View run ... at: URL" to stdout for every run it
    # closes; a study closes dozens, and its report links them all anyway.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
# Libraries whose INFO logs (schema migrations on a fresh store) say nothing about a study.
QUIET_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "urllib3", "git")

_configured = False
_configure_lock = threading.Lock()


def configure_mlflow() -> None:
    """Opt out of MLflow's telemetry and URL printing and quiet its logs (idempotent).

    Sets :data:`MLFLOW_ENV` where the user has not set it, drops a telemetry client MLflow
    made if it was imported before, and keeps MLflow's, alembic's and SQLAlchemy's INFO logs
    and warnings out of the terminal. Called by :func:`open_client`; the first call does the
    work, later ones return at once.
    """
    global _configured
    with _configure_lock:
        if _configured:
            return
        for name, value in MLFLOW_ENV.items():
            os.environ.setdefault(name, value)
        from mlflow.telemetry import set_telemetry_client

        set_telemetry_client()  # re-reads the opt-out: no client, nothing recorded or sent
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
        warnings.filterwarnings("ignore", module=r"alembic(\.|$)")
        _configured = True


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


@contextlib.contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
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


def open_client(uri: str) -> MlflowClient:
    """An ``MlflowClient`` on ``uri`` with its store open (created and migrated if new).

    Two processes creating the same fresh SQLite file race in MLflow's schema migration
    ("expected to match one row ... in 'alembic_version'"), so opening a SQLite store is
    serialised on a lock file beside it. A SQLite file is put in write-ahead-log mode before
    MLflow opens it, and the connections of MLflow's store get the settings of
    :func:`studies.store._bulk.tune_sql_store`.

    Parameters
    ----------
    uri : str
        Tracking URI (``sqlite:///...``, ``http(s)://...``, ...).

    Returns
    -------
    mlflow.MlflowClient
    """
    configure_mlflow()
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    with file_lock(db.with_name(f"{db.name}-open.lock") if db is not None else None):
        if db is not None:
            _write_ahead(db)
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    tune_sql_store(client)
    return client


def _write_ahead(db: Path) -> None:
    """Put the SQLite file ``db`` in write-ahead-log mode before MLflow opens it.

    The mode is stored in the file, so MLflow's schema migration of a fresh store already runs
    in it (measured: ~8 s instead of ~11 s on a busy 2-core machine). A file that cannot be
    opened, or is locked mid-switch by another process, is left to MLflow and
    :func:`studies.store._bulk.tune_sql_store`.
    """
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
