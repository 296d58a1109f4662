"""The stock MLflow UI as a new user meets it: ``studies/store/ui.py`` (what ``make mlflow-ui``
runs) serves a fresh store holding a toy study; headless Chromium, in a fresh profile, opens
the address the UI prints and must land on the study's runs table — every arm a row, the
Dataset column filled. A screenshot is left in the test's tmp dir; stopping the UI must leave
no server process behind."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mlflow import MlflowClient
from toy_studies import make_toy

from studies.engine import runner
from studies.paths import REPO_ROOT
from studies.store import ui

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the MLflow UI browser test needs headless Chromium (Debian package 'chromium'; "
    ".ci/run installs it)",
)
STUDY = "toy_browser"
READY_SECONDS = 60.0
RUN_NAME_COLUMN = "attributes.`Run Name`"
DATASET_COLUMN = "attributes.`Dataset`"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class RunsTable(HTMLParser):
    """The text of each cell of MLflow's runs table (an ag-grid): ``{row index: {col: text}}``.

    ag-grid draws a row once per column block (pinned and scrolled), each ``role="row"`` with
    the same ``row-index``; cells carry ``col-id``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None, str | None]] = []
        self.cells: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        attrs = dict(attrs)
        row = attrs.get("row-index") if attrs.get("role") == "row" else None
        col = attrs.get("col-id") if attrs.get("role") == "gridcell" else None
        self.stack.append((tag, row, col))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        row = next((r for _, r, _ in reversed(self.stack) if r is not None), None)
        col = next((c for _, _, c in reversed(self.stack) if c is not None), None)
        if row is not None and col is not None and data.strip():
            cell = self.cells.setdefault(row, {})
            cell[col] = (cell.get(col, "") + " " + data.strip()).strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def _server_processes(port: int) -> list[int]:
    """Pids of live processes started for ``--port PORT`` (the server and its worker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--port" in args and str(port).encode() in args:
            pids.append(int(entry.name))
    return pids


def test_the_printed_address_opens_the_runs_table_with_every_arm_and_its_dataset(store, tmp_path):
    started = time.monotonic()
    study = make_toy(STUDY, seeds=2)
    runner.run_study(study, tracking_uri=store, jobs=1, progress_bar=False)
    client = MlflowClient(store)
    experiment_id = client.get_experiment_by_name(STUDY).experiment_id
    (trial,) = client.search_runs(
        [experiment_id], "tags.kind = 'trial' and tags.arm = 'fast' and tags.seed = '0'"
    )
    (dataset,) = [i.dataset for i in trial.inputs.dataset_inputs]

    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "studies" / "store" / "ui.py"), "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        address = None
        deadline = time.monotonic() + READY_SECONDS
        while address is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, "the UI exited:\n" + "".join(output)
                continue
            output.append(line)
            words = line.split()
            if words[:1] == [STUDY]:
                address = words[1]
        assert address, f"no address for {STUDY} within {READY_SECONDS} s:\n" + "".join(output)
        assert address == ui.experiment_url(f"http://127.0.0.1:{port}", experiment_id)

        shot = tmp_path / "mlflow-ui.png"
        browsed = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",  # a fresh profile: a new user
                "--window-size=1280,900",
                "--virtual-time-budget=20000",
                f"--screenshot={shot}",
                "--dump-dom",
                address,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert browsed.returncode == 0, browsed.stderr[-2000:]
        assert shot.is_file() and shot.stat().st_size > 10_000

        table = RunsTable()
        table.feed(browsed.stdout)
        # A run name cell starts with the run's colour swatch (hidden text "#rrggbb").
        rows = {
            re.sub(r"^#[0-9a-fA-F]{6} ", "", cells.get(RUN_NAME_COLUMN, "")): cells
            for cells in table.cells.values()
        }
        names = set(rows) - {""}
        arms = set(study.stages[0].arms)
        assert arms <= names, f"runs table rows {sorted(names)}, arms {sorted(arms)}"
        for arm in arms:
            text = rows[arm].get(DATASET_COLUMN, "")
            assert f"{dataset.name} ({dataset.digest})" in text, (arm, text)
            assert "train" in text.split(), (arm, text)  # the context tag (shown "Train")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends it
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the UI did not stop within 30 s of Ctrl-C")
    time.sleep(0.5)
    assert _server_processes(port) == [], "server processes left after Ctrl-C"
    print(f"screenshot: {shot}; {time.monotonic() - started:.1f} s")
