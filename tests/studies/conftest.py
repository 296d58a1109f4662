"""Fixtures for engine tests: a throw-away SQLite MLflow store and a trial-call counter."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite file with the schema in place (migrating takes seconds)."""
    from studies.tracking import Tracker

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    Tracker(f"sqlite:///{path}")
    # The store runs in WAL mode: fold the log into the file before tests copy it.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def store(tmp_path: Path, migrated_store: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tracking URI of an empty SQLite store under ``tmp_path`` (also set as the default)."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(migrated_store, path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def calls_file(tmp_path: Path) -> Path:
    """File the toy trial appends ``arm/seed`` to each time it really runs."""
    return tmp_path / "calls.txt"
