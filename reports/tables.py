"""Table builders: pure functions of the study's frames (no MLflow, no HTML templates).

The results table is a pandas Styler (the best value of each metric whose direction the study
declares is marked with colour and a star); the setup tables are plain records the template
renders with autoescaping.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from studies import stats
from studies.engine.claims import judge_study
from studies.store.reader import StudyRuns, declared_arms

logger = logging.getLogger(__name__)

#: The directions a study may declare for a summary metric (``Study(metrics=...)``).
DIRECTIONS = ("higher", "lower")
BEST_MARK = "\u2605"  # a star, so "best" does not rely on colour alone
ARROWS = {"higher": " \u2191", "lower": " \u2193"}


def metric_directions(study: Mapping) -> dict[str, str]:
    """Which way each summary metric is better, as the study declares it in ``study.json``.

    Parameters
    ----------
    study : mapping
        The study's ``study.json`` (``StudyRuns.study``); its ``metrics`` maps a summary
        metric to ``"higher"`` or ``"lower"``.

    Returns
    -------
    dict of str to {"higher", "lower"}
        Declared metrics only: a metric the study does not declare (or declares as None,
        neither way) has no better direction and no "best" mark. An entry with any other
        value is left out too, with a warning.
    """
    declared = study.get("metrics")
    directions: dict[str, str] = {}
    if not isinstance(declared, Mapping):
        return directions
    for metric, direction in declared.items():
        if direction in DIRECTIONS:
            directions[str(metric)] = direction
        elif direction is not None:
            logger.warning(
                "study.json declares metric %r as %r; expected one of %s: no direction",
                metric,
                direction,
                ", ".join(DIRECTIONS),
            )
    return directions


def results_frame(
    trials: pd.DataFrame, arms: pd.DataFrame, metrics: Sequence[str], order: Sequence[str] = ()
) -> pd.DataFrame:
    """Per-arm trial counts and, for each metric, the mean and 95% CI over seeds.

    The aggregates the engine logged on the arm run (``<metric>_mean``, ``_ci_lo``,
    ``_ci_hi``) are used as they are, so the report matches the MLflow UI; a metric the arm
    run lacks is aggregated here (mean and 95% Student-t interval over the trials' finite
    values, :func:`studies.stats.t_interval`, as the engine aggregates).

    Parameters
    ----------
    trials : DataFrame, shape (n_trials, n_columns)
        ``StudyRuns.trials``.
    arms : DataFrame, shape (n_arm_runs, n_columns)
        ``StudyRuns.arms``.
    metrics : sequence of str
        Summary figures to tabulate (columns of ``trials``).
    order : sequence of str
        Row order of the arms; arms only found in the data follow, sorted.

    Returns
    -------
    DataFrame, shape (n_arms, 4 + 3 * n_metrics)
        Index ``arm``; columns ``n_trials``, ``n_ok``, ``n_diverged``, ``n_failed`` and a
        (metric, ``mean``|``ci_lo``|``ci_hi``) column MultiIndex for the rest.
    """
    names = [a for a in order if a in set(trials["arm"])]
    names += sorted(a for a in trials["arm"].unique() if a not in names)
    logged = arms.set_index("arm") if "arm" in arms else pd.DataFrame()
    logged_rows = logged.to_dict("index")
    groups = dict(iter(trials.groupby("arm", sort=False)))
    rows = {}
    for arm in names:
        group = groups[arm]
        status = group["status"].to_numpy()
        row = {
            ("trials", "n_trials"): len(group),
            ("trials", "n_ok"): int((status == "ok").sum()),
            ("trials", "n_diverged"): int((status == "diverged").sum()),
            ("trials", "n_failed"): int((status == "failed").sum()),
        }
        arm_logged = logged_rows.get(arm, {})
        for metric in metrics:
            keys = [f"{metric}_{s}" for s in ("mean", "ci_lo", "ci_hi")]
            if all(k in arm_logged for k in keys):
                values = tuple(float(arm_logged[k]) for k in keys)
            else:
                column = pd.to_numeric(group.get(metric, pd.Series(dtype=float)), errors="coerce")
                x = column.to_numpy(dtype=float)
                values = stats.t_interval(x[np.isfinite(x)])
            for stat, value in zip(("mean", "ci_lo", "ci_hi"), values, strict=True):
                row[(metric, stat)] = value
        rows[arm] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if frame.empty:
        frame = pd.DataFrame(
            columns=pd.MultiIndex.from_tuples(
                [("trials", c) for c in ("n_trials", "n_ok", "n_diverged", "n_failed")]
            )
        )
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    frame.index.name = "arm"
    return frame


def format_number(value: float) -> str:
    """Four significant digits, ``n/a`` for NaN or None, plain text for infinities."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.4g}"


def best_arms(results: pd.DataFrame, directions: Mapping[str, str]) -> dict[str, list[str]]:
    """For each metric of ``results_frame``, the arm(s) with the best mean (ties all count).

    Parameters
    ----------
    results : DataFrame, shape (n_arms, 4 + 3 * n_metrics)
    directions : mapping of str to {"higher", "lower"}
        The study's declared directions (:func:`metric_directions`); a metric not in it has
        no best arm.

    Returns
    -------
    dict of str to list of str
    """
    best = {}
    metrics = [m for m in results.columns.get_level_values(0).unique() if m != "trials"]
    for metric in metrics:
        means = pd.to_numeric(results[(metric, "mean")], errors="coerce")
        means = means[np.isfinite(means)]
        direction = directions.get(metric)
        if means.empty or direction not in DIRECTIONS:
            best[metric] = []
            continue
        target = means.min() if direction == "lower" else means.max()
        best[metric] = [arm for arm, v in means.items() if v == target]
    return best


def results_table(results: pd.DataFrame, directions: Mapping[str, str]) -> Styler:
    """Style ``results_frame`` output for the page: one ``mean [lo, hi]`` cell per metric.

    The best mean of each metric the study declares a direction for is marked bold, tinted
    and starred, and its header carries the direction (\u2191 higher, \u2193 lower is better).

    Parameters
    ----------
    results : DataFrame, shape (n_arms, 4 + 3 * n_metrics)
    directions : mapping of str to {"higher", "lower"}
        The study's declared directions (:func:`metric_directions`).

    Returns
    -------
    Styler
        Cells and labels HTML-escaped (arm names come from study code and the store).
    """
    best = best_arms(results, directions)
    display = pd.DataFrame(index=results.index)
    if len(results.columns):
        counts = results["trials"]
        display["trials (ok / run)"] = [
            f"{int(ok)} / {int(n)}"
            for ok, n in zip(counts["n_ok"], counts["n_trials"], strict=True)
        ]
        display["diverged / failed"] = [
            f"{int(d)} / {int(f)}"
            for d, f in zip(counts["n_diverged"], counts["n_failed"], strict=True)
        ]
    mask = pd.DataFrame(False, index=display.index, columns=list(display.columns))
    for metric, winners in best.items():
        header = f"{metric}{ARROWS.get(directions.get(metric), '')}"
        cells = []
        columns = [results[(metric, s)].to_numpy(dtype=float) for s in ("mean", "ci_lo", "ci_hi")]
        for arm, mean, lo, hi in zip(results.index, *columns, strict=True):
            text = format_number(mean)
            if np.isfinite(lo) and np.isfinite(hi):
                text += f" [{format_number(lo)}, {format_number(hi)}]"
            if arm in winners:
                text += f" {BEST_MARK}"
            cells.append(text)
        display[header] = cells
        mask[header] = [arm in winners for arm in results.index]
    display.insert(0, "arm", list(display.index))
    mask.insert(0, "arm", False)
    display = display.reset_index(drop=True)
    mask = mask.reset_index(drop=True)
    styler = display.style.format(escape="html").format_index(escape="html", axis=1)
    styler = styler.hide(axis="index")
    styler = styler.apply(
        lambda _: np.where(mask, "font-weight:700;background-color:#dafbe1", ""), axis=None
    )
    styler = styler.set_table_attributes('class="results"')
    return styler.set_caption(
        f"Mean over seeds [95% confidence interval]. {BEST_MARK} best per column where the "
        "study declares which way is better (\u2191 higher, \u2193 lower)."
    )


def results_records(results: pd.DataFrame) -> list[dict]:
    """``results_frame`` output as JSON-ready records (NaN -> None), one per arm."""
    records = []
    for arm, row in results.iterrows():
        record: dict = {"arm": arm}
        for (group, stat), value in row.items():
            key = stat if group == "trials" else f"{group}.{stat}"
            number = float(value)
            if group == "trials":
                record[key] = int(number)
            else:
                record[key] = number if math.isfinite(number) else None
        records.append(record)
    return records


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """Nested dict -> ``{"a.b.c": value}`` (the dotted keys the engine logs as params)."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def show_value(value: object) -> str:
    """A config value as the user wrote it (JSON for lists, dicts, booleans and None)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def base_config_rows(study: dict) -> list[tuple[str, str]]:
    """The base config as (dotted key, value) rows, in declaration order."""
    base = study.get("base_config")
    return [(k, show_value(v)) for k, v in flatten(base).items()] if isinstance(base, dict) else []


def arm_differences(study: dict) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """What each arm changes relative to the base config.

    Returns
    -------
    keys : list of str
        Every dotted key some arm overrides (the table's columns).
    rows : list of (arm, values)
        Per arm its value for each key; ``""`` where the arm keeps the base value.
    """
    arms = declared_arms(study)
    flats = {name: flatten(arm["overrides"]) for name, arm in arms.items()}
    keys: list[str] = []
    for flat in flats.values():
        keys += [k for k in flat if k not in keys]
    rows = [
        (name, [show_value(flat[k]) if k in flat else "" for k in keys])
        for name, flat in flats.items()
    ]
    return keys, rows


def stage_rows(study: dict) -> list[dict]:
    """The study's stages in run order: ``name``, ``arms`` (names), ``seeds`` and the
    stage's own base config as (dotted key, value) rows (empty when it uses the study's)."""
    rows = []
    for stage in study.get("stages") or []:
        if not isinstance(stage, dict):
            continue
        base = stage.get("base_config")
        rows.append(
            {
                "name": str(stage.get("name", "")),
                "arms": [str(a) for a in stage.get("arms") or []],
                "seeds": declared_seeds({"seeds": stage.get("seeds")}) or [],
                "base_config": base_config_rows({"base_config": base}),
            }
        )
    return rows


def declared_seeds(study: dict) -> list[int] | None:
    """The seeds the study asked for (``seeds`` as a list, or a count meaning 0..n-1).

    For a study run in stages this is the last stage's seeds (see :func:`stage_seeds`).
    """
    seeds = study.get("seeds")
    if isinstance(seeds, bool) or seeds is None:
        return None
    if isinstance(seeds, int):
        return list(range(seeds))
    if isinstance(seeds, list) and all(isinstance(s, int) for s in seeds):
        return list(seeds)
    return None


def stage_seeds(study: dict) -> dict[str, list[int]]:
    """Seeds per stage from ``study.json``'s ``stages`` list (empty if not recorded)."""
    out = {}
    for stage in study.get("stages") or []:
        if isinstance(stage, dict) and "name" in stage:
            seeds = declared_seeds({"seeds": stage.get("seeds")})
            if seeds is not None:
                out[str(stage["name"])] = seeds
    return out


def completeness_notes(runs: StudyRuns) -> list[str]:
    """Plain sentences naming everything missing or abnormal in the store for this study.

    Covers: no summary run; declared arms with no trial; declared seeds without a trial;
    failed trials; trials of arms the study does not declare; a quick (smoke) run. Empty when
    the store holds the complete study. Diverged trials are data, not gaps: see
    :func:`divergence_notes`.
    """
    notes = []
    trials = runs.trials
    if runs.summary_run is None:
        notes.append(
            "No summary run was found: the claims, setup and command to reproduce are "
            "unknown (the study may still be running or was interrupted)."
        )
    else:
        summary = runs.summary_run
        if summary.get("quick"):
            notes.append(
                "This is a quick (smoke) run with fewer epochs and seeds; its verdicts are not "
                "evidence either way."
            )
        # What the run itself noted: a stage skipped, an arm chosen with fewer trials.
        notes += [str(note) for note in (runs.study or {}).get("notes") or []]
        if summary.get("run_status", "FINISHED") != "FINISHED":
            notes.append(
                f"The reported invocation {summary.get('run_name', '')} did not finish "
                f"(MLflow status {summary.get('run_status')}): claims may be missing."
            )
        for later in summary.get("unfinished_after") or []:
            notes.append(
                f"A later invocation, {later['run_name']}, has status {later['status']} "
                "(still running or interrupted); this report shows the last finished one."
            )
        for gone in summary.get("missing_trials") or []:
            notes.append(
                f"Trial {gone.get('arm')!r} seed {gone.get('seed')} (run {gone.get('run_id')}) "
                "is listed by the invocation but no longer in the store."
            )
        if summary.get("git_dirty"):
            notes.append(
                "The code had uncommitted changes when this ran: the commit alone does not "
                "reproduce it."
            )
    arms = list(declared_arms(runs.study))
    present = set(trials["arm"]) if len(trials) else set()
    for arm in arms:
        if arm not in present:
            notes.append(f"Arm {arm!r} has no trial in the store.")
    stage_of = {name: arm["stage"] for name, arm in declared_arms(runs.study).items()}
    per_stage = stage_seeds(runs.study)
    # The sequential design runs each arm to its own number of seeds: the invocation lists
    # them (``arm_seeds``); older runs fall back to their stage's seeds.
    per_arm = runs.study.get("arm_seeds") if isinstance(runs.study, dict) else None
    per_arm = per_arm if isinstance(per_arm, dict) else {}
    for arm in [a for a in arms if a in present]:
        seeds = per_arm.get(arm) or per_stage.get(stage_of[arm], declared_seeds(runs.study))
        if seeds is None:
            continue
        have = set(trials.loc[trials["arm"] == arm, "seed"])
        lacking = [s for s in seeds if s not in have]
        if lacking:
            notes.append(
                f"Arm {arm!r}: {len(lacking)} of {len(seeds)} seeds missing "
                f"(seed {', '.join(map(str, lacking))})."
            )
    notes += _status_notes(trials, "failed")
    if arms:
        extra = sorted(present - set(arms))
        if extra:
            notes.append(
                "Trials of arms the study no longer declares are left out of this report: "
                f"{', '.join(extra)}."
            )
    if not len(trials):
        notes.append("The store holds no trial of this study.")
    return notes


def divergence_notes(runs: StudyRuns) -> list[str]:
    """One sentence per arm with diverged trials: how many, which seeds, at which epochs.

    A diverging run is recorded, not an error (a learning-rate sweep or an exploding net
    diverges by design), so the report lists these apart from what is missing.
    """
    return _status_notes(runs.trials, "diverged") if len(runs.trials) else []


def _status_notes(trials: pd.DataFrame, status: str) -> list[str]:
    """One sentence per arm with trials of ``status`` ("diverged" or "failed")."""
    bad = trials[trials["status"] == status]
    return [
        f"Arm {arm!r}: {_bad_trials(group, status, trials)}."
        for arm, group in bad.groupby("arm", sort=True)
    ]


def _bad_trials(group: pd.DataFrame, status: str, trials: pd.DataFrame) -> str:
    """``group``'s diverged or failed trials in words: each seed (and epoch) when there are
    a few, else the count of the arm's trials, the seeds as ranges and the epochs' span (a
    learning-rate sweep diverges by design at its largest rates, on most seeds)."""
    n_arm = int((trials["arm"] == group["arm"].iloc[0]).sum())
    epochs = group["diverged_epoch"].dropna().astype(int) if status == "diverged" else []
    if len(group) <= 3:
        parts = []
        for _, row in group.iterrows():
            at = row["diverged_epoch"]
            where = f" at epoch {int(at)}" if status == "diverged" and pd.notna(at) else ""
            parts.append(f"seed {row['seed']}{where}")
        return f"{len(group)} trial(s) {status} ({', '.join(parts)})"
    seeds = _ranges(sorted(int(s) for s in group["seed"]))
    text = f"{len(group)} of {n_arm} trials {status} (seeds {seeds}"
    if len(epochs):
        low, high = int(min(epochs)), int(max(epochs))
        text += f", at epoch {low}" if low == high else f", at epochs {low}\u2013{high}"
    return text + ")"


def _ranges(values: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` as ``"0\u20132, 5, 7\u20138"``."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}\u2013{b}" for a, b in runs)


def claim_mismatches(runs: StudyRuns, claims: Sequence) -> list[str]:
    """Re-evaluate the study's claims on the loaded frames; name every verdict that differs.

    A claim is a pure function of the trials' summaries and histories, so the verdict logged
    by the run must come out again from the store when the sequential design is replayed up
    to the look the run reached (``study.json``'s ``design``); a difference means the claim's
    code (or the data) changed since the run.

    Parameters
    ----------
    runs : StudyRuns
    claims : sequence of studies.Claim
        The study's current claims (``id`` and ``evaluate(summaries, histories)``).

    Returns
    -------
    list of str
        One sentence per claim whose re-evaluated verdict differs from the logged one or
        that could not be re-evaluated.
    """
    logged = {str(row["id"]): row["verdict"] for row in runs.claims.to_dict("records")}
    design = (runs.study or {}).get("design")
    replay = isinstance(design, dict)
    try:
        if replay:
            sequential = stats.SequentialDesign(
                looks=tuple(design["looks"]), alpha=design["alpha"], spending=design["spending"]
            )
            reached = int(design["reached"])
        else:  # a run from before the sequential design: only fixed verdicts are comparable
            sequential, reached = stats.SequentialDesign(), 1
        selected = (runs.study or {}).get("arms_selected")
        judgements = judge_study(
            claims,
            runs.trials,
            runs.history,
            sequential,
            reached=reached,
            selected_arms=selected if isinstance(selected, list) else None,
        )
    except Exception as err:  # study code or an odd study.json: report it, do not crash
        return [f"The claims could not be re-evaluated from the store: {type(err).__name__}: {err}"]
    notes = []
    for claim, judgement in zip(claims, judgements, strict=True):
        if claim.id not in logged or (judgement.result.parts and not replay):
            continue
        detail, verdict = judgement.result.detail, judgement.result.verdict
        if detail.startswith("could not be evaluated: "):
            notes.append(
                f"Claim {claim.id!r} could not be re-evaluated from the store: "
                f"{detail.removeprefix('could not be evaluated: ')}"
            )
        elif verdict != logged[claim.id]:
            notes.append(
                f"Claim {claim.id!r}: the run logged {logged[claim.id]!r}, but the study's "
                f"current claim gives {verdict!r} on the same trials (its code changed since)."
            )
    return notes
