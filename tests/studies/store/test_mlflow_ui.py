"""What the MLflow UI shows of a study: the model-training view's tag, dataset inputs on trial
and arm runs, the report's figures on the summary run, and the light server's addresses and
command line (the browser itself: tests/reports/test_mlflow_browser.py)."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from toy_studies import make_toy

from reports import build_report
from studies.engine import runner
from studies.engine.spec import Arm, TrialResult, TrialSpec
from studies.store import ui
from studies.store.schema import DATASET_CONTEXT_TAG, EXPERIMENT_KIND, EXPERIMENT_KIND_TAG
from studies.store.writer import StudyWriter, Tracker, derived_datasets

CODE = {"git_commit": "abc123", "git_dirty": False, "dlkit_version": "0.1.0"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _inputs(client: MlflowClient, run_id: str) -> list[tuple[str, str, str, str]]:
    """``(name, digest, source name, context)`` of a run's dataset inputs, sorted."""
    out = []
    for item in client.get_run(run_id).inputs.dataset_inputs:
        source = json.loads(item.dataset.source)["tags"]["mlflow.source.name"]
        context = {t.key: t.value for t in item.tags}[DATASET_CONTEXT_TAG]
        out.append((item.dataset.name, item.dataset.digest, source, context))
    return sorted(out)


def test_derived_dataset_names_the_loader_call_and_hashes_the_data_section():
    config = {"data": {"name": "mnist1d", "seed": 0, "val_fraction": 0.1}, "seed": 3}
    (entry,) = derived_datasets("init", config)
    assert entry["name"] == "mnist1d" and entry["context"] == "train"
    assert entry["source"] == "dlkit.data.load('mnist1d', seed=0); val_fraction=0.1"
    assert len(entry["digest"]) == 8
    # The trial seed is not part of the data: same data section, same digest.
    assert derived_datasets("init", {**config, "seed": 4}) == [entry]
    other = {"data": {"name": "mnist1d", "seed": 1, "val_fraction": 0.1}}
    assert derived_datasets("init", other)[0]["digest"] != entry["digest"]
    # No data section: the study names the data, its trial function makes it.
    (bare,) = derived_datasets("toy", {"epochs": 3})
    assert bare["name"] == "toy" and "study toy" in bare["source"]
    (unnamed,) = derived_datasets("toy", {"data": {"n_train": 300}})
    assert unnamed["name"] == "toy" and unnamed["source"] == 'study toy, data {"n_train":300}'


def test_a_dataset_entry_without_its_keys_is_refused():
    with pytest.raises(ValueError, match="digest"):
        TrialResult(datasets=[{"name": "x", "source": "s", "context": "train"}])


def test_writer_tags_the_view_and_logs_datasets_on_trials_and_their_arm(store):
    writer = StudyWriter(
        Tracker(store), "toy", question="Which?", code=CODE, quick=True, command="cmd"
    )
    writer.open(reuse=True)
    client = MlflowClient(store)
    tags = client.get_experiment(writer.experiment_id).tags
    assert tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND

    arm = Arm({"optimizer": {"lr": 0.1}}, factors={"speed": "fast"})
    parent = writer.parent_for(
        "p-fast", "fast", stage="main", arm=arm, n_arms=1, reused_set="", has_pending=True
    )
    data = {"name": "digits", "seed": 0}
    derived = TrialSpec("toy", "main", "fast", 0, {"data": data, "seed": 0}, "h0", {})
    own = [
        {"name": "digits", "digest": "aa11", "source": "sklearn", "context": "train", "n": 5},
        {"name": "digits", "digest": "bb22", "source": "sklearn", "context": "test"},
    ]
    named = TrialSpec("toy", "main", "fast", 1, {"data": data, "seed": 1}, "h1", {})
    results = [TrialResult(summary={"loss": 1.0}), TrialResult(summary={"loss": 2.0}, datasets=own)]
    first = writer.log_trial(derived, results[0], parent, seconds=0.1, error=None)
    second = writer.log_trial(named, results[1], parent, seconds=0.1, error=None)
    writer.finish_parent(parent, results, trial_set="s")

    digest = derived_datasets("toy", derived.config)[0]["digest"]
    call = "dlkit.data.load('digits', seed=0)"
    assert _inputs(client, first) == [("digits", digest, call, "train")]
    assert _inputs(client, second) == [
        ("digits", "aa11", "sklearn", "train"),
        ("digits", "bb22", "sklearn", "test"),
    ]
    # The arm's run lists every dataset of its trials once: the runs table shows it collapsed.
    assert _inputs(client, parent) == sorted(_inputs(client, first) + _inputs(client, second))
    inputs = client.get_run(second).inputs.dataset_inputs
    (profiled,) = [i.dataset for i in inputs if i.dataset.digest == "aa11"]
    assert json.loads(profiled.profile) == {"num_rows": 5}


def test_the_summary_run_carries_the_report_and_one_png_per_plot(store, tmp_path):
    study = make_toy("toy_fig", seeds=2)
    runner.run_study(study, tracking_uri=store, jobs=1, progress_bar=False)
    build_report("toy_fig", tracking_uri=store, out_dir=tmp_path)
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("toy_fig")
    (summary,) = client.search_runs([exp.experiment_id], "tags.kind = 'summary'")
    run_id = summary.info.run_id
    assert [a.path for a in client.list_artifacts(run_id, "report")] == ["report/toy_fig.html"]
    figures = [a.path for a in client.list_artifacts(run_id, "figures")]
    assert figures == ["figures/01-loss.png"]  # the toy study draws one plot, titled "Loss"
    local = client.download_artifacts(run_id, figures[0], str(tmp_path / "dl"))
    with open(local, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC
    # Every trial and arm run of the study names its data.
    for run in client.search_runs([exp.experiment_id], "tags.kind != 'summary'"):
        assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["toy_fig"]


def test_addresses_open_the_runs_table_in_the_model_training_view():
    base = "http://127.0.0.1:5123/"
    assert ui.experiment_url(base, "7") == (
        "http://127.0.0.1:5123/#/experiments/7/runs?workflowType=machine_learning"
    )
    assert ui.run_url(base, "7", "abc") == (
        "http://127.0.0.1:5123/#/experiments/7/runs/abc?workflowType=machine_learning"
    )
    assert ui.local_base(5001) == "http://127.0.0.1:5001"


def test_the_server_is_local_with_one_worker_and_no_job_runner(monkeypatch):
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")
    command, env = ui.server_command("sqlite:////tmp/x.db", 5123)
    assert command[1] == "server"
    pairs = dict(zip(command[2::2], command[3::2], strict=False))
    assert pairs["--host"] == "127.0.0.1" and pairs["--port"] == "5123"
    assert pairs["--workers"] == "1" and pairs["--backend-store-uri"] == "sqlite:////tmp/x.db"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
