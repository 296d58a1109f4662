"""Render a study's frames to one self-contained HTML page (and its JSON twin), and the index.

Pure functions of :class:`~studies.store.reader.StudyRuns`: figures are embedded as base64 PNG, the
stylesheet is inline, and every text from the store goes through jinja2's autoescaping, so
the page makes no network request and a config value cannot inject markup.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from reports.claim_chart import monitoring_svg
from reports.plots import arm_order, arm_palette, draw_plot, plot_specs
from reports.tables import (
    arm_differences,
    base_config_rows,
    completeness_notes,
    declared_seeds,
    divergence_notes,
    format_number,
    metric_directions,
    results_frame,
    results_records,
    results_table,
    stage_rows,
)
from studies.stats import NOT_EVALUATED
from studies.store.reader import StudyRuns, declared_arms
from studies.store.ui import DEFAULT_PORT, experiment_url, local_base, run_url

TEMPLATES = Path(__file__).resolve().parent / "templates"
PNG_DPI = 100
# Where `make mlflow-ui` serves the stock MLflow UI by default (studies/store/ui.py).
LOCAL_UI = local_base(DEFAULT_PORT)
VERDICTS = {
    "supported": ("supported", "\u2714"),
    "not supported": ("not-supported", "\u2718"),
    "inconclusive": ("inconclusive", "?"),
    NOT_EVALUATED: ("not-evaluated", "\u2013"),
}
TEST_NAMES = {"t": "t-test", "permutation": "sign-flip permutation test"}
CHART_CAPTION = (
    "t at each look (+ favours the claim): supported on or above the green boundary, not "
    "supported on or below the red; large dot: the deciding (or last) look."
)
# Packages whose versions decide the numbers; shown when the run did not record its own.
KEY_PACKAGES = ("dlkit-studies", "numpy", "scipy", "scikit-learn", "pandas", "mlflow", "seaborn")


def environment() -> Environment:
    """The jinja2 environment: templates from ``reports/templates``, autoescaping always on."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["seeds"] = seed_text
    return env


def seed_text(seeds: Sequence[int]) -> str:
    """``[0, 1, 2, 3, 4]`` -> ``"0-4"`` (a run of three or more), else ``"0, 2, 5"``."""
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) >= 3 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}\u2013{seeds[-1]}"
    return ", ".join(map(str, seeds))


def figure_to_data_uri(figure) -> str:
    """PNG-encode a matplotlib Figure as a ``data:`` URI (the page embeds it, no file beside)."""
    return _png_data_uri(figure_png(figure))


def figure_png(figure) -> bytes:
    """A matplotlib Figure as PNG bytes (the page's and the summary run's image)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, facecolor="white")
    return buffer.getvalue()


def _png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_file_name(index: int, title: str) -> str:
    """``NN-<title as a slug>.png``: a plot's image file on the summary run, in page order.

    >>> figure_file_name(1, "Learning-rate sweep (val. loss)")
    '01-learning-rate-sweep-val-loss.png'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "plot"
    return f"{index:02d}-{slug[:60].rstrip('-')}.png"


def _json_safe(value):
    """Replace NaN/inf by None and datetimes by ISO strings, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _verdict(verdict: object) -> dict:
    word = str(verdict or "inconclusive").strip().lower()
    css, icon = VERDICTS.get(word, ("unknown", "\u2022"))
    return {"word": word, "css": css, "icon": icon}


def _verdict_order(words: Iterable[str]) -> list[str]:
    """Verdict words as supported, not supported, inconclusive, then any other (sorted)."""
    found = set(words)
    return [w for w in VERDICTS if w in found] + sorted(found - set(VERDICTS))


def _claims(runs: StudyRuns) -> list[dict]:
    """The claim cards: verdict, key number per comparison, how it was decided, charts.

    A claim judged by the sequential design (one with ``parts``) leads with each comparison's
    mean and interval and one line on the look, boundary, test and Holm level; its figures
    fold into details. A claim without parts (an older store, or a fixed-sample verdict of
    its own) shows its statistic, figures and explanation as they are.
    """
    claims = []
    for row in runs.claims.to_dict("records"):
        numbers = row.get("numbers")
        numbers = numbers if isinstance(numbers, dict) else {}
        parts = _parts(row)
        verdict = _verdict(row.get("verdict"))
        charts = [_chart(p, len(parts) > 1) for p in parts]
        claims.append(
            {
                "id": str(row.get("id") or ""),
                "text": str(row.get("text") or ""),
                "statistic": str(row.get("statistic") or ""),
                "detail": str(row.get("detail") or ""),
                "verdict": verdict,
                "numbers": [
                    (str(k), format_number(v) if isinstance(v, (int, float)) else str(v))
                    for k, v in numbers.items()
                ],
                "sequential": bool(parts),
                "source": _text(row.get("source")),
                "setting": _text(row.get("setting")),
                "expected": _text(row.get("expected")),
                "explanation": _text(row.get("explanation")),
                "differs": _differs(row, verdict["word"]),
                "key_numbers": [_key_number(p, len(parts) > 1) for p in parts],
                "how": _how_decided(row, parts, verdict["word"]) if parts else "",
                "charts": charts,
                "has_chart": any(c["svg"] for c in charts),
                "chart_caption": CHART_CAPTION
                + (
                    " A sign-flip test decides; its t is drawn for the picture."
                    if any(p.get("test") == "permutation" for p in parts)
                    else ""
                )
                + (
                    " With a smallest effect of interest, t against that effect decides "
                    '"not supported" (a futility stop): the dot of t against 0 need not reach '
                    "the red boundary."
                    if any(_optional_float(p.get("min_effect")) is not None for p in parts)
                    else ""
                ),
            }
        )
    return claims


def _text(value: object) -> str:
    """A stored string field, or "" for a missing one (None, NaN: an older store)."""
    return value.strip() if isinstance(value, str) else ""


def _differs(row: dict, verdict: str) -> bool:
    """True when the claim names the source's verdict and the measured one is another."""
    expected = _text(row.get("expected"))
    return bool(expected) and verdict not in (expected, NOT_EVALUATED)


def _optional_int(value: object) -> int | None:
    """An int, or None for a missing value (None, NaN: the column of an older store)."""
    number = _optional_float(value)
    return int(number) if number is not None else None


def _optional_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return float(value) if math.isfinite(value) else None


def _parts(row: dict) -> list[dict]:
    """The claim's comparisons that carry a mean to show (none for an older store)."""
    parts = row.get("parts")
    if not isinstance(parts, (list, tuple)):
        return []
    return [dict(p) for p in parts if isinstance(p, dict) and "mean" in p]


def _signed(text: str) -> str:
    """A typeset minus sign (U+2212) for the hyphen of a negative number or a difference."""
    return text.replace("-", "\u2212")


def _figures(values: Sequence[float | None], digits: int = 3, most: int = 6) -> list[str]:
    """Format ``values`` with the fewest significant digits (at least ``digits``) that keep
    distinct values distinct, so an interval never seems to touch a threshold it misses."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    for used in range(digits, most + 1):
        if len({f"{v:.{used}g}" for v in finite}) == len(set(finite)):
            break
    return [
        _signed(f"{v:.{used}g}") if v is not None and math.isfinite(v) else format_number(v)
        for v in values
    ]


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _key_number(part: dict, named: bool) -> dict:
    """A comparison's mean and repeated confidence interval against what the claim says."""
    reference = _optional_float(part.get("reference")) or 0.0
    margin = _optional_float(part.get("margin"))
    alternative = str(part.get("alternative") or "")
    mean, lo, hi = (_optional_float(part.get(k)) for k in ("mean", "ci_lo", "ci_hi"))
    extra = [reference]
    if alternative == "equivalence" and margin is not None:
        extra += [reference - margin, reference + margin]
    texts = _figures([mean, lo, hi, *extra])
    if alternative == "equivalence" and margin is not None:
        (bound,) = _figures([margin])
        claimed = f"within {texts[3]} \u00b1 {bound}" if reference else f"within \u00b1{bound}"
    elif alternative in ("greater", "less"):
        claimed = f"{'above' if alternative == 'greater' else 'below'} {texts[3]}"
        min_effect = _optional_float(part.get("min_effect"))
        if min_effect is not None:
            (size,) = _figures([min_effect])
            claimed += f"; smallest effect of interest {size}"
    else:
        claimed = ""
    level = _optional_float(part.get("ci_level"))
    return {
        "name": str(part.get("name") or "") if named else "",
        "label": _signed_label(str(part.get("label") or part.get("name") or "mean")),
        "mean": texts[0],
        "ci": f"[{texts[1]}, {texts[2]}]" if lo is not None and hi is not None else "",
        "ci_title": (
            f"{100 * level:.4g}% repeated confidence interval (the look's level)"
            if level is not None
            else "repeated confidence interval"
        ),
        "claimed": claimed,
        "verdict": _verdict(_part_word(part.get("verdict"))),
    }


def _signed_label(label: str) -> str:
    """``"adam - sgd loss"`` -> ``"adam − sgd loss"`` (only a spaced hyphen is a minus)."""
    return label.replace(" - ", " \u2212 ")


def _part_word(verdict: object) -> str:
    return "inconclusive" if verdict == "continue" else str(verdict or "inconclusive")


def _test_text(test: object) -> str:
    names = [TEST_NAMES.get(t, t) for t in str(test or "").split("+") if t]
    return " and ".join(names)


def _statistic_text(value: object) -> str:
    """A t statistic: three significant digits, ∞ for a zero spread, n/a when missing."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return "n/a"
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "\u221e" if value > 0 else "\u2212\u221e"
    return _signed(f"{value:.3g}")


def _how_part(part: dict, look: int | None) -> str:
    """How one comparison stands: its statistic against the boundary of its look."""
    word = str(part.get("verdict") or "")
    decided = word in ("supported", "not supported")
    t = "t\u00a0=\u00a0" + _statistic_text(part.get("statistic"))
    bound = _optional_float(part.get("boundary"))
    b_text = "\u00b1" + ("n/a" if bound is None else f"{bound:.3g}")
    if part.get("test") == "permutation":
        p = _optional_float(part.get("p_value" if word != "not supported" else "p_opposite"))
        nominal = _optional_float(part.get("nominal_alpha"))
        sign = "\u2264" if decided else ">"
        text = (
            f"sign-flip p\u00a0=\u00a0{_figure(p)} {sign} {_figure(nominal)} "
            f"({t}, boundary {b_text})"
        )
    elif word == "not supported" and _optional_float(part.get("min_effect")) is not None:
        (size,) = _figures([_optional_float(part.get("min_effect"))])
        text = (
            f"its repeated interval lies short of the smallest effect of interest {size} "
            f"(a futility stop: t against {size} crossed {b_text}; {t} against 0)"
        )
    elif decided:
        text = f"{t} crossed the boundary {b_text}"
    else:
        text = f"{t} stayed within {b_text}"
    part_look = _optional_int(part.get("look"))
    if part_look is not None and part_look != look:
        text += f" at look {part_look} ({_optional_int(part.get('n'))} seeds)"
    return text


def _how_decided(row: dict, parts: list[dict], verdict: str) -> str:
    """One line: the look and seeds, the statistic against the boundary, the test, the level."""
    look, seeds = _optional_int(row.get("look")), _optional_int(row.get("seeds"))
    planned = len(parts[0].get("looks") or [])
    of = f" of {planned}" if planned else ""
    with_seeds = f" ({seeds} seeds)" if seeds is not None else ""
    named = len(parts) > 1
    states = "; ".join(
        (f"{p.get('name')}: " if named and p.get("name") else "") + _how_part(p, look)
        for p in parts
    )
    if verdict in ("supported", "not supported"):
        at = f" at look {look}{of}" if look is not None else ""
        head = f"decided{at}{with_seeds}: {states}"
    elif look is not None and planned and look < planned:
        head = f"undecided at look {look}{of}{with_seeds}, before the last look: {states}"
    else:
        head = f"undecided after the last look{with_seeds}: {states}"
        needed = _optional_int(row.get("seeds_needed"))
        if needed is not None:
            head += f"; about {needed} seeds would decide it with 80% power at the observed effect"
    pieces = [head]
    tests = sorted({str(p["test"]) for p in parts if p.get("test")})
    test = _test_text(row.get("test") or "+".join(tests))
    if test:
        pieces.append(test)
    level, alpha = _optional_float(row.get("level")), _optional_float(row.get("alpha"))
    family = _optional_int(row.get("family"))
    if level is not None:
        holm = f"Holm level {level:.3g}"
        if alpha is not None:
            holm += f" of \u03b1 {alpha:g}"
        if family is not None:
            holm += f" across {family} claim{'s' if family != 1 else ''}"
        pieces.append(holm)
    return "; ".join(pieces)


def _chart(part: dict, named: bool) -> dict:
    label = _signed_label(str(part.get("label") or part.get("name") or "mean"))
    name = str(part.get("name") or "") if named else ""
    # A label that already begins with the part's name (e.g. "digits_3v8: ...") says it once.
    title = f"{name}: {label}" if name and not label.startswith(name) else label
    svg = monitoring_svg(part, title=title)
    return {"svg": Markup(svg) if svg else None, "title": title}


def _claim_json(row: dict) -> dict:
    """A claim of ``NAME.json``: the stored fields and the key number of each comparison."""
    out = {k: row.get(k) for k in ("id", "text", "statistic", "verdict", "numbers", "detail")}
    for key in ("source", "setting", "expected"):
        out[key] = _text(row.get(key)) or None
    out["explanation"] = _text(row.get("explanation")) or None
    for key in ("seeds", "look", "family", "seeds_needed"):
        out[key] = _optional_int(row.get(key))
    for key in ("level", "alpha"):
        out[key] = _optional_float(row.get(key))
    test = row.get("test")
    out["test"] = test if isinstance(test, str) and test else None
    out["key"] = [
        {
            "name": p.get("name") or "",
            "label": p.get("label") or "",
            **{k: _optional_float(p.get(k)) for k in ("mean", "ci_lo", "ci_hi")},
            "alternative": p.get("alternative"),
            "margin": _optional_float(p.get("margin")),
            "reference": _optional_float(p.get("reference")),
        }
        for p in _parts(row)
    ]
    return out


def _mlflow_links(runs: StudyRuns, order: list[str]) -> dict:
    """Run ids per arm and trial with the URL each opens in the MLflow UI.

    The experiment's address is the one ``make mlflow-ui`` prints (the runs table in the
    model-training view, :func:`studies.store.ui.experiment_url`); runs open in that view too.
    """
    remote = runs.tracking_uri.startswith(("http://", "https://"))
    base = runs.tracking_uri.rstrip("/") if remote else LOCAL_UI
    experiment_id = runs.experiment["id"]

    def url(run_id: str | None = None) -> str:
        if run_id:
            return run_url(base, experiment_id, run_id)
        return experiment_url(base, experiment_id)

    arm_runs = (
        dict(zip(runs.arms["arm"], runs.arms["run_id"], strict=True)) if len(runs.arms) else {}
    )
    columns = ["seed", "status", "run_id", "parent_run_id"]
    by_arm = {
        arm: list(zip(*(g[c] for c in columns), strict=True))
        for arm, g in runs.trials.groupby("arm", sort=False)
    }
    rows = []
    for arm in order:
        trials = by_arm.get(arm, [])
        parent, kind = arm_runs.get(arm, ""), "arm"
        if not parent and trials and trials[0][3]:
            # Trials of a one-seed sweep nest under one run for their whole stage.
            parent, kind = trials[0][3], "stage"
        rows.append(
            {
                "arm": arm,
                "run_id": parent,
                "parent_kind": kind,
                "url": url(parent) if parent else "",
                "trials": [
                    {"seed": int(seed), "status": status, "run_id": run_id, "url": url(run_id)}
                    for seed, status, run_id, _ in trials
                ],
            }
        )
    summary = runs.summary_run
    return {
        "remote": remote,
        "tracking_uri": runs.tracking_uri,
        "experiment_id": experiment_id,
        "experiment_url": url(),
        "summary_run_id": summary["run_id"] if summary else "",
        "summary_url": url(summary["run_id"]) if summary else "",
        "arms": rows,
    }


def _packages(runs: StudyRuns) -> tuple[list[tuple[str, str]], bool]:
    """Package versions the run recorded, else those of this environment (flag False)."""
    for source in (runs.study, (runs.summary_run or {}).get("timing", {})):
        recorded = source.get("packages") or source.get("package_versions")
        if isinstance(recorded, dict) and recorded:
            return sorted((str(k), str(v)) for k, v in recorded.items()), True
    found = []
    for name in KEY_PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return found, False


def _data_rows(study: dict) -> list[tuple[str, str]]:
    data = study.get("data")
    if isinstance(data, dict):
        return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in data.items()]
    if data:
        return [("data", str(data))]
    return []


def _summary_info(runs: StudyRuns) -> dict:
    summary = runs.summary_run or {}
    start = summary.get("start_time")
    timing = summary.get("timing") or {}
    return {
        "run_name": summary.get("run_name", ""),
        "started": start.strftime("%Y-%m-%d %H:%M UTC") if start else "unknown",
        "quick": bool(summary.get("quick")),
        "command": summary.get("command", ""),
        "git_commit": summary.get("git_commit", ""),
        "dlkit_version": summary.get("dlkit_version", ""),
        "timing": [(str(k), format_number(v)) for k, v in timing.items() if _is_number(v)],
    }


def _variant(study: dict) -> dict:
    """What the run changed from the command line: ``--set`` assignments and ``--arms``."""
    overrides = study.get("overrides")
    arms = study.get("arms_selected")
    return {
        "overrides": [str(o) for o in overrides] if isinstance(overrides, list) else [],
        "arms": [str(a) for a in arms] if isinstance(arms, list) else [],
    }


def _variant_text(variant: object) -> str:
    """``--set a=1 --arms x`` for a ``NAME.json`` variant, "" for an unvaried run."""
    if not isinstance(variant, dict):
        return ""
    words = [f"--set {o}" for o in variant.get("overrides") or []]
    if variant.get("arms"):
        words.append("--arms " + ",".join(map(str, variant["arms"])))
    return " ".join(words)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Plot kinds drawn as one panel (row) per arm: each arm's parent run gets its own copy.
PER_ARM_KINDS = ("histogram_grid", "layer_epochs")


def arm_figures(runs: StudyRuns) -> dict[str, dict[str, bytes]]:
    """Each arm's own figures, for its parent run in MLflow: ``{run id: {file: png}}``.

    Every declared plot of a kind in :data:`PER_ARM_KINDS` is drawn again on the arm's
    trials alone; a plot that cannot be drawn for one arm (e.g. it names other arms) is left
    out for that arm.
    """
    runs = current_trials(runs)
    specs = [spec for spec in plot_specs(runs) if spec.get("kind") in PER_ARM_KINDS]
    if not specs or not len(runs.arms) or "run_id" not in runs.arms:
        return {}
    order = arm_order(runs)
    stage_of = dict(zip(runs.trials["arm"], runs.trials["stage"], strict=True))
    palette = arm_palette(order, stage_of)
    out: dict[str, dict[str, bytes]] = {}
    for arm, run_id in zip(runs.arms["arm"], runs.arms["run_id"], strict=True):
        mine = dataclasses.replace(
            runs,
            trials=runs.trials[runs.trials["arm"] == arm].reset_index(drop=True),
            history=runs.history[runs.history["arm"] == arm].reset_index(drop=True),
            arms=runs.arms[runs.arms["arm"] == arm].reset_index(drop=True),
            artifacts=runs.artifacts[runs.artifacts["arm"] == arm].reset_index(drop=True),
        )
        if not len(mine.trials):
            continue
        for index, spec in enumerate(specs, start=1):
            drawn = draw_plot(mine, spec, palette)
            if drawn.figure is None:
                continue
            name = figure_file_name(index, f"{drawn.title or drawn.kind} {arm}")
            out.setdefault(str(run_id), {})[name] = figure_png(drawn.figure)
    return out


def current_trials(runs: StudyRuns) -> StudyRuns:
    """``runs`` restricted to the arms the study declares (all arms if it declares none).

    An arm removed from a study's definition keeps its old runs in the store; the report
    describes the study as it is now.
    """
    declared = list(declared_arms(runs.study))
    if not declared:
        return runs
    keep = set(declared)
    arms = runs.arms[runs.arms["arm"].isin(keep)] if "arm" in runs.arms else runs.arms
    return dataclasses.replace(
        runs,
        trials=runs.trials[runs.trials["arm"].isin(keep)].reset_index(drop=True),
        history=runs.history[runs.history["arm"].isin(keep)].reset_index(drop=True),
        arms=arms.reset_index(drop=True),
        artifacts=runs.artifacts[runs.artifacts["arm"].isin(keep)].reset_index(drop=True),
    )


def _claimed_metrics(runs: StudyRuns) -> list[str]:
    """The summary figures the claims are judged on, in claim order: the last word of each
    comparison's label ("a - b final_test_acc"), where it names a summary figure."""
    known, out = set(runs.summary_keys), []
    for row in runs.claims.to_dict("records"):
        for part in _parts(row):
            words = str(part.get("label", "")).split()
            if words and words[-1] in known and words[-1] not in out:
                out.append(words[-1])
    return out


def _results_by_stage(runs: StudyRuns, order: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """One results frame per stage, with the summary figures that stage's trials report.

    Stages of one study often measure different things (a tuning sweep, the final
    comparison, a toy problem); one table each keeps every column meaningful. The figures
    the claims are judged on come first, so a wide table shows them without scrolling.
    """
    claimed = _claimed_metrics(runs)
    keys = claimed + [k for k in runs.summary_keys if k not in claimed]
    trials = runs.trials
    declared = [row["name"] for row in stage_rows(runs.study)]
    found = list(pd.unique(trials["stage"])) if len(trials) else []
    stages = [s for s in declared if s in found] + [s for s in found if s not in declared]
    out = []
    for stage in stages or ["main"]:
        rows = trials[trials["stage"] == stage] if stages else trials
        metrics = [
            key
            for key in keys
            if key in rows and pd.to_numeric(rows[key], errors="coerce").notna().any()
        ]
        arms = runs.arms[runs.arms["arm"].isin(set(rows["arm"]))] if len(runs.arms) else runs.arms
        out.append((str(stage), results_frame(rows, arms, metrics, order)))
    return out


def render_report(
    runs: StudyRuns,
    *,
    built_at: datetime | None = None,
    notes: Sequence[str] = (),
    figures: dict[str, bytes] | None = None,
) -> tuple[str, dict]:
    """Build the study's page and its JSON twin from the frames alone.

    Parameters
    ----------
    runs : StudyRuns
        As returned by :func:`studies.store.reader.load_runs` (or built by hand in tests).
    built_at : datetime, optional
        Shown in the footer; defaults to now (UTC).
    notes : sequence of str
        Further findings for the "incomplete or abnormal" box (e.g. claim re-checks).
    figures : dict, optional
        Filled with each drawn plot's PNG, ``{figure_file_name(i, title): bytes}`` (what
        :func:`reports.build.build_report` logs to the summary run).

    Returns
    -------
    html : str
        The self-contained page.
    summary : dict
        JSON-ready: question, last run, claims with verdicts and numbers, the results table
        and what is missing (no build time, so rebuilding an unchanged store diffs clean).
    """
    notes = completeness_notes(runs) + list(notes)
    diverged = divergence_notes(runs)
    runs = current_trials(runs)
    order = arm_order(runs)
    stage_of = dict(zip(runs.trials["arm"], runs.trials["stage"], strict=True))
    palette = arm_palette(order, stage_of)
    plots = []
    for spec in plot_specs(runs):
        out = draw_plot(runs, spec, palette)
        png = figure_png(out.figure) if out.figure is not None else b""
        if png and figures is not None:
            figures[figure_file_name(len(plots) + 1, out.title or out.kind)] = png
        plots.append(
            {
                "title": out.title or out.kind,
                "kind": out.kind,
                "src": _png_data_uri(png) if png else "",
                "caption": out.caption,
                "error": out.error,
            }
        )
    results = _results_by_stage(runs, order)
    directions = metric_directions(runs.study)
    claims = _claims(runs)
    info = _summary_info(runs)
    if not info["quick"]:  # a smoke run's verdicts are not held against the sources
        notes += [
            f"claim {c['id']}: measured {c['verdict']['word']!r}, its source reports "
            f"{c['expected']!r}, and it gives no explanation"
            for c in claims
            if c["differs"] and not c["explanation"]
        ]
    keys, diff_rows = arm_differences(runs.study)
    packages, recorded = _packages(runs)
    seeds = declared_seeds(runs.study)
    words = [claim["verdict"]["word"] for claim in claims]
    verdict_counts = {word: words.count(word) for word in _verdict_order(words)}
    context = {
        "name": runs.name,
        "question": runs.experiment.get("question") or runs.study.get("question", ""),
        "description": runs.study.get("description", ""),
        "info": info,
        "variant": _variant(runs.study),
        "notes": notes,
        "diverged": diverged,
        "claims": claims,
        "verdict_counts": verdict_counts,
        "plots": plots,
        "results": [
            {
                "stage": stage,
                "n_arms": len(frame),
                "html": Markup(results_table(frame, directions).set_uuid(f"results{i}").to_html()),
            }
            for i, (stage, frame) in enumerate(results)
        ],
        "n_trials": len(runs.trials),
        "n_arms": len(order),
        "base_config": base_config_rows(runs.study),
        "stages": stage_rows(runs.study),
        "diff_keys": keys,
        "diff_rows": diff_rows,
        "data_rows": _data_rows(runs.study),
        "seeds": seeds,
        "seeds_found": sorted({int(s) for s in runs.trials["seed"]}) if len(runs.trials) else [],
        "packages": packages,
        "packages_recorded": recorded,
        "links": _mlflow_links(runs, order),
        "built_at": (built_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
    }
    html = environment().get_template("report.html.j2").render(**context)
    summary = {
        "study": runs.name,
        "question": context["question"],
        "report": f"{runs.name}.html",
        "last_run": runs.summary_run["start_time"] if runs.summary_run else None,
        "summary_run_id": context["links"]["summary_run_id"],
        "quick": info["quick"],
        "git_commit": info["git_commit"],
        "verdicts": verdict_counts,
        "claims": [_claim_json(row) for row in runs.claims.to_dict("records")],
        "results": [
            {"stage": stage, **record}
            for stage, frame in results
            for record in results_records(frame)
        ],
        "variant": context["variant"],
        "missing": notes,
        "diverged": diverged,
        "plots_not_drawn": [
            {"title": p["title"], "error": p["error"]} for p in plots if p["error"]
        ],
    }
    return html, _json_safe(summary)


def render_index(summaries: list[dict], *, built_at: datetime | None = None) -> str:
    """The index page linking every study report, with its verdict tally and last run.

    Parameters
    ----------
    summaries : list of dict
        The ``NAME.json`` contents written beside each report.
    built_at : datetime, optional
    """
    studies = []
    for summary in sorted(summaries, key=lambda s: str(s.get("study", ""))):
        counts = summary.get("verdicts") or {}
        last = summary.get("last_run")
        studies.append(
            {
                "name": str(summary.get("study", "")),
                "question": str(summary.get("question", "")),
                "href": str(summary.get("report", "")),
                "last_run": str(last).replace("T", " ")[:16] + " UTC" if last else "never",
                "quick": bool(summary.get("quick")),
                "varied": _variant_text(summary.get("variant")),
                "verdicts": [
                    {"n": counts[word], **_verdict(word)}
                    for word in _verdict_order(counts)
                    if counts[word]
                ],
                "n_missing": len(summary.get("missing") or []),
                "differ": [
                    str(c.get("id", ""))
                    for c in summary.get("claims") or []
                    if isinstance(c, dict)
                    and not summary.get("quick")  # a smoke run is not held against sources
                    and _differs(c, c.get("verdict"))
                ],
            }
        )
    built = (built_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return environment().get_template("index.html.j2").render(studies=studies, built_at=built)
