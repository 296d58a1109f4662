"""The code identity: a change to tracked files or a new Python file makes it dirty; a log or
an output left in the checkout does not."""

from __future__ import annotations

import pytest

from studies.engine.code_version import _changes_code


@pytest.mark.parametrize(
    ("line", "dirty"),
    [
        (" M studies/engine/runner.py", True),
        ("M  README.md", True),
        ("D  dlkit/old.py", True),
        ("?? studies/catalog/my_study.py", True),
        ("?? opt.log", False),
        ("?? notes/run.txt", False),
        ("", False),
    ],
)
def test_what_makes_the_code_dirty(line, dirty):
    assert _changes_code(line) is dirty


STUDY_FILE = """
import dataclasses

from toy_studies import make_toy, toy_trial


def trial(config):
    return toy_trial(config)


STUDY = dataclasses.replace(make_toy("ext_toy", seeds=2), trial=trial, stages=())
"""


def test_editing_a_study_file_outside_the_repository_reruns_its_trials(tmp_path, store):
    from studies.engine.code_version import source_digest
    from studies.engine.registry import resolve
    from studies.engine.runner import run_study

    path = tmp_path / "ext_toy.py"
    path.write_text(STUDY_FILE)
    first = run_study(resolve(str(path)), jobs=1, tracking_uri=store)
    digest = source_digest(["studies_external.ext_toy"])
    assert len(digest) == 16 and source_digest(["studies.engine.runner"]) == ""
    again = run_study(resolve(str(path)), jobs=1, tracking_uri=store)
    assert again.timing["n_reused"] == first.timing["n_trials"] == 4
    path.write_text(STUDY_FILE + "# the trial changed\n")
    edited = run_study(resolve(str(path)), jobs=1, tracking_uri=store)
    assert source_digest(["studies_external.ext_toy"]) != digest
    assert edited.timing["n_reused"] == 0 and edited.timing["n_run"] == 4


def test_uncommitted_changes_are_part_of_the_code_identity(monkeypatch, tmp_path):
    from studies.engine import code_version as cv

    untracked = tmp_path / "new_study.py"
    untracked.write_text("A = 1\n")
    outputs = {"diff": "diff --git a/x.py b/x.py\n+x = 1\n", "rev-parse": str(tmp_path)}
    monkeypatch.setattr(cv, "_git", lambda *args: outputs[args[0]])
    lines = [" M x.py", "?? new_study.py"]
    first = cv._changes_digest(lines)
    untracked.write_text("A = 2\n")
    assert cv._changes_digest(lines) != first
    outputs["diff"] += "+y = 2\n"
    assert len({first, cv._changes_digest(lines), cv._changes_digest([" M x.py"])}) == 3
