"""Progress of a stage: a bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import io

from studies.engine.progress import Progress


def test_progress_bar_counts_reused_diverged_and_eta():
    stream = io.StringIO()
    progress = Progress("toy/main", total=4, reused=1, stream=stream, bar=True)
    progress.update("a/seed=1", "ok", 0.1)
    progress.update("a/seed=2", "diverged", 0.1)
    line = stream.getvalue().split("\r")[-1]
    assert "3/4" in line and "reused 1" in line and "diverged 1" in line
    assert "ETA 0:0" in line
    progress.close()
    assert stream.getvalue().endswith("\n")


def test_progress_without_a_terminal_logs_lines(caplog):
    stream = io.StringIO()
    with caplog.at_level("INFO", logger="studies"):
        progress = Progress("toy/main", total=2, stream=stream)
        progress.update("a/seed=0", "failed", 0.5)
    assert stream.getvalue() == ""
    assert "[1/2] a/seed=0: failed in 0.5 s" in caplog.text
