"""Fixtures for the study tests: a trial-call counter (the store fixture is the suite's)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def calls_file(tmp_path: Path) -> Path:
    """File the toy trial appends ``arm/seed`` to each time it really runs."""
    return tmp_path / "calls.txt"
