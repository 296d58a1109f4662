"""``--arms a,b``: a run of some arms only, whose claims on other arms are "not evaluated",
and ``--set`` / ``--arms`` recorded on the run and shown in its report (issue "Your own
study")."""

from __future__ import annotations

import json

import pytest
from toy_studies import make_staged, make_toy, read_calls

import reports
from studies import cli
from studies.engine.overrides import parse_arms, select_arms
from studies.engine.runner import run_study
from studies.store.reader import load_runs


def test_select_arms_keeps_the_named_arms_in_order():
    study = make_toy(seeds=3, arms={"a": {}, "b": {}, "c": {}})
    (stage,) = select_arms(study, ["c", "a"]).stages
    assert list(stage.arms) == ["a", "c"]


def test_patterns_select_by_shell_wildcards():
    study = make_toy(seeds=3, arms={"relu/a": {}, "relu/b": {}, "tanh/a": {}})
    (stage,) = select_arms(study, ["relu/*"]).stages
    assert list(stage.arms) == ["relu/a", "relu/b"]
    (stage,) = select_arms(study, ["*/a"]).stages
    assert list(stage.arms) == ["relu/a", "tanh/a"]
    with pytest.raises(ValueError, match=r"--arms sigmoid/\*: no such arm"):
        select_arms(study, ["sigmoid/*"])


def test_an_unknown_arm_names_the_study_and_its_arms():
    with pytest.raises(ValueError, match=r"--arms fsat: no such arm .*nearest: fast.*slow"):
        select_arms(make_toy(seeds=3), ["fsat"])


@pytest.mark.parametrize(("text", "message"), [(" , ", "needs arm names"), ("a,a", "more than")])
def test_bad_arm_lists(text, message):
    with pytest.raises(ValueError, match=message):
        parse_arms(text)


def test_a_stage_without_selected_arms_is_dropped_and_a_factory_filtered():
    study = select_arms(make_staged(), ["tune/lr=0.1"])
    tune, final = study.stages
    assert list(tune.arms) == ["tune/lr=0.1"]
    # the final stage chooses "best", which --arms did not select: the stage is skipped
    with pytest.raises(Exception, match="selects none of the arms stage 'final' chose"):
        study.stage_arms(final, _frame_of_one_tuning_trial(), quick=False)


def _frame_of_one_tuning_trial():
    import pandas as pd

    return pd.DataFrame({"final_loss": [0.1], "config.optimizer.lr": [0.1]})


def test_a_subset_run_leaves_other_claims_unevaluated_and_its_trials_are_reused(tmp_path, store):
    calls = tmp_path / "calls.txt"
    study = make_toy(calls_file=calls, seeds=3)
    outcome = run_study(study, jobs=1, tracking_uri=store, arms=["fast"])
    assert {r.spec.arm for r in outcome.records} == {"fast"}
    ((_, result),) = outcome.claims
    assert result.verdict == "not evaluated"
    assert "only the arms fast (--arms)" in result.detail
    runs = load_runs("toy", tracking_uri=store)
    assert runs.study["arms_selected"] == ["fast"] and runs.study["overrides"] == []
    # the whole study afterwards runs only the missing arm and judges the claim
    again = run_study(study, jobs=1, tracking_uri=store)
    assert read_calls(calls) == {f"{arm}/{s}": 1 for arm in ("fast", "slow") for s in range(3)}
    assert again.claims[0][1].verdict in ("supported", "inconclusive")


def test_the_report_shows_the_variation_and_the_unevaluated_claim(tmp_path, store, capsys):
    study = make_toy(seeds=3)
    run_study(
        study,
        jobs=1,
        tracking_uri=store,
        overrides=["epochs=4"],
        arms=["fast"],
        command="python -m studies run toy --set epochs=4 --arms fast",
    )
    html = reports.build_report("toy", tracking_uri=store, out_dir=tmp_path)
    text = html.read_text(encoding="utf-8")
    assert "This run varies the study from the command line" in text
    assert "<code>--set epochs=4</code>" in text and "<code>--arms fast</code>" in text
    assert "python -m studies run toy --set epochs=4 --arms fast" in text
    assert 'class="verdict not-evaluated"' in text
    # a claim left out is not counted against its source nor as differing
    summary = json.loads((tmp_path / "toy.json").read_text(encoding="utf-8"))
    assert summary["variant"] == {"overrides": ["epochs=4"], "arms": ["fast"]}
    assert summary["verdicts"] == {"not evaluated": 1}
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'title="--set epochs=4 --arms fast">varied from the command line' in index
    assert not [note for note in summary["missing"] if "fast_beats_slow" in note]


def test_cli_arms(store, capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "all", "--arms", "fast"])
    assert "give a study, not 'all'" in capsys.readouterr().err
    assert cli.main(["run", "init", "--arms", "nope", "--quick"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --arms nope: no such arm in study 'init'")
    assert err.count("\n") == 1
