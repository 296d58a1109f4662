"""The frames a study's claims are judged on (the reporter rebuilds the same from MLflow).

Frames handed to claims (and rebuilt by the reporter from MLflow):

``summaries`` — one row per trial: ``stage``, ``arm``, ``seed``, ``status``,
``diverged_epoch``, ``run_id``, ``config_hash``, ``reused``, one ``factor.<name>`` column per
factor label of the arm, one ``config.<dotted key>`` column per resolved config entry, and one
column per summary key (float; ``inf`` allowed, e.g. epochs to a target never reached).

``histories`` — one row per (trial, epoch): ``stage``, ``arm``, ``seed``, ``epoch`` and one
column per history key (NaN where a trial did not record it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from studies.store.schema import CONFIG_PREFIX, FACTOR_PREFIX, flatten

__all__ = ["histories_frame", "summaries_frame"]


def summaries_frame(records: Sequence[Any]) -> pd.DataFrame:
    """One row per trial from ``(spec, result, run_id, reused)`` records.

    Parameters
    ----------
    records : sequence
        Objects with attributes ``spec`` (TrialSpec), ``result`` (TrialResult), ``run_id``
        and ``reused``.

    Returns
    -------
    DataFrame, shape (n_trials, n_columns)
        Columns as described in this module's docstring.
    """
    rows = []
    for rec in records:
        spec, result = rec.spec, rec.result
        row: dict[str, Any] = {
            "stage": spec.stage,
            "arm": spec.arm,
            "seed": spec.seed,
            "status": result.status,
            "diverged_epoch": result.diverged_epoch,
            "run_id": rec.run_id,
            "config_hash": spec.config_hash,
            "reused": rec.reused,
        }
        row.update({FACTOR_PREFIX + k: v for k, v in spec.factors.items()})
        row.update({CONFIG_PREFIX + k: v for k, v in flatten(spec.config).items()})
        row.update({k: float(v) for k, v in result.summary.items()})
        rows.append(row)
    base = ["stage", "arm", "seed", "status", "diverged_epoch", "run_id", "config_hash", "reused"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    if rows:
        frame["diverged_epoch"] = frame["diverged_epoch"].astype("Int64")
    return frame


def histories_frame(records: Sequence[Any]) -> pd.DataFrame:
    """One row per (trial, epoch) from ``(spec, result, ...)`` records (see above)."""
    rows = []
    for rec in records:
        spec = rec.spec
        for record in rec.result.history:
            row = {"stage": spec.stage, "arm": spec.arm, "seed": spec.seed}
            row.update({k: (float(v) if v is not None else math.nan) for k, v in record.items()})
            row["epoch"] = int(record["epoch"])
            rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])
    return pd.DataFrame(rows)
