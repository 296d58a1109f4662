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
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from reports.plots import arm_order, arm_palette, draw_plot, plot_specs
from reports.tables import (
    arm_differences,
    base_config_rows,
    completeness_notes,
    declared_seeds,
    format_number,
    metric_directions,
    results_frame,
    results_records,
    results_table,
    stage_rows,
)
from studies.store.reader import StudyRuns, declared_arms

TEMPLATES = Path(__file__).resolve().parent / "templates"
PNG_DPI = 100
LOCAL_UI = "http://127.0.0.1:5000"  # where `make mlflow-ui` serves the stock MLflow UI
VERDICTS = {
    "supported": ("supported", "\u2714"),
    "not supported": ("not-supported", "\u2718"),
    "inconclusive": ("inconclusive", "?"),
}
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
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


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
    claims = []
    for row in runs.claims.to_dict("records"):
        numbers = row.get("numbers") or {}
        claims.append(
            {
                "id": str(row.get("id") or ""),
                "text": str(row.get("text") or ""),
                "statistic": str(row.get("statistic") or ""),
                "detail": str(row.get("detail") or ""),
                "verdict": _verdict(row.get("verdict")),
                "numbers": [
                    (str(k), format_number(v) if isinstance(v, (int, float)) else str(v))
                    for k, v in numbers.items()
                ],
            }
        )
    return claims


def _mlflow_links(runs: StudyRuns, order: list[str]) -> dict:
    """Run ids per arm and trial with the URL each opens in the MLflow UI."""
    remote = runs.tracking_uri.startswith(("http://", "https://"))
    base = runs.tracking_uri.rstrip("/") if remote else LOCAL_UI
    experiment_id = runs.experiment["id"]

    def url(run_id: str | None = None) -> str:
        page = f"{base}/#/experiments/{experiment_id}"
        return f"{page}/runs/{run_id}" if run_id else page

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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


def _results_by_stage(runs: StudyRuns, order: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """One results frame per stage, with the summary figures that stage's trials report.

    Stages of one study often measure different things (a tuning sweep, the final
    comparison, a toy problem); one table each keeps every column meaningful.
    """
    trials = runs.trials
    declared = [row["name"] for row in stage_rows(runs.study)]
    found = list(pd.unique(trials["stage"])) if len(trials) else []
    stages = [s for s in declared if s in found] + [s for s in found if s not in declared]
    out = []
    for stage in stages or ["main"]:
        rows = trials[trials["stage"] == stage] if stages else trials
        metrics = [
            key
            for key in runs.summary_keys
            if key in rows and pd.to_numeric(rows[key], errors="coerce").notna().any()
        ]
        arms = runs.arms[runs.arms["arm"].isin(set(rows["arm"]))] if len(runs.arms) else runs.arms
        out.append((str(stage), results_frame(rows, arms, metrics, order)))
    return out


def render_report(
    runs: StudyRuns, *, built_at: datetime | None = None, notes: Sequence[str] = ()
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

    Returns
    -------
    html : str
        The self-contained page.
    summary : dict
        JSON-ready: question, last run, claims with verdicts and numbers, the results table
        and what is missing (no build time, so rebuilding an unchanged store diffs clean).
    """
    notes = completeness_notes(runs) + list(notes)
    runs = current_trials(runs)
    order = arm_order(runs)
    stage_of = dict(zip(runs.trials["arm"], runs.trials["stage"], strict=True))
    palette = arm_palette(order, stage_of)
    plots = []
    for spec in plot_specs(runs):
        out = draw_plot(runs, spec, palette)
        plots.append(
            {
                "title": out.title or out.kind,
                "kind": out.kind,
                "src": figure_to_data_uri(out.figure) if out.figure is not None else "",
                "caption": out.caption,
                "error": out.error,
            }
        )
    results = _results_by_stage(runs, order)
    directions = metric_directions(runs.study)
    claims = _claims(runs)
    keys, diff_rows = arm_differences(runs.study)
    packages, recorded = _packages(runs)
    info = _summary_info(runs)
    seeds = declared_seeds(runs.study)
    words = [claim["verdict"]["word"] for claim in claims]
    verdict_counts = {word: words.count(word) for word in _verdict_order(words)}
    context = {
        "name": runs.name,
        "question": runs.experiment.get("question") or runs.study.get("question", ""),
        "description": runs.study.get("description", ""),
        "info": info,
        "notes": notes,
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
        "claims": [
            {k: row.get(k) for k in ("id", "text", "statistic", "verdict", "numbers", "detail")}
            for row in runs.claims.to_dict("records")
        ],
        "results": [
            {"stage": stage, **record}
            for stage, frame in results
            for record in results_records(frame)
        ],
        "missing": notes,
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
                "verdicts": [
                    {"n": counts[word], **_verdict(word)}
                    for word in _verdict_order(counts)
                    if counts[word]
                ],
                "n_missing": len(summary.get("missing") or []),
            }
        )
    built = (built_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return environment().get_template("index.html.j2").render(studies=studies, built_at=built)
