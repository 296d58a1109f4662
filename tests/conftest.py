"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, fresh for every test, so each test reproduces on its own."""
    return np.random.default_rng(0)


@pytest.fixture
def grad_tol() -> float:
    """Largest accepted float64 relative error of an analytic gradient (CS231n's bar)."""
    return 1e-6


@pytest.fixture
def torch_rtol() -> float:
    """Relative tolerance of float32 comparisons with PyTorch."""
    return 1e-4


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite file with the schema in place (migrating takes seconds)."""
    from studies.store.writer import Tracker

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
