"""``write_metrics``'s bulk path leaves exactly the run MLflow's own ``log_batch`` leaves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studies.store import _bulk as mlflow_bulk
from studies.store._bulk import write_metrics

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


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


def _state(client: MlflowClient, run_id: str) -> tuple:
    """Everything the public API shows of a run's metrics (NaN made comparable)."""
    run = client.get_run(run_id)

    def norm(v: float) -> object:
        return "nan" if math.isnan(v) else v

    latest = sorted((m.key, norm(m.value), m.timestamp, m.step) for m in run.data._metric_objs)
    histories = {
        key: sorted(
            (m.step, m.timestamp, norm(m.value)) for m in client.get_metric_history(run_id, key)
        )
        for key in run.data.metrics
    }
    return latest, histories


@pytest.fixture
def client(store: str) -> MlflowClient:
    return MlflowClient(store)


def _two_runs(client: MlflowClient) -> tuple[str, str]:
    exp = client.create_experiment("bulk")
    return client.create_run(exp).info.run_id, client.create_run(exp).info.run_id


def test_bulk_rows_equal_log_batch_rows(client):
    assert mlflow_bulk._sql_store(client) is not None
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
    ref_state, bulk_state = _state(client, reference), _state(client, bulk)
    assert len(ref_state[0]) == 62
    assert ref_state == bulk_state


def test_a_repeated_batch_falls_back_to_log_batch(client):
    reference, bulk = _two_runs(client)
    batch = _metrics(np.random.default_rng(1), 2, ts=10)
    for _ in range(2):
        client.log_batch(reference, metrics=batch)
        write_metrics(client, bulk, batch)  # the second time every row already exists
    assert _state(client, reference) == _state(client, bulk)


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


def test_other_stores_get_log_batch_calls_of_at_most_1000():
    class FakeClient:
        def __init__(self):
            self.calls = []

        def log_batch(self, run_id, metrics):
            self.calls.append((run_id, len(metrics)))

    fake = FakeClient()
    write_metrics(fake, "r", [Metric("k", float(i), 1, i) for i in range(2345)])
    assert fake.calls == [("r", 1000), ("r", 1000), ("r", 345)]
