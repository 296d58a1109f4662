"""The runner on a throw-away SQLite store: layout, cache, failures, interrupts, concurrency."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow import MlflowClient
from toy_studies import Arm, make_staged, make_toy, read_calls

from studies.engine.spec import Plot, Study, TrialResult
from studies.store.schema import PARENT_TAG, flatten
from studies.store.writer import Tracker

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def runs_by_kind(uri: str, study: str) -> dict[str, list]:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(study)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    out: dict[str, list] = {"summary": [], "arm": [], "trial": [], "stage": []}
    for run in runs:
        out[run.data.tags["kind"]].append(run)
    return out


def run(study: Study, uri: str, **kwargs):
    from studies.engine.runner import run_study

    kwargs.setdefault("jobs", 1)
    return run_study(study, tracking_uri=uri, progress_bar=False, **kwargs)


def test_nested_layout_tags_params_and_metric_counts(store, calls_file):
    study = make_toy(calls_file=calls_file)
    outcome = run(study, store)
    client = MlflowClient(store)
    runs = runs_by_kind(store, "toy")
    assert len(runs["summary"]) == 1 and len(runs["arm"]) == 2 and len(runs["trial"]) == 6

    exp = client.get_experiment_by_name("toy")
    assert exp.tags["study"] == "toy" and exp.tags["question"] == study.question
    note = exp.tags["mlflow.note.content"]
    assert study.question in note and "fast arm reaches the target" in note

    parents = {r.data.tags["arm"]: r for r in runs["arm"]}
    assert set(parents) == {"slow", "fast"}
    for trial in runs["trial"]:
        tags = trial.data.tags
        parent = parents[tags["arm"]]
        assert tags[PARENT_TAG] == parent.info.run_id
        for key in ("study", "arm", "seed", "config_hash", "git_commit", "dlkit_version"):
            assert tags[key], key
        assert tags["status"] == "ok" and trial.info.status == "FINISHED"
        assert trial.info.run_name == f"{tags['arm']}/seed={tags['seed']}"
        assert tags["factor.speed"] == tags["arm"]
        config = {**study.base_config, "arm": tags["arm"], "seed": int(tags["seed"])}
        assert set(trial.data.params) == set(flatten(config))
        assert trial.data.params["optimizer.lr"] == ("0.05" if tags["arm"] == "slow" else "0.3")
        history = client.get_metric_history(trial.info.run_id, "train_loss")
        assert sorted(m.step for m in history) == list(range(1, 7))
        assert {"final_loss", "epochs_to_target", "val_loss"} <= set(trial.data.metrics)
        # At the top of the run's artifacts, not in an artifacts/artifacts/ folder.
        artifacts = [a.path for a in client.list_artifacts(trial.info.run_id)]
        assert artifacts == ["weights.json"]

    for parent in parents.values():
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["n_trials"] == "3" and parent.data.tags["n_failed"] == "0"
        assert parent.data.params == {"optimizer.lr": parent.data.params["optimizer.lr"]}
        for suffix in ("_mean", "_ci_lo", "_ci_hi"):
            steps = client.get_metric_history(parent.info.run_id, "train_loss" + suffix)
            assert sorted(m.step for m in steps) == list(range(1, 7))
            assert "final_loss" + suffix in parent.data.metrics
        assert (
            parent.data.metrics["final_loss_ci_lo"]
            <= parent.data.metrics["final_loss_mean"]
            <= parent.data.metrics["final_loss_ci_hi"]
        )

    summary = runs["summary"][0]
    assert summary.info.status == "FINISHED"
    assert summary.data.tags["command"] == "run_study('toy') from Python"
    names = {a.path for a in client.list_artifacts(summary.info.run_id)}
    assert {"claims.json", "study.json", "timing.json", "trials.json"} <= names
    local = client.download_artifacts(summary.info.run_id, "claims.json")
    claims = json.loads(Path(local).read_text())
    assert claims[0]["id"] == "fast_beats_slow"
    assert claims[0]["verdict"] == outcome.claims[0][1].verdict
    timing = outcome.timing
    assert 0 < timing["tracking_seconds"] < timing["wall_seconds"]
    assert timing["n_trials"] == 6 and timing["n_run"] == 6


def test_second_run_reuses_every_trial_and_force_reruns(store, calls_file):
    study = make_toy(calls_file=calls_file)
    first = run(study, store)
    assert sum(read_calls(calls_file).values()) == 6
    second = run(study, store)
    assert sum(read_calls(calls_file).values()) == 6
    assert all(r.reused for r in second.records)
    assert [r.run_id for r in second.records] == [r.run_id for r in first.records]
    assert second.claims[0][1] == first.claims[0][1]
    assert len(runs_by_kind(store, "toy")["arm"]) == 2

    forced = run(study, store, force=True)
    assert sum(read_calls(calls_file).values()) == 12
    assert not any(r.reused for r in forced.records)
    runs = runs_by_kind(store, "toy")
    assert len(runs["arm"]) == 2  # the old parents handed their children over and were deleted
    parent_ids = {r.info.run_id for r in runs["arm"]}
    assert {t.data.tags[PARENT_TAG] for t in runs["trial"]} == parent_ids
    # The forced runs supersede the old ones: one active run per (arm, seed), the new one.
    assert len(runs["trial"]) == 6 and len(runs["summary"]) == 3
    assert {t.info.run_id for t in runs["trial"]} == {r.run_id for r in forced.records}
    keys = [(t.data.tags["arm"], t.data.tags["seed"]) for t in runs["trial"]]
    assert len(set(keys)) == 6


def test_quick_and_seeds_change_the_trials(store, calls_file):
    study = make_toy(calls_file=calls_file)
    outcome = run(study, store, quick=True)
    assert len(outcome.records) == 4  # two arms x two quick seeds
    assert {r.spec.config["epochs"] for r in outcome.records} == {3}
    outcome = run(study, store, n_seeds=4)
    assert sorted({r.spec.seed for r in outcome.records}) == [0, 1, 2, 3]


def test_failing_trial_is_a_failed_run_and_the_study_completes(store, calls_file):
    study = make_toy(calls_file=calls_file, fail="raise", fail_seed=1)
    outcome = run(study, store)
    failed = [r for r in outcome.records if r.result.status == "failed"]
    assert {(r.spec.arm, r.spec.seed) for r in failed} == {("slow", 1), ("fast", 1)}
    client = MlflowClient(store)
    for record in failed:
        mlrun = client.get_run(record.run_id)
        assert mlrun.info.status == "FAILED"
        assert "toy trial told to fail on seed 1" in mlrun.data.tags["error"]
        text = Path(client.download_artifacts(record.run_id, "traceback.txt")).read_text()
        assert "Traceback" in text and "ValueError" in text
    runs = runs_by_kind(store, "toy")
    assert runs["summary"][0].info.status == "FINISHED"
    assert {r.data.tags["n_failed"] for r in runs["arm"]} == {"1"}
    assert outcome.claims[0][1].numbers["n"] == 2  # the failed seed has no pair

    # A rerun retries only the failed trials.
    run(study, store)
    assert read_calls(calls_file)["slow/1"] == 2 and read_calls(calls_file)["slow/0"] == 1


def test_killed_worker_fails_its_trial_only(store, calls_file):
    arms = {"only": Arm({"optimizer": {"lr": 0.1}})}
    study = make_toy(calls_file=calls_file, arms=arms, seeds=4, fail="exit", fail_seed=2)
    outcome = run(study, store, jobs=2)
    status = {r.spec.seed: r.result.status for r in outcome.records}
    assert status == {0: "ok", 1: "ok", 2: "failed", 3: "ok"}
    client = MlflowClient(store)
    dead = next(r for r in outcome.records if r.spec.seed == 2)
    assert "worker process" in client.get_run(dead.run_id).data.tags["error"]
    assert runs_by_kind(store, "toy")["summary"][0].info.status == "FINISHED"


def test_interrupt_then_rerun_runs_every_trial_exactly_once(store, calls_file, tmp_path):
    trip = tmp_path / "trip"
    trip.touch()
    arms = {"a": Arm({"optimizer": {"lr": 0.1}}), "b": Arm({"optimizer": {"lr": 0.2}})}
    study = make_toy(
        calls_file=calls_file,
        arms=arms,
        seeds=3,
        fail="interrupt",
        fail_seed=2,
        trip_file=str(trip),
    )
    with pytest.raises(KeyboardInterrupt):
        run(study, store)
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("toy")
    statuses = {r.info.status for r in client.search_runs([exp.experiment_id])}
    assert "RUNNING" not in statuses and "KILLED" in statuses

    outcome = run(study, store)
    assert not trip.exists()
    calls = read_calls(calls_file)
    assert calls["a/0"] == calls["a/1"] == 1  # finished before Ctrl-C: not rerun
    assert calls["a/2"] == 2  # interrupted, then run again
    assert all(calls[f"b/{s}"] == 1 for s in range(3))
    finished = [r for r in runs_by_kind(store, "toy")["trial"] if r.info.status == "FINISHED"]
    keys = sorted((r.data.tags["arm"], r.data.tags["seed"]) for r in finished)
    assert keys == [(a, str(s)) for a in "ab" for s in range(3)]
    assert len(outcome.records) == 6 and all(r.result.status == "ok" for r in outcome.records)
    parents = runs_by_kind(store, "toy")["arm"]
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}


def test_orphaned_running_runs_are_killed_at_the_next_start(store, calls_file):
    tracker = Tracker(store)
    exp_id = tracker.experiment("toy", {})
    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no such process
    run_id = tracker.client.create_run(
        exp_id,
        tags={
            "study": "toy",
            "kind": "arm",
            "arm": "slow",
            "driver": f"{socket.gethostname()}:{dead_pid}:abc",
        },
    ).info.run_id
    run(make_toy(calls_file=calls_file), store)
    assert tracker.client.get_run(run_id).info.status == "KILLED"


def test_diverging_arm_is_recorded_with_its_epoch(store, calls_file):
    arms = {"ok": Arm({"optimizer": {"lr": 0.1}}), "huge": Arm({"optimizer": {"lr": 50.0}})}
    study = make_toy(calls_file=calls_file, arms=arms, epochs=200)
    outcome = run(study, store)
    diverged = [r for r in outcome.records if r.spec.arm == "huge"]
    assert {r.result.status for r in diverged} == {"diverged"}
    client = MlflowClient(store)
    for record in diverged:
        mlrun = client.get_run(record.run_id)
        assert mlrun.info.status == "FINISHED"
        assert mlrun.data.tags["status"] == "diverged"
        assert int(mlrun.data.tags["diverged_epoch"]) == record.result.diverged_epoch > 1
    parent = next(r for r in runs_by_kind(store, "toy")["arm"] if r.data.tags["arm"] == "huge")
    assert parent.data.tags["n_diverged"] == "3"


def test_staged_study_tunes_then_reruns_the_best(store, calls_file):
    outcome = run(make_staged(calls_file=calls_file), store)
    stages = [r.spec.stage for r in outcome.records]
    assert stages == ["tune"] * 3 + ["final"] * 3
    final = [r for r in outcome.records if r.spec.stage == "final"]
    assert {r.spec.config["optimizer"]["lr"] for r in final} == {0.4}
    client = MlflowClient(store)
    local = client.download_artifacts(outcome.summary_run_id, "study.json")
    study_json = json.loads(Path(local).read_text())
    assert [s["name"] for s in study_json["stages"]] == ["tune", "final"]
    assert study_json["arms"]["best"]["stage"] == "final"
    assert study_json["seeds"] == [0, 1, 2]
    runs = runs_by_kind(store, "toy_staged")
    (tune,) = [
        r
        for r in client.search_runs([runs["arm"][0].info.experiment_id])
        if r.data.tags["kind"] == "stage"
    ]
    assert tune.info.run_name == "tune" and tune.data.tags["n_trials"] == "3"
    nested = [t for t in runs["trial"] if t.data.tags[PARENT_TAG] == tune.info.run_id]
    assert len(nested) == 3 and not tune.data.metrics
    (best,) = runs["arm"]
    assert best.data.tags["arm"] == "best" and "final_loss_mean" in best.data.metrics
    again = run(make_staged(calls_file=calls_file), store, n_seeds=5)
    assert sum(not r.reused for r in again.records) == 2  # only the new seeds 3 and 4


def test_bad_overrides_give_clear_errors(calls_file):
    with pytest.raises(ValueError, match=r"'optimizer\.lrr'.*optimizer\.lr"):
        make_toy(calls_file=calls_file, arms={"typo": {"optimizer": {"lrr": 0.1}}})
    with pytest.raises(ValueError, match="'optimizer' must be a dict"):
        make_toy(calls_file=calls_file, arms={"flat": {"optimizer": 0.1}})
    with pytest.raises(ValueError, match="reserved"):
        make_toy(calls_file=calls_file, arms={"seeded": {"seed": 3}})
    with pytest.raises(ValueError, match="needs a trial function"):
        Study(name="x", question="?", base_config={}, arms={"a": {}})
    with pytest.raises(ValueError, match="unknown plot kind 'pie'; valid choices: .*sweep"):
        Plot("pie", "Share")
    with pytest.raises(ValueError, match="diverged_epoch"):
        TrialResult(status="diverged")
    with pytest.raises(ValueError, match="unknown trial status 'done'"):
        TrialResult(status="done")


def test_bad_stage_arms_fail_before_any_trial(store, calls_file):
    from studies import Stage

    study = Study(
        name="toy",
        question="?",
        base_config=make_toy(calls_file=calls_file).base_config,
        trial=make_toy().trial,
        stages=[Stage("only", lambda previous: {"x": {"epochs": 2, "epochz": 3}})],
    )
    with pytest.raises(ValueError, match="epochz"):
        run(study, store)
    assert sum(read_calls(calls_file).values()) == 0


def test_two_studies_at_once_on_one_sqlite_file(tmp_path):
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(HERE.parent)!r})
        from toy_studies import Arm, make_toy
        from studies.engine.runner import run_study
        name = sys.argv[1]
        arms = {{f"a{{i}}": Arm({{"optimizer": {{"lr": 0.01 * (i + 1)}}}}) for i in range(4)}}
        study = make_toy(name, arms=arms, seeds=4)
        outcome = run_study(study, tracking_uri={uri!r}, jobs=1, progress_bar=False)
        print(len(outcome.records), outcome.timing["lock_retries"])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, name],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("toy_a", "toy_b")
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.split()[0] == "16"
        assert "database is locked" not in err
    for name in ("toy_a", "toy_b"):
        runs = runs_by_kind(uri, name)
        assert len(runs["trial"]) == 16 and len(runs["arm"]) == 4
        assert {r.info.status for r in runs["trial"]} == {"FINISHED"}


def test_same_study_twice_at_once_is_refused(store, calls_file):
    from studies.store.writer import StudyBusyError

    tracker = Tracker(store)
    with tracker.study_lock("toy"), pytest.raises(StudyBusyError, match="already running"):
        run(make_toy(calls_file=calls_file), store)


def test_tracker_retries_a_locked_store_and_nothing_else(store):
    import sqlite3

    tracker = Tracker(store)
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("write failed") from sqlite3.OperationalError("database is locked")
        return "ok"

    assert tracker.call(flaky) == "ok"
    assert len(attempts) == 3 and tracker.retries == 2

    def broken():
        attempts.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        tracker.call(broken)
    assert len(attempts) == 4 and tracker.retries == 2
