"""HTML reports of dlkit studies, built from the MLflow store alone.

``load_runs`` reads a study's runs into tidy frames (the only code that talks to MLflow);
plots and tables are pure functions of those frames; ``build_report`` writes
``reports/out/NAME.html`` (self-contained), ``NAME.json`` and ``index.html``.
"""

from reports.build import build_index, build_report
from studies.store.reader import StudyRuns, load_runs

__all__ = ["StudyRuns", "build_index", "build_report", "load_runs"]
