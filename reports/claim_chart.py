"""The monitoring chart of one sequential comparison, as a small inline SVG.

A claim's comparison is tested at planned looks (seed counts); at each look its t statistic,
oriented so that positive favours the claim, is set against the look's boundary: supported
at ``t >= boundary``, not supported at ``t <= -boundary``. The chart draws the path of the
statistic against the seeds with both boundaries over the planned looks, and marks the look
that decided (or last reached) the claim — the picture of a group-sequential design.

Plain SVG written here (no matplotlib): a few hundred bytes, crisp at any zoom, scaled by its
``viewBox`` to the width it gets. Every text goes through :func:`html.escape`; the chart uses
no external reference (no ``url(...)``, no ``xmlns`` link), so the page stays self-contained.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CLIP_FACTOR", "chart_scale", "monitoring_svg"]

WIDTH, HEIGHT = 360, 190
LEFT, RIGHT, TOP, BOTTOM = 40, 14, 20, 36
# The frame reaches CLIP_FACTOR times the last look's boundary: an O'Brien-Fleming first look
# on 5 seeds can ask for t > 30, which would flatten every later look; such boundaries and
# statistics (or an infinite t from a zero spread) are drawn at the frame's edge, marked.
CLIP_FACTOR = 4.0
PADDING = 1.12
COLOURS = {
    "supported": "#116329",
    "not supported": "#a40e26",
    "inconclusive": "#7d4e00",
    "continue": "#7d4e00",
}
UP_LINE, UP_FILL = "#2da44e", "#dafbe1"
DOWN_LINE, DOWN_FILL = "#cf222e", "#ffebe9"
INK, MUTED, GRID = "#1f2328", "#59636e", "#d1d9e0"


def _number(value: Any) -> float | None:
    """``value`` as a float (NaN and ±inf included), or None when it is not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: float, digits: int = 3) -> str:
    """A figure for the chart: ``digits`` significant digits, a true minus sign, ∞ for inf."""
    if math.isinf(value):
        return "\u2212\u221e" if value < 0 else "\u221e"
    return f"{value:.{digits}g}".replace("-", "\u2212")


def chart_scale(statistics: Sequence[float], boundaries: Sequence[float], decisive: float) -> float:
    """Half-height ``L`` of the frame (it spans ``t`` in ``[-L, L]``).

    Parameters
    ----------
    statistics : sequence of float, shape (n_reached,)
        t at each look reached (NaN and ±inf allowed).
    boundaries : sequence of float, shape (n_looks,)
        Positive t-scale boundaries of the planned looks.
    decisive : float
        The boundary at the look that decided the claim (NaN if unknown): always in frame.

    Returns
    -------
    float
        Large enough for every finite statistic and boundary up to ``CLIP_FACTOR`` times the
        last boundary (or the decisive boundary, if larger), with a little headroom.
    """
    finite = [abs(v) for v in (*statistics, *boundaries) if math.isfinite(v)]
    reach = max(finite, default=1.0)
    bounds = [b for b in boundaries if math.isfinite(b) and b > 0]
    cap = CLIP_FACTOR * bounds[-1] if bounds else math.inf
    if math.isfinite(decisive):
        cap = max(cap, abs(decisive) * 1.05)
    return max(min(reach, cap), 1.0) * PADDING


def _ticks(limit: float) -> list[float]:
    """0 and ± multiples of a round step (1, 2 or 5 times a power of ten), two or three a side."""
    raw = limit / 2.5
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    # A tick right at the frame's edge would crowd the axis title.
    count = int((limit * 0.9) // step)
    return [k * step for k in range(-count, count + 1)]


def _points(pairs: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)


def monitoring_svg(part: Mapping[str, Any], *, title: str = "") -> str | None:
    """The monitoring chart of one comparison of a claim, as an ``<svg>`` element.

    Parameters
    ----------
    part : mapping
        One entry of a claim's ``parts`` (see :func:`studies.store.writer.claim_json`):
        ``looks`` (planned seeds, shape (K,)), ``boundaries`` (shape (K,)), ``sizes`` and
        ``statistics`` (shape (k,), the looks reached), ``verdict``, ``look``, ``boundary``
        and ``label``.
    title : str, optional
        The chart's accessible name; defaults to the part's label.

    Returns
    -------
    str or None
        The SVG markup (text escaped), or None when the part lacks the looks, boundaries or
        statistics to draw (a claim judged without the sequential design).
    """
    looks = [v for v in (_number(x) for x in part.get("looks") or []) if v is not None]
    bounds = [v for v in (_number(x) for x in part.get("boundaries") or []) if v is not None]
    stats = [_number(x) for x in part.get("statistics") or []]
    stats = [math.nan if v is None else v for v in stats]
    drawable = all(math.isfinite(v) for v in (*looks, *bounds))
    if not looks or len(bounds) != len(looks) or not stats or not drawable:
        return None
    sizes = [_number(x) for x in part.get("sizes") or []]
    if len(sizes) != len(stats) or not all(v is not None and math.isfinite(v) for v in sizes):
        sizes = looks[: len(stats)]
    verdict = str(part.get("verdict") or "inconclusive")
    look = _number(part.get("look"))
    look = int(look) if look is not None and math.isfinite(look) else len(stats)
    look = min(max(look, 1), len(stats))
    decisive = _number(part.get("boundary"))
    decisive = math.nan if decisive is None else decisive
    limit = chart_scale(stats, bounds, decisive)

    x_max = max(looks[-1], max(sizes))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top, bottom, right = TOP, TOP + plot_h, LEFT + plot_w

    def sx(seeds: float) -> float:
        return LEFT + plot_w * seeds / x_max

    def sy(t: float) -> float:
        return TOP + plot_h * (limit - max(-limit, min(limit, t))) / (2 * limit)

    label = str(part.get("label") or part.get("name") or "mean")
    name = title or label
    words = _description(name, looks, bounds, sizes, stats, verdict, look)
    out = [
        f'<svg class="mc" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{html.escape(words)}"'
        ' font-size="12" preserveAspectRatio="xMidYMid meet">',
        f"<title>{html.escape(name)}: t statistic against seeds, with the boundaries</title>",
    ]
    # Regions beyond the boundaries, between the first and last planned look.
    upper = [(sx(n), sy(b)) for n, b in zip(looks, bounds)]
    lower = [(sx(n), sy(-b)) for n, b in zip(looks, bounds)]
    first, last = sx(looks[0]), sx(looks[-1])
    out.append(
        f'<polygon points="{_points([(first, top), *upper, (last, top)])}" fill="{UP_FILL}"/>'
    )
    out.append(
        f'<polygon points="{_points([(first, bottom), *lower, (last, bottom)])}" '
        f'fill="{DOWN_FILL}"/>'
    )
    for t in _ticks(limit):
        y = sy(t)
        style = f'stroke="{MUTED}" stroke-dasharray="3 3"' if t == 0 else f'stroke="{GRID}"'
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" {style}/>')
        out.append(
            f'<text x="{LEFT - 5}" y="{y + 3.5:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{_text(t)}</text>"
        )
    out.append(
        f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{GRID}"/>'
    )
    for n in looks:
        out.append(
            f'<text x="{sx(n):.1f}" y="{bottom + 15}" text-anchor="middle" fill="{MUTED}">'
            f"{_text(n)}</text>"
        )
    out.append(
        f'<text x="{right}" y="{bottom + 31}" text-anchor="end" fill="{MUTED}">seeds</text>'
        f'<text x="{LEFT - 5}" y="{top - 5}" text-anchor="end" fill="{MUTED}" '
        f'font-style="italic">t</text>'
    )
    for pairs, colour, kind in ((upper, UP_LINE, "mc-upper"), (lower, DOWN_LINE, "mc-lower")):
        out.append(
            f'<polyline class="{kind}" points="{_points(pairs)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.5"/>'
        )
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}"/>' for x, y in pairs]
    for n, b in zip(looks, bounds):
        if b > limit:  # off the scale: say how far
            out.append(
                f'<text x="{sx(n):.1f}" y="{top - 5}" text-anchor="middle" fill="{UP_LINE}" '
                f'font-size="11">\u2191{_text(b)}</text>'
            )
    if math.isfinite(decisive) and look <= len(bounds) and abs(decisive - bounds[look - 1]) > 1e-6:
        # Fewer usable pairs than planned at that look: its boundary was recomputed.
        x = sx(sizes[look - 1])
        for t, colour in ((decisive, UP_LINE), (-decisive, DOWN_LINE)):
            out.append(
                f'<line x1="{x - 7:.1f}" y1="{sy(t):.1f}" x2="{x + 7:.1f}" y2="{sy(t):.1f}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
    out += _path(stats, sizes, look, verdict, sx, sy, limit)
    out.append("</svg>")
    return "".join(out)


def _path(stats, sizes, look, verdict, sx, sy, limit) -> list[str]:
    """The statistic's path: a line through the finite looks, markers, the decisive look."""
    out = []
    segment: list[tuple[float, float]] = []
    segments = [segment]
    for size, t in zip(sizes, stats):
        if math.isnan(t):  # a look with under two usable pairs: no statistic, a gap
            segment = []
            segments.append(segment)
            continue
        segment.append((sx(size), sy(t)))
    for seg in segments:
        if len(seg) > 1:
            out.append(
                f'<polyline class="mc-path" points="{_points(seg)}" fill="none" stroke="{INK}" '
                f'stroke-width="1.8" stroke-linejoin="round"/>'
            )
    for k, (size, t) in enumerate(zip(sizes, stats), start=1):
        if math.isnan(t):
            continue
        x, y = sx(size), sy(t)
        decisive = k == look
        colour = COLOURS.get(verdict, INK) if decisive else INK
        fill = colour if decisive else "#ffffff"
        kind = "mc-decisive" if decisive else "mc-point"
        if abs(t) > limit:
            # Clipped to the frame: a triangle pointing off the scale, with the value.
            d = 1.0 if t > 0 else -1.0  # the base lies inside the frame
            size_px = 6.0 if decisive else 4.5
            base = y + d * size_px * 1.4
            tri = [(x - size_px, base), (x + size_px, base), (x, y)]
            out.append(
                f'<polygon class="{kind} mc-clipped" points="{_points(tri)}" fill="{fill}" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
            # The value beside it, on the side with room (the last look sits at the edge).
            near_edge = x > WIDTH - RIGHT - 50
            tx, anchor = (x - size_px - 3, "end") if near_edge else (x + size_px + 3, "start")
            out.append(
                f'<text x="{tx:.1f}" y="{base + 3.5 * d:.1f}" text-anchor="{anchor}" '
                f'fill="{colour}" font-size="11">t={_text(t)}</text>'
            )
        else:
            radius = 5 if decisive else 3
            out.append(
                f'<circle class="{kind}" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}" '
                f'stroke="{colour}" stroke-width="1.5"/>'
            )
    return out


def _description(name, looks, bounds, sizes, stats, verdict, look) -> str:
    """The chart in words (its accessible name)."""
    path = ", ".join(
        f"{'no statistic' if math.isnan(t) else 't ' + _text(t)} at {_text(n)} seeds"
        for n, t in zip(sizes, stats)
    )
    planned = ", ".join(f"\u00b1{_text(b)} at {_text(n)}" for n, b in zip(looks, bounds))
    if verdict in ("supported", "not supported"):
        outcome = f"{verdict} at look {look}"
    else:
        outcome = f"undecided at look {look}"
    return f"Monitoring chart of {name}: {path}; boundaries {planned} seeds; {outcome}."
