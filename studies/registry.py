"""Find studies: every module of the ``studies`` package that defines a module-level ``STUDY``.

Engine modules (and private ``_*`` helpers) are skipped. A study's name is its module's name,
so ``make study-NAME`` and ``python -m studies run NAME`` agree with the file system.
"""

from __future__ import annotations

import importlib
import pkgutil

import studies
from dlkit._checks import check_choice
from studies.study import Study

ENGINE_MODULES = frozenset(
    {
        "cache",
        "claims",
        "cli",
        "executors",
        "mlflow_bulk",
        "progress",
        "registry",
        "runner",
        "study",
        "tracking",
    }
)


def candidate_names() -> list[str]:
    """Names of the modules that may hold a study (not engine, not private), sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(studies.__path__)
        if not info.name.startswith("_") and info.name not in ENGINE_MODULES
    )


def load_study(name: str) -> Study:
    """Import ``studies.<name>`` and return its ``STUDY``.

    Raises
    ------
    ValueError
        For an unknown name (listing the valid ones), a module without a ``STUDY``, or a
        ``STUDY`` whose name differs from its module's.
    """
    check_choice("study", name, candidate_names())
    module = importlib.import_module(f"studies.{name}")
    study = getattr(module, "STUDY", None)
    if not isinstance(study, Study):
        raise ValueError(f"module studies.{name} defines no STUDY (a studies.Study)")
    if study.name != name:
        raise ValueError(
            f"studies.{name}.STUDY is named {study.name!r}; a study's name must be "
            f"its module's name ({name!r})"
        )
    return study


def discover() -> dict[str, Study]:
    """Every study of the package, by name (imports each candidate module)."""
    found = {}
    for name in candidate_names():
        module = importlib.import_module(f"studies.{name}")
        if isinstance(getattr(module, "STUDY", None), Study):
            found[name] = load_study(name)
    return found
