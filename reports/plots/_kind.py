"""What a plot kind declares to the registry: its draw function, the frame it reads, the
options it accepts and its caption."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from studies.store.reader import StudyRuns

#: The frames of :class:`~studies.store.reader.StudyRuns` a kind can read.
FRAMES = ("trials", "history", "artifacts")
#: Keyword arguments the reporter supplies itself; a study's options never set them.
CONTEXT = ("title", "palette", "arms")


@dataclass(frozen=True)
class PlotKind:
    """One kind of plot a study can declare, as the registry knows it.

    Attributes
    ----------
    name : str
        The kind, as in ``Plot(kind, title, **options)``.
    draw : callable
        ``draw(frame, *, <options>, title, [palette | arms]) -> Figure``: a pure function of
        one frame; raises :class:`~reports.plots.PlotDataError` when the frame lacks what the
        plot needs.
    frames : tuple of str
        The frames (of :data:`FRAMES`) it reads; the first unless ``pick_frame`` says.
    options : tuple of str
        The options a study may give it: exactly ``draw``'s keyword arguments other than
        :data:`CONTEXT` (checked here, so the two cannot drift apart).
    caption : callable
        ``caption(frame, options) -> str``: what the marks and bands mean.
    pick_frame : callable, optional
        ``pick_frame(runs, options) -> str``, one of ``frames``, for a kind that reads more
        than one.

    Raises
    ------
    TypeError
        When the declaration and ``draw``'s signature disagree.
    """

    name: str
    draw: Callable[..., Figure]
    frames: tuple[str, ...]
    options: tuple[str, ...]
    caption: Callable[[pd.DataFrame, Mapping[str, Any]], str]
    pick_frame: Callable[[StudyRuns, Mapping[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        if not self.frames or not set(self.frames) <= set(FRAMES):
            raise TypeError(f"plot kind {self.name!r}: frames must be among {FRAMES}")
        if len(self.frames) > 1 and self.pick_frame is None:
            raise TypeError(f"plot kind {self.name!r} reads several frames but no pick_frame")
        taken = set(self._parameters()) - set(CONTEXT)
        if taken != set(self.options):
            raise TypeError(
                f"plot kind {self.name!r} declares options {sorted(self.options)} but "
                f"{self.draw.__name__} takes {sorted(taken)}"
            )

    def _parameters(self) -> dict[str, inspect.Parameter]:
        """``draw``'s parameters after the frame."""
        return dict(list(inspect.signature(self.draw).parameters.items())[1:])

    @property
    def required(self) -> tuple[str, ...]:
        """The options without a default."""
        params = self._parameters()
        return tuple(n for n in self.options if params[n].default is inspect.Parameter.empty)

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ValueError naming every unknown (else missing) option and the valid ones.

        Parameters
        ----------
        options : mapping of str to object
            A declared plot's options, without the ``stage`` every kind accepts.
        """
        unknown = sorted(set(options) - set(self.options))
        missing = sorted(set(self.required) - set(options))
        if not (unknown or missing):
            return
        problem = f"unknown option(s) {', '.join(unknown)}" if unknown else ""
        problem = problem or f"missing option(s) {', '.join(missing)}"
        raise ValueError(
            f"{problem} for plot kind {self.name!r}; valid options: "
            f"{', '.join(sorted(self.options))} (required: {', '.join(sorted(self.required))})"
        )

    def frame_name(self, runs: StudyRuns, options: Mapping[str, Any]) -> str:
        """Which of :data:`FRAMES` to draw ``options`` from."""
        if self.pick_frame is None:
            return self.frames[0]
        name = self.pick_frame(runs, options)
        if name not in self.frames:
            raise TypeError(f"plot kind {self.name!r} picked {name!r}, not one of {self.frames}")
        return name

    def context(self, title: str, palette: dict | None) -> dict[str, Any]:
        """The reporter's own keyword arguments for ``draw``: the title and, as ``draw``
        takes them, the arm colours (``palette``) or the arm order (``arms``)."""
        params = self._parameters()
        extra: dict[str, Any] = {"title": title}
        if "palette" in params:
            extra["palette"] = palette
        if "arms" in params:
            extra["arms"] = list(palette or {})
        return extra
