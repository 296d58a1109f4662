"""Shared checks for study tests: every declared plot is one the reporter can draw, and
every reported summary metric has a declared direction."""

from __future__ import annotations

import pytest


def check_plots(study) -> None:
    """Every plot of ``study`` names a kind the reporter draws, with options it accepts, and
    a ``stage`` option (if any) names one of the study's stages."""
    plots = pytest.importorskip("reports.plots")
    stages = {s.name for s in study.stages}
    for plot in study.plots:
        options = dict(plot.options)
        wanted = options.pop("stage", next(iter(stages)))
        assert ({wanted} if isinstance(wanted, str) else set(wanted)) <= stages, plot.title
        plots.plot_kind(plot.kind).check_options(options)


def check_metrics_declared(study, outcome) -> None:
    """Every summary figure the run's trials reported has a declared direction
    (``Study.metrics``), so the report never has to guess which way is better."""
    reported = set().union(*(r.result.summary for r in outcome.records))
    assert reported <= set(study.metrics), sorted(reported - set(study.metrics))
