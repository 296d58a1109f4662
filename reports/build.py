"""Build a study's report files from the MLflow store: the one entry point with side effects."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from reports.render import arm_figures, render_index, render_report
from reports.tables import claim_mismatches
from studies.engine.registry import load_study
from studies.paths import REPO_ROOT
from studies.store.reader import StudyRuns, load_runs, log_report

logger = logging.getLogger(__name__)

DEFAULT_OUT_DIR = REPO_ROOT / "reports" / "out"


def build_report(
    name: str, *, tracking_uri: str | None = None, out_dir: Path = DEFAULT_OUT_DIR
) -> Path:
    """Write ``NAME.html`` and ``NAME.json`` for one study, refresh ``index.html``, log to MLflow.

    Parameters
    ----------
    name : str
        The study (MLflow experiment) name.
    tracking_uri : str, optional
        MLflow tracking URI; defaults to ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` at
        the repository root.
    out_dir : Path
        Where the files go (created if needed).

    Returns
    -------
    Path
        The HTML report, also logged as artifact ``report/NAME.html`` of the study's latest
        summary run, with each plot as ``figures/NN-<title>.png`` beside it; each arm's parent
        run gets its own copy of the plots drawn one panel per arm (:func:`arm_figures`).

    Raises
    ------
    ValueError
        If the store has no study called ``name`` (the message lists those it has).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = load_runs(name, tracking_uri)
    loaded = time.perf_counter()
    figures: dict[str, bytes] = {}
    html, summary = render_report(runs, notes=_recheck_claims(runs), figures=figures)
    html_path = out_dir / f"{name}.html"
    html_path.write_text(html, encoding="utf-8")
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    build_index(out_dir)
    log_report(runs, html_path, figures, arm_figures(runs))
    logger.info(
        "report %s: %d trials, loaded in %.2f s, built in %.2f s",
        html_path,
        len(runs.trials),
        loaded - started,
        time.perf_counter() - started,
    )
    return html_path


def build_index(out_dir: Path = DEFAULT_OUT_DIR) -> Path:
    """Rewrite ``out_dir/index.html`` from the ``NAME.json`` files beside the reports.

    Parameters
    ----------
    out_dir : Path

    Returns
    -------
    Path
        The index page.
    """
    out_dir = Path(out_dir)
    summaries = []
    for path in sorted(out_dir.glob("*.json")):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("skipping %s in the index: %s", path, exc)
            continue
        if isinstance(summary, dict) and (out_dir / str(summary.get("report", ""))).is_file():
            summaries.append(summary)
    index = out_dir / "index.html"
    index.write_text(render_index(summaries, built_at=datetime.now(UTC)), encoding="utf-8")
    return index


def _recheck_claims(runs: StudyRuns) -> list[str]:
    """Re-evaluate the claims of the study's current definition on the loaded frames.

    A store may hold studies whose module is gone (renamed, or another checkout's); their
    report is built from the store alone, without this check.
    """
    try:
        study = load_study(runs.name)
    except ValueError as exc:  # not a study of this checkout
        logger.info("claims of %r not re-checked: %s", runs.name, exc)
        return []
    except Exception:  # a broken study module must not stop its report from the store
        logger.warning("claims of %r not re-checked: its module fails", runs.name, exc_info=True)
        return []
    return claim_mismatches(runs, study.claims)
