"""Opening the store: nothing happens at import; opening configures MLflow once and tunes
the SQLite connections of MLflow's store, and of no other engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from studies.store._bulk import _sql_store, _sqlite_pragmas
from studies.store._client import configure_mlflow, open_client
from studies.store.writer import Tracker

REPO = Path(__file__).resolve().parents[3]


def test_importing_the_store_changes_nothing(tmp_path):
    script = """
import json, os, sys
before = dict(os.environ)
import studies.store.writer, studies.store.reader  # noqa: F401
from sqlalchemy import event
from sqlalchemy.engine import Engine
from studies.store._bulk import _sqlite_pragmas
print(json.dumps({
    "env": sorted(set(os.environ.items()) ^ set(before.items())),
    "mlflow_imported": "mlflow" in sys.modules,
    "engine_listeners": event.contains(Engine, "connect", _sqlite_pragmas),
}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout)
    assert found == {"env": [], "mlflow_imported": False, "engine_listeners": False}


def test_configure_mlflow_opts_out_once_and_keeps_user_choices(monkeypatch):
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")
    monkeypatch.setattr("studies.store._client._configured", False)
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    configure_mlflow()
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "false"
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")
    configure_mlflow()  # already done: leaves the environment alone
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false"

    from mlflow.telemetry import get_telemetry_client

    assert get_telemetry_client() is None


def _pragmas(engine: sqlalchemy.engine.Engine) -> tuple[str, int]:
    with engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return mode, sync


def test_wal_and_normal_sync_on_the_stores_connections_only(store, tmp_path):
    tracker = Tracker(store)
    open_client(store)  # idempotent: one listener, however many clients
    engine = _sql_store(tracker.client).engine
    assert event.contains(engine, "connect", _sqlite_pragmas)
    assert not event.contains(Engine, "connect", _sqlite_pragmas)
    # The connections MLflow opens write ahead and sync NORMALly ...
    assert _pragmas(engine) == ("wal", 1)
    # ... another engine on the same file sees the persistent WAL mode but default syncing,
    # and one on another file is left alone entirely.
    assert _pragmas(sqlalchemy.create_engine(store)) == ("wal", 2)
    assert _pragmas(sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'other.db'}")) == ("delete", 2)
