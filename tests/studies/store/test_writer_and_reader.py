"""What the writer logs, the reader gives back: trial results for reuse, parent runs, the
experiment's note."""

from __future__ import annotations

import math

import pytest
from mlflow import MlflowClient

from studies.engine.spec import Arm, ClaimResult, TrialResult, TrialSpec
from studies.store.reader import load_trial_results
from studies.store.schema import PARENT_TAG, SUMMARY_KEYS_TAG
from studies.store.writer import StudyWriter, Tracker, experiment_note

CODE = {"git_commit": "abc123", "git_dirty": False, "dlkit_version": "0.1.0"}


def _spec(arm: str, seed: int) -> TrialSpec:
    config = {"optimizer": {"lr": 0.1, "betas": [0.9, 0.999]}, "arm": arm, "seed": seed}
    return TrialSpec("toy", "main", arm, seed, config, f"hash-{arm}-{seed}", {"speed": arm})


RESULTS = [
    TrialResult(
        history=[
            {"epoch": 0, "train_loss": 2.0, "val_loss": 2.1},
            {"epoch": 1, "train_loss": 1.0, "val_loss": math.inf},
            {"epoch": 2, "train_loss": math.nan, "val_loss": 0.5},
        ],
        summary={"final_loss": 0.5, "epochs_to_target": math.inf},
        artifacts={"weights": {"w": [1.0, 2.0]}},
    ),
    TrialResult(
        history=[{"epoch": 1, "train_loss": 3.0}, {"epoch": 2, "train_loss": math.inf}],
        summary={"final_loss": math.inf},
        status="diverged",
        diverged_epoch=2,
    ),
    TrialResult(status="failed"),
]


@pytest.fixture
def writer(store: str) -> StudyWriter:
    writer = StudyWriter(
        Tracker(store), "toy", question="Which is faster?", code=CODE, quick=True, command="cmd"
    )
    writer.open(reuse=True)
    return writer


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (inside dicts and lists too)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_logged_trials_read_back_as_the_same_results(writer):
    parent = writer.parent_for(
        "key", "a", stage="main", arm=Arm(), n_arms=1, reused_set="", has_pending=True
    )
    run_ids = [
        writer.log_trial(_spec("a", seed), result, parent, seconds=0.5, error=None)
        for seed, result in enumerate(RESULTS)
    ]
    client = writer.tracker.client
    runs = [client.get_run(run_id) for run_id in run_ids]
    assert runs[0].data.tags[SUMMARY_KEYS_TAG] == "final_loss,epochs_to_target"
    assert runs[0].data.tags[PARENT_TAG] == parent and runs[1].data.tags["diverged_epoch"] == "2"
    loaded = load_trial_results(client, runs)
    for run_id, result in zip(run_ids, RESULTS, strict=True):
        again = TrialResult(**loaded[run_id])
        assert _same(again.history, result.history)
        assert _same(again.summary, result.summary)
        assert (again.status, again.diverged_epoch) == (result.status, result.diverged_epoch)
    assert runs[2].info.status == "FAILED" and runs[0].info.status == "FINISHED"


def test_reopened_study_reuses_finished_trials_and_parent(writer, store):
    parent = writer.parent_for(
        "key", "a", stage="main", arm=Arm({"lr": 0.1}), n_arms=1, reused_set="", has_pending=True
    )
    run_id = writer.log_trial(_spec("a", 0), RESULTS[0], parent, seconds=0.1, error=None)
    writer.finish_parent(parent, RESULTS[:1], trial_set="set-1", aggregates=[("loss_mean", 1.0, 0)])
    again = StudyWriter(
        Tracker(store), "toy", question="Which is faster?", code=CODE, quick=True, command="cmd"
    )
    again.open(reuse=True)
    stored = again.finished_results(["hash-a-0", "hash-a-1"])
    assert list(stored) == ["hash-a-0"] and stored["hash-a-0"][0] == run_id
    kept = again.parent_for(
        "key", "a", stage="main", arm=Arm(), n_arms=1, reused_set="set-1", has_pending=False
    )
    assert kept == parent and parent not in again.open_runs
    parent_run = MlflowClient(store).get_run(parent)
    assert parent_run.data.params == {"lr": "0.1"}
    assert parent_run.data.metrics == {"loss_mean": 1.0}
    assert parent_run.data.tags["n_trials"] == "1" and parent_run.data.tags["trial_set"] == "set-1"


def test_experiment_note_lists_the_verdicts():
    class Claim:
        text = "a | b beats c"

    result = ClaimResult("supported", "mean difference", {"diff": 0.123456, "n": 12345}, "ok")
    note = experiment_note("Why?", [(Claim(), result)], "python -m studies run toy")
    assert note.startswith("**Question.** Why?")
    assert "| a \\| b beats c | **supported** |  | diff=0.1235, n=12345 |" in note
    assert note.endswith("`python -m studies run toy`._")
    sequential = ClaimResult(
        "inconclusive",
        "t-test",
        {},
        "undecided",
        seeds=20,
        look=4,
        seeds_needed=88,
        parts=({"label": "adam - sgd epochs", "mean": 0.34, "ci_lo": -0.2, "ci_hi": 0.89},),
    )
    note = experiment_note("Why?", [(Claim(), sequential)], "cmd")
    assert (
        "| **inconclusive** | 20 (look 4); ~88 needed | adam - sgd epochs = 0.34 [-0.2, 0.89] |"
        in (note)
    )


def test_key_number_names_a_part_its_label_does_not():
    from types import SimpleNamespace

    from studies.store.writer import key_number

    def part(name, label, mean):
        return {"name": name, "label": label, "mean": mean, "ci_lo": mean - 1, "ci_hi": mean + 1}

    two = SimpleNamespace(
        parts=[part("mnist1d", "adam - sgd width", 0.33), part("digits", "adam - sgd width", 0.0)]
    )
    assert key_number(two) == (
        "mnist1d: adam - sgd width = 0.33 [-0.67, 1.33]; digits: adam - sgd width = 0 [-1, 1]"
    )
    named = SimpleNamespace(parts=[part("a", "a/x - a/y", 1.0), part("b", "b/x - b/y", 2.0)])
    assert key_number(named).startswith("a/x - a/y = 1 ")
