"""Hand-made summaries frames and one-look verdicts, for the catalogue studies' claim tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from studies import Study
from studies.stats import Evidence, SequentialDesign, judge_claims


def summaries(
    values: Mapping[str, Mapping[str, Sequence[float]]], stage: str = "main", **constants: Any
) -> pd.DataFrame:
    """``{arm: {column: per-seed values}}`` as a summaries frame of ``stage``, one ok trial
    per (arm, seed), with ``constants`` (e.g. a ``config.*`` column) on every row."""
    rows = []
    for arm, columns in values.items():
        n = len(next(iter(columns.values())))
        for seed in range(n):
            row = {"stage": stage, "arm": arm, "seed": seed, "status": "ok", **constants}
            row.update({col: float(v[seed]) for col, v in columns.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def evaluator(study: Study, claim_id: str):
    """The ``evaluate`` of ``study``'s claim ``claim_id``."""
    return next(c for c in study.claims if c.id == claim_id).evaluate


def verdict(evidence: Evidence) -> str:
    """The status of ``evidence`` judged alone in one look at all its seeds."""
    n = max(max(c.seeds, default=0) for c in evidence.comparisons) + 1
    (judgement,) = judge_claims([evidence], SequentialDesign(looks=(max(n, 2),)), reached=1)
    return judgement.status
