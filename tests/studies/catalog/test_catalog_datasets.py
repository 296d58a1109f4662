"""The catalogue's trials name the data they used (MLflow dataset inputs): every split, with
a digest of its arrays that differs between seeds where the study splits per seed."""

from __future__ import annotations

import pytest

from studies.engine.registry import load_study

CASES = {
    "optimizers": {"train", "validation"},
    "regularization": {"train", "validation", "test"},
    "activations": {"train", "validation", "test"},
    "init": {"train", "validation", "test"},
    "mnist1d": {"train", "test"},
}


CODE = {"git_commit": "x", "git_dirty": False, "dlkit_version": "x"}


def quick_config(name: str, seed: int):
    """The quick config of the first arm of the study's first stage with fixed arms."""
    study = load_study(name)
    stage = next(s for s in study.stages if not callable(s.arms))
    arms = study.stage_arms(stage, None, quick=True)
    first = dict([next(iter(arms.items()))])
    (spec,) = study.trial_specs(stage, first, [seed], quick=True, code=CODE)
    return spec.config, stage.trial or study.trial


@pytest.mark.parametrize("name", sorted(CASES))
def test_trials_log_every_split_they_use(name):
    config, trial = quick_config(name, 0)
    first = trial(config).datasets
    assert {d["context"] for d in first} == CASES[name]
    config, _ = quick_config(name, 1)
    second = trial(config).datasets
    train = {d["context"]: d["digest"] for d in first}["train"]
    assert train != {d["context"]: d["digest"] for d in second}["train"]  # split per seed
