"""Shared check for study tests: every declared plot is one the reporter can draw."""

from __future__ import annotations

import inspect

import pytest


def check_plots(study) -> None:
    """Every plot of ``study`` names a kind the reporter draws, with options it accepts, and
    a ``stage`` option (if any) names one of the study's stages."""
    plots = pytest.importorskip("reports.plots")
    stages = {s.name for s in study.stages}
    for plot in study.plots:
        builder = plots.PLOT_KINDS[plot.kind]
        accepted = set(inspect.signature(builder).parameters) - {"title", "palette", "arms"}
        options = dict(plot.options)
        wanted = options.pop("stage", next(iter(stages)))
        assert ({wanted} if isinstance(wanted, str) else set(wanted)) <= stages, plot.title
        assert set(options) <= accepted, (plot.title, set(options) - accepted)
