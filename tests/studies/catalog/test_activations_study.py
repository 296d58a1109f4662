"""The ``activations`` study: its definition, a quick run through the real runner, and the
verdicts of its claim evaluators on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared

from dlkit import diagnostics, losses, nn
from studies.catalog import _deep_mlp as deep_mlp
from studies.catalog import activations as act
from studies.engine import registry
from studies.engine.config import deep_merge
from studies.engine.spec import Study
from studies.stats import Comparison, Evidence, SequentialDesign, judge_claims


def declared_keys(study: Study) -> tuple[set[str], set[str], set[str]]:
    """(metrics, per-layer prefixes, artifacts) the study's plots read."""
    metrics, prefixes, artifacts = set(), set(), set()
    for plot in study.plots:
        options = plot.options
        if "metric" in options:
            metrics.add(options["metric"])
        if "prefix" in options:
            prefixes.add(options["prefix"])
        if "artifact" in options:
            artifacts.add(options["artifact"])
    return metrics, prefixes, artifacts


def check_quick_run(study: Study, store: str, summary_keys: tuple[str, ...]):
    """Run ``study`` quickly (one seed) on ``store`` and check every declared key was logged.

    Returns the run's outcome.
    """
    from mlflow import MlflowClient
    from threadpoolctl import threadpool_limits

    from studies.engine.runner import run_study

    # In-process trials on one BLAS thread, as the runner's pool workers use: the tiny
    # matrices gain nothing from more, and a busy machine makes them far slower.
    with threadpool_limits(limits=1):
        outcome = run_study(
            study, quick=True, n_seeds=1, jobs=1, tracking_uri=store, progress_bar=False
        )
    check_metrics_declared(study, outcome)
    n_arms = sum(len(s.arms) for s in study.stages)
    assert len(outcome.records) == n_arms
    metrics, prefixes, artifacts = declared_keys(study)
    client = MlflowClient(store)
    for record in outcome.records:
        result = record.result
        assert result.status == "ok", record.spec.arm
        history_keys = set().union(*(r.keys() for r in result.history))
        assert set(summary_keys) <= set(result.summary)
        for metric in metrics:
            assert metric in history_keys or metric in result.summary, metric
        first = result.history[0]
        assert first["epoch"] == 0
        for prefix in prefixes:
            assert any(k.startswith(prefix) for k in first), prefix
        assert artifacts <= set(result.artifacts)
        logged = set(client.get_run(record.run_id).data.metrics)
        assert (history_keys - {"epoch"}) | set(summary_keys) <= logged
    verdicts = {claim.id: result for claim, result in outcome.claims}
    assert set(verdicts) == {c.id for c in study.claims}
    for result in verdicts.values():
        assert "could not be evaluated" not in result.detail
    return outcome


# ----------------------------------------------------------------------------- definition


def test_definition_is_registered_and_valid():
    study = registry.load_study("activations")
    assert study is act.STUDY
    assert [s.name for s in study.stages] == ["suited", "common", "learning_rate", "digits"]
    names = [name for s in study.stages for name in s.arms]
    assert len(names) == len(set(names)) == 3 * len(act.ACTIVATIONS) + 2 + 2
    for stage in study.stages:
        for name, arm in study.stage_arms(stage, pd.DataFrame(), quick=False).items():
            config = deep_merge(study.base_config, arm.overrides)
            assert config["model"]["activation"] in act.ACTIVATIONS, name
            dataset = "digits" if stage.name == "digits" else "mnist1d"
            assert config["data"]["name"] == dataset, name
            target = act.DIGITS_TARGET_ACC if dataset == "digits" else act.TARGET_ACC
            assert config["train"]["target_acc"] == target, name
            if stage.name != "learning_rate":
                assert arm.factors["data"] == dataset
                assert set(arm.factors) == {"activation", "init", "data"}
                init_name, init_args = (
                    act.SUITED_INIT[arm.factors["activation"]]
                    if arm.factors["init"] == "suited"
                    else act.COMMON_INIT
                )
                assert config["model"]["init"] == init_name
                assert config["model"]["init_args"] == init_args


def test_prelu_gradient_norms_count_dense_layers_only():
    """The PReLU slopes have parameters too; grad_norm/layer_K must still be Dense K."""
    rng = np.random.default_rng(0)
    model = deep_mlp.build_mlp(
        6,
        3,
        {"depth": 3, "width": 5, "activation": "prelu", "init": "standard", "init_args": {}},
        rng,
    )
    X = rng.standard_normal((20, 6)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    diag = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, y)
    metrics = deep_mlp.layer_metrics(model, diag)
    dense = [layer for layer in model.layers if isinstance(layer, nn.Dense)]
    norms = [metrics[f"grad_norm/layer_{k}"] for k in range(1, 5)]
    np.testing.assert_allclose(norms, [np.linalg.norm(d.weight.grad) for d in dense])
    assert "grad_norm/layer_5" not in metrics
    assert metrics["grad_ratio_log10"] == pytest.approx(math.log10(norms[0] / norms[-1]))
    summary_only = deep_mlp.layer_metrics(model, diag, per_layer=False)
    assert set(summary_only) == {"dead_frac", "saturated_frac", "grad_ratio_log10"}


def test_dead_fraction_is_mean_over_hidden_layers():
    """A net whose second hidden layer is all off: dead_frac = 1/2 on any batch."""
    rng = np.random.default_rng(1)
    model = deep_mlp.build_mlp(
        4,
        2,
        {"depth": 2, "width": 3, "activation": "relu", "init": "kaiming_normal", "init_args": {}},
        rng,
    )
    model.layers[0].weight.data[:] = np.abs(model.layers[0].weight.data)
    model.layers[0].bias.data[:] = 1.0
    model.layers[2].weight.data[:] = -1.0
    X = np.abs(rng.standard_normal((10, 4))).astype(np.float32)
    diag = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, np.zeros(10, int))
    metrics = deep_mlp.layer_metrics(model, diag)
    assert metrics["dead/layer_1"] == 0.0 and metrics["dead/layer_2"] == 1.0
    assert metrics["dead_frac"] == 0.5


def test_every_seed_draws_its_own_split_shared_by_the_arms(monkeypatch):
    """train_mlp: seed s draws the validation split (and the diagnostic batch); every arm of
    that seed trains on the same rows, whatever its activation."""
    seen = []
    original = deep_mlp.train.fit

    def spy(model, loss, opt, X, y, **kwargs):
        seen.append((X.copy(), kwargs["X_val"].copy()))
        return original(model, loss, opt, X[:100], y[:100], **{**kwargs, "epochs": 1})

    monkeypatch.setattr(deep_mlp.train, "fit", spy)
    base = deep_merge(act.BASE_CONFIG, {"model": {"depth": 2}})
    for seed, activation in [(0, "relu"), (0, "tanh"), (1, "relu")]:
        config = deep_merge(base, {"model": {"activation": activation}})
        deep_mlp.train_mlp({**config, "seed": seed, "arm": activation})
    (X0, V0), (X0_tanh, V0_tanh), (X1, V1) = seen
    np.testing.assert_array_equal(X0, X0_tanh)
    np.testing.assert_array_equal(V0, V0_tanh)
    assert V0.shape == V1.shape == (400, 40)
    assert not np.array_equal(V0, V1) and not np.array_equal(X0[:500], X1[:500])


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    check_quick_run(act.STUDY, store, act.SUMMARY_KEYS)


# ----------------------------------------------------------------------------- claims


def summaries(values: dict[str, list[float]], metric: str, epochs: int = 12) -> pd.DataFrame:
    """One row per (arm, seed) with ``metric`` = the given per-seed values."""
    rows = [
        {
            "stage": "main",
            "arm": arm,
            "seed": seed,
            "status": "ok",
            "config.train.epochs": epochs,
            metric: float(v),
        }
        for arm, per_seed in values.items()
        for seed, v in enumerate(per_seed)
    ]
    return pd.DataFrame(rows)


def claim(claim_id: str):
    return next(c for c in act.STUDY.claims if c.id == claim_id).evaluate


NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def verdict(evidence: Evidence) -> str:
    """The verdict of one claim's evidence alone, judged at one look holding all its seeds
    (a fixed-sample test at alpha 0.05)."""
    n = max(max(c.seeds, default=0) for c in evidence.comparisons) + 1
    (judgement,) = judge_claims([evidence], SequentialDesign(looks=(max(n, 2),)), reached=1)
    return judgement.status


def part(evidence: Evidence, name: str = "") -> Comparison:
    """The comparison of ``evidence`` named ``name``."""
    return next(c for c in evidence.comparisons if c.name == name)


@pytest.mark.parametrize(
    ("sigmoid", "relu", "expected"),
    [
        ([-5.0, -5.2, -4.9, -5.1, -5.0], [0.1, 0.0, -0.1, 0.05, 0.0], "supported"),
        ([-1.2, -1.3, -1.1, -1.25, -1.2], [0.1, 0.0, -0.1, 0.05, 0.0], "not supported"),
        ([-5.0, -5.2, -4.9, -5.1, -5.0], [-1.5, -1.4, -1.6, -1.5, -1.45], "not supported"),
        ([-2.5, -1.6, -2.4, -1.7, -2.0], [0.1, 0.0, -0.1, 0.05, 0.0], "inconclusive"),
    ],
)
@pytest.mark.parametrize(
    ("claim_id", "suffix"),
    [
        ("vanishing_gradient_common_init", "/common"),
        ("vanishing_gradient_suited_init", "/suited"),
        ("vanishing_gradient_digits", "/common/digits"),
    ],
)
def test_vanishing_gradient_claim(sigmoid, relu, expected, claim_id, suffix):
    frame = summaries({f"sigmoid{suffix}": sigmoid, f"relu{suffix}": relu}, "grad_ratio_init_log10")
    evidence = claim(claim_id)(frame, NO_HISTORY)
    low, high = part(evidence, f"sigmoid{suffix}"), part(evidence, f"relu{suffix}")
    # one-sample series against the thresholds, one arm each
    np.testing.assert_allclose(low.values, np.array(sigmoid) + 2.0)
    np.testing.assert_allclose(high.values, np.array(relu) + 1.0)
    assert (low.alternative, low.reference, low.arms) == ("less", -2.0, (f"sigmoid{suffix}",))
    assert (high.alternative, high.reference, high.arms) == ("greater", -1.0, (f"relu{suffix}",))
    assert low.seeds == high.seeds == (0, 1, 2, 3, 4)
    assert verdict(evidence) == expected


@pytest.mark.parametrize(
    ("claim_id", "suffix"),
    [
        ("relu_family_trains_faster", "/suited"),
        ("relu_family_trains_faster_digits", "/suited/digits"),
    ],
)
def test_relu_family_faster_claim(claim_id, suffix):
    family = [f"{a}{suffix}" for a in act.RELU_FAMILY]
    fast = {arm: [3, 4, 3, 5, 4] for arm in family}
    fast[family[0]] = [5, 4, 3, 5, 6]
    frame = summaries(
        {**fast, f"sigmoid{suffix}": [math.inf, 9, math.inf, 8, 7]}, "epochs_to_target"
    )
    evidence = claim(claim_id)(frame, NO_HISTORY)
    (c,) = evidence.comparisons
    # per seed: the family's mean minus sigmoid's, never reached = 12 epochs + 1
    family_mean = (np.array([5, 4, 3, 5, 6]) + 3 * np.array([3, 4, 3, 5, 4])) / 4
    np.testing.assert_allclose(c.values, family_mean - np.array([13, 9, 13, 8, 7]))
    assert c.seeds == (0, 1, 2, 3, 4)
    assert (c.alternative, c.test) == ("less", "permutation")
    assert c.arms == (*family, f"sigmoid{suffix}")
    assert evidence.numbers["censored_at"] == 13.0
    assert verdict(evidence) == "supported"
    slow = {arm: [math.inf] * 5 for arm in family}
    frame = summaries({**slow, f"sigmoid{suffix}": [3, 4, 3, 5, 4]}, "epochs_to_target")
    assert verdict(claim(claim_id)(frame, NO_HISTORY)) == "not supported"
    mixed = summaries({**fast, f"sigmoid{suffix}": [2, 5, 2, 6, 3]}, "epochs_to_target")
    assert verdict(claim(claim_id)(mixed, NO_HISTORY)) == "inconclusive"
    # a seed without a usable value for one arm leaves that seed out
    gap = frame[~((frame["arm"] == family[1]) & (frame["seed"] == 2))]
    assert claim(claim_id)(gap, NO_HISTORY).comparisons[0].seeds == (0, 1, 3, 4)


@pytest.mark.parametrize(
    ("high", "expected"),
    [
        ([0.30, 0.42, 0.25, 0.35, 0.38], "supported"),
        ([0.03, 0.05, 0.02, 0.04, 0.03], "not supported"),
        ([0.05, 0.40, 0.02, 0.30, 0.03], "inconclusive"),
    ],
)
def test_dying_relu_claim(high, expected):
    low = [0.01, 0.02, 0.0, 0.03, 0.01]
    frame = summaries({act.HIGH_LR_ARM: high, act.LOW_LR_ARM: low}, "dead_frac_final")
    evidence = claim("dying_relu_high_lr")(frame, NO_HISTORY)
    (c,) = evidence.comparisons
    np.testing.assert_allclose(c.values, np.array(high) - np.array(low) - 0.10)
    assert (c.alternative, c.reference, c.arms) == (
        "greater",
        0.10,
        (act.HIGH_LR_ARM, act.LOW_LR_ARM),
    )
    assert verdict(evidence) == expected


def test_claims_name_only_arms_of_the_study():
    arms = {name for stage in act.STUDY.stages for name in stage.arms}
    columns = {"grad_ratio_init_log10": 0.0, "epochs_to_target": 3.0, "dead_frac_final": 0.1}
    frame = pd.DataFrame(
        [
            {"stage": "x", "arm": arm, "seed": seed, "status": "ok", "config.train.epochs": 12}
            | columns
            for arm in arms
            for seed in range(3)
        ]
    )
    for c in act.STUDY.claims:
        evidence = c.evaluate(frame, NO_HISTORY)
        assert evidence.arms and set(evidence.arms) <= arms, c.id
        assert all(comp.seeds == (0, 1, 2) for comp in evidence.comparisons), c.id
