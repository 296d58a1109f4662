"""The code version that, with a trial's resolved config, addresses its cached result.

A finished trial is reused only when its ``config_hash`` matches, and that hash covers the
dlkit version, the git commit and whether the working tree had uncommitted changes — so
results never outlive the code that produced them by accident.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from studies.paths import REPO_ROOT

log = logging.getLogger(__name__)

UNKNOWN = "unknown"


def _git(*args: str) -> str | None:
    try:
        # --no-optional-locks: `git status` must not take the index lock (read-only probe).
        out = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def dlkit_version() -> str:
    """``dlkit.__version__``, else the installed distribution's version, else ``"unknown"``."""
    try:
        import dlkit

        return str(dlkit.__version__)
    except (ImportError, AttributeError):
        pass
    try:
        return metadata.version("dlkit-studies")
    except metadata.PackageNotFoundError:
        return UNKNOWN


def _changes_code(line: str) -> bool:
    """Whether a ``git status --porcelain`` line is a change to the code."""
    return bool(line.strip()) and (not line.startswith("??") or line.rstrip().endswith(".py"))


@functools.cache
def code_version() -> dict[str, str | bool]:
    """The code identity that enters every ``config_hash``.

    Returns
    -------
    dict
        ``dlkit_version`` (str), ``git_commit`` (full sha, or ``"unknown"`` outside git or
        before the first commit) and ``git_dirty`` (True when ``git status`` lists a change
        to a tracked file, or an untracked Python file: a log or an output left in the
        checkout does not make the code dirty), and ``git_changes``: a digest of those
        uncommitted changes ("" when clean), so that editing a study between two runs of the
        same dirty checkout does not reuse trials of the code before the edit.
    """
    commit = _git("rev-parse", "HEAD") or UNKNOWN
    status = _git("status", "--porcelain", "--untracked-files=all")
    changed = [line for line in (status or "").splitlines() if _changes_code(line)]
    version = {
        "dlkit_version": dlkit_version(),
        "git_commit": commit,
        "git_dirty": bool(changed),
        "git_changes": _changes_digest(changed) if changed else "",
    }
    log.debug("code version %s", version)
    return version


def _changes_digest(lines: list[str]) -> str:
    """sha256 (first 16 hex digits) of ``git diff HEAD`` and the untracked Python files."""
    digest = hashlib.sha256((_git("diff", "HEAD") or "").encode("utf-8"))
    untracked = sorted(line for line in lines if line.startswith("??"))
    top = Path(_git("rev-parse", "--show-toplevel") or REPO_ROOT) if untracked else REPO_ROOT
    for line in untracked:
        path = top / line[3:].strip()
        digest.update(line.encode("utf-8"))
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def source_digest(modules: Iterable[str]) -> str:
    """sha256 (first 16 hex digits) of the source files of ``modules`` that live outside the
    repository ("" for none): a study file run by path, whose edits git does not see."""
    digest, found = hashlib.sha256(), False
    for name in sorted(set(modules)):
        file = getattr(sys.modules.get(name), "__file__", None)
        if not file or Path(file).resolve().is_relative_to(REPO_ROOT.resolve()):
            continue
        digest.update(name.encode("utf-8"))
        digest.update(Path(file).read_bytes())
        found = True
    return digest.hexdigest()[:16] if found else ""
