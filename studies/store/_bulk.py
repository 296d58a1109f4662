"""Read and write many metric values in few MLflow calls; the one private fast path.

MLflow's public client writes metrics with ``log_batch`` (at most 1000 per call) and reads
one (run, key) history per ``get_metric_history`` call; it has no bulk history read (its SQL
store has one, and the tracking server's UI endpoint, but not the client). Both are slow for
studies: on a SQL store ``log_batch`` builds one ORM object per value (measured: ~185 ms
for a trial of 900 values, ~0.1-0.3 ms per value, most of a quick study's wall time), and a
study with per-layer metrics makes thousands of history calls to be read back.

So on MLflow's SQL store, and only under an MLflow version the fast path was checked against
(:func:`fast_path_supported`), :func:`write_metrics` inserts the rows ``log_batch`` would
insert into MLflow's ``metrics`` and ``latest_metrics`` tables with two statements in one
transaction (~30 ms for the same trial), applying MLflow's rules: its own metric validation,
NaN/inf encoding, de-duplication, and "latest" = largest (step, timestamp, value); and
:func:`metric_histories` reads one key of many runs per query. Everything that touches
MLflow's internals is reached through one function, :func:`_sql_store`; every other store or
version (a tracking server, MLflow 4) goes through the public ``log_batch`` and
``get_metric_history``. ``tests/studies/store/test_bulk.py`` checks that both paths leave
identical rows and read identical histories.

The SQLite settings (:func:`tune_sql_store`) use the same door, to reach the connections of
MLflow's store and no other.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = [
    "fast_path_supported",
    "metric_histories",
    "search_all_runs",
    "tune_sql_store",
    "write_metrics",
]

#: MLflow major versions whose SQL store (tables, validation, NaN/inf encoding) the fast path
#: was checked against; pyproject pins the same.
FAST_PATH_MAJORS = (3,)
# Over HTTP each history request is a round trip, so a few run concurrently; a local SQLite
# store answers faster serially (measured: threads only add contention there).
HTTP_WORKERS = 8
# Runs per bulk history query (keeps the SQL ``IN (...)`` list well inside SQLite's limits).
BULK_RUNS = 500
#: Runs per page of a run search.
SEARCH_PAGE = 1000
#: MLflow's limit on metrics per ``log_batch`` call.
MAX_BATCH_METRICS = 1000
#: Metric keys per ``IN (...)`` list when reading a run's latest values.
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class _SqlStore:
    """What the fast path uses of MLflow's SQL tracking store.

    Attributes
    ----------
    engine : sqlalchemy.engine.Engine
        The store's engine (shared by every client of the same URI in the process).
    runs, metrics, latest_metrics : sqlalchemy.Table
        MLflow's tables of runs, of every metric value and of each key's latest value.
    validate_metric : callable
        ``validate_metric(key, value, timestamp, step)``: MLflow's own check, raising
        ``MlflowException`` for what ``log_batch`` rejects.
    sanitize : callable
        ``sanitize(value) -> (is_nan, stored value)``: MLflow's NaN/inf encoding.
    """

    engine: Any
    runs: Any
    metrics: Any
    latest_metrics: Any
    validate_metric: Callable[[str, Any, Any, Any], None]
    sanitize: Callable[[float], tuple[bool, float]]


def fast_path_supported(version: str) -> bool:
    """True when MLflow ``version`` (e.g. ``"3.17.2"``) is one the fast path was checked on."""
    major = version.split(".", 1)[0]
    return major.isdigit() and int(major) in FAST_PATH_MAJORS


def _sql_store(client: Any) -> _SqlStore | None:
    """MLflow's SQL store behind ``client``, or None: the one door to MLflow's internals.

    None unless the installed MLflow passes :func:`fast_path_supported` and ``client`` is an
    ``MlflowClient`` on a SQL store (not a tracking server, not a file store). This is the
    only function that reads a private attribute of an MLflow object or imports a private
    MLflow module.

    Parameters
    ----------
    client : mlflow.MlflowClient or any object with the client's public methods

    Returns
    -------
    _SqlStore or None
    """
    import mlflow

    if not fast_path_supported(mlflow.__version__):
        return None
    try:
        from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlRun
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
        from mlflow.utils.validation import _validate_metric
    except ImportError:  # pragma: no cover - MLflow without SQL support
        return None
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if not isinstance(store, SqlAlchemyStore):
        return None
    return _SqlStore(
        engine=store.engine,
        runs=SqlRun.__table__,
        metrics=SqlMetric.__table__,
        latest_metrics=SqlLatestMetric.__table__,
        validate_metric=_validate_metric,
        sanitize=store.sanitize_metric_value,
    )


def tune_sql_store(client: Any) -> None:
    """Write-ahead log and ``synchronous=NORMAL`` on the SQLite connections of ``client``'s store.

    With the default rollback journal every MLflow call commits with several fsyncs; on a busy
    disk that alone made a trial's logging 2x slower (measured: ~165 ms vs ~75 ms per trial).
    In WAL mode a commit appends to the log and readers never block the writer (two studies
    sharing one store); ``NORMAL`` skips the per-commit fsync, which can lose the last commits
    on power loss but never corrupts the database. Only the store's own engine is touched;
    its pooled connections are dropped once so every connection gets the settings.
    Idempotent; a no-op for any other store.
    """
    from sqlalchemy import event

    sql = _sql_store(client)
    if sql is None or sql.engine.dialect.name != "sqlite":
        return
    if event.contains(sql.engine, "connect", _sqlite_pragmas):
        return
    event.listen(sql.engine, "connect", _sqlite_pragmas)
    sql.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # Another process may hold a lock mid-switch; it sets WAL itself (the mode is persistent).
    with contextlib.suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
        Fetch per-(run, key) histories from a thread pool on the public path (worth it over
        HTTP only).

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
    sql = _sql_store(client)
    if sql is not None:
        return _select_histories(sql, by_key)

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


def _select_histories(
    sql: _SqlStore, by_key: Mapping[str, Sequence[str]]
) -> list[tuple[str, int, str, float, int]]:
    """One query per key and :data:`BULK_RUNS` runs; NaN decoded as ``get_metric_history`` does."""
    import sqlalchemy

    table = sql.metrics
    records = []
    with sql.engine.connect() as conn:
        for key, run_ids in by_key.items():
            for start in range(0, len(run_ids), BULK_RUNS):
                query = sqlalchemy.select(
                    table.c.run_uuid, table.c.step, table.c.value, table.c.timestamp, table.c.is_nan
                ).where(
                    table.c.key == key, table.c.run_uuid.in_(run_ids[start : start + BULK_RUNS])
                )
                for run_id, step, value, timestamp, is_nan in conn.execute(query):
                    value = float("nan") if is_nan else value
                    records.append((run_id, int(step), key, value, timestamp))
    return records


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


def write_metrics(client: Any, run_id: str, metrics: Sequence[Any]) -> None:
    """Log ``metrics`` (``mlflow.entities.Metric``) to the active run ``run_id``.

    On the fast path the rows go in with two bulk statements (see the module docstring); the
    result is the one ``client.log_batch(run_id, metrics=metrics)`` leaves, batches larger
    than MLflow's 1000-metric limit included. Otherwise, and for a batch whose rows are
    already stored (a retried batch), ``log_batch`` calls of at most 1000 metrics.

    Raises
    ------
    mlflow.exceptions.MlflowException
        For a metric name or value MLflow rejects, or a run that is not active (as
        ``log_batch`` would).
    """
    sql = _sql_store(client)
    if sql is None or not metrics:
        _log_batches(client, run_id, metrics)
        return
    import sqlalchemy

    try:
        _insert_metrics(sql, run_id, metrics)
    except sqlalchemy.exc.IntegrityError:
        # Some rows are already stored: MLflow's own path skips those.
        _log_batches(client, run_id, metrics)


def _insert_metrics(sql: _SqlStore, run_id: str, metrics: Sequence[Any]) -> None:
    import sqlalchemy
    from mlflow.exceptions import MlflowException

    rows: dict[tuple, dict] = {}
    checked: set[str] = set()
    for m in metrics:
        # MLflow's own check, once per key (the name is what costs); a later value of the
        # key is checked again only if it, its step or its timestamp is not a plain number.
        plain = type(m.value) in (float, int) and type(m.step) is int and type(m.timestamp) is int
        if m.key not in checked or not plain:
            sql.validate_metric(m.key, m.value, m.timestamp, m.step)
            checked.add(m.key)
        is_nan, value = sql.sanitize(float(m.value))
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
    runs, table, latest_table = sql.runs, sql.metrics, sql.latest_metrics
    with sql.engine.begin() as conn:
        stage = conn.execute(
            sqlalchemy.select(runs.c.lifecycle_stage).where(runs.c.run_uuid == run_id)
        ).scalar_one_or_none()
        if stage != "active":
            state = "does not exist" if stage is None else f"is {stage}"
            raise MlflowException(f"cannot log metrics: run {run_id!r} {state}")
        conn.execute(sqlalchemy.insert(table), list(rows.values()))
        keys = sorted(latest)
        stored: dict[str, tuple] = {}
        c = latest_table.c
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            query = sqlalchemy.select(c.key, c.step, c.timestamp, c.value).where(
                c.run_uuid == run_id, c.key.in_(keys[start : start + _KEYS_PER_QUERY])
            )
            stored.update({key: (step, ts, value) for key, step, ts, value in conn.execute(query)})
        new = [row for key, row in latest.items() if key not in stored]
        newer = [row for key, row in latest.items() if key in stored and _order(row) > stored[key]]
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


def _log_batches(client: Any, run_id: str, metrics: Sequence[Any]) -> None:
    """``client.log_batch`` calls of at most :data:`MAX_BATCH_METRICS` metrics each."""
    for start in range(0, len(metrics), MAX_BATCH_METRICS):
        client.log_batch(run_id, metrics=list(metrics[start : start + MAX_BATCH_METRICS]))


def _order(row: Mapping[str, Any]) -> tuple:
    """MLflow's "more recent" order of two values of one metric: (step, timestamp, value)."""
    return (row["step"], row["timestamp"], row["value"])
