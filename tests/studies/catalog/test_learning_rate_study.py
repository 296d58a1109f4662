"""The learning-rate study: the quadratic's regimes against theory, the evaluators on
hand-built frames, the schedules, and one quick run end to end."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from plot_checks import check_metrics_declared, check_plots
from test_activations_study import part, verdict
from threadpoolctl import threadpool_limits

from dlkit import optim
from dlkit.nn.base import Parameter
from studies.catalog import learning_rate as lr_study
from studies.catalog.learning_rate import (
    CYCLE,
    DIVERGES,
    MONOTONE,
    NOTES_RATES,
    OSCILLATING,
    QUADRATIC_CONFIG,
    STUDY,
    best_rate_interior,
    best_rates,
    build_schedule,
    descend,
    measured_regime,
    mlp_trial,
    quadratic_grid,
    quadratic_trial,
    regimes_match_theory,
    sweep_arms,
    sweep_best_arm,
    theory_regime,
)


def _claim(claim_id: str):
    return next(c for c in STUDY.claims if c.id == claim_id).evaluate


# --------------------------------------------------------------------------- the quadratic


@pytest.mark.parametrize(
    ("lr", "expected"),
    [
        (0.01, MONOTONE),
        (0.1, MONOTONE),
        (0.125, MONOTONE),  # lr = 1/a: one step to the minimum
        (0.13, OSCILLATING),
        (0.24, OSCILLATING),
        (0.25, CYCLE),  # lr = 2/a
        (0.26, DIVERGES),
        (1.0, DIVERGES),
    ],
)
def test_theory_regime_of_the_notes_function(lr, expected):
    assert theory_regime(lr, 8.0) == expected


def test_theory_regime_scales_with_the_curvature_and_rejects_bad_input():
    assert theory_regime(0.9, 1.0) == MONOTONE
    assert theory_regime(1.5, 1.0) == OSCILLATING
    assert theory_regime(2.0, 1.0) == CYCLE
    assert theory_regime(0.3, 10.0) == DIVERGES
    for bad in [(0.0, 8.0), (-0.1, 8.0), (0.1, 0.0)]:
        with pytest.raises(ValueError, match="must be > 0"):
            theory_regime(*bad)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([2.0, 1.0, 0.5, 0.25], MONOTONE),
        ([2.0, 0.0, 0.0], MONOTONE),
        ([-2.0, -1.9, -1.8], MONOTONE),
        ([2.0, -1.0, 0.5, -0.25], OSCILLATING),
        ([2.0, 1.0, -0.5, 0.1], OSCILLATING),
        ([2.0, -2.0, 2.0, -2.0], CYCLE),
        ([2.0, -4.0, 8.0], DIVERGES),
        ([2.0, 3.0, 2.5], DIVERGES),  # ends above the start
        ([2.0, -30.0, math.inf], DIVERGES),
        ([2.0, math.nan], DIVERGES),
    ],
)
def test_measured_regime_of_hand_built_paths(path, expected):
    assert measured_regime(np.array(path)) == expected


def test_measured_regime_rejects_paths_it_cannot_read():
    for bad in ([1.0], [0.0, 0.0], [[1.0, 0.5]]):
        with pytest.raises(ValueError, match="path"):
            measured_regime(np.array(bad))


def test_descend_is_the_closed_form():
    for lr in (0.1, 0.24, 0.25, 1.0):
        path = descend(2.0, lr, 8.0, 12)
        np.testing.assert_allclose(path, 2.0 * (1.0 - 8.0 * lr) ** np.arange(13), rtol=1e-12)
    # dlkit's SGD did the steps: the same as stepping it by hand.
    p = Parameter(np.array([2.0]), name="x")
    opt = optim.SGD([p], lr=0.24)
    opt.zero_grad()
    p.grad[0] = 16.0
    opt.step()
    assert descend(2.0, 0.24, 8.0, 1)[1] == pytest.approx(p.data[0])


def test_notes_rates_fall_in_four_regimes():
    regimes = {lr: measured_regime(descend(1.3, lr, 8.0, 50)) for lr in NOTES_RATES}
    assert regimes == {1.0: DIVERGES, 0.25: CYCLE, 0.24: OSCILLATING, 0.1: MONOTONE}
    assert regimes == {lr: theory_regime(lr, 8.0) for lr in NOTES_RATES}


def test_grid_trial_checks_every_rate_against_theory():
    config = {**QUADRATIC_CONFIG, "lr": None, "arm": "grid", "seed": 3}
    result = quadratic_trial(config)
    rates = quadratic_grid(config)
    assert len(rates) == 64 and rates[24] == 0.125 and rates[49] == 0.25
    assert result.summary == {
        "regime_mismatches": 0.0,
        "regime_rates": 64.0,
        "regime_match_fraction": 1.0,
    }
    history = pd.DataFrame(result.history)
    assert history["epoch"].tolist() == list(range(1, 65))
    np.testing.assert_allclose(history["rho"], 1.0 - 8.0 * rates, atol=1e-12)
    assert (history["regime_measured"] == history["regime_theory"]).all()
    assert set(history["regime_theory"]) == {MONOTONE, OSCILLATING, CYCLE, DIVERGES}


def test_one_rate_trial_draws_its_start_from_the_seed():
    starts = []
    for seed in (0, 1, 2):
        config = {**QUADRATIC_CONFIG, "lr": 0.24, "arm": "lr=0.24", "seed": seed}
        result = quadratic_trial(config)
        assert result.summary["measured_regime"] == OSCILLATING
        assert result.summary["regime_mismatches"] == 0.0
        assert result.summary["contraction"] == pytest.approx(0.92**50)
        ratios = [r["x_over_x0"] for r in result.history]
        assert ratios[0] == 1.0 and ratios[1] == pytest.approx(-0.92)
        starts.append(result.datasets[0]["digest"])
    assert len(set(starts)) == 3
    diverged = quadratic_trial({**QUADRATIC_CONFIG, "lr": 1.0, "arm": "x", "seed": 0})
    assert diverged.status == "ok" and diverged.summary["measured_regime"] == DIVERGES
    assert max(abs(r["x_over_x0"]) for r in diverged.history) == lr_study.TRAJECTORY_CLIP


def _quadratic_frame(mismatches: dict[tuple[int, str], float], seeds=(0, 1, 2)):
    arms = [*(f"lr={r:g}" for r in NOTES_RATES), "grid"]
    rows = [
        {
            "stage": "quadratic",
            "arm": arm,
            "seed": seed,
            "status": "ok",
            "regime_mismatches": mismatches.get((seed, arm), 0.0),
            "regime_rates": 64.0 if arm == "grid" else 1.0,
        }
        for seed in seeds
        for arm in arms
    ]
    # An MLP trial of another stage carries NaN in these columns; it must not count.
    rows.append({"stage": "sweep", "arm": "x", "seed": 0, "status": "ok"})
    return pd.DataFrame(rows)


def test_regime_claim_is_an_exact_check():
    result = regimes_match_theory(_quadratic_frame({}), None)
    assert result.verdict == "supported"
    assert result.numbers["rates_checked"] == 3 * 68 and result.numbers["mismatches"] == 0
    result = regimes_match_theory(_quadratic_frame({(2, "grid"): 1.0}), None)
    assert result.verdict == "not supported" and result.numbers["mismatches"] == 1
    assert regimes_match_theory(_quadratic_frame({}, seeds=(0,)), None).verdict == ("inconclusive")
    # A seed that lost an arm is left out rather than checked on fewer rates.
    frame = _quadratic_frame({(1, "lr=1"): 1.0})
    frame.loc[(frame["seed"] == 1) & (frame["arm"] == "grid"), "status"] = "failed"
    result = regimes_match_theory(frame, None)
    assert result.verdict == "supported" and result.numbers["seeds"] == 2


# --------------------------------------------------------------------------- MNIST-1D


def _sweep(losses: dict[int, list[float]], *, status=None) -> pd.DataFrame:
    """Constant-rate sweep rows: ``losses[seed]`` over the nine rates 10^-2.5 .. 10^1.5."""
    rows = []
    for seed, per_rate in losses.items():
        for i, loss in enumerate(per_rate):
            log10_lr = -2.5 + 0.5 * i
            rows.append(
                {
                    "stage": "sweep",
                    "arm": f"sweep/constant/lr=10^{log10_lr:g}",
                    "seed": seed,
                    "status": (status or {}).get((seed, i), "ok"),
                    "factor.schedule": "constant",
                    "config.optimizer.lr": 10**log10_lr,
                    "final_val_loss_capped": loss,
                    "final_val_loss": loss,
                }
            )
    return pd.DataFrame(rows)


U = [2.1, 1.8, 1.6, 1.4, 1.3, 1.2, 2.0, 3.45, 3.45]


def test_best_arm_is_chosen_on_the_first_seeds_only():
    losses = {s: [v + 0.01 * s for v in U] for s in range(5)}
    frame = _sweep(losses)
    assert sweep_best_arm(frame) == (
        "sweep/constant/lr=10^-2.5",
        "sweep/constant/lr=10^0",
        "sweep/constant/lr=10^1.5",
    )
    # Seeds added later for the claim's three arms do not move the choice.
    late = _sweep({s: [0.1] * 9 for s in range(5, 8)})
    late = late[late["arm"].isin(["sweep/constant/lr=10^-2.5", "sweep/constant/lr=10^1.5"])]
    assert sweep_best_arm(pd.concat([frame, late]))[1] == "sweep/constant/lr=10^0"
    with pytest.raises(ValueError, match="no finished sweep trial"):
        sweep_best_arm(frame.assign(status="failed"))


def test_interior_claim_pairs_the_best_rate_with_both_ends():
    rng = np.random.default_rng(0)
    losses = {s: list(np.array(U) + rng.normal(0, 0.02, 9)) for s in range(6)}
    evidence = best_rate_interior()(_sweep(losses), None)
    small, large = part(evidence, "vs_smallest"), part(evidence, "vs_largest")
    best = int(np.argmin(np.mean([losses[s] for s in range(5)], axis=0)))
    np.testing.assert_allclose(small.values, [losses[s][best] - losses[s][0] for s in range(6)])
    np.testing.assert_allclose(large.values, [losses[s][best] - losses[s][8] for s in range(6)])
    assert small.alternative == large.alternative == "less"
    assert verdict(evidence) == "supported"
    assert evidence.numbers["best_log10_lr"] == pytest.approx(-2.5 + 0.5 * best)
    # Monotone curve: the largest rate is best, so "worse than the largest" cannot hold.
    mono = {s: [2.0 - 0.1 * i + 0.01 * ((s + i) % 3) for i in range(9)] for s in range(6)}
    evidence = best_rate_interior()(_sweep(mono), None)
    assert np.allclose(part(evidence, "vs_largest").values, 0.0)
    assert verdict(evidence) != "supported"


def test_best_rates_tune_each_schedule_and_rerun_on_a_fresh_stream():
    constant = _sweep({s: U for s in range(3)})
    cosine = constant.assign(
        **{
            "factor.schedule": "cosine",
            "arm": constant["arm"].str.replace("constant", "cosine"),
            # cosine's best rate is 10^0.5 (2.0 - 0.9 = 1.1 < 1.2)
            "final_val_loss": [v - 0.9 * (i == 6) for i, v in enumerate(U)] * 3,
        }
    )
    arms = best_rates(pd.concat([constant, cosine], ignore_index=True))
    assert list(arms) == ["schedule/constant", "schedule/cosine"]
    assert arms["schedule/constant"].overrides == {
        "optimizer": {"lr": pytest.approx(1.0)},
        "schedule": {"name": "constant"},
        "train": {"evaluate_test": True},
        "seed_stream": 1,
    }
    assert arms["schedule/cosine"].overrides["optimizer"]["lr"] == pytest.approx(10**0.5)
    assert arms["schedule/cosine"].factors == {"schedule": "cosine", "log10_lr": "0.5"}


def test_sweep_arms_cover_both_schedules_over_four_decades():
    arms = sweep_arms()
    assert len(arms) == 18
    rates = sorted({a.overrides["optimizer"]["lr"] for a in arms.values()})
    np.testing.assert_allclose(np.log10(rates), np.arange(-2.5, 1.6, 0.5))
    assert len(sweep_arms(quick=True)) == 6


def _rates(name: str, epochs: int = 6, batches: int = 4, **schedule) -> list[float]:
    """The rate of every optimizer step under ``build_schedule`` (stepped as fit steps it)."""
    p = Parameter(np.zeros(1), name="w")
    opt = optim.SGD([p], lr=0.5)
    cfg = {"schedule": {**STUDY.base_config["schedule"], "name": name, **schedule}}
    sched = build_schedule(cfg, opt, epochs, batches)
    seen = []
    for _ in range(epochs):
        for _ in range(batches):
            seen.append(opt.lr)
            if sched is not None and sched.per_batch:
                sched.step()
        if sched is not None and not sched.per_batch:
            sched.step()
    return seen


def test_schedules_follow_their_formulas():
    assert _rates("constant") == [0.5] * 24
    cosine = _rates("cosine")
    expected = [0.25 * (1 + math.cos(math.pi * e / 6)) for e in range(6)]
    np.testing.assert_allclose(cosine[::4], expected)
    assert cosine[:4] == [0.5] * 4  # per epoch: constant within an epoch
    step = _rates("step", epochs=8)
    np.testing.assert_allclose(step[::4], [0.5] * 4 + [0.05] * 2 + [0.005] * 2)
    warm = _rates("warmup", warmup_epochs=2, warmup_start=0.01)
    np.testing.assert_allclose(warm[:9], 0.5 * (0.01 + 0.99 * np.arange(9) / 8))
    np.testing.assert_allclose(warm[8:], 0.5)
    both = _rates("warmup_cosine", warmup_epochs=2, warmup_start=0.01)
    np.testing.assert_allclose(both[:9], warm[:9])
    assert both[-1] < 0.02 and all(np.diff(both[8:]) < 0)
    with pytest.raises(ValueError, match="unknown schedule"):
        _rates("cyclic")


def test_mlp_trial_records_the_rate_and_caps_a_divergence():
    config = {**STUDY.base_config, "arm": "x", "seed": 0}
    config["train"] = {**config["train"], "epochs": 3, "evaluate_test": True}
    config["schedule"] = {**config["schedule"], "name": "cosine"}
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    lrs = [r["lr"] for r in result.history]
    np.testing.assert_allclose(
        lrs[1:], [0.1 * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in range(3)]
    )
    assert 0.0 <= result.summary["test_acc"] <= 1.0
    assert result.summary["final_val_loss_capped"] == result.summary["final_val_loss"]
    config["optimizer"] = {"name": "sgd", "lr": 10.0**3}
    with threadpool_limits(limits=1):
        result = mlp_trial(config)
    assert result.status == "diverged" and result.summary["final_val_loss"] == math.inf
    assert result.summary["final_val_loss_capped"] == pytest.approx(1.5 * math.log(10))


def test_plots_and_claims_are_well_formed():
    check_plots(STUDY)
    assert [s.name for s in STUDY.stages] == ["quadratic", "sweep", "schedule", "warmup"]
    assert {c.expected for c in STUDY.claims} == {"supported"}


# --------------------------------------------------------------------------- end to end


def test_quick_run_end_to_end(store):
    from studies.engine.runner import run_study

    outcome = run_study(STUDY, quick=True, tracking_uri=store, jobs=2, progress_bar=False)
    check_metrics_declared(STUDY, outcome)
    stages = [r.spec.stage for r in outcome.records]
    assert stages.count("quadratic") == 5 * 2
    assert stages.count("sweep") == 6 * 2
    assert stages.count("schedule") == 2 * 2
    assert stages.count("warmup") == 2 * 2
    assert all(r.result.status in ("ok", "diverged") for r in outcome.records)
    schedule = [r for r in outcome.records if r.spec.stage == "schedule"]
    assert all(
        r.spec.config["seed_stream"] == 1 and "test_acc" in r.result.summary for r in schedule
    )
    assert all(r.spec.config["train"]["epochs"] == 3 for r in schedule)
    warm = [r for r in outcome.records if r.spec.stage == "warmup"]
    assert all(r.spec.config["seed_stream"] == 2 for r in warm)
    verdicts = {c.id: r.verdict for c, r in outcome.claims}
    assert set(verdicts) == {c.id for c in STUDY.claims}
    assert verdicts["quadratic_regimes_match_theory"] == "supported"
