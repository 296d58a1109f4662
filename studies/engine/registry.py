"""Find studies: every public module of the ``studies.catalog`` package defines a ``STUDY``.

The catalogue is its own package, so nothing has to tell studies from engine code; private
``_*`` modules are the catalogue's shared helpers. A study's name is its module's name, so
``make study-NAME`` and ``python -m studies run NAME`` agree with the file system.
"""

from __future__ import annotations

import importlib
import pkgutil

import studies.catalog
from dlkit.validation import check_choice
from studies.engine.spec import Study


def candidate_names() -> list[str]:
    """Names of the catalogue's study modules (not its private helpers), sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(studies.catalog.__path__)
        if not info.name.startswith("_")
    )


def load_study(name: str) -> Study:
    """Import ``studies.catalog.<name>`` and return its ``STUDY``.

    Raises
    ------
    ValueError
        For an unknown name (listing the valid ones), a module without a ``STUDY``, or a
        ``STUDY`` whose name differs from its module's.
    """
    check_choice("study", name, candidate_names())
    module = importlib.import_module(f"studies.catalog.{name}")
    study = getattr(module, "STUDY", None)
    if not isinstance(study, Study):
        raise ValueError(f"module studies.catalog.{name} defines no STUDY (a studies.Study)")
    if study.name != name:
        raise ValueError(
            f"studies.catalog.{name}.STUDY is named {study.name!r}; a study's name must be "
            f"its module's name ({name!r})"
        )
    return study


def discover() -> dict[str, Study]:
    """Every study of the package, by name (imports each candidate module)."""
    found = {}
    for name in candidate_names():
        module = importlib.import_module(f"studies.catalog.{name}")
        if isinstance(getattr(module, "STUDY", None), Study):
            found[name] = load_study(name)
    return found
