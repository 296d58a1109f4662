"""Pool workers exit soon after their driver is killed (SIGKILL: no clean-up runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

DRIVER = """
import os, sys, time
from pathlib import Path
from studies.engine.executors import LocalExecutor, Task
from studies.engine.spec import TrialResult

out = Path(sys.argv[1])

def trial(config):
    (out / f"worker-{os.getpid()}").touch()
    time.sleep(120)
    return TrialResult()

tasks = [Task(i, trial, {"seed": i}) for i in range(4)]
for outcome in LocalExecutor(2).run(tasks):
    pass
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped) is gone for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def run_script(script: str, cwd: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run ``script`` in a fresh Python; it must succeed and print ``name value`` lines."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out, dict(line.split() for line in out.stdout.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_driver_is_killed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path)], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("worker-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
        assert len(workers) == 2, "the pool never started two workers"
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their driver by 20 s"


STOPPER = """
import os, sys, time
import psutil
from studies.engine.executors import LocalExecutor, Task, stop_local_pool
from studies.engine.spec import TrialResult

def trial(config):
    time.sleep(0.5)  # long enough that both workers take tasks
    return TrialResult(summary={"pid": float(os.getpid())})

me = psutil.Process()
stop_local_pool()  # no pool yet: must not start one
print("before", len(me.children(recursive=True)))
outcomes = list(LocalExecutor(2).run([Task(i, trial, {"seed": i}) for i in range(4)]))
pids = {int(o.result.summary["pid"]) for o in outcomes}
print("workers", len(pids))
stop_local_pool()
print("alive", sum(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stop_local_pool_ends_the_workers_and_starts_none(tmp_path):
    out, lines = run_script(STOPPER, tmp_path)
    assert lines == {"before": "0", "workers": "2", "alive": "0"}
    assert "Traceback" not in out.stderr


LATE_WARM_UP = """
import threading, time
import joblib, psutil
from studies.engine.executors import LocalExecutor, stop_local_pool

call = joblib.Parallel.__call__

def late_call(self, iterable):  # the warm-up submits only after stop_local_pool has begun
    time.sleep(1.0)
    return call(self, iterable)

joblib.Parallel.__call__ = late_call
me = psutil.Process()
LocalExecutor(2).warm_up(["json"])
time.sleep(0.2)
stop_local_pool()
print("warming", sum(t.name == "pool-warm-up" for t in threading.enumerate()))
print("workers", sum(
    c.status() != "zombie" and "LokyProcess" in " ".join(c.cmdline())
    for c in me.children(recursive=True)
))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stop_local_pool_waits_for_a_warm_up_in_flight(tmp_path):
    # A run that fails while opening its store stops the pool while the warm-up may still be
    # submitting; shutting the pool down under it deadlocked loky (a CI run hung there).
    _, lines = run_script(LATE_WARM_UP, tmp_path)
    assert lines == {"warming": "0", "workers": "0"}
