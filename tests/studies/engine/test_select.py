"""best_setting: the rule a tuning stage's winner is read by."""

from __future__ import annotations

import pandas as pd
import pytest

from studies.engine.select import best_setting


def frame(rows):
    return pd.DataFrame(rows, columns=["stage", "status", "group", "lr", "score"])


def test_best_mean_per_group_skips_unfinished_trials():
    rows = [
        ("tune", "ok", "a", 0.1, 1.0),
        ("tune", "ok", "a", 0.1, 3.0),  # mean 2.0
        ("tune", "ok", "a", 0.2, 1.5),
        ("tune", "diverged", "a", 0.4, 0.0),  # never wins
        ("tune", "ok", "b", 0.1, 5.0),
        ("tune", "ok", "b", 0.2, 4.0),
        ("final", "ok", "b", 0.4, -1.0),  # another stage
    ]
    best = best_setting(
        frame(rows), stage="tune", metric="score", better="lower", setting="lr", within="group"
    )
    assert best == {"a": 0.2, "b": 0.2}
    high = best_setting(frame(rows), stage="tune", metric="score", better="higher", setting="lr")
    assert high == {None: 0.1}


def test_ties_pick_the_smallest_or_largest_setting():
    rows = [("s", "ok", "g", 0.1, 1.0), ("s", "ok", "g", 0.3, 1.0), ("s", "ok", "g", 0.2, 2.0)]
    kw = {"stage": "s", "metric": "score", "better": "lower", "setting": "lr"}
    assert best_setting(frame(rows), **kw) == {None: 0.1}
    assert best_setting(frame(rows), **kw, ties="largest") == {None: 0.3}


def test_bad_input_names_the_value():
    rows = [("s", "failed", "g", 0.1, 1.0)]
    with pytest.raises(ValueError, match="no finished 's' trial to choose lr from"):
        best_setting(
            frame(rows), stage="s", metric="score", better="lower", setting="lr", within="group"
        )
    with pytest.raises(ValueError, match="no column"):
        best_setting(frame(rows), stage="s", metric="nope", better="lower", setting="lr")
    with pytest.raises(ValueError, match="unknown better 'best'"):
        best_setting(frame(rows), stage="s", metric="score", better="best", setting="lr")


def test_a_group_without_finished_trials_is_left_out_with_a_warning(caplog):
    rows = [
        ("s", "failed", "g", 0.1, 1.0),
        ("s", "failed", "h", 0.1, 1.0),
        ("s", "ok", "h", 0.3, 2.0),
        ("s", "diverged", "k", 0.1, 1.0),  # evidence, not missing data: no warning
        ("s", "ok", "k", 0.3, 2.0),
    ]
    kw = {"stage": "s", "metric": "score", "better": "lower", "setting": "lr", "within": "group"}
    with caplog.at_level("WARNING", logger="studies.engine.select"):
        assert best_setting(frame(rows), **kw) == {"h": 0.3, "k": 0.3}
    messages = [r.getMessage() for r in caplog.records]
    assert any("group = 'g'" in m and "nothing to choose" in m for m in messages)
    assert any("group = 'h' chosen without 1 of its 2 's' trials (failed)" in m for m in messages)
    assert not any("'k'" in m for m in messages)  # a diverged trial is evidence


def test_a_setting_that_diverged_on_a_seed_loses_to_one_that_never_did():
    rows = [
        ("s", "ok", "g", 0.3, 0.1),  # best on seed 0 ...
        ("s", "diverged", "g", 0.3, float("inf")),  # ... but blew up on seed 1
        ("s", "ok", "g", 0.1, 0.5),
        ("s", "ok", "g", 0.1, 0.6),
    ]
    kw = {"stage": "s", "metric": "score", "better": "lower", "setting": "lr", "within": "group"}
    assert best_setting(frame(rows), **kw) == {"g": 0.1}
    # When every setting diverged somewhere, the finished seeds still choose.
    rows[3] = ("s", "diverged", "g", 0.1, float("inf"))
    assert best_setting(frame(rows), **kw) == {"g": 0.3}
