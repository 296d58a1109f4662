"""Seed aggregates of an arm: per-epoch and final means with 95% t-intervals."""

from __future__ import annotations

import math

from studies.engine.aggregates import aggregate_metrics
from studies.engine.spec import TrialResult
from studies.stats import t_interval

RESULTS = [
    TrialResult(
        history=[
            {"epoch": 0, "loss": 2.0},
            {"epoch": 1, "loss": 1.0},
            {"epoch": 2, "loss": math.nan},
        ],
        summary={"final": 0.5, "to_target": math.inf},
    ),
    TrialResult(
        history=[{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": math.inf}],
        summary={"final": 1.5, "to_target": 4.0},
        status="diverged",
        diverged_epoch=2,
    ),
    TrialResult(history=[{"epoch": 1, "loss": 100.0}], summary={"final": 100.0}, status="failed"),
]


def test_aggregates_per_epoch_and_final():
    metrics = {(k, s): v for k, v, s in aggregate_metrics(RESULTS)}
    mean, lo, hi = t_interval([1.0, 3.0])  # the failed trial is left out
    assert metrics[("loss_mean", 1)] == mean
    assert (metrics[("loss_ci_lo", 1)], metrics[("loss_ci_hi", 1)]) == (lo, hi)
    assert metrics[("loss_mean", 0)] == 2.0 and ("loss_ci_lo", 0) not in metrics  # one seed
    assert ("loss_mean", 2) not in metrics  # NaN and inf only: nothing to average
    mean, lo, hi = t_interval([0.5, 1.5])
    assert metrics[("final_mean", 0)] == mean and metrics[("final_ci_hi", 0)] == hi
    assert metrics[("to_target_mean", 0)] == math.inf  # a target never reached stays inf
    assert ("to_target_ci_lo", 0) not in metrics
