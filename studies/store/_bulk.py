"""Read and write many metric values in few MLflow calls.

Reading: MLflow 3's public client reads one (run, key) history per call, so a study with
per-layer metrics makes thousands of calls to rebuild its histories. A SQL store also answers
one key for many runs in a single query (``get_metric_history_bulk``, the method MLflow's own
server uses for its bulk endpoint); :func:`metric_histories` uses it when the store has it and
falls back to the public per-(run, key) call otherwise (concurrently over HTTP, where each call
is a round trip). :func:`search_all_runs` pages through a run search. Shared by the engine
(reusing finished trials) and the reporter.

Writing: ``log_batch`` on a SQL store builds one ORM object per value (about 0.1 ms each, three
times that while two workers load the machine), which made tracking most of a quick study's
wall time. :func:`write_metrics` inserts the same rows into the store's own ``metrics`` and
``latest_metrics`` tables with two executemany statements in one transaction, applying
MLflow's rules (its name validation, NaN/inf encoding, de-duplication, and "latest" =
largest (step, timestamp, value)); any other store, or a batch whose rows already exist, goes
through ``log_batch``. ``tests/studies/test_mlflow_bulk.py`` checks that both paths leave
identical runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["metric_histories", "search_all_runs", "write_metrics"]

# Over HTTP each history request is a round trip, so a few run concurrently; a local SQLite
# store answers faster serially (measured: threads only add contention there).
HTTP_WORKERS = 8
# Runs per bulk history query (keeps the SQL ``IN (...)`` list well inside SQLite's limits)
# and a row cap far above any study's epochs x runs.
BULK_RUNS = 500
BULK_MAX_ROWS = 10_000_000
#: Runs per page of a run search.
SEARCH_PAGE = 1000
#: MLflow's limit on metrics per ``log_batch`` call.
MAX_BATCH_METRICS = 1000
#: Metric keys per ``IN (...)`` list when reading a run's latest values.
_KEYS_PER_QUERY = 500


def metric_histories(
    client: Any, run_keys: Mapping[str, Iterable[str]], *, concurrent: bool = False
) -> list[tuple[str, int, str, float, int]]:
    """Every logged value of the given metrics of the given runs.

    Parameters
    ----------
    client : mlflow.MlflowClient
    run_keys : mapping of str to iterable of str
        ``{run_id: metric keys to read}``; only keys the run logged should be listed.
    concurrent : bool
        Fetch per-(run, key) histories from a thread pool when the store has no bulk query
        (worth it over HTTP only).

    Returns
    -------
    list of (run_id, step, key, value, timestamp)
        Raw values as stored (a step logged twice appears twice; MLflow's SQL store clamps
        ``±inf`` to ``±sys.float_info.max``), in no particular order.
    """
    by_key: dict[str, list[str]] = {}
    for run_id, keys in run_keys.items():
        for key in keys:
            by_key.setdefault(key, []).append(run_id)
    bulk = getattr(_store(client), "get_metric_history_bulk", None)
    if callable(bulk):
        records = []
        for key, run_ids in by_key.items():
            for start in range(0, len(run_ids), BULK_RUNS):
                for m in bulk(run_ids[start : start + BULK_RUNS], key, BULK_MAX_ROWS):
                    records.append((m.run_id, int(m.step), key, m.value, m.timestamp))
        return records

    jobs = [(run_id, key) for key, run_ids in by_key.items() for run_id in run_ids]

    def fetch(job: tuple[str, str]) -> tuple[str, str, list]:
        run_id, key = job
        return run_id, key, client.get_metric_history(run_id, key)

    if concurrent and len(jobs) > 1:
        with ThreadPoolExecutor(HTTP_WORKERS) as pool:
            results = list(pool.map(fetch, jobs))
    else:
        results = [fetch(job) for job in jobs]
    return [
        (run_id, int(m.step), key, m.value, m.timestamp)
        for run_id, key, metrics in results
        for m in metrics
    ]


def search_all_runs(client: Any, experiment_id: str, filter_string: str = "") -> list:
    """Every active run of the experiment that matches ``filter_string``, all pages."""
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string,
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=SEARCH_PAGE,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _store(client: Any) -> Any:
    """The tracking store behind an ``MlflowClient`` (None if it has none we can reach)."""
    return getattr(getattr(client, "_tracking_client", None), "store", None)


def _sql_store(client: Any) -> Any:
    """The client's SQLAlchemy tracking store, or None for any other store."""
    store = _store(client)
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:  # pragma: no cover - MLflow without SQL support
        return None
    return store if isinstance(store, SqlAlchemyStore) else None


def write_metrics(client: Any, run_id: str, metrics: Sequence[Any]) -> None:
    """Log ``metrics`` (``mlflow.entities.Metric``) to the active run ``run_id``.

    On a SQL store the rows go in with two bulk statements (see the module docstring); the
    result is the one ``client.log_batch(run_id, metrics=metrics)`` leaves, batches larger
    than MLflow's 1000-metric limit included. Any other store gets ``log_batch`` calls of at
    most 1000 metrics.

    Raises
    ------
    mlflow.exceptions.MlflowException
        For a metric name or value MLflow rejects (as ``log_batch`` would).
    """
    store = _sql_store(client)
    if store is None or not metrics:
        _log_batches(client, run_id, metrics)
        return
    import sqlalchemy
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlRun
    from mlflow.utils.validation import _validate_metric

    rows: dict[tuple, dict] = {}
    checked: set[str] = set()
    for m in metrics:
        # MLflow's own check, once per key (the name is what costs); a later value of the
        # key is checked again only if it, its step or its timestamp is not a plain number.
        plain = type(m.value) in (float, int) and type(m.step) is int and type(m.timestamp) is int
        if m.key not in checked or not plain:
            _validate_metric(m.key, m.value, m.timestamp, m.step)
            checked.add(m.key)
        is_nan, value = store.sanitize_metric_value(float(m.value))
        row = {
            "run_uuid": run_id,
            "key": m.key,
            "value": value,
            "timestamp": int(m.timestamp),
            "step": int(m.step),
            "is_nan": is_nan,
        }
        rows.setdefault((m.key, value, row["timestamp"], row["step"], is_nan), row)
    latest: dict[str, dict] = {}
    for row in rows.values():
        best = latest.get(row["key"])
        if best is None or _order(row) > _order(best):
            latest[row["key"]] = row
    metric_table, latest_table = SqlMetric.__table__, SqlLatestMetric.__table__
    try:
        with store.engine.begin() as conn:
            runs = SqlRun.__table__
            stage = conn.execute(
                sqlalchemy.select(runs.c.lifecycle_stage).where(runs.c.run_uuid == run_id)
            ).scalar_one_or_none()
            if stage != "active":
                state = "does not exist" if stage is None else f"is {stage}"
                raise MlflowException(f"cannot log metrics: run {run_id!r} {state}")
            conn.execute(sqlalchemy.insert(metric_table), list(rows.values()))
            keys = sorted(latest)
            stored = {}
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                query = sqlalchemy.select(latest_table).where(
                    latest_table.c.run_uuid == run_id,
                    latest_table.c.key.in_(keys[start : start + _KEYS_PER_QUERY]),
                )
                stored.update({r.key: r._asdict() for r in conn.execute(query)})
            new = [row for key, row in latest.items() if key not in stored]
            newer = [
                row
                for key, row in latest.items()
                if key in stored and _order(row) > _order(stored[key])
            ]
            if new:
                conn.execute(sqlalchemy.insert(latest_table), new)
            for row in newer:
                conn.execute(
                    sqlalchemy.update(latest_table)
                    .where(latest_table.c.run_uuid == run_id, latest_table.c.key == row["key"])
                    .values(
                        value=row["value"],
                        timestamp=row["timestamp"],
                        step=row["step"],
                        is_nan=row["is_nan"],
                    )
                )
    except sqlalchemy.exc.IntegrityError:
        # Some rows are already stored (a retried batch): MLflow's own path skips those.
        _log_batches(client, run_id, metrics)


def _log_batches(client: Any, run_id: str, metrics: Sequence[Any]) -> None:
    """``client.log_batch`` calls of at most :data:`MAX_BATCH_METRICS` metrics each."""
    for start in range(0, len(metrics), MAX_BATCH_METRICS):
        client.log_batch(run_id, metrics=list(metrics[start : start + MAX_BATCH_METRICS]))


def _order(row: Mapping[str, Any]) -> tuple:
    """MLflow's "more recent" order of two values of one metric."""
    return (row["step"], row["timestamp"], row["value"])
