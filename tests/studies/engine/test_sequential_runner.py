"""The runner's sequential looks: seeds are added only to the arms of undecided claims."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from studies import Claim, Study, TrialResult
from studies.engine.claims import paired_comparison
from studies.engine.runner import run_study
from studies.stats import SequentialDesign, holm

# Per-arm true mean of the trial's score; "clear" is far above "base" for every seed.
MEANS = {"base": 0.0, "clear": 10.0, "same_a": 0.0, "same_b": 0.0}


def score_trial(config: dict) -> TrialResult:
    """One noisy score per trial; seed ``s`` of every arm shares its noise draw (paired)."""
    seed, arm = config["seed"], config["arm"]
    calls = config["calls_file"]
    if calls:
        with open(calls, "a") as fh:
            fh.write(f"{arm}/{seed}\n")
    trip = config["trip_file"]
    if trip and seed == config["interrupt_seed"] and os.path.exists(trip):
        os.remove(trip)
        raise KeyboardInterrupt
    shared = np.random.default_rng(seed).normal()
    own = np.random.default_rng([seed, sum(map(ord, arm))]).normal()
    score = MEANS[arm] + shared + config["noise"] * own
    return TrialResult(summary={"score": float(score)})


def two_claim_study(tmp_path: Path, *, trip: str = "", interrupt_seed: int = -1) -> Study:
    """One claim with a huge effect (decided at look 1) and one null claim (never decided)."""
    return Study(
        name="seq_toy",
        question="Which arms differ?",
        base_config={
            "calls_file": str(tmp_path / "calls.txt"),
            "trip_file": trip,
            "interrupt_seed": interrupt_seed,
            "noise": 0.01,
        },
        trial=score_trial,
        arms={name: {} for name in MEANS},
        design=SequentialDesign(looks=(5, 10, 15)),
        claims=[
            Claim(
                "clear_beats_base",
                "clear scores higher than base",
                "score, paired by seed",
                paired_comparison("score", "clear", "base", better="higher"),
            ),
            Claim(
                "a_beats_b",
                "same_a scores higher than same_b",
                "score, paired by seed",
                paired_comparison("score", "same_a", "same_b", better="higher"),
            ),
        ],
        metrics={"score": "higher"},
    )


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls.txt"
    return path.read_text().split() if path.exists() else []


def seeds_run(records, arm: str) -> list[int]:
    return sorted(r.spec.seed for r in records if r.spec.arm == arm)


def test_decided_claim_stops_its_arms_and_the_null_runs_to_the_last_look(tmp_path, store):
    outcome = run_study(two_claim_study(tmp_path), tracking_uri=store, jobs=1, progress_bar=False)
    (_, clear), (_, null) = outcome.claims
    assert (clear.verdict, clear.look, clear.seeds) == ("supported", 1, 5)
    assert null.verdict == "inconclusive" and (null.look, null.seeds) == (3, 15)
    assert null.seeds_needed is not None and null.seeds_needed > 15
    assert seeds_run(outcome.records, "clear") == list(range(5))
    assert seeds_run(outcome.records, "base") == list(range(5))
    assert seeds_run(outcome.records, "same_a") == list(range(15))
    assert len(calls(tmp_path)) == 5 + 5 + 15 + 15
    # Holm: the decided claim passed its level on to the other.
    assert clear.level == pytest.approx(0.025) and null.level == pytest.approx(0.05)
    assert [p["statistics"] for p in clear.parts][0][0] > clear.parts[0]["boundaries"][0]
    looks = [entry["look"] for entry in outcome.timing["looks"]]
    assert looks == [1, 2, 3]

    client = MlflowClient(store)
    claims = json.loads(
        Path(client.download_artifacts(outcome.summary_run_id, "claims.json")).read_text()
    )
    assert [(c["seeds"], c["look"]) for c in claims] == [(5, 1), (15, 3)]
    study_json = json.loads(
        Path(client.download_artifacts(outcome.summary_run_id, "study.json")).read_text()
    )
    assert study_json["design"]["looks"] == [5, 10, 15]
    assert study_json["design"]["reached"] == 3
    assert study_json["arm_seeds"]["clear"] == list(range(5))
    description = client.get_experiment(outcome.experiment_id).tags["mlflow.note.content"]
    assert "5 (look 1)" in description and "15 (look 3)" in description
    # Each arm's parent aggregates every seed it ran.
    parents = {
        r.data.tags["arm"]: r
        for r in client.search_runs([outcome.experiment_id], "tags.kind = 'arm'")
    }
    assert parents["same_a"].data.tags["n_trials"] == "15"
    assert parents["clear"].data.tags["n_trials"] == "5"

    # A rerun reuses every trial and reaches the same verdicts.
    again = run_study(two_claim_study(tmp_path), tracking_uri=store, jobs=1, progress_bar=False)
    assert len(calls(tmp_path)) == 40
    assert all(r.reused for r in again.records)
    assert [r.verdict for _, r in again.claims] == ["supported", "inconclusive"]


def test_ctrl_c_between_looks_resumes(tmp_path, store):
    trip = tmp_path / "trip"
    trip.write_text("armed")
    study = two_claim_study(tmp_path, trip=str(trip), interrupt_seed=5)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, tracking_uri=store, jobs=1, progress_bar=False)
    first = calls(tmp_path)
    assert len(first) == 20 + 1  # look 1 of four arms, then the interrupted seed 5
    outcome = run_study(study, tracking_uri=store, jobs=1, progress_bar=False)
    rerun = calls(tmp_path)[len(first) :]
    assert not set(rerun) & set(first[:-1])  # nothing of look 1 ran again
    assert len(rerun) == 2 * 10  # seeds 5..14 of the null claim's two arms
    assert [r.verdict for _, r in outcome.claims] == ["supported", "inconclusive"]
    assert seeds_run(outcome.records, "same_b") == list(range(15))


def test_max_seeds_caps_and_seeds_fixes_the_design(tmp_path, store):
    study = two_claim_study(tmp_path)
    assert study.sequential_design(max_seeds=12).looks == (5, 10, 12)
    assert study.sequential_design(max_seeds=40).looks == (5, 10, 15)
    assert study.sequential_design(n_seeds=7).looks == (7,)
    with pytest.raises(ValueError, match="--max-seeds must be >= 2"):
        study.sequential_design(max_seeds=1)
    outcome = run_study(study, tracking_uri=store, jobs=1, progress_bar=False, max_seeds=8)
    assert seeds_run(outcome.records, "same_a") == list(range(8))
    assert outcome.claims[1][1].look == 2


def holm_trial(config: dict) -> TrialResult:
    return TrialResult(summary={"value": config["values"][config["seed"]]})


def one_sample_values(p: float, n: int = 6) -> list[float]:
    """Values whose one-sided one-sample t-test against 0 has p-value ``p``."""
    from scipy import stats

    z = np.array([-1.5, -0.5, 0.0, 0.3, 0.7, 1.0])[:n]
    z = (z - z.mean()) / z.std(ddof=1)  # mean 0, SD 1
    t = stats.t.isf(p, n - 1)
    return (z + t / np.sqrt(n)).tolist()


def test_holm_across_four_claims_gives_holms_verdicts(tmp_path, store):
    raw = [0.01, 0.02, 0.03, 0.04]
    arms = {f"c{i}": {"values": one_sample_values(p)} for i, p in enumerate(raw)}
    from studies.engine.claims import mean_threshold

    study = Study(
        name="holm_toy",
        question="Which of four means is above 0?",
        base_config={"values": [0.0] * 6},
        trial=holm_trial,
        arms=arms,
        design=SequentialDesign(looks=(6,)),
        claims=[
            Claim(
                arm,
                f"{arm} is above 0",
                "value",
                mean_threshold("value", threshold=0.0, above=True, arm=arm),
            )
            for arm in arms
        ],
    )
    outcome = run_study(study, tracking_uri=store, jobs=1, progress_bar=False)
    p_values = [r.parts[0]["p_value"] for _, r in outcome.claims]
    np.testing.assert_allclose(p_values, raw, rtol=1e-6)
    expected = ["supported" if h else "inconclusive" for h in holm(raw)]
    assert expected == ["supported", "inconclusive", "inconclusive", "inconclusive"]
    assert [r.verdict for _, r in outcome.claims] == expected
    assert [r.level for _, r in outcome.claims] == pytest.approx(
        [0.0125, 0.05 / 3, 0.05 / 3, 0.05 / 3]
    )
