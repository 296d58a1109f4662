"""Seed aggregates of an arm: the ``<key>_mean``, ``_ci_lo``, ``_ci_hi`` rows of its parent run."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from studies.stats import t_interval
from studies.store.schema import AGGREGATE_SUFFIXES

__all__ = ["aggregate_metrics"]


def aggregate_metrics(results: Sequence[Any]) -> list[tuple[str, float, int]]:
    """Seed aggregates of an arm's trials for its parent run.

    Per-epoch ``<key>_mean`` (and ``<key>_ci_lo`` / ``<key>_ci_hi`` from a 95% Student-t
    interval when at least two seeds have a finite value that epoch) at ``step = epoch``, and
    the same three for every summary key at step 0. Failed trials are left out.

    Parameters
    ----------
    results : sequence of TrialResult

    Returns
    -------
    list of (key, value, step)
    """
    mean_suffix, lo_suffix, hi_suffix = AGGREGATE_SUFFIXES
    per_epoch: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    finals: dict[str, list[float]] = defaultdict(list)
    for result in results:
        if result.status == "failed":
            continue
        for record in result.history:
            for key, value in record.items():
                if key != "epoch":
                    per_epoch[key][int(record["epoch"])].append(float(value))
        for key, value in result.summary.items():
            finals[key].append(float(value))
    metrics: list[tuple[str, float, int]] = []

    def emit(key: str, values: list[float], step: int, *, keep_inf: bool) -> None:
        x = np.asarray(values, dtype=float)
        if not keep_inf:
            x = x[np.isfinite(x)]
        x = x[~np.isnan(x)]
        if x.size == 0:
            return
        mean, lo, hi = t_interval(x)
        metrics.append((f"{key}{mean_suffix}", mean, step))
        if x.size >= 2 and math.isfinite(lo):
            metrics.append((f"{key}{lo_suffix}", lo, step))
            metrics.append((f"{key}{hi_suffix}", hi, step))

    for key, by_epoch in per_epoch.items():
        for epoch, values in sorted(by_epoch.items()):
            emit(key, values, epoch, keep_inf=False)
    for key, values in finals.items():
        # A summary of inf (a target never reached) makes the mean inf, honestly.
        emit(key, values, 0, keep_inf=True)
    return metrics
