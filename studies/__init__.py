"""Studies: reproducible comparisons on dlkit, tracked in MLflow.

A study is data (:class:`Study`: question, base config, arms, seeds, trial function, claims,
plots); :mod:`studies.runner` executes it, :mod:`studies.tracking` logs it, and
``python -m studies`` is the command line (``list | run NAME | report NAME``). Each study lives
in its own module of this package and defines a module-level ``STUDY``.
"""

from studies.study import Arm, Claim, ClaimResult, Plot, Stage, Study, TrialResult

__all__ = ["Arm", "Claim", "ClaimResult", "Plot", "Stage", "Study", "TrialResult"]
