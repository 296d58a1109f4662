"""Find studies: every public module of the ``studies.catalog`` package defines a ``STUDY``.

The catalogue is its own package, so nothing has to tell studies from engine code; private
``_*`` modules are the catalogue's shared helpers. A study's name is its module's name, so
``make study-NAME`` and ``python -m studies run NAME`` agree with the file system.

A study may also live outside the package: :func:`resolve` takes a catalogue name, a path to
a ``.py`` file, or an importable ``package.module``, each defining ``STUDY``; directories of
study files (``--path DIR`` or :data:`PATH_ENV`) are searched by :func:`external`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import studies.catalog
from dlkit.validation import check_choice
from studies.engine.spec import Study

#: Environment variable: directories of study files, separated by ``os.pathsep``.
PATH_ENV = "DLKIT_STUDIES_PATH"


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


@dataclass(frozen=True)
class ExternalStudy:
    """A study file found in a directory of the study path: its study, or why it has none."""

    path: Path
    study: Study | None = None
    error: str = ""


def study_path(paths: Sequence[str | Path] = ()) -> list[Path]:
    """The directories searched for study files: ``paths``, then :data:`PATH_ENV`'s."""
    env = [p for p in os.environ.get(PATH_ENV, "").split(os.pathsep) if p.strip()]
    return list(dict.fromkeys(Path(p).expanduser() for p in [*paths, *env]))


def external(paths: Sequence[str | Path] = ()) -> list[ExternalStudy]:
    """Every ``*.py`` file (not ``_*``) of the study path's directories, imported.

    A file that does not import, or defines no ``STUDY``, is listed with the error (one
    line) rather than raised: one broken file does not hide the others.

    Raises
    ------
    ValueError
        For a directory that does not exist (naming it and where it came from).
    """
    found = []
    for directory in study_path(paths):
        if not directory.is_dir():
            raise ValueError(
                f"study path {str(directory)!r} is not a directory (from --path or ${PATH_ENV})"
            )
        for file in sorted(directory.glob("*.py")):
            if file.name.startswith("_"):
                continue
            try:
                found.append(ExternalStudy(file, _study_of(_import_file(file), str(file))))
            except ValueError as err:
                found.append(ExternalStudy(file, error=str(err)))
    return found


def resolve(target: str) -> Study:
    """The study named by ``target``: a catalogue name, a ``.py`` file, or a module path.

    A file is imported under the name ``studies_external.<stem>`` and its functions are
    pickled by value, so pool and Dask workers, which cannot import the file by name, run
    its trials all the same.

    Raises
    ------
    ValueError
        For a target that is none of these (listing the catalogue's names), a file or module
        that does not import, or one that defines no ``STUDY`` that is a :class:`Study`.
    """
    if target.endswith(".py") or "/" in target or "\\" in target:
        return _study_of(_import_file(Path(target)), target)
    if "." in target and importlib.util.find_spec(target.split(".")[0]) is not None:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise ValueError(f"module {target!r} does not import: {err}") from None
        return _study_of(module, target)
    try:
        return load_study(target)
    except ValueError as err:
        if target in candidate_names():
            raise
        for directory in study_path():  # a study file on $DLKIT_STUDIES_PATH, by its name
            if (directory / f"{target}.py").is_file():
                return _study_of(_import_file(directory / f"{target}.py"), target)
        raise ValueError(f"{err} (or a path to a study file, or a package.module)") from None


def _import_file(path: Path):
    if not path.is_file():
        raise ValueError(f"study file {str(path)!r} does not exist")
    name = f"studies_external.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"study file {str(path)!r} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise ValueError(
            f"study file {str(path)!r} fails to import: {type(err).__name__}: {err}"
        ) from err
    # The process pool pickles with joblib's copy of cloudpickle, Dask with cloudpickle.
    for pickler in ("joblib.externals.cloudpickle", "cloudpickle"):
        try:
            importlib.import_module(pickler).register_pickle_by_value(module)
        except ImportError:
            continue
    return module


def _study_of(module, where: str) -> Study:
    study = getattr(module, "STUDY", None)
    if not isinstance(study, Study):
        got = "nothing" if study is None else f"a {type(study).__name__}"
        raise ValueError(
            f"{where} must define STUDY = studies.Study(...) (see `python -m studies new "
            f"NAME`), got {got}"
        )
    return study
