"""The guide ``docs/writing-a-study.md`` cannot rot: its Python blocks run, in order, in one
namespace (the worked study is defined, then run quickly through the real runner), and every
``python -m studies`` command in its shell blocks parses with the real CLI and names a study
and arms that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from studies import Study, cli
from studies.engine import registry
from studies.engine.overrides import apply_overrides, select_arms

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-study.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE.read_text("utf-8")) if lang == language]


def commands() -> list[list[str]]:
    """The ``python -m studies ...`` lines of the shell blocks, as argument lists."""
    found = []
    for body in blocks("bash"):
        for line in body.splitlines():
            words = shlex.split(line, comments=True)
            if words[:3] == ["python", "-m", "studies"]:
                found.append(words[3:])
    return found


def test_the_guide_is_linked_from_the_readme():
    readme = (GUIDE.parents[1] / "README.md").read_text("utf-8")
    assert "docs/writing-a-study.md" in readme


def test_the_python_blocks_run_in_order(store, capsys):
    namespace: dict = {"__name__": "guide"}
    python = blocks("python")
    assert len(python) >= 2
    for body in python:
        exec(compile(body, str(GUIDE), "exec"), namespace)
    study = namespace["STUDY"]
    assert isinstance(study, Study) and study.name == "moons"
    # the worked example is about 50 lines, as the guide says
    assert 40 <= len(python[0].strip().splitlines()) <= 65
    outcome = namespace["outcome"]
    assert {r.spec.arm for r in outcome.records} == {"logistic", "hidden16"}
    assert all(r.result.status == "ok" for r in outcome.records)
    assert capsys.readouterr().out.split(" - ")[0].strip() in ("supported", "inconclusive")


@pytest.mark.parametrize("argv", commands(), ids=lambda argv: " ".join(argv))
def test_every_command_parses_and_names_what_exists(argv, tmp_path):
    args = cli.build_parser().parse_args(argv)
    if args.command != "run":
        return
    if args.name.endswith(".py"):  # the guide's own moons.py: its STUDY is the first block
        namespace: dict = {"__name__": "guide"}
        exec(blocks("python")[0], namespace)
        study = namespace["STUDY"]
    else:
        study = registry.resolve(args.name)
    varied = apply_overrides(study, args.overrides)
    if args.arms is not None:
        assert select_arms(varied, args.arms).stages


def test_the_plot_kinds_table_lists_every_kind_with_its_options():
    from reports.plots.registry import KINDS

    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", GUIDE.read_text("utf-8"), re.M)
    table = {kind: re.findall(r"`(\w+)`", options) for kind, options in rows if kind in KINDS}
    assert table == {name: list(kind.options) for name, kind in KINDS.items()}
