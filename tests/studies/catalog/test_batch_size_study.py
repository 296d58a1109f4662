"""The batch-size study: its helpers on hand-made arrays, the evaluators on hand-made frames,
the arms, and one quick run through the real runner."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
from test_activations_study import part, verdict
from threadpoolctl import threadpool_limits

from dlkit import losses, nn, optim
from dlkit.nn.base import Parameter
from studies.catalog import batch_size as bs
from studies.catalog.batch_size import (
    STUDY,
    best_rate_arms,
    fit_steps_model,
    generalization_arms,
    generalization_trial,
    linear_scaling_fails,
    linear_scaling_recovers,
    midpoint_comparison,
    scaling_efficiency,
    step_time_ratio,
    steps_scaling,
    steps_to_target,
    tune_arms,
    warmup_schedule,
)
from studies.engine.config import deep_merge

# --------------------------------------------------------------------------- definition


def test_definition_is_well_formed():
    check_plots(STUDY)
    assert [s.name for s in STUDY.stages] == ["generalization", "tune", "steps"]
    for claim in STUDY.claims:
        assert claim.expected in ("supported", "not supported")
        assert len(claim.source) > 10 and len(claim.setting) > 10
    explained = {c.id for c in STUDY.claims if c.explanation}
    assert explained == {"large_batch_gap_is_wider", "big_batch_step_costs_about_the_same"}


def test_arms_scale_the_rate_linearly_with_warmup():
    arms = generalization_arms()
    assert list(arms) == [
        "fixed/B=32",
        "fixed/B=128",
        "fixed/B=512",
        "fixed/B=2048",
        "linear/B=128",
        "linear/B=512",
        "linear/B=2048",
    ]
    for batch in (128, 512, 2048):
        over = arms[f"linear/B={batch}"].overrides
        k = batch / 32
        assert over["optimizer"]["lr"] == pytest.approx(0.1 * k)
        assert over["warmup"] == {"epochs": 2, "start_factor": pytest.approx(1 / k)}
        assert "optimizer" not in arms[f"fixed/B={batch}"].overrides
    tuned = tune_arms()
    assert len(tuned) == 7 * 4 and len(tune_arms(quick=True)) == 2
    rates = {
        b: sorted(
            a.overrides["optimizer"]["lr"]
            for a in tuned.values()
            if a.overrides["train"]["batch_size"] == b
        )
        for b in (16, 64, 128, 1024)
    }
    assert rates[16] == rates[64] == [0.1, 0.2, 0.4, 0.8]
    assert rates[128] == rates[1024] == [0.2, 0.4, 0.8, 1.6]


def test_warmup_ramps_per_batch_from_the_base_rate():
    p = Parameter(np.zeros(1), name="w")
    opt = optim.SGD([p], lr=1.6)
    config = {"warmup": {"epochs": 2, "start_factor": 1 / 16}}
    sched = warmup_schedule(config)(opt, 10, 3)
    assert sched.per_batch
    seen = []
    for _ in range(8):
        seen.append(opt.lr)
        sched.step()
    np.testing.assert_allclose(seen, 1.6 * (1 / 16 + (15 / 16) * np.minimum(np.arange(8), 6) / 6))
    assert warmup_schedule({"warmup": {"epochs": 0, "start_factor": 1.0}})(opt, 10, 3) is None


# --------------------------------------------------------------------------- helpers


def test_scaling_efficiency_and_the_mccandlish_fit():
    assert scaling_efficiency([400.0], [200.0], 2.0)[0] == pytest.approx(1.0)
    assert scaling_efficiency([90.0], [90.0], 4.0)[0] == pytest.approx(0.0)
    batches = np.array([16, 32, 64, 128, 256, 512, 1024], dtype=float)
    steps = 100.0 * (1.0 + 64.0 / batches)
    fit = fit_steps_model(batches, steps)
    assert fit["S_min"] == pytest.approx(100.0) and fit["B_crit"] == pytest.approx(64.0)
    assert fit["E_min"] == pytest.approx(6400.0) and fit["r2"] == pytest.approx(1.0)
    # The steps/examples trade-off holds at every batch on the fitted curve.
    product = (steps / fit["S_min"] - 1.0) * (steps * batches / fit["E_min"] - 1.0)
    np.testing.assert_allclose(product, 1.0)
    assert math.isnan(fit_steps_model([32.0], [10.0])["B_crit"])
    # Steps that grow with the batch are not of the form S_min (1 + B_crit / B).
    assert math.isnan(fit_steps_model([16.0, 1024.0], [10.0, 1000.0])["B_crit"])


def _tiny_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    model = nn.mlp([4, 8, 2], rng=rng)
    return model, losses.CrossEntropyLoss(), X, y, rng


def test_steps_to_target_interpolates_between_evaluations():
    model, loss, X, y, rng = _tiny_problem()
    opt = optim.SGD(model.parameters(), lr=0.1)
    start = loss.forward(model.forward(X, train=False), y)
    target = 0.5 * start
    steps, seconds, taken, curve = steps_to_target(
        model, loss, opt, X, y, batch_size=20, target=target, max_steps=400, growth=1.5, rng=rng
    )
    assert math.isfinite(steps) and seconds > 0
    (s0, l0), (s1, l1) = curve[-2], curve[-1]
    assert s1 == taken and l1 <= target < l0
    assert s0 < steps <= s1
    assert steps == pytest.approx(s0 + (s1 - s0) * (l0 - target) / (l0 - l1))
    # Every step is evaluated up to 10, then the grid grows by 1.5.
    assert taken > 20
    assert [s for s, _ in curve[:13]] == [*range(11), 15, 23]


def test_steps_to_target_caps_diverges_and_starts_done():
    model, loss, X, y, rng = _tiny_problem(1)
    opt = optim.SGD(model.parameters(), lr=1e-6)
    steps, _, taken, _ = steps_to_target(
        model, loss, opt, X, y, batch_size=50, target=1e-3, max_steps=7, growth=1.2, rng=rng
    )
    assert steps == math.inf and taken == 7
    model, loss, X, y, rng = _tiny_problem(2)
    opt = optim.SGD(model.parameters(), lr=1e30)
    steps, _, _, curve = steps_to_target(
        model, loss, opt, X, y, batch_size=50, target=1e-3, max_steps=50, growth=1.2, rng=rng
    )
    assert steps == math.inf and all(math.isfinite(v) for _, v in curve)
    # The diverged net's loss is not finite: it never reaches a target.
    assert steps_to_target(
        model, loss, opt, X, y, batch_size=50, target=1e9, max_steps=50, growth=1.2, rng=rng
    ) == (math.inf, 0.0, 0, [])
    model, loss, X, y, rng = _tiny_problem(3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    steps, _, taken, curve = steps_to_target(
        model, loss, opt, X, y, batch_size=50, target=1e9, max_steps=50, growth=1.2, rng=rng
    )
    assert (steps, taken, len(curve)) == (0.0, 0, 1)
    with pytest.raises(ValueError, match="growth"):
        steps_to_target(
            model, loss, opt, X, y, batch_size=50, target=1.0, max_steps=5, growth=1.0, rng=rng
        )


def test_diverged_generalization_trial_counts_at_chance():
    config = deep_merge(
        STUDY.base_config,
        {"train": {"epochs": 2, "batch_size": 2048}, "optimizer": {"lr": 1e30}},
    )
    with threadpool_limits(limits=1):
        result = generalization_trial({**config, "arm": "x", "seed": 0})
    assert result.status == "diverged"
    assert result.summary["test_acc"] == pytest.approx(0.1)
    assert result.summary["generalization_gap"] == 0.0
    assert result.summary["final_val_loss"] == math.inf
    assert result.summary["steps_per_epoch"] == 2.0


# --------------------------------------------------------------------------- evaluators


def _generalization(acc: dict[str, list[float]], metric: str = "test_acc") -> pd.DataFrame:
    rows = [
        {"stage": "generalization", "arm": arm, "seed": seed, "status": "ok", metric: value}
        for arm, values in acc.items()
        for seed, value in enumerate(values)
    ]
    rows.append({"stage": "steps", "arm": "fixed/B=32", "seed": 0, "status": "ok"})
    return pd.DataFrame(rows)


SMALL = [0.55, 0.56, 0.54, 0.55, 0.57, 0.55]


def test_midpoint_comparison_pairs_three_arms_by_seed():
    fixed = [0.43, 0.42, 0.44, 0.41, 0.43, 0.42]
    lin = [0.54, 0.55, 0.52, 0.55, 0.56, 0.53]
    frame = _generalization({"fixed/B=32": SMALL, "fixed/B=128": fixed, "linear/B=128": lin})
    comparison, numbers = midpoint_comparison(frame, 128, "greater")
    expected = np.array(lin) - (np.array(SMALL) + np.array(fixed)) / 2
    np.testing.assert_allclose(comparison.values, expected)
    assert comparison.arms == ("linear/B=128", "fixed/B=32", "fixed/B=128")
    assert numbers["recovered_fraction"] == pytest.approx(
        (np.mean(lin) - np.mean(fixed)) / (np.mean(SMALL) - np.mean(fixed))
    )
    assert verdict(linear_scaling_recovers(128)(frame, None)) == "supported"
    assert verdict(linear_scaling_fails(128)(frame, None)) == "not supported"
    # A failed trial drops its seed from all three arms.
    frame.loc[(frame["arm"] == "fixed/B=128") & (frame["seed"] == 2), "status"] = "failed"
    comparison, _ = midpoint_comparison(frame, 128, "greater")
    assert list(comparison.seeds) == [0, 1, 3, 4, 5]


def test_linear_scaling_fails_reports_every_batch():
    frame = _generalization(
        {
            "fixed/B=32": SMALL,
            "fixed/B=128": [0.43] * 6,
            "linear/B=128": [0.55, 0.54, 0.55, 0.56, 0.55, 0.54],
            "fixed/B=2048": [0.25, 0.24, 0.26, 0.25, 0.25, 0.24],
            "linear/B=2048": [0.10, 0.12, 0.10, 0.14, 0.10, 0.11],
        }
    )
    evidence = linear_scaling_fails(2048)(frame, None)
    assert verdict(evidence) == "supported"
    assert evidence.numbers["recovered_fraction"] < 0
    assert evidence.numbers["recovered_fraction_B=128"] > 0.9
    assert "recovered_fraction_B=512" not in evidence.numbers


def test_step_time_ratio_is_log2_of_the_step_times():
    small = [0.001, 0.0011, 0.0009, 0.001, 0.001]
    flat = _generalization(
        {"fixed/B=32": small, "fixed/B=2048": [1.2 * s for s in small]}, "sec_per_step"
    )
    evidence = step_time_ratio(flat, None)
    np.testing.assert_allclose(part(evidence).values, np.log2(1.2) - 1.0)
    assert verdict(evidence) == "supported"
    assert evidence.numbers["step_time_ratio"] == pytest.approx(1.2)
    steep = _generalization(
        {
            "fixed/B=32": small,
            "fixed/B=2048": [20 * s * (1 + 0.05 * i) for i, s in enumerate(small)],
        },
        "sec_per_step",
    )
    assert verdict(step_time_ratio(steep, None)) == "not supported"


def _steps(per_batch, seeds=6, noise=0.03, cap=5000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(seeds):
        for batch, value in per_batch.items():
            rows.append(
                {
                    "stage": "steps",
                    "arm": f"steps/B={batch}",
                    "seed": seed,
                    "status": "ok",
                    "config.train.batch_size": batch,
                    "config.train.max_steps": cap,
                    "steps_to_target": value * (1 + noise * rng.standard_normal()),
                }
            )
    return pd.DataFrame(rows)


BATCHES = (16, 32, 64, 128, 256, 512, 1024)


def test_steps_scaling_supports_the_mccandlish_curve():
    model = {b: 80.0 * (1 + 200.0 / b) for b in BATCHES}
    evidence = steps_scaling(_steps(model), None)
    assert verdict(evidence) == "supported"
    low, high = part(evidence, "below_bcrit"), part(evidence, "above_bcrit")
    assert low.arms == ("steps/B=16", "steps/B=32") and high.arms == ("steps/B=512", "steps/B=1024")
    assert low.reference == high.reference == 0.5
    assert evidence.numbers["fit.B_crit"] == pytest.approx(200.0, rel=0.1)
    assert evidence.numbers["fit.S_min"] == pytest.approx(80.0, rel=0.1)
    # Perfect 1/B scaling all the way: the large batches do not flatten.
    perfect = steps_scaling(_steps({b: 16000.0 / b for b in BATCHES}), None)
    assert verdict(perfect) == "not supported"
    # A target never reached counts at the cap; a failed trial drops its seed.
    frame = _steps(model)
    frame.loc[0, "steps_to_target"] = math.inf
    frame.loc[1, "status"] = "failed"
    evidence = steps_scaling(frame, None)
    assert list(part(evidence, "below_bcrit").seeds) == [1, 2, 3, 4, 5]


def test_best_rate_arms_take_the_fewest_mean_steps_per_batch():
    rows = []
    for batch, best in ((32, 0.2), (256, 0.8)):
        for lr in (0.2, 0.8):
            for seed in (0, 1):
                rows.append(
                    {
                        "stage": "tune",
                        "arm": f"tune/B={batch}/lr={lr:g}",
                        "seed": seed,
                        "status": "ok",
                        "factor.batch": str(batch),
                        "config.optimizer.lr": lr,
                        "steps_to_target_capped": 100.0 if lr == best else 300.0,
                    }
                )
    arms = best_rate_arms(pd.DataFrame(rows))
    assert list(arms) == ["steps/B=32", "steps/B=256"]
    assert arms["steps/B=32"].overrides == {
        "train": {"batch_size": 32},
        "optimizer": {"lr": 0.2},
        "seed_stream": 2,
    }
    assert arms["steps/B=256"].overrides["optimizer"]["lr"] == 0.8


# --------------------------------------------------------------------------- end to end


def test_quick_run_end_to_end(store):
    from studies.engine.runner import run_study

    with threadpool_limits(limits=1):
        outcome = run_study(STUDY, quick=True, tracking_uri=store, jobs=1, progress_bar=False)
    check_metrics_declared(STUDY, outcome)
    stages = [r.spec.stage for r in outcome.records]
    assert stages.count("generalization") == len(bs.QUICK_GENERALIZATION) * 2
    assert stages.count("tune") == 2 and stages.count("steps") == 2 * 2
    assert all(r.result.status in ("ok", "diverged") for r in outcome.records)
    steps = [r for r in outcome.records if r.spec.stage == "steps"]
    assert all(r.spec.config["seed_stream"] == 2 for r in steps)
    assert all(r.result.history[0]["epoch"] == 0 for r in steps)
    general = [r for r in outcome.records if r.spec.stage == "generalization"]
    assert all(r.result.summary["sec_per_epoch"] > 0 for r in general)
    verdicts = {c.id: r for c, r in outcome.claims}
    assert set(verdicts) == {c.id for c in STUDY.claims}
    for result in verdicts.values():
        assert "could not be evaluated" not in result.detail
