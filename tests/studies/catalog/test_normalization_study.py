"""The ``normalization`` study: its definition, its model and measurements, a quick run
through the real runner, and the verdicts of its claim evaluators on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from claim_frames import evaluator, verdict
from test_activations_study import check_quick_run

from dlkit import losses, nn
from studies.catalog import normalization as norm
from studies.engine import registry
from studies.engine.config import deep_merge

NO_HISTORY = pd.DataFrame(columns=["stage", "arm", "seed", "epoch"])


def test_definition_is_registered_and_valid():
    study = registry.load_study("normalization")
    assert study is norm.STUDY
    assert [s.name for s in study.stages] == ["lr_grid", "batch_size"]
    lr_grid, batch = study.stages
    assert len(lr_grid.arms) == 2 * len(norm.LEARNING_RATES)
    assert len(batch.arms) == 3 * len(norm.BATCH_SIZES)
    for name, arm in batch.arms.items():
        config = deep_merge(study.stage_base(batch), arm.overrides)
        assert config["model"]["activation"] == "relu" and config["optimizer"]["reference_batch"]
        assert name == f"{arm.factors['norm']}/B={config['train']['batch_size']}"
        assert int(arm.factors["batch_size"]) == config["train"]["batch_size"]
    labels = [arm.factors["batch_size"] for arm in batch.arms.values()]
    assert sorted(set(labels)) == sorted(set(labels), key=int), "columns must sort as numbers"
    for claim in study.claims:
        assert claim.source and claim.setting and claim.expected == "supported"


@pytest.mark.parametrize("kind", ["none", "batch", "group", "layer"])
def test_model_puts_the_norm_after_every_hidden_dense(kind):
    model = norm.build_model(
        5,
        3,
        {
            "depth": 3,
            "width": 8,
            "activation": "sigmoid",
            "init": "xavier_uniform",
            "norm": kind,
            "groups": 4,
        },
        np.random.default_rng(0),
    )
    kinds = {"batch": nn.BatchNorm1d, "group": nn.GroupNorm, "layer": nn.LayerNorm}
    norms = [layer for layer in model.layers if isinstance(layer, tuple(kinds.values()))]
    assert len(norms) == (0 if kind == "none" else 3)
    assert all(type(layer) is kinds[kind] for layer in norms)
    assert sum(isinstance(layer, nn.Dense) for layer in model.layers) == 4
    y = model.forward(np.ones((4, 5), np.float32), train=True)
    assert y.shape == (4, 3)


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="model.norm"):
        norm.norm_layer("instance", 8, 4)


def test_batch_statistics_accuracy_differs_from_eval_and_keeps_running_stats():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Dense(4, 6, rng=rng), nn.BatchNorm1d(6), nn.Dense(6, 3, rng=rng))
    bn = model.layers[1]
    bn.running_mean[...] = 5.0  # running statistics far from any batch's
    X = rng.standard_normal((41, 4)).astype(np.float32)
    y = model.forward(X, train=False).argmax(axis=1)  # labels = the eval-mode prediction
    before = bn.running_mean.copy()
    acc = norm.batch_statistics_accuracy(model, X, y, 4)
    np.testing.assert_array_equal(bn.running_mean, before)
    assert acc < 1.0
    # the last single-sample batch (41 = 10 * 4 + 1) is left out, not refused
    manual = [
        model.forward(X[i : i + 4], train=True).argmax(axis=1) == y[i : i + 4]
        for i in range(0, 40, 4)
    ]
    bn.running_mean[...] = before
    assert acc == pytest.approx(np.mean(np.concatenate(manual)))


def test_gradient_metrics_number_dense_layers_only():
    rng = np.random.default_rng(1)
    model = norm.build_model(
        6,
        3,
        {
            "depth": 2,
            "width": 4,
            "activation": "relu",
            "init": "kaiming_normal",
            "norm": "batch",
            "groups": 2,
        },
        rng,
    )
    X = rng.standard_normal((20, 6)).astype(np.float32)
    metrics = norm.gradient_metrics(model, losses.CrossEntropyLoss(), X, rng.integers(0, 3, 20))
    dense = [layer for layer in model.layers if isinstance(layer, nn.Dense)]
    norms = [metrics[f"grad_norm/layer_{k}"] for k in (1, 2, 3)]
    np.testing.assert_allclose(norms, [np.linalg.norm(d.weight.grad) for d in dense], rtol=1e-6)
    assert metrics["grad_ratio_log10"] == pytest.approx(np.log10(norms[0] / norms[2]))


@pytest.mark.slow
def test_quick_run_logs_every_declared_metric(store):
    check_quick_run(norm.STUDY, store, tuple(norm.METRICS))


# ----------------------------------------------------------------------------- claims


def frame(values: dict[str, list[float]], metric: str, epochs: int = 6) -> pd.DataFrame:
    rows = [
        {
            "stage": "s",
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
    return evaluator(norm.STUDY, claim_id)


@pytest.mark.parametrize(
    ("bn_small", "gn_small", "expected"),
    [
        ([0.12, 0.13, 0.11, 0.12, 0.14, 0.12], [0.27, 0.29, 0.28, 0.27, 0.28, 0.29], "supported"),
        (
            [0.38, 0.39, 0.37, 0.38, 0.39, 0.38],
            [0.10, 0.11, 0.12, 0.10, 0.11, 0.10],
            "not supported",
        ),
        (
            [0.39, 0.30, 0.45, 0.33, 0.42, 0.37],
            [0.27, 0.29, 0.28, 0.27, 0.28, 0.29],
            "inconclusive",
        ),
    ],
)
def test_small_batch_claim(bn_small, gn_small, expected):
    bn_large = [0.39, 0.38, 0.39, 0.40, 0.38, 0.39]
    gn_large = [0.28, 0.27, 0.28, 0.28, 0.27, 0.28]
    values = {"batch/B=32": bn_large, "batch/B=2": bn_small}
    values |= {"group/B=32": gn_large, "group/B=2": gn_small}
    evidence = claim("bn_degrades_at_small_batch_gn_does_not")(
        frame(values, "test_acc"), NO_HISTORY
    )
    (c,) = evidence.comparisons
    want = (np.array(bn_large) - bn_small) - (np.array(gn_large) - gn_small)
    np.testing.assert_allclose(c.values, want)
    assert c.alternative == "greater"
    assert evidence.numbers["batch_drop"] == pytest.approx(np.mean(np.subtract(bn_large, bn_small)))
    assert verdict(evidence) == expected


def test_small_batch_claim_leaves_out_seeds_missing_an_arm():
    values = {
        "batch/B=32": [0.4, 0.4, 0.4],
        "batch/B=2": [0.1, float("nan"), 0.1],
        "group/B=32": [0.3, 0.3, 0.3],
        "group/B=2": [0.3, 0.3, 0.3],
    }
    evidence = claim("bn_degrades_at_small_batch_gn_does_not")(
        frame(values, "test_acc"), NO_HISTORY
    )
    assert evidence.comparisons[0].seeds == (0, 2)


@pytest.mark.parametrize(
    ("bn", "plain", "expected"),
    [
        ([2, 3, 2, 2, 3, 2], [np.inf] * 6, "supported"),
        ([np.inf] * 6, [2, 3, 2, 2, 3, 2], "not supported"),
    ],
)
def test_fewer_epochs_claim_censors_never_reached(bn, plain, expected):
    values = {"batch/lr=0.5": bn, "none/lr=0.5": plain}
    evidence = claim("bn_reaches_target_in_fewer_epochs")(
        frame(values, "epochs_to_target"), NO_HISTORY
    )
    assert evidence.numbers["censored_at"] == 7.0
    assert verdict(evidence) == expected


def test_eval_mode_claim_pairs_the_two_accuracies_within_each_trial():
    rows = frame({"batch/lr=0.5": [0.25, 0.24, 0.26, 0.25, 0.25]}, "test_acc")
    rows["test_acc_batch_stats"] = [0.20, 0.19, 0.22, 0.21, 0.20]
    extra = frame({"none/lr=0.5": [0.1] * 5}, "test_acc")
    extra["test_acc_batch_stats"] = np.nan
    evidence = claim("batch_statistics_at_eval_hurt")(pd.concat([rows, extra]), NO_HISTORY)
    np.testing.assert_allclose(evidence.comparisons[0].values, [0.05, 0.05, 0.04, 0.04, 0.05])
    assert verdict(evidence) == "supported"


@pytest.mark.parametrize(
    ("small", "expected"),
    [
        ([0.280, 0.282, 0.279, 0.281, 0.280, 0.281], "supported"),
        ([0.180, 0.182, 0.179, 0.181, 0.180, 0.181], "not supported"),
    ],
)
def test_gn_equivalence_claim(small, expected):
    values = {"group/B=2": small, "group/B=32": [0.28, 0.281, 0.279, 0.28, 0.281, 0.28]}
    evidence = claim("gn_insensitive_to_batch_size")(frame(values, "test_acc"), NO_HISTORY)
    assert verdict(evidence) == expected


@pytest.mark.parametrize(
    ("bn_ratio", "bn_acc", "expected"),
    [
        ([-0.3, -0.2, -0.3, -0.25, -0.3], [0.24, 0.25, 0.24, 0.26, 0.25], "supported"),
        # the accuracy alone does not make the claim: the gradient part must hold too
        ([-3.3, -3.2, -3.3, -3.25, -3.3], [0.24, 0.25, 0.24, 0.26, 0.25], "not as a whole"),
    ],
)
def test_sigmoid_claim_needs_both_parts(bn_ratio, bn_acc, expected):
    ratio = frame({"batch/lr=0.05": bn_ratio, "none/lr=0.05": [-3.25] * 5}, "grad_ratio_init_log10")
    acc = frame({"batch/lr=0.05": bn_acc, "none/lr=0.05": [0.1, 0.09, 0.1, 0.11, 0.1]}, "test_acc")
    rows = ratio.assign(test_acc=acc["test_acc"])
    evidence = claim("bn_trains_saturating_sigmoid_net")(rows, NO_HISTORY)
    assert {c.name for c in evidence.comparisons} == {"gradient", "accuracy"}
    if expected == "supported":
        assert verdict(evidence) == "supported"
    else:
        assert verdict(evidence) != "supported"
