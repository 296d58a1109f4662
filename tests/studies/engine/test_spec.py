"""The study spec: TrialResult.from_history and declared metric directions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlkit import train
from studies.engine.spec import Study, TrialResult


def history(records, diverged_epoch=None):
    h = train.History(records)
    if diverged_epoch is not None:
        h.diverged, h.diverged_epoch = True, diverged_epoch
    return h


def test_from_history_of_a_finished_run_keeps_every_record():
    h = history([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}])
    result = TrialResult.from_history(h, {"final": 0.4}, artifacts={"a": {"x": 1}})
    assert result.status == "ok" and result.diverged_epoch is None
    assert result.history == list(h) and result.history[0] is not h[0]
    assert result.summary == {"final": 0.4} and result.artifacts == {"a": {"x": 1}}


def test_from_history_of_a_diverged_run_records_where():
    h = history([{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": math.nan}], 2)
    result = TrialResult.from_history(h, records=[{"epoch": 1, "loss": 0.5}])
    assert result.status == "diverged" and result.diverged_epoch == 2
    assert result.history == [{"epoch": 1, "loss": 0.5}] and result.summary == {}


def trial(config):
    return TrialResult()


def test_metric_directions_are_checked_and_reach_study_json():
    study = Study(
        "s",
        "q?",
        {"x": 1},
        arms={"a": {}},
        trial=trial,
        metrics={"acc": "higher", "loss": "lower", "time": None},
    )
    as_json = study.to_json(quick=False, stage_arms={}, stage_seeds={})
    assert as_json["metrics"] == {"acc": "higher", "loss": "lower"}
    with pytest.raises(ValueError, match="direction of metric 'acc' 'up'"):
        Study("s", "q?", {"x": 1}, arms={"a": {}}, trial=trial, metrics={"acc": "up"})


def test_summary_key_equal_to_a_history_key_is_refused():
    history = [{"epoch": 1, "val_loss": 0.5, "val_acc": 0.8}]
    with pytest.raises(ValueError, match=r"\['val_acc', 'val_loss'\]"):
        TrialResult(history=history, summary={"val_loss": 0.5, "val_acc": 0.8, "test": 1.0})
    # Distinct keys (and "epoch" only in the history) are fine.
    TrialResult(history=history, summary={"final_val_loss": 0.5, "epoch": 1.0})


def test_an_ok_result_with_a_non_finite_loss_is_recorded_diverged():
    history = [
        {"epoch": 1, "train_loss": 0.5, "val_acc": 0.7},
        {"epoch": 2, "train_loss": 0.4, "val_loss": math.inf},
        {"epoch": 3, "train_loss": math.nan},
    ]
    result = TrialResult(history=history, summary={"final": 1.0})
    assert result.status == "diverged" and result.diverged_epoch == 2
    # A non-finite value of another metric is the trial's business, not a divergence.
    fine = TrialResult(history=[{"epoch": 1, "train_loss": 0.5, "steps_to_target": math.inf}])
    assert fine.status == "ok"
    failed = TrialResult(history=history, status="failed")
    assert failed.status == "failed"


def test_data_inputs_digest_the_arrays_per_split():
    from studies.engine.spec import data_inputs

    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([0, 1, 0, 1, 0, 1])
    entries = data_inputs("toy", "make_toy()", train=(X[:4], y[:4]), test=(X[4:], y[4:]))
    assert [e["context"] for e in entries] == ["train", "test"]
    assert entries[0]["n"] == 4 and entries[0]["shape"] == [4, 2]
    assert {e["name"] for e in entries} == {"toy"} and entries[0]["source"] == "make_toy()"
    again = data_inputs("toy", "make_toy()", train=(X[:4].copy(), y[:4].copy()))
    assert again[0]["digest"] == entries[0]["digest"]  # the same rows, the same digest
    assert entries[1]["digest"] != entries[0]["digest"]
    as_float64 = data_inputs("toy", "x", train=(X[:4].astype(np.float64), y[:4]))
    assert as_float64[0]["digest"] != entries[0]["digest"]
    TrialResult(datasets=entries)  # accepted as they are
