"""``python -m studies``: listing, running, reporting, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from toy_studies import make_toy

from studies import cli
from studies.engine import registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy_registry(monkeypatch: pytest.MonkeyPatch, calls_file: Path) -> dict:
    """Make the CLI see one toy study instead of the package's real ones."""
    studies = {"toy": make_toy(calls_file=calls_file, seeds=2)}

    def load_study(name: str):
        if name not in studies:
            raise ValueError(f"unknown study {name!r}; valid choices: {', '.join(studies)}")
        return studies[name]

    monkeypatch.setattr(registry, "discover", lambda: dict(studies))
    monkeypatch.setattr(registry, "load_study", load_study)
    return studies


@pytest.fixture
def fake_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list:
    """Stand in for ``reports.build_report``; records its calls."""
    import reports

    calls = []

    def build_report(name, *, tracking_uri=None, out_dir=Path("reports/out")):
        calls.append((name, tracking_uri))
        path = tmp_path / f"{name}.html"
        path.write_text("<html></html>")
        return path

    monkeypatch.setattr(reports, "build_report", build_report, raising=False)
    return calls


def test_list_shows_every_study(toy_registry, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("toy") and "larger step" in out


def test_unknown_study_names_the_valid_ones(capsys):
    assert cli.main(["run", "no_such_study"]) == 1
    err = capsys.readouterr().err
    assert "unknown study 'no_such_study'" in err and "optimizers" in err


def test_registry_lists_the_catalogue_and_not_its_helpers():
    names = registry.candidate_names()
    studies = {"activations", "crossval", "generative", "init", "mnist1d", "optimizers"}
    assert studies <= set(names) and names == sorted(names)
    assert not [n for n in names if n.startswith("_")]  # _deep_mlp, _toy2d are helpers
    assert registry.load_study("optimizers").name == "optimizers"


def test_bad_arguments_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "toy", "--seeds", "0"])
    assert exc.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "toy", "--executor", "ray"])


def test_run_prints_claims_timing_and_report_path(toy_registry, fake_report, store, capsys):
    assert cli.main(["run", "toy", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "toy: 4 trials (4 run, 0 reused" in out
    assert "% of wall" in out and "The fast arm reaches the target" in out
    assert "report: " in out and out.strip().endswith("toy.html")
    assert fake_report == [("toy", store)]

    assert cli.main(["run", "toy", "--jobs", "1", "--no-report"]) == 0
    assert "(0 run, 4 reused from the store" in capsys.readouterr().out
    assert len(fake_report) == 1


def test_report_command_and_a_failing_report(toy_registry, fake_report, monkeypatch, capsys):
    assert cli.main(["report", "toy"]) == 0
    assert fake_report == [("toy", None)]
    import reports

    def broken(name, **kwargs):
        raise RuntimeError("no runs")

    monkeypatch.setattr(reports, "build_report", broken)
    assert cli.main(["report", "toy"]) == 1
    assert "building the report for 'toy' failed: RuntimeError: no runs" in capsys.readouterr().err


def test_module_entry_point_lists_studies():
    out = subprocess.run(
        [sys.executable, "-m", "studies", "list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "optimizers" in out.stdout
    assert "INFO" not in out.stderr and "alembic" not in out.stderr


def test_the_recorded_command_is_the_one_given():
    argv = ["-v", "run", "all", "--quick", "--seeds", "3"]
    assert (
        cli.reproducing_command(argv, "init") == "python -m studies -v run init --quick --seeds 3"
    )
    argv = ["run", "optimizers", "--set", "x=all"]
    assert (
        cli.reproducing_command(argv, "optimizers")
        == "python -m studies run optimizers --set x=all"
    )


def test_summary_names_the_source_where_the_verdict_differs(capsys):
    from types import SimpleNamespace

    from studies.engine.spec import Claim
    from studies.stats import ClaimResult

    def claim(claim_id, **fields):
        return Claim(claim_id, f"{claim_id} holds.", "t", lambda s, h: None, **fields)

    timing = dict.fromkeys(
        ("n_trials", "n_run", "n_reused", "n_diverged", "n_failed", "tracking_calls", "jobs"), 1
    )
    timing |= dict.fromkeys(
        ("wall_seconds", "tracking_seconds", "tracking_fraction", "store_open_seconds"), 0.5
    )
    timing["compute_seconds"] = 0.5
    agrees = claim(
        "agrees", source="Glorot & Bengio 2010, Fig. 6", expected="supported", explanation="x"
    )
    differs = claim(
        "differs", source="Ng & Jordan 2001, Fig. 1", expected="supported", explanation="easy data"
    )
    silent = claim("silent", source="Kohavi 1995, Sec. 5", expected="supported")
    own = claim("own")  # a user's claim with no source: nothing to compare
    outcome = SimpleNamespace(
        study="toy",
        timing=timing,
        tracking_uri="sqlite:///x.db",
        claims=[
            (agrees, ClaimResult("supported", "s", {}, "fine")),
            (differs, ClaimResult("not supported", "s", {}, "no")),
            (silent, ClaimResult("inconclusive", "s", {}, "?")),
            (own, ClaimResult("not supported", "s", {}, "?")),
        ],
    )
    cli.print_outcome(outcome)
    out = capsys.readouterr().out
    assert "Glorot" not in out and "reports None" not in out
    assert out.count("the source (") == 2
    assert "the source (Ng & Jordan 2001, Fig. 1) reports supported: easy data" in out
    assert "the source (Kohavi 1995, Sec. 5) reports supported: no explanation given" in out
    outcome.quick = True  # a smoke run's verdicts are not held against the sources
    cli.print_outcome(outcome)
    assert "the source (" not in capsys.readouterr().out


def test_set_overrides_reach_the_trials_and_bad_ones_are_one_line(
    toy_registry, fake_report, store, capsys
):
    assert cli.main(["run", "toy", "--jobs", "1", "--no-report", "--set", "epochs=4"]) == 0
    out = capsys.readouterr().out
    assert "toy: 4 trials (4 run" in out
    assert cli.main(["run", "toy", "--no-report", "--set", "epochs=4"]) == 0
    assert "(0 run, 4 reused" in capsys.readouterr().out  # same overrides, same trials
    assert cli.main(["run", "toy", "--no-report", "--set", "optimizer.lrr=1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --set optimizer.lrr: no such key") and "\n" not in err
