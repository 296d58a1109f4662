"""The claims statistics on hand-made data whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from studies.engine.claims import (
    mean_threshold,
    paired_columns,
    paired_comparison,
    paired_equivalence,
    paired_samples,
)


def summaries(rows: list[tuple[str, int, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["arm", "seed", "status", "epochs_to_target"])
    frame["stage"] = "final"
    frame["config.train.epochs"] = 10
    return frame


def test_paired_samples_pairs_by_seed_and_censors_inf():
    frame = summaries(
        [
            ("adam", 0, "ok", 3.0),
            ("adam", 1, "ok", 4.0),
            ("adam", 2, "failed", np.nan),
            ("adam", 3, "ok", 5.0),
            ("sgd", 3, "ok", math.inf),
            ("sgd", 1, "ok", 6.0),
            ("sgd", 0, "ok", 7.0),
            ("sgd", 2, "ok", 8.0),
        ]
    )
    a, b, seeds = paired_samples(frame, "epochs_to_target", "adam", "sgd", censor=11.0)
    assert seeds == [0, 1, 3]  # seed 2 failed for adam: no pair
    np.testing.assert_array_equal(a, [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(b, [7.0, 6.0, 11.0])
    a, b, seeds = paired_samples(frame, "epochs_to_target", "adam", "sgd")
    assert seeds == [0, 1]  # without censoring the never-reached trial is dropped
    with pytest.raises(ValueError, match="no summary column 'nope'"):
        paired_samples(frame, "nope", "adam", "sgd")


def test_claim_builders_on_frames():
    rows = [("adam", s, "ok", 3.0 + s % 2) for s in range(5)]
    rows += [("sgd", s, "ok", 7.0 + s) for s in range(4)] + [("sgd", 4, "ok", math.inf)]
    frame = summaries(rows)
    result = paired_comparison(
        "epochs_to_target", "adam", "sgd", better="lower", censor="config.train.epochs"
    )(frame, None)
    assert result.verdict == "supported"
    assert result.numbers["n"] == 5 and result.numbers["censored_at"] == 11.0

    equiv = paired_equivalence("epochs_to_target", "adam", "sgd", margin=0.5)(frame[:8], None)
    assert equiv.verdict == "not supported"

    wide = pd.DataFrame(
        {
            "stage": "toy",
            "arm": "t",
            "seed": range(5),
            "status": "ok",
            "steps/sgd": [70.0, 72, 75, 71, 69],
            "steps/momentum": [27.0, 28, 30, 26, 27],
        }
    )
    cols = paired_columns("steps/momentum", "steps/sgd", better="lower", stage="toy")(wide, None)
    assert cols.verdict == "supported" and cols.numbers["p_value"] == pytest.approx(1 / 32)


def test_mean_threshold():
    frame = pd.DataFrame({"arm": "a", "status": "ok", "acc": [0.90, 0.91, 0.92, 0.90, 0.91]})
    assert mean_threshold("acc", threshold=0.8, above=True)(frame, None).verdict == "supported"
    assert mean_threshold("acc", threshold=0.95, above=True)(frame, None).verdict == (
        "not supported"
    )
    assert mean_threshold("acc", threshold=0.905, above=True)(frame, None).verdict == (
        "inconclusive"
    )
    assert mean_threshold("acc", threshold=0.95, above=False)(frame, None).verdict == "supported"
