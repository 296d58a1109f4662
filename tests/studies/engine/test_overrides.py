"""--set KEY.PATH=VALUE: typed overrides of a study's base config, before the arms'."""

from __future__ import annotations

import pytest
from toy_studies import make_toy

from studies.engine.overrides import apply_overrides, parse_assignment
from studies.engine.registry import load_study


def test_nested_keys_take_the_type_of_their_current_value():
    study = make_toy()
    lr, epochs = study.base_config["optimizer"]["lr"], study.base_config["epochs"]
    changed = apply_overrides(study, ["optimizer.lr=0.003", f"epochs={epochs + 1}"])
    assert changed.base_config["optimizer"]["lr"] == 0.003 != lr
    assert changed.base_config["epochs"] == epochs + 1 and isinstance(epochs, int)
    assert study.base_config["optimizer"]["lr"] == lr  # the study itself is untouched
    # Arms still override on top: the slow arm keeps its own rate.
    (stage,) = changed.stages
    arms = changed.stage_arms(stage, None, quick=False)
    code = {"git_commit": "x", "git_dirty": False, "dlkit_version": "x"}
    before = {
        s.arm: s.config_hash for s in study.trial_specs(stage, arms, [0], quick=False, code=code)
    }
    after = changed.trial_specs(stage, arms, [0], quick=False, code=code)
    assert {s.arm: s.config["optimizer"]["lr"] for s in after} == {"slow": 0.05, "fast": 0.3}
    assert all(s.config["epochs"] == epochs + 1 for s in after)
    assert all(before[s.arm] != s.config_hash for s in after)  # never reuses the default run


def test_lists_as_json_and_stages_with_their_own_configs():
    reg = apply_overrides(load_study("regularization"), ["model.hidden=[32, 32]"])
    assert reg.base_config["model"]["hidden"] == [32, 32]
    with pytest.raises(ValueError, match=r"expected a value of type list"):
        apply_overrides(load_study("regularization"), ["model.hidden=32"])
    # optimizers keeps a config per stage: every stage that has the key gets the value.
    opt = apply_overrides(load_study("optimizers"), ["train.epochs=3"])
    having = [s for s in opt.stages if "train" in s.base_config]
    assert len(having) == 4 and {s.base_config["train"]["epochs"] for s in having} == {3}
    assert opt.stages[-1].base_config == load_study("optimizers").stages[-1].base_config


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("optimizer.lrr=0.1", r"no such key .* nearest: optimizer\.lr"),
        ("epochs=ten", r"epochs='ten': expected a value of type int"),
        ("optimizer.lr=fast", r"expected a value of type float"),
        ("epochs", r"needs KEY\.PATH=VALUE"),
    ],
)
def test_bad_overrides_name_the_key_the_value_and_the_type(assignment, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(make_toy(), [assignment])


def test_parse_assignment_keeps_equals_signs_in_the_value():
    assert parse_assignment("data.note=a=b") == ("data.note", "a=b")
