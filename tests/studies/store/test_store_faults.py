"""A store MLflow cannot use is one line naming the URI and what is wrong, within seconds,
for ``run`` and ``report`` alike — never a traceback, never minutes of retries."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from studies import cli
from studies.store._client import (
    StoreError,
    TrackingServerError,
    backup_path,
    check_store,
    open_client,
)
from studies.store.tracker import Tracker

REPO = Path(__file__).resolve().parents[3]


def one_line_error(capsys, *argv: str) -> str:
    """Run the CLI in-process; it must fail with exactly one line on stderr."""
    assert cli.main(list(argv)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def uri_env(monkeypatch):
    def set_uri(uri: str) -> str:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        return uri

    return set_uri


@pytest.fixture(scope="module")
def healthy_store(tmp_path_factory) -> Path:
    """A migrated SQLite store opened once by a Tracker (which leaves its backup beside it)."""
    db = tmp_path_factory.mktemp("healthy") / "mlflow.db"
    Tracker(f"sqlite:///{db}")  # creates and migrates it
    Tracker(f"sqlite:///{db}")  # an existing store: copied to mlflow.db.bak on open
    return db


def test_unknown_scheme(capsys, uri_env):
    uri_env("bogus://x")
    err = one_line_error(capsys, "report", "init")
    assert "'bogus://x'" in err and "unknown scheme 'bogus'" in err and "sqlite:///" in err
    err = one_line_error(capsys, "run", "init", "--quick", "--no-report")
    assert "unknown scheme 'bogus'" in err


def test_directory_store_names_the_sqlite_alternative(capsys, uri_env, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri_env(str(tmp_path / "mlruns"))
    err = one_line_error(capsys, "report", "init")
    assert "directory store" in err and f"sqlite:///{tmp_path / 'mlruns.db'}" in err
    with pytest.raises(StoreError, match="directory store"):
        check_store(f"file://{tmp_path}/mlruns")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    check_store(str(tmp_path / "mlruns"))  # the user's explicit opt-in to MLflow's file store


def test_database_uri_without_its_driver(capsys, uri_env):
    try:
        import psycopg  # noqa: F401

        pytest.skip("psycopg is installed here: no missing driver to report")
    except ImportError:
        pass
    uri_env("postgresql://user:secret@localhost/runs")
    err = one_line_error(capsys, "run", "init", "--quick", "--no-report")
    assert "needs the database driver 'psycopg'" in err and "pip install psycopg" in err
    assert "secret" not in err  # the password is not printed


def test_truncated_store_names_its_backup(capsys, uri_env, healthy_store, tmp_path):
    db = tmp_path / "mlflow.db"
    data = healthy_store.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    uri_env(f"sqlite:///{db}")
    err = one_line_error(capsys, "report", "init")
    assert f"the MLflow store {db} is corrupt" in err and "truncated" in err
    assert "no backup of it exists" in err
    shutil.copy(backup_path(healthy_store), backup_path(db))
    err = one_line_error(capsys, "run", "init", "--quick", "--no-report")
    assert f"is {backup_path(db)}: move it into place" in err
    # The backup is a whole store: moved into place, it opens.
    os.replace(backup_path(db), db)
    open_client(f"sqlite:///{db}").search_experiments()


def test_not_a_sqlite_file(capsys, uri_env, tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_text("these are not the runs you are looking for\n" * 10)
    uri_env(f"sqlite:///{db}")
    err = one_line_error(capsys, "report", "init")
    assert "is corrupt (not a SQLite database)" in err


def test_backup_is_replaced_only_by_a_good_copy(healthy_store):
    backup = backup_path(healthy_store)
    assert backup.is_file() and backup.read_bytes()[:16] == b"SQLite format 3\x00"
    assert not list(healthy_store.parent.glob("*.partial"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_report_against_an_unreachable_server_fails_fast(capsys, uri_env):
    uri = uri_env(f"http://127.0.0.1:{_free_port()}")
    err = one_line_error(capsys, "report", "init")
    assert f"tracking server at {uri} is unreachable" in err
    with pytest.raises(TrackingServerError):
        open_client(uri)  # the reader's own door checks the server before MLflow retries


def _as_other_user(script: str, env: dict) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh Python as a user who may not write the test's files."""
    cmd = [sys.executable, "-c", script]
    if os.geteuid() == 0:  # root writes read-only files: drop to nobody to see the fault
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a read-only store")
        cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.mark.parametrize("what", ["file", "directory"])
def test_read_only_store(healthy_store, what):
    # pytest's tmp_path lies in a directory only its owner may enter: use one anyone may.
    root = Path(tempfile.mkdtemp(prefix="ro-store-"))
    home = Path(tempfile.mkdtemp(prefix="ro-home-"))
    db = root / "mlflow.db"
    shutil.copy(healthy_store, db)
    target = db if what == "file" else root
    # Everything usable by the other user, then the file or its directory made read-only.
    home.chmod(0o777)
    root.chmod(0o777)
    db.chmod(0o666)
    target.chmod(0o555 if what == "directory" else 0o444)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{db}",
        "PYTHONPATH": str(REPO),
        "HOME": str(home),
        "MPLCONFIGDIR": str(home / "mpl"),
    }
    script = "import sys; from studies import cli; sys.exit(cli.main(['report', 'init']))"
    try:
        out = _as_other_user(script, env)
    finally:
        root.chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    err = out.stderr.strip()
    if "Permission denied" in err and "studies" in err and "cannot be written" not in err:
        pytest.skip(f"the other user cannot read the checkout: {err.splitlines()[-1]}")
    assert out.returncode == 1, err
    assert err.count("\n") == 0 and "Traceback" not in err, err
    named = "the file" if what == "file" else "its directory"
    assert f"the MLflow store {db} cannot be written ({named} is read-only)" in err
