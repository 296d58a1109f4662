"""Fault injection: kill a worker and then the driver mid-study, rerun, and find the store
whole — no RUNNING run, one active run per trial, every trial present, the report built.

Marked ``faults``; it runs in CI with the rest of the suite (``-m "not faults"`` skips it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

REPO = Path(__file__).resolve().parents[2]
N_ARMS, N_SEEDS = 3, 4

STUDY_MODULE = textwrap.dedent(
    f"""
    import os, time
    from pathlib import Path
    import numpy as np
    from studies.engine.spec import Study, TrialResult, Plot
    from studies.stats import SequentialDesign

    def trial(config):
        marks = Path(config["marks"])
        (marks / f"{{config['arm']}}-{{config['seed']}}-{{os.getpid()}}").touch()
        time.sleep(float(os.environ.get("FAULTY_SLEEP", "0")))  # not in the config: no rehash
        rng = np.random.default_rng(config["seed"])
        loss = float(rng.random()) + config["offset"]
        history = [{{"epoch": e, "train_loss": loss / e}} for e in (1, 2, 3)]
        return TrialResult(history=history, summary={{"final_loss": loss / 3}})

    def make(marks):
        return Study(
            name="faulty",
            question="Does the store survive a killed worker and a killed driver?",
            base_config={{"marks": str(marks), "offset": 0.0}},
            arms={{f"arm{{i}}": {{"offset": float(i)}} for i in range({N_ARMS})}},
            design=SequentialDesign(looks=({N_SEEDS},)),
            trial=trial,
            plots=[Plot("learning_curves", "Loss", metric="train_loss")],
        )
    """
)

DRIVER = textwrap.dedent(
    """
    import sys
    import faulty_study
    from studies.engine.runner import run_study

    marks, uri = sys.argv[1], sys.argv[2]
    run_study(faulty_study.make(marks), tracking_uri=uri, jobs=2, progress_bar=False)
    """
)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.faults
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_worker_and_driver_then_rerun_leave_a_whole_store(tmp_path):
    (tmp_path / "faulty_study.py").write_text(STUDY_MODULE)
    marks = tmp_path / "marks"
    marks.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    env.pop("MLFLOW_TRACKING_URI", None)

    def started() -> list[tuple[str, int]]:
        return [(m.name.rsplit("-", 1)[0], int(m.name.rsplit("-", 1)[1])) for m in marks.iterdir()]

    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(marks), uri], env={**env, "FAULTY_SLEEP": "1.5"}
    )
    try:
        # A worker dies mid-trial: the executor reruns what it had in flight.
        wait_for(lambda: len(started()) >= 2, 180, "the first trials to start")
        victim = started()[0][1]
        os.kill(victim, signal.SIGKILL)
        # Then the driver dies mid-study, with trials logged and others in flight.
        wait_for(lambda: len(started()) >= 6, 180, "trials after the killed worker")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert len({name for name, _ in started()}) < N_ARMS * N_SEEDS, "killed too late"

    # The rerun resumes: finished trials are reused, the rest run, orphans are closed.
    rerun = subprocess.run(
        [sys.executable, "-c", DRIVER, str(marks), uri],
        env={**env, "FAULTY_SLEEP": "0.05"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    client = MlflowClient(uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "faulty"]
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    trials = [r for r in runs if r.data.tags.get("kind") == "trial"]
    keys = Counter((r.data.tags["arm"], r.data.tags["seed"]) for r in trials)
    assert not [k for k, n in keys.items() if n > 1], f"duplicate active trial runs: {keys}"
    expected = {(f"arm{i}", str(s)) for i in range(N_ARMS) for s in range(N_SEEDS)}
    assert set(keys) == expected
    assert all(r.info.status == "FINISHED" for r in trials)

    report = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, reports; reports.build_report('faulty', tracking_uri=sys.argv[1], "
            "out_dir=__import__('pathlib').Path(sys.argv[2]))",
            uri,
            str(tmp_path / "out"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    html = (tmp_path / "out" / "faulty.html").read_text(encoding="utf-8")
    assert "Does the store survive" in html and "arm2" in html
