"""Make options read as a user means them: QUICK=0, FORCE=no, ... are off."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def study_command(*options: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "study-init", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (line,) = [x for x in out.splitlines() if "-m studies run init" in x]
    return line


@pytest.mark.parametrize(
    "options", [(), ("QUICK=0", "FORCE=0"), ("QUICK=no", "FORCE=False"), ("QUICK=OFF", "FORCE=n")]
)
def test_off_values_add_no_flag(options):
    words = study_command(*options).split()
    assert "--quick" not in words and "--force" not in words


@pytest.mark.parametrize("options", [("QUICK=1", "FORCE=1"), ("QUICK=yes", "FORCE=true")])
def test_on_values_add_the_flag(options):
    words = study_command(*options, "JOBS=2").split()
    assert "--quick" in words and "--force" in words
    assert words[words.index("--jobs") + 1] == "2"


def test_arms_pass_through_quoted_so_a_pattern_reaches_the_cli():
    import shlex

    words = shlex.split(study_command("ARMS=tanh-5/*,relu-5/zeros"))
    assert words[words.index("--arms") + 1] == "tanh-5/*,relu-5/zeros"
    assert "--arms" not in study_command()
