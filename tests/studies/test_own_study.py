"""Your own study: `python -m studies new NAME` writes a study file that runs as written, and
`run PATH.py` / `run package.module` run a study that lives outside the catalogue."""

from __future__ import annotations

import json
import sys

import pytest
from mlflow import MlflowClient

from studies import cli
from studies.engine import registry
from studies.scaffold import write_scaffold


def test_scaffold_round_trip(tmp_path, store, capsys):
    """new -> run --quick -> the claim is judged and the report built (in-process: the
    by-value pickling that worker processes rely on is checked on its own below)."""
    import reports

    assert cli.main(["new", "my_question", "--dir", str(tmp_path)]) == 0
    path = tmp_path / "my_question.py"
    assert f"python -m studies run {path} --quick" in capsys.readouterr().out
    argv = ["run", str(path), "--quick", "--jobs", "1", "--no-report"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "my_question: 4 trials (4 run" in out and "0 failed" in out
    assert "With momentum 0.9, SGD reaches the target" in out
    html = reports.build_report("my_question", tracking_uri=store, out_dir=tmp_path / "out")
    assert "Does momentum get a small MLP" in html.read_text(encoding="utf-8")
    summary = json.loads((tmp_path / "out" / "my_question.json").read_text(encoding="utf-8"))
    (claim,) = summary["claims"]
    assert claim["id"] == "momentum_faster" and claim["seeds"] == 2
    assert claim["source"].startswith("Sutskever")
    runs = MlflowClient(store).search_runs(
        [MlflowClient(store).get_experiment_by_name("my_question").experiment_id],
        "tags.kind = 'trial'",
    )
    assert len(runs) == 4 and all(r.inputs.dataset_inputs for r in runs)


def test_a_study_files_trial_is_pickled_by_value_for_the_workers(tmp_path):
    """Pool and Dask workers cannot import a study file by name: its functions must travel
    by value. Unpickling works with the module gone from ``sys.modules`` (by reference, it
    would raise ModuleNotFoundError)."""
    import pickle

    cloudpickle = pytest.importorskip("cloudpickle")

    study = registry.resolve(str(write_scaffold("by_value", tmp_path)))
    data = cloudpickle.dumps(study.trial)
    module = sys.modules.pop("studies_external.by_value")
    try:
        trial = pickle.loads(data)
    finally:
        sys.modules["studies_external.by_value"] = module
    assert trial.__name__ == "trial" and trial is not study.trial


def test_scaffold_refuses_bad_names_and_overwriting(tmp_path):
    with pytest.raises(ValueError, match=r"Python identifier .* got 'my-question'"):
        write_scaffold("my-question", tmp_path)
    with pytest.raises(ValueError, match="got 'class'"):
        write_scaffold("class", tmp_path)
    path = write_scaffold("mine", tmp_path)
    before = path.read_text()
    with pytest.raises(ValueError, match="already exists"):
        write_scaffold("mine", tmp_path)
    assert path.read_text() == before


def test_cli_new_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["new", "2fast", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().startswith("error: study name must be")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("X = 1\n", "must define STUDY = studies.Study(...)"),
        ("STUDY = {'name': 'x'}\n", "got a dict"),
        ("import nonexistent_package_xyz\n", "fails to import: ModuleNotFoundError"),
    ],
)
def test_a_file_without_a_study_is_one_clear_error(tmp_path, body, message):
    path = tmp_path / "broken.py"
    path.write_text(body)
    with pytest.raises(ValueError, match=message) as err:
        registry.resolve(str(path))
    assert str(path) in str(err.value)


def test_unknown_targets_name_the_valid_choices(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        registry.resolve(str(tmp_path / "nope.py"))
    with pytest.raises(ValueError, match="valid choices: .*optimizers"):
        registry.resolve("no_such_study")


def test_a_study_module_on_the_path_runs_by_its_dotted_name(tmp_path, monkeypatch):
    package = tmp_path / "my_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_scaffold("lesson", package)
    monkeypatch.syspath_prepend(str(tmp_path))
    study = registry.resolve("my_pkg.lesson")
    assert study.name == "lesson" and [a for a in study.arms] == ["sgd", "momentum"]
    sys.modules.pop("my_pkg.lesson", None)
    sys.modules.pop("my_pkg", None)


def test_catalogue_names_still_resolve():
    assert registry.resolve("init") is registry.load_study("init")


def test_list_shows_study_files_of_a_path_marked_external(tmp_path, monkeypatch, capsys):
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    write_scaffold("q_one", mine)
    write_scaffold("q_two", theirs)
    (mine / "broken.py").write_text("STUDY = 3\n")
    (mine / "_helper.py").write_text("raise RuntimeError('not a study file')\n")
    monkeypatch.setenv(registry.PATH_ENV, str(theirs))
    assert cli.main(["list", "--path", str(mine)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("optimizers ") for line in lines)  # the catalogue first
    (one,) = [line for line in lines if line.startswith("q_one ")]
    assert f"[external: {mine / 'q_one.py'}]" in one and "momentum" in one
    assert any(line.startswith("q_two ") and "[external: " in line for line in lines)
    (bad,) = [line for line in lines if line.startswith("broken ")]
    assert "[external, not a study]" in bad and "got a int" in bad
    assert not any(line.startswith("_helper") for line in lines)
    # a study file on the path also runs by its bare name
    assert registry.resolve("q_two").name == "q_two"


def test_a_missing_study_directory_is_one_line(tmp_path, capsys):
    assert cli.main(["list", "--path", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: study path") and "is not a directory" in err
