"""Scale-out: the Dask executor (LocalCluster, dying workers, bad addresses) and a study logged
through an ``mlflow server`` over REST. Every address is on the loopback interface."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from mlflow import MlflowClient
from toy_studies import Arm, make_toy, read_calls

from studies import cli
from studies.engine import executors, registry
from studies.engine.executors import SCHEDULER_ENV, SchedulerUnavailableError, make_executor
from studies.store.writer import TrackingServerError

pytest.importorskip("distributed", reason="the Dask executor needs dask and distributed")

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def no_scheduler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start their own LocalCluster unless they set an address themselves."""
    # setenv first so teardown restores the variable whatever a test (or the CLI) did to it.
    monkeypatch.setenv(SCHEDULER_ENV, "")
    monkeypatch.delenv(SCHEDULER_ENV)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(study, uri: str, **kwargs):
    from studies.engine.runner import run_study

    return run_study(study, tracking_uri=uri, progress_bar=False, **kwargs)


def per_trial(outcome) -> dict:
    return {
        r.spec.key: (r.result.status, r.result.history, r.result.summary) for r in outcome.records
    }


def trial_runs(uri: str, study: str) -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(study)
    runs = client.search_runs([exp.experiment_id], "tags.kind = 'trial'", max_results=1000)
    return runs


def test_local_cluster_gives_the_local_executors_metrics(store, calls_file, tmp_path):
    study = make_toy(calls_file=calls_file, seeds=3)
    local = run(study, store, jobs=1, quick=True)
    other = f"sqlite:///{tmp_path / 'dask.db'}"
    dask = run(study, other, executor="dask", jobs=2, quick=True)
    assert dask.timing["jobs"] == 2 and dask.timing["n_run"] == len(local.records) == 4
    assert per_trial(dask) == per_trial(local)
    # Same configs, so the cache keys agree across executors too.
    assert sorted(r.spec.config_hash for r in dask.records) == sorted(
        r.spec.config_hash for r in local.records
    )
    assert sum(read_calls(calls_file).values()) == 8


def test_dask_prints_warnings_only(store, calls_file, capfd):
    import logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    cli.setup_logging()  # as the CLI runs: studies' progress lines, other libraries' warnings
    try:
        run(make_toy(calls_file=calls_file, seeds=2), store, executor="dask", jobs=2)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capfd.readouterr().err
    assert "started a Dask LocalCluster" in err  # the study's own line
    for chatter in ("Scheduler at", "Register worker", "Start Nanny", "Closing scheduler"):
        assert chatter not in err


def test_a_worker_killed_mid_trial_is_retried_and_every_trial_logged_once(
    store, calls_file, tmp_path
):
    trip = tmp_path / "trip"
    trip.touch()
    arms = {"only": Arm({"optimizer": {"lr": 0.1}})}
    study = make_toy(
        calls_file=calls_file, arms=arms, seeds=4, fail="exit", fail_seed=2, trip_file=str(trip)
    )
    outcome = run(study, store, executor="dask", jobs=2)
    assert not trip.exists()  # the trial did take its worker down
    assert {r.spec.seed: r.result.status for r in outcome.records} == dict.fromkeys(range(4), "ok")
    # Seed 2 ran twice (killed, then retried); it is logged once, like every other trial.
    assert read_calls(calls_file)["only/2"] == 2
    runs = trial_runs(store, "toy")
    assert sorted(int(r.data.tags["seed"]) for r in runs) == [0, 1, 2, 3]
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_a_trial_that_kills_every_worker_it_gets_is_failed_and_the_study_completes(
    store, calls_file
):
    arms = {"only": Arm({"optimizer": {"lr": 0.1}})}
    study = make_toy(calls_file=calls_file, arms=arms, seeds=3, fail="exit", fail_seed=1)
    outcome = run(study, store, executor="dask", jobs=2)
    assert {r.spec.seed: r.result.status for r in outcome.records} == {
        0: "ok",
        1: "failed",
        2: "ok",
    }
    # Tried on one worker, retried once on another, then given up.
    assert read_calls(calls_file)["only/1"] == 2
    runs = {int(r.data.tags["seed"]): r for r in trial_runs(store, "toy")}
    assert sorted(runs) == [0, 1, 2]
    assert runs[1].info.status == "FAILED" and "KilledWorker" in runs[1].data.tags["error"]
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("toy")
    summary = client.search_runs([exp.experiment_id], "tags.kind = 'summary'")[0]
    assert summary.info.status == "FINISHED" and summary.data.tags["n_failed"] == "1"


def test_bad_scheduler_address_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(SchedulerUnavailableError, match="cannot reach the Dask scheduler at"):
        make_executor("dask", None, address)
    with pytest.raises(ValueError, match="bad Dask scheduler address 'nonsense'"):
        make_executor("dask", None, "nonsense")
    with pytest.raises(ValueError, match="valid choices"):
        make_executor("ray", None)


@pytest.fixture
def toy_registry(monkeypatch: pytest.MonkeyPatch, calls_file: Path) -> None:
    studies = {"toy": make_toy(calls_file=calls_file, seeds=2)}
    monkeypatch.setattr(registry, "discover", lambda: dict(studies))
    monkeypatch.setattr(registry, "load_study", lambda name: studies[name])


def test_cli_bad_scheduler_and_unreachable_server_fail_before_any_trial(
    toy_registry, store, calls_file, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ["run", "toy", "--executor", "dask", "--scheduler", address, "--no-report"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert f"error: cannot reach the Dask scheduler at '{address}'" in err
    assert "Traceback" not in err
    assert SCHEDULER_ENV not in os.environ  # the address lasts for the command only

    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", down)
    assert cli.main(["run", "toy", "--jobs", "1", "--no-report"]) == 1
    err = capsys.readouterr().err
    assert f"error: the MLflow tracking server at {down} is unreachable" in err
    assert "Traceback" not in err
    assert read_calls(calls_file) == {}

    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "toy", "--scheduler", address])
    assert exc.value.code == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err


def test_unreachable_tracking_server_raises_before_training(calls_file):
    study = make_toy(calls_file=calls_file)
    with pytest.raises(TrackingServerError, match="unreachable"):
        run(study, f"http://127.0.0.1:{free_port()}", jobs=1)
    assert read_calls(calls_file) == {}


@pytest.fixture
def mlflow_server(tmp_path: Path, migrated_store: Path):
    """A light ``mlflow server`` (one worker, no job runner) on a free loopback port."""
    db = tmp_path / "server.db"
    shutil.copyfile(migrated_store, db)
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
    ]
    log_path = tmp_path / "server.log"
    uri = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log_file:
        # Its own session, so the server and its web worker can be ended together.
        proc = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urlopen(f"{uri}/health", timeout=1):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log_file.flush()
                        pytest.fail(f"mlflow server did not start:\n{log_path.read_text()}")
                    time.sleep(0.25)
            yield uri
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_study_logs_through_an_mlflow_server_and_the_report_builds(
    mlflow_server, calls_file, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    from reports import build_report

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    study = make_toy(calls_file=calls_file, seeds=2)
    outcome = run(study, mlflow_server, executor="dask", jobs=2, quick=True)
    assert outcome.tracking_uri == mlflow_server and outcome.timing["n_run"] == 4
    runs = trial_runs(mlflow_server, "toy")
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    client = MlflowClient(mlflow_server)
    artifacts = [a.path for a in client.list_artifacts(runs[0].info.run_id)]
    assert artifacts == ["weights.json"]

    html = build_report("toy", tracking_uri=mlflow_server, out_dir=tmp_path / "out").read_text()
    assert f"{mlflow_server}/#/experiments/" in html
    # The report was logged back through the server as an artifact of the summary run.
    exp = client.get_experiment_by_name("toy")
    summary = client.search_runs([exp.experiment_id], "tags.kind = 'summary'")[0]
    assert "report" in {a.path for a in client.list_artifacts(summary.info.run_id)}
