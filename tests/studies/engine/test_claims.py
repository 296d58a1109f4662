"""The claims statistics on hand-made data whose answers are known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from studies.engine.claims import (
    all_of,
    mean_threshold,
    paired_columns,
    paired_comparison,
    paired_equivalence,
    paired_gap,
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
    evidence = paired_comparison(
        "epochs_to_target",
        "adam",
        "sgd",
        better="lower",
        censor="config.train.epochs",
        test="permutation",
    )(frame, None)
    (c,) = evidence.comparisons
    # adam 3,4,3,4,3 against sgd 7,8,9,10 and never reached = epochs + 1 = 11
    np.testing.assert_array_equal(c.values, [-4.0, -4.0, -6.0, -6.0, -8.0])
    assert c.seeds == (0, 1, 2, 3, 4) and c.arms == ("adam", "sgd")
    assert (c.alternative, c.test) == ("less", "permutation")
    assert evidence.numbers["censored_at"] == 11.0 and "never reached" in evidence.detail
    assert evidence.numbers["mean_a"] == pytest.approx(3.4)

    equiv = paired_equivalence("epochs_to_target", "adam", "sgd", margin=0.5)(frame[:8], None)
    (e,) = equiv.comparisons
    assert (e.alternative, e.margin, e.seeds) == ("equivalence", 0.5, (0, 1, 2))

    wide = pd.DataFrame(
        {
            "stage": "toy",
            "arm": "t",
            "seed": [4, 3, 2, 1, 0],
            "status": "ok",
            "steps/sgd": [69.0, 71, 75, 72, 70],
            "steps/momentum": [27.0, 26, 30, 28, 27],
        }
    )
    cols = paired_columns("steps/momentum", "steps/sgd", better="lower", stage="toy")(wide, None)
    (w,) = cols.comparisons
    assert w.seeds == (0, 1, 2, 3, 4) and w.arms == ("t",)  # sorted by seed
    np.testing.assert_array_equal(w.values, [-43.0, -44.0, -45.0, -45.0, -42.0])
    twice = pd.concat([wide, wide.assign(arm="u")])
    with pytest.raises(ValueError, match="one trial per seed"):
        paired_columns("steps/momentum", "steps/sgd", better="lower")(twice, None)


def test_builders_reject_unknown_test():
    with pytest.raises(ValueError, match="wilcoxon"):
        paired_comparison("x", "a", "b", better="lower", test="wilcoxon")


def test_mean_threshold_and_gap_subtract_the_threshold():
    frame = pd.DataFrame(
        {"arm": "a", "seed": range(5), "status": "ok", "acc": [0.90, 0.91, 0.92, 0.90, 0.91]}
    )
    (c,) = mean_threshold("acc", threshold=0.8, above=True)(frame, None).comparisons
    np.testing.assert_allclose(c.values, [0.10, 0.11, 0.12, 0.10, 0.11])
    assert (c.alternative, c.reference, c.arms) == ("greater", 0.8, ("a",))
    (below,) = mean_threshold("acc", threshold=0.95, above=False)(frame, None).comparisons
    assert below.alternative == "less"

    two = pd.concat([frame, frame.assign(arm="b", acc=frame["acc"] - 0.3)])
    (g,) = paired_gap("acc", "a", "b", threshold=0.2)(two, None).comparisons
    np.testing.assert_allclose(g.values, [0.1] * 5)
    assert (g.alternative, g.reference, g.arms) == ("greater", 0.2, ("a", "b"))


def test_all_of_names_the_parts():
    frame = pd.DataFrame(
        {"arm": "a", "seed": range(5), "status": "ok", "acc": [0.90, 0.91, 0.92, 0.90, 0.91]}
    )
    low = mean_threshold("acc", threshold=0.95, above=False)(frame, None)
    high = mean_threshold("acc", threshold=0.85, above=True)(frame, None)
    joint = all_of([("low", low), ("high", high)])
    assert [c.name for c in joint.comparisons] == ["low", "high"]
    assert joint.numbers == {"low.threshold": 0.95, "high.threshold": 0.85}
