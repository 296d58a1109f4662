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
