"""The code version that, with a trial's resolved config, addresses its cached result.

A finished trial is reused only when its ``config_hash`` matches, and that hash covers the
dlkit version, the git commit and whether the working tree had uncommitted changes — so
results never outlive the code that produced them by accident.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from importlib import metadata

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
        checkout does not make the code dirty).
    """
    commit = _git("rev-parse", "HEAD") or UNKNOWN
    status = _git("status", "--porcelain", "--untracked-files=all")
    dirty = any(_changes_code(line) for line in (status or "").splitlines())
    version = {"dlkit_version": dlkit_version(), "git_commit": commit, "git_dirty": dirty}
    log.debug("code version %s", version)
    return version
