"""Progress of a stage: a one-line bar on a terminal, plain log lines otherwise.

The bar is redrawn in place on stderr (``\\r``) and shows trials done / total, how many were
reused from the store, diverged and failed, and an ETA from the pace of the trials actually
run in this invocation. Off a terminal (CI logs, pipes) each finished trial is one log line.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("studies")

_BAR_WIDTH = 24


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Count finished trials of one stage and show them.

    Parameters
    ----------
    label : str
        E.g. ``"optimizers/final"``.
    total : int
        Trials in the stage (reused ones included).
    reused : int
        Trials taken from the store without running.
    stream : file, optional
        Where the bar goes (default ``sys.stderr``).
    bar : bool, optional
        Draw a bar; default: whether ``stream`` is a terminal.
    """

    def __init__(
        self,
        label: str,
        total: int,
        reused: int = 0,
        *,
        stream: TextIO | None = None,
        bar: bool | None = None,
    ):
        self.label = label
        self.total = total
        self.reused = reused
        self.done = reused
        self.diverged = 0
        self.failed = 0
        self.stream = sys.stderr if stream is None else stream
        self.bar = self.stream.isatty() if bar is None else bar
        self._start = time.perf_counter()
        self._last_line = ""
        if self.bar:
            self._draw()
        elif total:
            log.info(
                "%s: %d trial(s), %d reused from the store, %d to run",
                label,
                total,
                reused,
                total - reused,
            )

    def update(self, name: str, status: str, seconds: float) -> None:
        """Record one finished trial (``status`` in ok / diverged / failed)."""
        self.done += 1
        self.diverged += status == "diverged"
        self.failed += status == "failed"
        if self.bar:
            self._draw()
        else:
            log.info("[%d/%d] %s: %s in %.1f s", self.done, self.total, name, status, seconds)

    def eta(self) -> float | None:
        """Seconds left, from the pace of the trials run so far (None before the first)."""
        ran = self.done - self.reused
        left = self.total - self.done
        if ran <= 0:
            return None
        return (time.perf_counter() - self._start) / ran * left

    def _draw(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * _BAR_WIDTH))
        eta = self.eta()
        line = (
            f"\r{self.label} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] "
            f"{self.done}/{self.total}  reused {self.reused}  diverged {self.diverged}  "
            f"failed {self.failed}  ETA {_clock(eta) if eta is not None else '--:--'}"
        )
        pad = max(0, len(self._last_line) - len(line))
        self.stream.write(line + " " * pad)
        self.stream.flush()
        self._last_line = line

    def close(self) -> None:
        """Finish the bar's line (or log the stage's totals)."""
        elapsed = time.perf_counter() - self._start
        if self.bar:
            self.stream.write("\n")
            self.stream.flush()
        log.info(
            "%s: %d/%d done (%d reused, %d diverged, %d failed) in %.1f s",
            self.label,
            self.done,
            self.total,
            self.reused,
            self.diverged,
            self.failed,
            elapsed,
        )
