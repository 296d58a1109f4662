"""The ``exploding`` study: its definition, the slope and cosine helpers on hand-built arrays,
the clipping measurement, a quick run through the real runner, and its claim evaluators on
hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, summaries, verdict
from test_activations_study import check_quick_run

from dlkit import losses
from studies.catalog import exploding as ex
from studies.engine import registry
from studies.engine.config import deep_merge

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("exploding")
    assert study is ex.STUDY
    (stage,) = study.stages
    assert set(stage.arms) == {"gain=1", "gain=4", "gain=4/clip_norm", "gain=4/clip_value"}
    clipped = deep_merge(study.stage_base(stage), stage.arms["gain=4/clip_norm"].overrides)
    assert clipped["train"]["clip_norm"] == ex.CLIP_NORM and clipped["model"]["gain"] == 4.0
    assert clipped["train"]["clip_value"] is None
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


# ------------------------------------------------------------------------------- helpers


def test_growth_per_layer_of_a_geometric_sequence():
    # input layer first: each layer back towards the input doubles the norm
    norms = [2.0**k for k in range(5, -1, -1)]
    assert ex.growth_per_layer(norms) == pytest.approx(math.log10(2.0))
    # halving towards the input: a vanishing gradient, negative slope
    assert ex.growth_per_layer(norms[::-1]) == pytest.approx(-math.log10(2.0))
    assert ex.growth_per_layer([3.0, 3.0, 3.0]) == pytest.approx(0.0, abs=1e-12)


def test_growth_per_layer_is_a_least_squares_fit():
    norms = [10.0, 1.0, 10.0]  # log10: 1, 0, 1 against depth 2, 1, 0 -> slope 0
    assert ex.growth_per_layer(norms) == pytest.approx(0.0, abs=1e-12)
    norms = [100.0, 1.0, 1.0]  # log10: 2, 0, 0 against 2, 1, 0 -> slope 1
    assert ex.growth_per_layer(norms) == pytest.approx(1.0)


@pytest.mark.parametrize("norms", [[1.0], [1.0, 0.0], [1.0, np.nan], [np.inf, 1.0], []])
def test_growth_per_layer_is_nan_when_undefined(norms):
    assert math.isnan(ex.growth_per_layer(norms))


def test_cosine_joins_the_arrays():
    a = [np.array([1.0, 0.0]), np.array([[0.0]])]
    assert ex.cosine(a, [np.array([2.0, 0.0]), np.array([[0.0]])]) == pytest.approx(1.0)
    assert ex.cosine(a, [np.array([0.0, 1.0]), np.array([[0.0]])]) == pytest.approx(0.0)
    b = [np.array([1.0, 1.0]), np.array([[0.0]])]
    assert ex.cosine(a, b) == pytest.approx(1 / math.sqrt(2))
    assert ex.cosine(a, [-x for x in a]) == pytest.approx(-1.0)
    assert math.isnan(ex.cosine(a, [np.zeros(2), np.zeros((1, 1))]))


def test_value_clipping_turns_a_hand_built_gradient_norm_clipping_does_not():
    # clamping [3, 0.5] at 1 gives [1, 0.5]: cosine (3 + 0.25) / (sqrt(9.25) sqrt(1.25))
    raw = [np.array([3.0, 0.5])]
    clamped = [np.clip(raw[0], -1.0, 1.0)]
    want = 3.25 / (math.sqrt(9.25) * math.sqrt(1.25))
    assert ex.cosine(raw, clamped) == pytest.approx(want)
    assert want < 1 - ex.COSINE_MARGIN
    assert ex.cosine(raw, [raw[0] * 0.1]) == pytest.approx(1.0, abs=1e-12)


def test_clipping_cosines_on_a_large_init_net():
    rng = np.random.default_rng(0)
    model = ex.build_model(
        6, 3, {"depth": 4, "width": 16, "activation": "tanh", "gain": 4.0}, np.random.default_rng(1)
    )
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    before = [p.data.copy() for p in model.parameters()]
    norm_cos, value_cos = ex.clipping_cosines(
        model,
        losses.CrossEntropyLoss(),
        X,
        y,
        batches=5,
        batch_size=16,
        clip_norm=0.1,
        clip_value=0.01,
        rng=np.random.default_rng(2),
    )
    assert norm_cos.shape == value_cos.shape == (5,)
    np.testing.assert_allclose(norm_cos, 1.0, atol=1e-6)
    assert np.all(value_cos < 0.99)
    # the measurement leaves the weights alone and the gradients at zero
    for p, w in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, w)
        assert not np.any(p.grad)


def test_large_gain_gradients_grow_towards_the_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 10)).astype(np.float32)
    y = rng.integers(0, 4, 200)
    growth = {}
    for gain in (1.0, 4.0):
        cfg = {"depth": 6, "width": 32, "activation": "tanh", "gain": gain}
        model = ex.build_model(10, 4, cfg, np.random.default_rng(3))
        metrics = ex.gradient_metrics(model, losses.CrossEntropyLoss(), X, y)
        assert sorted(k for k in metrics if k.startswith("grad_norm/")) == sorted(
            f"grad_norm/layer_{k}" for k in range(1, 8)
        )
        growth[gain] = metrics["grad_growth_log10"]
    assert growth[4.0] > 0.1 > abs(growth[1.0])


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    check_quick_run(ex.STUDY, store, tuple(ex.METRICS))


# ----------------------------------------------------------------------------- claims


frame = summaries


def claim(claim_id: str):
    return evaluator(ex.STUDY, claim_id)


@pytest.mark.parametrize(
    ("growth", "large_loss", "expected"),
    [
        ([0.16, 0.17, 0.165, 0.16, 0.17], [3.2, 3.5, 5.7, 3.7, 3.4], "supported"),
        # the loss part alone does not make the claim: the gradient must grow too
        ([-0.01, 0.0, 0.01, -0.02, 0.005], [3.2, 3.5, 5.7, 3.7, 3.4], "not as a whole"),
        ([0.16, 0.17, 0.165, 0.16, 0.17], [1.5, 1.2, 2.1, 1.3, 1.1], "not as a whole"),
    ],
)
def test_exploding_claim_needs_both_parts(growth, large_loss, expected):
    rows = frame(
        {
            "gain=4": {"grad_growth_init_log10": growth, "final_val_loss_capped": large_loss},
            "gain=1": {
                "grad_growth_init_log10": [0.0] * 5,
                "final_val_loss_capped": [2.5, 1.9, 3.8, 2.1, 1.9],
            },
        }
    )
    evidence = claim("large_init_gradients_explode")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"growth", "loss"}
    if expected == "supported":
        assert verdict(evidence) == "supported"
    else:
        assert verdict(evidence) != "supported"


@pytest.mark.parametrize(
    ("clipped", "expected"),
    [
        ([2.7, 3.1, 3.8, 2.8, 2.6], "supported"),
        ([4.2, 4.5, 6.7, 4.7, 4.4], "not supported"),
    ],
)
def test_norm_clipping_claim_pairs_by_seed(clipped, expected):
    unclipped = [3.2, 3.5, 5.7, 3.7, 3.4]
    rows = frame(
        {
            "gain=4": {"final_val_loss_capped": unclipped},
            "gain=4/clip_norm": {"final_val_loss_capped": clipped},
        }
    )
    evidence = claim("norm_clipping_keeps_training")(rows, NO_HISTORY)
    np.testing.assert_allclose(evidence.comparisons[0].values, np.subtract(clipped, unclipped))
    assert verdict(evidence) == expected


def test_a_diverged_run_counts_as_the_capped_loss():
    assert ex.capped_loss(2.5) == 2.5
    assert ex.capped_loss(1e6) == ex.LOSS_CAP
    assert ex.capped_loss(float("nan")) == ex.LOSS_CAP
    assert ex.capped_loss(float("inf"), cap=7.0) == 7.0
    assert math.log(10) < ex.LOSS_CAP  # above chance-level cross-entropy on 10 classes


@pytest.mark.parametrize(
    ("value_cos", "deviation", "expected"),
    [
        ([0.60, 0.62, 0.59, 0.61, 0.57], [3e-15, 4e-15, 2e-15, 3e-15, 5e-15], "supported"),
        ([0.999, 0.998, 0.999, 0.9995, 0.999], [3e-15] * 5, "not as a whole"),
        ([0.60, 0.62, 0.59, 0.61, 0.57], [0.01, 0.02, 0.015, 0.01, 0.02], "not as a whole"),
    ],
)
def test_direction_claim(value_cos, deviation, expected):
    rows = frame({"gain=4": {"cosine_value": value_cos, "cosine_norm_deviation": deviation}})
    evidence = claim("value_clipping_turns_the_gradient")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"value", "norm"}
    if expected == "supported":
        assert verdict(evidence) == "supported"
    else:
        assert verdict(evidence) != "supported"
