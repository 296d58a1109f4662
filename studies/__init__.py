"""Studies: reproducible comparisons on dlkit, tracked in MLflow.

A study is data (:class:`Study`: question, base config, arms, seeds, trial function, claims,
plots). The rooms, imports pointing down only:

* :mod:`studies.catalog` — one module per study, each defining ``STUDY``;
* :mod:`studies.engine` — the spec, the runner, executors, registry, progress, code version;
* :mod:`studies.stats` — every statistic (intervals, bootstrap, paired tests, verdicts);
* :mod:`studies.store` — the only code that talks to MLflow.

``python -m studies`` (:mod:`studies.cli`) is the command line: ``list | run NAME|PATH.py |
report NAME | new NAME``; it is the one module that sees both the studies and :mod:`reports`.
:mod:`studies.scaffold` is the study file ``new`` writes.
"""

from studies.engine.spec import Arm, Claim, ClaimResult, Plot, Stage, Study, TrialResult

__all__ = ["Arm", "Claim", "ClaimResult", "Plot", "Stage", "Study", "TrialResult"]
