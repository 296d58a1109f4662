"""Helpers of the plot tests: a declared plot spec and the lines an axes draws."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgb


def _drawn_lines(ax) -> list:
    """Visible data lines (the band's own zero-width line and legend handles excluded)."""
    return [
        line for line in ax.get_lines() if len(line.get_xdata()) > 0 and line.get_linewidth() > 0
    ]


def _line_of(ax, color) -> object:
    """The one visible line drawn in ``color``."""
    (line,) = [line for line in _drawn_lines(ax) if np.allclose(to_rgb(line.get_color()), color)]
    return line


def _spec(kind: str, **options) -> dict:
    return {"kind": kind, "title": kind, "options": options}


@pytest.fixture
def drawn_lines():
    """``drawn_lines(ax)``: the visible data lines of ``ax``."""
    return _drawn_lines


@pytest.fixture
def line_of():
    """``line_of(ax, color)``: the one visible line of ``ax`` drawn in ``color``."""
    return _line_of


@pytest.fixture
def spec():
    """``spec(kind, **options)``: a declared plot titled after its kind."""
    return _spec
