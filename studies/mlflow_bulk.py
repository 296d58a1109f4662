"""Read many metric histories from MLflow in few calls.

MLflow 3's public client reads one (run, key) history per call, so a study with per-layer
metrics makes thousands of calls to rebuild its histories. A SQL store also answers one key
for many runs in a single query (``get_metric_history_bulk``, the method MLflow's own server
uses for its bulk endpoint); :func:`metric_histories` uses it when the store has it and falls
back to the public per-(run, key) call otherwise (concurrently over HTTP, where each call is a
round trip).

Shared by the engine (reusing finished trials) and the reporter (building history frames).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["metric_histories"]

# Over HTTP each history request is a round trip, so a few run concurrently; a local SQLite
# store answers faster serially (measured: threads only add contention there).
HTTP_WORKERS = 8
# Runs per bulk history query (keeps the SQL ``IN (...)`` list well inside SQLite's limits)
# and a row cap far above any study's epochs x runs.
BULK_RUNS = 500
BULK_MAX_ROWS = 10_000_000


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
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    bulk = getattr(store, "get_metric_history_bulk", None)
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
