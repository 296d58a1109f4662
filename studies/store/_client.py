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
from urllib.parse import unquote, urlsplit

from studies.paths import REPO_ROOT
from studies.store._bulk import tune_sql_store

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "StoreError",
    "TrackingServerError",
    "back_up",
    "backup_path",
    "check_server",
    "check_store",
    "configure_mlflow",
    "default_tracking_uri",
    "file_lock",
    "open_client",
    "sqlite_path",
    "store_problem",
]

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
# A tracking server that does not answer /health this fast is treated as down: better one clear
# error at start than MLflow's own retries (minutes) after the first trials have trained.
SERVER_CHECK_TIMEOUT = 5.0
#: Tracking URI schemes MLflow can keep runs in, as users write them.
SCHEMES = {
    "sqlite": "sqlite:///PATH/mlflow.db (the default)",
    "http": "http://HOST:PORT (a tracking server)",
    "https": "https://HOST (a tracking server)",
    "postgresql": "postgresql://USER@HOST/DB",
    "mysql": "mysql://USER@HOST/DB",
    "mssql": "mssql://USER@HOST/DB",
    "databricks": "databricks",
}
SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(RuntimeError):
    """The MLflow store cannot be used: the message names the URI and what is wrong."""


class TrackingServerError(StoreError, ConnectionError):
    """The MLflow tracking server of an ``http(s)://`` tracking URI does not answer."""


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


def backup_path(db: Path) -> Path:
    """Where a run's starting copy of the SQLite store ``db`` is kept (``mlflow.db.bak``)."""
    return db.with_name(f"{db.name}.bak")


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


def check_store(uri: str) -> None:
    """Raise :class:`StoreError` (one line) when ``uri`` cannot hold a study's runs.

    Checked in well under a second, before MLflow touches the store: a scheme MLflow has no
    store for; a directory (file) store, which MLflow 3 refuses; a database URI whose driver
    is not installed; a SQLite file that is not SQLite or is shorter than its header says
    (truncated), or that this process cannot write (MLflow opens its store read-write, also
    to read it); a tracking server that does not answer.

    Parameters
    ----------
    uri : str
        The tracking URI.
    """
    scheme = urlsplit(uri).scheme.lower()
    base = scheme.split("+", 1)[0]
    choices = "; ".join(SCHEMES.values())
    if base in ("", "file") or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):
        if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() == "true":
            return
        raise StoreError(
            f"MLFLOW_TRACKING_URI {uri!r} is a directory store, which MLflow 3 no longer "
            f"accepts; use a database file instead, e.g. sqlite:///{_dir_store_db(uri)}"
        )
    if base not in SCHEMES:
        raise StoreError(
            f"MLFLOW_TRACKING_URI {uri!r} has the unknown scheme {scheme!r}; valid: {choices}"
        )
    if base in ("http", "https"):
        check_server(uri)
    elif base == "sqlite":
        db = sqlite_path(uri)
        if db is not None:
            _check_sqlite(db)
    elif base in ("postgresql", "mysql", "mssql"):
        _check_driver(uri)


def _dir_store_db(uri: str) -> str:
    path = Path(unquote(urlsplit(uri).path) if uri.startswith("file:") else uri)
    return str(path.resolve().with_suffix(".db"))


def _check_driver(uri: str) -> None:
    """A database URI's SQLAlchemy driver must import (e.g. psycopg for postgresql)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(uri)
        shown = url.render_as_string(hide_password=True)
        url.get_dialect().import_dbapi()
    except ImportError as err:
        missing = err.name or str(err)
        raise StoreError(
            f"the MLflow store {shown} needs the database driver {missing!r}, which is not "
            f"installed (pip install {missing})"
        ) from None
    except (ArgumentError, NoSuchModuleError) as err:
        raise StoreError(f"MLFLOW_TRACKING_URI is not a database URI MLflow reads: {err}") from None


def _check_sqlite(db: Path) -> None:
    """A SQLite store file must be SQLite, whole, and writable where it lies."""
    # SQLite writes its journal and this module its lock files beside the store.
    for where, what in ((db, "the file"), (db.parent, "its directory")):
        if not where.exists() or os.access(where, os.W_OK):
            continue
        raise StoreError(
            f"the MLflow store {db} cannot be written ({what} is read-only); make it writable, "
            "or point MLFLOW_TRACKING_URI at a store in a writable place, e.g. "
            "sqlite:////tmp/mlflow.db"
        )
    if db.exists() and db.is_file() and db.stat().st_size:
        problem = _sqlite_header_problem(db)
        if problem:
            raise StoreError(f"the MLflow store {db} is corrupt ({problem}); {_restore(db)}")


def _restore(db: Path) -> str:
    """What a user can do about the corrupt SQLite store ``db``."""
    backup = backup_path(db)
    if backup.is_file():
        return (
            f"the copy made at the start of the last run is {backup}: move it into place, or "
            "move the file away to start a new store"
        )
    return "no backup of it exists: move the file away to start a new store"


def store_problem(uri: str, err: BaseException) -> str | None:
    """One line for an error that says the store itself is broken (corrupt, read-only, full,
    failing disk), or None for any other error."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    low = text.lower()
    if any(k in low for k in ("malformed", "not a database", "readonly", "disk i/o", "is full")):
        return _describe_open_error(uri, err)
    return None


def _sqlite_header_problem(db: Path) -> str | None:
    """What is wrong with a SQLite file's 100-byte header and size, or None.

    The header names the page size (bytes 16-17) and, when its "version valid for" number
    (bytes 92-95) equals the change counter (bytes 24-27), the page count (bytes 28-31): a
    file shorter than ``page size x page count`` was truncated.
    """
    with open(db, "rb") as fh:
        header = fh.read(100)
    if not header.startswith(SQLITE_MAGIC) or len(header) < 100:
        return "not a SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[92:96] == header[24:28] and pages and db.stat().st_size < page_size * pages:
        return f"{db.stat().st_size} bytes where its header says {page_size * pages}: truncated"
    return None


def _describe_open_error(uri: str, err: Exception) -> str:
    """One line for an error MLflow raised opening the store at ``uri``."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    db = sqlite_path(uri)
    if db is not None and ("malformed" in text or "not a database" in text):
        return f"the MLflow store {db} is corrupt ({text}); {_restore(db)}"
    if isinstance(err, PermissionError) or "readonly" in text or "read-only" in text:
        return f"the MLflow store {uri} cannot be written ({text})"
    return f"cannot open the MLflow store {uri}: {type(err).__name__}: {text}"


def open_client(uri: str, *, checked: bool = False) -> MlflowClient:
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
    checked : bool
        The caller already ran :func:`check_store` on ``uri`` (skip a second check).

    Returns
    -------
    mlflow.MlflowClient
    """
    if not checked:
        check_store(uri)
    configure_mlflow()
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    try:
        with file_lock(db.with_name(f"{db.name}-open.lock") if db is not None else None):
            if db is not None:
                _write_ahead(db)
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)
    except StoreError:
        raise
    except Exception as err:  # MLflow, SQLAlchemy and OS errors alike: one line, not a trace
        raise StoreError(_describe_open_error(uri, err)) from err
    tune_sql_store(client)
    return client


def back_up(db: Path) -> Path | None:
    """Copy the SQLite store ``db`` to :func:`backup_path` (SQLite's online backup, WAL-safe).

    Written to a temporary name and renamed, so a failed copy never replaces the last good
    one. Returns the backup's path, or None when the copy failed (logged, not raised: a study
    must not stop for its backup).
    """
    target = backup_path(db)
    partial = target.with_name(f"{target.name}.partial")
    try:
        with (
            contextlib.closing(sqlite3.connect(db)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as err:
        logging.getLogger(__name__).warning("no backup of %s: %s", db, err)
        with contextlib.suppress(OSError):
            partial.unlink()
        return None
    return target


def _write_ahead(db: Path) -> None:
    """Put the SQLite file ``db`` in write-ahead-log mode before MLflow opens it.

    The mode is stored in the file, so MLflow's schema migration of a fresh store already runs
    in it (measured: ~8 s instead of ~11 s on a busy 2-core machine). A file that cannot be
    opened, or is locked mid-switch by another process, is left to MLflow and
    :func:`studies.store._bulk.tune_sql_store`.
    """
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
