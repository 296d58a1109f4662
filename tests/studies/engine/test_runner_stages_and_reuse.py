"""The runner's stages and reuse: folds as child runs, in-process BLAS threads, recorded
package versions and bulk loading of reused trials (the bulk read itself is tested against
MLflow's public one in tests/studies/store)."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from threadpoolctl import threadpool_info, threadpool_limits
from toy_studies import Arm, base_config, make_toy, toy_trial

from studies.engine.frames import histories_frame, summaries_frame
from studies.engine.runner import PACKAGES, run_study
from studies.engine.spec import Claim, Stage, Study, TrialResult


def run(study: Study, uri: str, **kwargs):
    kwargs.setdefault("jobs", 1)
    return run_study(study, tracking_uri=uri, progress_bar=False, **kwargs)


def _blas_threads() -> int:
    return max(
        (info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"),
        default=0,
    )


def blas_trial(config: dict) -> TrialResult:
    """Report how many BLAS threads the trial ran with."""
    return TrialResult(summary={"blas_threads": float(_blas_threads())})


# -- folds as child runs ---------------------------------------------------------------------
def test_fold_stage_names_and_tags_its_child_runs(store):
    study = Study(
        name="toy_folds",
        question="Do folds show up as folds?",
        base_config=base_config(),
        trial=toy_trial,
        stages=[
            Stage(
                "cv",
                {"a": Arm({"optimizer": {"lr": 0.2}})},
                seeds=3,
                fixed_seeds=True,
                seed_label="fold",
            )
        ],
    )
    outcome = run(study, store)
    client = MlflowClient(store)
    runs = {
        client.get_run(r.run_id).info.run_name: client.get_run(r.run_id) for r in outcome.records
    }
    assert sorted(runs) == ["a/fold=0", "a/fold=1", "a/fold=2"]
    for name, child in runs.items():
        fold = name.rsplit("=", 1)[1]
        assert child.data.tags["fold"] == fold and child.data.tags["seed"] == fold
    # Claims and reports keep reading a `seed` column.
    assert sorted(summaries_frame(outcome.records)["seed"]) == [0, 1, 2]
    stage = json.loads(
        Path(client.download_artifacts(outcome.summary_run_id, "study.json")).read_text()
    )["stages"][0]
    assert stage["seed_label"] == "fold"


def test_seed_stage_tags_no_fold_and_bad_label_is_refused(store):
    outcome = run(make_toy(seeds=1), store)
    child = MlflowClient(store).get_run(outcome.records[0].run_id)
    assert child.info.run_name.endswith("/seed=0") and "fold" not in child.data.tags
    with pytest.raises(ValueError, match="repeat"):
        Stage("s", {"a": {}}, seed_label="repeat")


# -- one BLAS thread for in-process trials ---------------------------------------------------
def test_in_process_trials_run_with_one_blas_thread(store):
    with threadpool_limits(limits=2):
        if _blas_threads() < 2:
            pytest.skip("this BLAS cannot run more than one thread here")
        study = Study(
            name="toy_blas",
            question="How many BLAS threads does an in-process trial get?",
            base_config={"x": 0},
            trial=blas_trial,
            arms={"only": {}},
            seeds=1,
        )
        outcome = run(study, store, jobs=1)
        # The driver's own setting is back once the trials are done.
        assert _blas_threads() == 2
    assert outcome.records[0].result.summary["blas_threads"] == 1


# -- package versions in study.json ----------------------------------------------------------
def test_study_json_records_package_versions(store):
    outcome = run(make_toy(seeds=1), store)
    client = MlflowClient(store)
    study_json = json.loads(
        Path(client.download_artifacts(outcome.summary_run_id, "study.json")).read_text()
    )
    packages = study_json["packages"]
    for name in ("numpy", "scikit-learn", "mlflow", "jinja2"):
        assert packages[name] == metadata.version(name)
    assert set(packages) <= set(PACKAGES)


# -- reused trials load their histories in bulk ----------------------------------------------
def test_reused_trials_load_histories_in_one_bulk_call(store):
    study = make_toy(seeds=3)
    first = run(study, store)
    second = run(study, store)
    assert all(r.reused for r in second.records)
    by_call = second.timing["tracking_by_call"]
    assert "get_metric_history" not in by_call and "load_trial_results" in by_call
    # Searches, the summary run and its artifacts, one bulk read: far fewer than the
    # 6 trials x 2 history keys per-key reads that came before.
    assert second.timing["tracking_calls"] < 25
    for frame in (summaries_frame, histories_frame):
        a = frame(first.records).drop(columns=["reused"], errors="ignore")
        b = frame(second.records).drop(columns=["reused"], errors="ignore")
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


# -- a tuning stage with failed trials --------------------------------------------------------
def _tuned_study(final_arms) -> Study:
    from studies.engine.claims import mean_threshold

    def tune_arm(group: str, lr: float, fail: bool) -> Arm:
        overrides = {"optimizer": {"lr": lr}, **({"fail": "raise", "fail_seed": 0} if fail else {})}
        return Arm(overrides, factors={"group": group})

    tune = {
        "tune/a/0.1": tune_arm("a", 0.1, fail=True),  # a is chosen with one of its two trials
        "tune/a/0.3": tune_arm("a", 0.3, fail=False),
        "tune/b/0.1": tune_arm("b", 0.1, fail=True),  # every trial of b fails
        "tune/b/0.3": tune_arm("b", 0.3, fail=True),
    }
    claims = [
        Claim(
            id=f"{group}_reaches_target",
            text=f"{group} reaches the target",
            statistic="epochs to target",
            evaluate=mean_threshold(
                "epochs_to_target", threshold=100, above=False, arm=f"final/{group}"
            ),
        )
        for group in ("a", "b")
    ]
    return Study(
        name="toy_tuned",
        question="Does tuning survive failed trials?",
        base_config=base_config(),
        trial=toy_trial,
        stages=[
            Stage("tune", tune, seeds=1, fixed_seeds=True, nest="stage"),
            Stage("final", final_arms, seeds=2, fixed_seeds=True),
        ],
        claims=claims,
    )


def test_failed_tuning_trials_leave_the_choice_to_the_rest(store):
    from reports.tables import completeness_notes
    from studies.engine.select import best_setting
    from studies.store.reader import load_runs

    def best(previous):
        rates = best_setting(
            previous,
            stage="tune",
            metric="epochs_to_target",
            better="lower",
            setting="config.optimizer.lr",
            within="factor.group",
        )
        return {f"final/{g}": Arm({"optimizer": {"lr": lr}}) for g, lr in rates.items()}

    outcome = run(_tuned_study(best), store)
    assert {r.spec.arm for r in outcome.records if r.spec.stage == "final"} == {"final/a"}
    verdicts = {c.id: r for c, r in outcome.claims}
    assert verdicts["a_reaches_target"].verdict == "supported"
    assert verdicts["b_reaches_target"].verdict == "inconclusive"
    notes = completeness_notes(load_runs("toy_tuned", tracking_uri=store))
    assert any("stage 'final'" in n and "group = 'a' chosen without 1 of its 2" in n for n in notes)
    assert any(
        "stage 'final'" in n and "group = 'b'" in n and "nothing to choose" in n for n in notes
    )


def test_a_stage_whose_arms_cannot_be_chosen_is_skipped(store):
    from reports.tables import completeness_notes
    from studies.store.reader import load_runs

    def broken(previous):
        raise ValueError("no finished tuning trial for optimizer 'b'")

    outcome = run(_tuned_study(broken), store)
    assert {r.spec.stage for r in outcome.records} == {"tune"}
    assert {r.verdict for _, r in outcome.claims} == {"inconclusive"}
    notes = completeness_notes(load_runs("toy_tuned", tracking_uri=store))
    assert any(
        "stage 'final' skipped" in n and "optimizer 'b'" in n and "not evaluated" in n
        for n in notes
    )
