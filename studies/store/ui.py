"""``make mlflow-ui``: the stock MLflow UI over a study store, light and landing on the runs.

``python studies/store/ui.py`` starts ``mlflow server`` for one local user — bound to
127.0.0.1, one uvicorn worker and no job runner (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``:
no huey consumers, which only GenAI jobs use) — waits until ``/health`` answers, then prints
one address per study experiment (:func:`experiment_url`) and serves until Ctrl-C, when it
stops the server's whole process group. Against an ``http(s)://`` tracking URI (a running
tracking server) it starts nothing and prints that server's addresses.

MLflow 3 opens an experiment in its GenAI view (traces, sessions, judges) unless told
otherwise: its web app takes the view from the ``workflowType`` URL parameter (else the
browser's last choice, default ``genai``), so every address here carries
``workflowType=machine_learning`` and names the ``runs`` tab. The writer also tags each study
experiment ``mlflow.experimentKind = custom_model_development``
(``studies.store.schema.EXPERIMENT_KIND_TAG``), which MLflow's UI reads instead where its
workflow switch is turned off (in MLflow 3.17 it is on).

Standard library only, run as a script (``python studies/store/ui.py``) so the wrapper
process that waits for Ctrl-C stays small (about 20 MB, no ``studies`` import); the reports
import :func:`experiment_url` and :func:`run_url` for their "MLflow runs" links.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_PORT",
    "HOST",
    "VIEW_QUERY",
    "experiment_url",
    "list_studies",
    "local_base",
    "main",
    "run_url",
    "server_command",
]

HOST = "127.0.0.1"
DEFAULT_PORT = 5000
#: URL parameters (inside the ``#`` route) that open the model-training view.
VIEW_QUERY = "workflowType=machine_learning"
#: The experiment tag naming a study (``studies.store.schema.STUDY_TAG``; not imported, so this
#: wrapper does not import the package's heavier modules).
STUDY_TAG = "study"
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0


def local_base(port: int | None = None) -> str:
    """``http://127.0.0.1:PORT`` of ``make mlflow-ui`` (``MLFLOW_PORT``, default 5000)."""
    if port is None:
        port = int(os.environ.get("MLFLOW_PORT") or DEFAULT_PORT)
    return f"http://{HOST}:{port}"


def experiment_url(base: str, experiment_id: str) -> str:
    """The address that opens the experiment's runs table in the model-training view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{VIEW_QUERY}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    """The address of one run's page, in the model-training view."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{VIEW_QUERY}"


def server_command(uri: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and environment of the light local UI.

    Parameters
    ----------
    uri : str
        The backend store URI (``sqlite:///...``).
    port : int

    Returns
    -------
    command : list of str
    env : dict
        The current environment plus ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` and the
        telemetry opt-out.
    """
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow) if mlflow.exists() else "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        # The UI polls the server: one access-log line per request would bury the addresses.
        "--uvicorn-opts",
        "--no-access-log",
    ]
    env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    return command, env


def list_studies(base: str, timeout: float = 10.0) -> list[tuple[str, str]]:
    """``(name, experiment id)`` of the active experiments tagged as studies, by name.

    Reads the server's REST API, so it works for any store the server serves.
    """
    studies, token = [], None
    while True:
        body: dict = {"max_results": 1000, "view_type": "ACTIVE_ONLY"}
        if token:
            body["page_token"] = token
        request = urllib.request.Request(
            f"{base.rstrip('/')}/api/2.0/mlflow/experiments/search",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            page = json.load(response)
        for exp in page.get("experiments", []):
            tags = {t["key"]: t.get("value", "") for t in exp.get("tags", [])}
            if STUDY_TAG in tags:
                studies.append((exp["name"], exp["experiment_id"]))
        token = page.get("next_page_token")
        if not token:
            return sorted(studies)


def print_addresses(base: str, out=None) -> int:
    """Print one line per study: its name and the address of its runs table; return how many."""
    out = out or sys.stdout
    studies = list_studies(base)
    if not studies:
        print(f"No study in this store yet: run one (make study-NAME), then open {base}", file=out)
        return 0
    width = max(len(name) for name, _ in studies)
    print("Studies (each address opens the study's runs table, one row per arm):", file=out)
    for name, exp_id in studies:
        print(f"  {name:<{width}}  {experiment_url(base, exp_id)}", file=out)
    out.flush()
    return len(studies)


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``STOP_TIMEOUT``."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The group leader is gone; make sure no worker outlives it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def serve(uri: str, port: int) -> int:
    """Start the server in its own process group, print the addresses, serve until stopped.

    Returns
    -------
    int
        The exit status: 0 after Ctrl-C or SIGTERM, the server's own if it exits by itself.
    """
    base = local_base(port)
    if _healthy(base):
        print(f"Something already answers on {base}: set MLFLOW_PORT to a free port.")
        return 1
    command, env = server_command(uri, port)
    print(f"MLflow UI for {uri} on {base} (one worker, no job runner); Ctrl-C stops it.")
    sys.stdout.flush()
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        if stopping:  # a second Ctrl-C while stopping: let the stop finish
            return
        stopping = True
        raise KeyboardInterrupt

    # Set explicitly: a process started in the background inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    proc = None
    try:
        proc = subprocess.Popen(command, env=env, start_new_session=True)
        start = time.monotonic()
        while not _healthy(base):
            if proc.poll() is not None:
                print(f"mlflow server exited with status {proc.returncode}", file=sys.stderr)
                return proc.returncode or 1
            if time.monotonic() - start > READY_TIMEOUT:
                print(f"mlflow server did not answer {base}/health in {READY_TIMEOUT:.0f} s")
                return 1
            time.sleep(0.2)
        print(f"Ready after {time.monotonic() - start:.1f} s.")
        print_addresses(base)
        return proc.wait()
    except KeyboardInterrupt:
        stopping = True
        return 0
    finally:
        stopping = True
        if proc is not None:
            if proc.poll() is None:
                print("Stopping the MLflow UI ...", file=sys.stderr)
            _stop(proc)


def main(argv: Sequence[str] | None = None) -> int:
    """``python studies/store/ui.py [--port P] [--uri URI]``."""
    parser = argparse.ArgumentParser(
        prog="python studies/store/ui.py",
        description="Serve the stock MLflow UI over the study store, light, on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=None, help="default: MLFLOW_PORT or 5000")
    parser.add_argument("--uri", default=None, help="default: MLFLOW_TRACKING_URI or ./mlflow.db")
    args = parser.parse_args(argv)
    uri = args.uri or os.environ.get("MLFLOW_TRACKING_URI") or _default_uri()
    if uri.startswith(("http://", "https://")):
        print(f"{uri} is a running tracking server: its UI is already there.")
        try:
            print_addresses(uri)
        except (OSError, urllib.error.URLError) as err:
            print(f"{uri} does not answer ({err}); start it first (make cluster-up).")
            return 1
        return 0
    port = args.port if args.port is not None else int(os.environ.get("MLFLOW_PORT") or 0)
    return serve(uri, port or DEFAULT_PORT)


def _default_uri() -> str:
    """``sqlite:///<repo root>/mlflow.db``, as ``studies.store._client.default_tracking_uri``.

    The root is found from this file, not imported: importing the ``studies`` package loads
    the engine (about 100 MB and 2 s), which this wrapper process does not need.
    """
    return f"sqlite:///{Path(__file__).resolve().parents[2] / 'mlflow.db'}"


if __name__ == "__main__":
    sys.exit(main())
