"""The ``init`` study: its definition, a quick run through the real runner, and the verdicts
of its claim evaluators on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from test_activations_study import NO_HISTORY, check_quick_run, part, summaries, verdict

from studies.catalog import _deep_mlp as deep_mlp
from studies.catalog import init as init_study
from studies.engine import registry
from studies.engine.config import deep_merge

CHANCE = math.log(10.0)


def claim(claim_id: str):
    return next(c for c in init_study.STUDY.claims if c.id == claim_id).evaluate


def test_definition_is_registered_and_valid():
    study = registry.load_study("init")
    assert study is init_study.STUDY
    arms = {}
    for stage in study.stages:
        arms.update(study.stage_arms(stage, pd.DataFrame(), quick=False))
    assert len(arms) == 2 * len(init_study.INITS) + 2 * len(init_study.DEEP_INITS)
    for name, arm in arms.items():
        config = deep_merge(study.base_config, arm.overrides)
        model = config["model"]
        assert name == init_study.arm_name(model["activation"], model["depth"], model["init"])
        assert config["hist_range"] == init_study.HIST_RANGE[model["activation"]]
        assert set(arm.factors) == {"activation", "depth", "init", "net"}
    # every arm a claim names exists
    for activation, depth, init in [
        ("relu", 30, "xavier_uniform"),
        ("relu", 30, "kaiming_normal"),
        ("tanh", 5, "standard"),
        ("relu", 5, "normal"),
    ]:
        assert init_study.arm_name(activation, depth, init) in arms


def test_zero_init_trial_keeps_units_identical():
    """A real (short) trial: zeros stay symmetric, a random init does not."""
    base = deep_merge(init_study.BASE_CONFIG, {"train": {"epochs": 1}})
    zeros = init_study.trial({**deep_merge(base, {"model": {"init": "zeros"}}), "seed": 0})
    xavier = init_study.trial({**base, "seed": 0})
    assert zeros.summary["unit_spread"] == 0.0 and zeros.summary["weight_change"] == 0.0
    assert xavier.summary["unit_spread"] > 0.1 and xavier.summary["weight_change"] > 0.0
    hist = zeros.artifacts["act_hist_init"]
    assert list(hist) == [f"layer {k}" for k in range(1, init_study.SHALLOW + 1)]
    # tanh(0) = 0: all 500 x 64 activations of a hidden layer fall in one bin
    counts = np.asarray(hist["layer 3"]["counts"])
    assert counts.sum() == counts.max() == 500 * 64


def test_unit_spread_measures_the_largest_unit_difference():
    model = deep_mlp.build_mlp(
        3,
        2,
        {"depth": 2, "width": 4, "activation": "tanh", "init": "zeros", "init_args": {}},
        np.random.default_rng(0),
    )
    assert init_study.unit_spread(model) == 0.0
    model.layers[2].weight.data[1, 3] = 0.25  # second hidden layer, unit 3
    model.layers[4].weight.data[0, 1] = 5.0  # the output layer does not count
    assert init_study.unit_spread(model) == 0.25
    model.layers[0].bias.data[2] = -0.5
    assert init_study.unit_spread(model) == 0.5


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    outcome = check_quick_run(init_study.STUDY, store, init_study.SUMMARY_KEYS)
    for record in outcome.records:
        depth = record.spec.config["model"]["depth"]
        first, last = record.result.history[0], record.result.history[-1]
        # per-layer statistics at initialization only, their summaries every epoch
        assert f"act_std/layer_{depth}" in first and f"grad_norm/layer_{depth + 1}" in first
        assert "act_std/layer_1" not in last and "dead_frac" in last


# ----------------------------------------------------------------------------- claims


def test_zeros_claim():
    def frame(spreads):
        rows = [
            {
                "arm": f"{init}-{depth}",
                "seed": s,
                "status": "ok",
                "config.model.init": init,
                "unit_spread": v,
                "weight_change": v,
            }
            for (init, depth), values in spreads.items()
            for s, v in enumerate(values)
        ]
        return pd.DataFrame(rows)

    evaluate = claim("zeros_never_break_symmetry")
    ok = evaluate(
        frame({("zeros", 5): [0.0] * 4, ("zeros", 6): [0.0] * 4, ("xavier", 5): [0.5] * 4}),
        NO_HISTORY,
    )
    (c,) = ok.comparisons
    # per seed: the largest spread over the zero-initialized arms, minus the tolerance
    assert c.values == (-init_study.SYMMETRY_TOL,) * 4 and c.seeds == (0, 1, 2, 3)
    assert (c.alternative, c.test, c.arms) == ("less", "t", ("zeros-5", "zeros-6"))
    assert ok.numbers["min_spread_random_inits"] == 0.5
    assert verdict(ok) == "supported"
    bad = evaluate(frame({("zeros", 5): [0.0, 0.0, 0.2, 0.0], ("zeros", 6): [0.3] * 4}), NO_HISTORY)
    np.testing.assert_allclose(bad.comparisons[0].values, np.array([0.3, 0.3, 0.3, 0.3]) - 1e-6)
    assert verdict(bad) == "not supported"
    # one seed that broke symmetry keeps the claim from being supported
    one = evaluate(frame({("zeros", 5): [0.0, 0.0, 0.2, 0.0]}), NO_HISTORY)
    assert verdict(one) == "inconclusive" and "1 of 4 seeds" in one.detail


@pytest.mark.parametrize(
    ("xavier", "kaiming", "expected"),
    [
        ([2.3026, 2.3025, 2.3027, 2.3026, 2.3026], [1.3, 1.35, 1.28, 1.4, 1.33], "supported"),
        ([1.9, 1.8, 2.0, 1.85, 1.95], [1.3, 1.35, 1.28, 1.4, 1.33], "not supported"),
        ([2.3026, 2.3025, 2.3027, 2.3026, 2.3026], [2.3, 2.29, 2.31, 2.3, 2.3], "not supported"),
    ],
)
def test_deep_relu_claim(xavier, kaiming, expected):
    x_arm = init_study.arm_name("relu", 30, "xavier_uniform")
    k_arm = init_study.arm_name("relu", 30, "kaiming_normal")
    frame = summaries({x_arm: xavier, k_arm: kaiming}, "final_train_loss")
    evidence = claim("xavier_stalls_deep_relu")(frame, NO_HISTORY)
    at_chance, trains, lower = (
        part(evidence, name)
        for name in ("xavier_at_chance", "kaiming_trains", "kaiming_below_xavier")
    )
    np.testing.assert_allclose(at_chance.values, np.array(xavier) - (CHANCE - 0.02))
    assert (at_chance.alternative, at_chance.arms) == ("greater", (x_arm,))
    np.testing.assert_allclose(trains.values, np.array(kaiming) - (CHANCE - 0.1))
    assert (trains.alternative, trains.arms) == ("less", (k_arm,))
    np.testing.assert_allclose(lower.values, np.array(kaiming) - np.array(xavier))
    assert (lower.alternative, lower.arms) == ("less", (k_arm, x_arm))
    assert verdict(evidence) == expected


@pytest.mark.parametrize(
    ("standard", "expected"),
    [
        ([-1.0, -1.02, -0.98, -1.0, -1.01], "supported"),
        ([-0.1, -0.12, -0.08, -0.1, -0.11], "not supported"),
    ],
)
def test_tanh_std_ratio_claim(standard, expected):
    xavier = [-0.27, -0.25, -0.26, -0.28, -0.26]
    x_arm = init_study.arm_name("tanh", 5, "xavier_uniform")
    s_arm = init_study.arm_name("tanh", 5, "standard")
    frame = summaries({x_arm: xavier, s_arm: standard}, "act_std_ratio_log10")
    evidence = claim("xavier_keeps_tanh_signal")(frame, NO_HISTORY)
    (c,) = evidence.comparisons
    # per seed: log10 ratio (Xavier) - log10 ratio (standard), claimed above 0
    np.testing.assert_allclose(c.values, np.array(xavier) - np.array(standard))
    assert (c.alternative, c.reference, c.arms) == ("greater", 0.0, (x_arm, s_arm))
    assert verdict(evidence) == expected


FAST = init_study.arm_name("relu", 5, "kaiming_normal")
SLOW = init_study.arm_name("relu", 5, "normal")


def budget_frames(needed, slow_losses):
    """Kaiming's epochs to target per seed, and the slow arm's per-epoch training loss."""
    frame = summaries({FAST: needed, SLOW: [math.inf] * len(needed)}, "epochs_to_target")
    rows = [
        {"stage": "main", "arm": SLOW, "seed": s, "epoch": e, "train_loss": loss}
        for s, per_epoch in enumerate(slow_losses)
        for e, loss in enumerate(per_epoch)
    ]
    return frame, pd.DataFrame(rows)


def test_tiny_normal_claim():
    evaluate = claim("tiny_normal_does_not_learn")
    threshold = CHANCE - init_study.CHANCE_MARGIN
    # the slow arm's loss falls by 0.001 an epoch: each seed is read at its own budget
    stuck = [[CHANCE + 0.01 * s - 0.001 * e for e in range(13)] for s in range(3)]
    frame, histories = budget_frames([5, 7, 6], stuck)
    evidence = evaluate(frame, histories)
    (c,) = evidence.comparisons
    expected = [stuck[0][5], stuck[1][7], stuck[2][6]]
    np.testing.assert_allclose(c.values, np.array(expected) - threshold)
    assert c.seeds == (0, 1, 2) and c.alternative == "greater" and c.reference == threshold
    assert c.arms == (SLOW, FAST)
    assert evidence.numbers["max_budget_epochs"] == 7
    assert verdict(evidence) == "supported"
    learns = [[CHANCE] * 5 + [1.5 + 0.01 * s] * 8 for s in range(3)]
    frame, histories = budget_frames([5, 7, 6], learns)
    assert verdict(evaluate(frame, histories)) == "not supported"
    # learning only after the budget does not count against the claim
    late = [[CHANCE + 0.001 * s] * 8 + [1.5] * 5 for s in range(3)]
    frame, histories = budget_frames([5, 7, 6], late)
    assert verdict(evaluate(frame, histories)) == "supported"
    # a seed where Kaiming never reaches the target has no budget: it is left out
    frame, histories = budget_frames([5, math.inf, 6], stuck)
    evidence = evaluate(frame, histories)
    assert evidence.comparisons[0].seeds == (0, 2)
    assert evidence.numbers["seeds_without_budget"] == 1
