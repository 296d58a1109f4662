"""The private fast path leaves and reads exactly what MLflow's public API leaves and reads.

``write_metrics`` on the fast path must leave the same rows in MLflow's ``metrics`` and
``latest_metrics`` tables as ``log_batch``; ``metric_histories`` must read the same values as
``get_metric_history``; the version guard must switch both to the public API.
"""

from __future__ import annotations

import math
import sqlite3
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from studies.store import _bulk
from studies.store._bulk import fast_path_supported, metric_histories, write_metrics


def _metrics(rng: np.random.Generator, n_epochs: int, ts: int, first_epoch: int = 0) -> list:
    """Per-layer style keys over epochs, with NaN, +-inf, a duplicate and a re-logged step."""
    out = []
    for epoch in range(first_epoch, first_epoch + n_epochs):
        for k in range(60):
            out.append(Metric(f"grad_norm/layer_{k}", float(rng.standard_normal()), ts, epoch))
    out += [
        Metric("loss", math.nan, ts, 3),
        Metric("loss", math.inf, ts, 1),
        Metric("loss", -math.inf, ts + 1, 1),
        Metric("acc", 0.5, ts, 2),
        Metric("acc", 0.5, ts, 2),  # duplicate: stored once
        Metric("acc", 0.7, ts, 2),  # same step, larger value: the latest
        Metric("acc", 0.9, ts - 5, 2),  # same step, older timestamp
    ]
    return out


def _rows(db: Path, run_id: str) -> tuple[list, list]:
    """Every row MLflow keeps of a run's metrics: its ``metrics`` and ``latest_metrics``."""
    columns = "key, value, timestamp, step, is_nan"
    with sqlite3.connect(db) as conn:
        history = conn.execute(
            f"SELECT {columns} FROM metrics WHERE run_uuid = ? ORDER BY {columns}", (run_id,)
        ).fetchall()
        latest = conn.execute(
            f"SELECT {columns} FROM latest_metrics WHERE run_uuid = ? ORDER BY key", (run_id,)
        ).fetchall()
    return history, latest


@pytest.fixture
def client(store: str) -> MlflowClient:
    return MlflowClient(store)


@pytest.fixture
def db(store: str) -> Path:
    return Path(store.removeprefix("sqlite:///"))


@pytest.fixture
def public_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """An MLflow version the fast path was not checked on: the public API does everything."""
    monkeypatch.setattr(_bulk, "FAST_PATH_MAJORS", ())


def _two_runs(client: MlflowClient) -> tuple[str, str]:
    exp = client.create_experiment("bulk")
    return client.create_run(exp).info.run_id, client.create_run(exp).info.run_id


def test_the_installed_mlflow_takes_the_fast_path(client):
    assert fast_path_supported(mlflow.__version__)
    assert _bulk._sql_store(client) is not None


def test_the_version_guard():
    assert fast_path_supported("3.0.0") and fast_path_supported("3.17.2")
    assert not fast_path_supported("2.22.1")
    assert not fast_path_supported("4.0.0rc1")
    assert not fast_path_supported("dev")


def test_bulk_rows_equal_log_batch_rows(client, db):
    reference, bulk = _two_runs(client)
    rng = np.random.default_rng(0)
    # 60 keys x 20 epochs = 1207 metrics: log_batch needs two calls, the bulk path one.
    first = _metrics(rng, 20, ts=1_000)
    # A second batch with earlier and later steps and newer timestamps.
    second = _metrics(rng, 3, ts=2_000, first_epoch=18) + _metrics(rng, 2, ts=500)
    for batch in (first, second):
        for start in range(0, len(batch), 1000):
            client.log_batch(reference, metrics=batch[start : start + 1000])
        write_metrics(client, bulk, batch)
    history, latest = _rows(db, reference)
    assert len(latest) == 62 and len(history) > 1300
    assert _rows(db, bulk) == (history, latest)
    # What the public API shows of the two runs is equal too.
    assert client.get_run(reference).data.metrics.keys() == client.get_run(bulk).data.metrics.keys()


def test_a_repeated_batch_falls_back_to_log_batch(client, db):
    reference, bulk = _two_runs(client)
    batch = _metrics(np.random.default_rng(1), 2, ts=10)
    for _ in range(2):
        client.log_batch(reference, metrics=batch)
        write_metrics(client, bulk, batch)  # the second time every row already exists
    assert _rows(db, reference) == _rows(db, bulk)


def test_mlflow_rejections_are_kept(client):
    reference, bulk = _two_runs(client)
    with pytest.raises(MlflowException):  # a bad value after a good one of the same key
        write_metrics(client, bulk, [Metric("ok", 1.0, 1, 0), Metric("ok", "x", 1, 1)])
    bad = [Metric("../escape", 1.0, 1, 0)]
    with pytest.raises(MlflowException):
        client.log_batch(reference, metrics=bad)
    with pytest.raises(MlflowException):
        write_metrics(client, bulk, bad)
    client.delete_run(bulk)
    with pytest.raises(MlflowException, match="deleted"):
        write_metrics(client, bulk, [Metric("x", 1.0, 1, 0)])
    assert client.get_run(reference).data.metrics == {}


def test_the_guard_switches_writing_to_log_batch(client, db, monkeypatch):
    reference, public = _two_runs(client)
    batch = _metrics(np.random.default_rng(2), 3, ts=10)
    write_metrics(client, reference, batch)
    calls = []
    log_batch = client.log_batch
    monkeypatch.setattr(_bulk, "FAST_PATH_MAJORS", ())
    monkeypatch.setattr(client, "log_batch", lambda *a, **k: calls.append(1) or log_batch(*a, **k))
    write_metrics(client, public, batch)
    assert calls and _rows(db, reference) == _rows(db, public)


def test_other_stores_get_log_batch_calls_of_at_most_1000():
    class FakeClient:
        def __init__(self):
            self.calls = []

        def log_batch(self, run_id, metrics):
            self.calls.append((run_id, len(metrics)))

    fake = FakeClient()
    write_metrics(fake, "r", [Metric("k", float(i), 1, i) for i in range(2345)])
    assert fake.calls == [("r", 1000), ("r", 1000), ("r", 345)]


def _normalised(records: list) -> list:
    """Sorted rows with NaN made comparable."""
    return sorted((r, s, k, "nan" if math.isnan(v) else v, t) for r, s, k, v, t in records)


def test_bulk_read_equals_get_metric_history(client, monkeypatch):
    runs = _two_runs(client)
    rng = np.random.default_rng(3)
    for run_id in runs:
        write_metrics(client, run_id, _metrics(rng, 4, ts=100) + _metrics(rng, 2, ts=200))
    run_keys = {run_id: ["loss", "acc", "grad_norm/layer_7"] for run_id in runs}
    bulk = metric_histories(client, run_keys)
    monkeypatch.setattr(_bulk, "FAST_PATH_MAJORS", ())
    calls = []
    history = client.get_metric_history
    monkeypatch.setattr(client, "get_metric_history", lambda *a: calls.append(a) or history(*a))
    public = metric_histories(client, run_keys, concurrent=True)
    assert len(calls) == 6  # one public call per (run, key)
    assert _normalised(bulk) == _normalised(public)
    # Per run: loss 2 x 3 values, acc 2 x 3 (a duplicate stored once), layer_7 4 + 2 epochs.
    assert len(bulk) == 2 * (6 + 6 + 6)
    # As stored: the SQL store clamps +-inf (the reader restores them).
    values = {v for r, s, k, v, t in bulk if k == "loss" and s == 1}
    assert values == {sys.float_info.max, -sys.float_info.max}
    assert any(math.isnan(v) for r, s, k, v, t in bulk if k == "loss" and s == 3)
