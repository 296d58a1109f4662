"""Round trips through a real SQLite MLflow store: load_runs gives back the frames logged,
build_report writes the page, its JSON and the index, and logs the page to MLflow."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from reports import build_report, load_runs
from reports.tables import claim_mismatches, completeness_notes
from studies import Arm, Claim, Plot, Study, TrialResult
from studies.engine.claims import judge_study, paired_comparison
from studies.stats import SequentialDesign


def test_load_runs_gives_back_what_was_logged(store, toy_study, store_of, runs_of):
    gaps = {"diverged": {("tanh-lr0.1", 2): 4}, "failed": {("relu-lr0.1", 1)}}
    store_of(store, toy_study, **gaps)
    expected = runs_of(toy_study, **gaps)
    runs = load_runs("toy", tracking_uri=store)

    assert runs.summary_keys == expected.summary_keys
    assert runs.history_keys == expected.history_keys
    key = ["arm", "seed"]
    got = runs.trials.sort_values(key).reset_index(drop=True)
    want = expected.trials.sort_values(key).reset_index(drop=True)
    for column in ["arm", "seed", "status", "stage", "run_name", "run_status", *runs.summary_keys]:
        pd.testing.assert_series_equal(got[column], want[column], check_dtype=False)
    assert got["diverged_epoch"].tolist() == want["diverged_epoch"].tolist()
    # inf survives the store (MLflow clamps it to float max; the loader restores it).
    assert math.isinf(got.loc[got["arm"] == "relu-lr0.01", "epochs_to_target"].iloc[0])
    config = sorted(c for c in want if c.startswith(("config.", "factor.")))
    pd.testing.assert_frame_equal(got[config], want[config], check_dtype=False)

    hkey = ["arm", "seed", "epoch"]
    got_h = runs.history.sort_values(hkey).reset_index(drop=True)
    want_h = expected.history.sort_values(hkey).reset_index(drop=True)
    columns = ["arm", "seed", "status", "epoch", *runs.history_keys]
    pd.testing.assert_frame_equal(got_h[columns], want_h[columns], check_dtype=False)

    arms = runs.arms.set_index("arm").sort_index()
    want_arms = expected.arms.set_index("arm").sort_index()
    np.testing.assert_allclose(arms["test_acc_mean"], want_arms["test_acc_mean"])
    assert arms["n_failed"].tolist() == want_arms["n_failed"].tolist()

    assert runs.claims["verdict"].tolist() == ["supported", "not supported", "inconclusive"]
    assert runs.study["arms"].keys() == toy_study.arms.keys()
    assert runs.summary_run["command"] == "python -m studies run toy"
    assert runs.summary_run["timing"]["wall_seconds"] == 12.5
    assert sorted(set(runs.artifacts["name"])) == ["activations", "trajectory"]
    assert len(runs.artifacts) == 2 * (len(runs.trials) - 1)  # the failed trial logged none


def test_unknown_study_lists_the_valid_ones(store, toy_study, store_of):
    store_of(store, toy_study)
    with pytest.raises(ValueError, match=r"unknown study 'toy2'.*valid choices: toy"):
        load_runs("toy2", tracking_uri=store)


def test_build_report_writes_page_json_index_and_logs_the_page(
    store, toy_study, store_of, tmp_path
):
    toy_study.plots = toy_study.plots[:2]
    store_of(store, toy_study, diverged={("tanh-lr0.1", 2): 4})
    out = tmp_path / "out"
    path = build_report("toy", tracking_uri=store, out_dir=out)

    assert path == out / "toy.html"
    html = path.read_text(encoding="utf-8")
    for arm in toy_study.arms:
        assert f">{arm}</th>" in html
    for claim in toy_study.claims:
        escaped = claim["text"].replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    summary = json.loads((out / "toy.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in summary["claims"]] == [c["id"] for c in toy_study.claims]
    assert 'href="toy.html"' in (out / "index.html").read_text(encoding="utf-8")

    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("toy")
    (summary_run,) = client.search_runs([exp.experiment_id], "tags.kind = 'summary'")
    logged = [f.path for f in client.list_artifacts(summary_run.info.run_id, "report")]
    assert logged == ["report/toy.html"]


def test_report_without_a_summary_run(store, toy_study, store_of, tmp_path):
    toy_study.plots = []
    store_of(store, toy_study, summary=False)
    html = build_report("toy", tracking_uri=store, out_dir=tmp_path).read_text("utf-8")
    assert "No summary run was found" in html
    for arm in toy_study.arms:
        assert f">{arm}</th>" in html


@pytest.mark.slow
def test_a_100_trial_store_builds_a_complete_report(store, store_of, study_factory, tmp_path):
    """A 100-trial, 30-epoch study (10 arms x 10 seeds, 12 per-epoch metrics, one diverged
    trial): every trial in the results, every plot drawn."""
    study = study_factory("speed", lrs=(0.001, 0.003, 0.01, 0.03, 0.1), seeds=10)
    store_of(store, study, epochs=30, diverged={("tanh-lr0.1", 3): 7})
    path = build_report("speed", tracking_uri=store, out_dir=tmp_path)
    summary = json.loads((tmp_path / "speed.json").read_text(encoding="utf-8"))
    assert sum(r["n_trials"] for r in summary["results"]) == 100
    assert summary["plots_not_drawn"] == []
    assert path.stat().st_size > 0


def tiny_trial(config: dict) -> TrialResult:
    """Noisy exponential decay; the rate grows with the learning rate. Milliseconds."""
    rng = np.random.default_rng(config["seed"])
    rate = config["optimizer"]["lr"]
    history, reached = [], math.inf
    for epoch in range(1, config["epochs"] + 1):
        loss = float(np.exp(-rate * epoch) + 0.01 * rng.random())
        history.append({"epoch": epoch, "train_loss": loss, "val_loss": 1.1 * loss})
        if loss < 0.5 and math.isinf(reached):
            reached = float(epoch)
    hist = {
        f"layer {k}": {"edges": [0, 1, 2], "counts": rng.integers(1, 9, 2).tolist()}
        for k in range(2)
    }
    return TrialResult(
        history=history,
        summary={"final_loss": history[-1]["train_loss"], "epochs_to_target": reached},
        artifacts={"hist": hist, "note": {"text": config["note"]}},
    )


def test_engine_study_round_trip(store, tmp_path):
    """A real Study through the engine's runner, then the report from the store alone."""
    runner = pytest.importorskip("studies.engine.runner")
    study = Study(
        name="tiny",
        question="Does a larger step reach the target sooner?",
        base_config={"epochs": 5, "optimizer": {"lr": 0.1}, "note": "<script>alert(1)</script>"},
        trial=tiny_trial,
        arms={
            "slow": Arm({"optimizer": {"lr": 0.1}}, factors={"speed": "slow"}),
            "fast": Arm({"optimizer": {"lr": 0.9}}, factors={"speed": "fast"}),
        },
        design=SequentialDesign(looks=(3,)),
        claims=[
            Claim(
                id="fast_first",
                text="The fast arm reaches the target in fewer epochs.",
                statistic="epochs to target, paired by seed",
                evaluate=paired_comparison("epochs_to_target", "fast", "slow", better="lower"),
            )
        ],
        plots=[
            Plot("learning_curves", "Loss", metric="train_loss", log_y=True),
            Plot("final_metric", "Final loss", metric="final_loss"),
            Plot("histogram_grid", "Histograms", artifact="hist"),
        ],
    )
    outcome = runner.run_study(study, tracking_uri=store, jobs=1, progress_bar=False)
    runs = load_runs("tiny", tracking_uri=store)
    assert sorted(runs.trials["run_id"]) == sorted(r.run_id for r in outcome.records)
    assert runs.summary_keys == ["epochs_to_target", "final_loss"]
    assert runs.history_keys == ["train_loss", "val_loss"]
    assert runs.trials["factor.speed"].tolist() == ["fast"] * 3 + ["slow"] * 3
    assert len(runs.history) == 6 * 5
    (claim,) = outcome.claims
    assert runs.claims["verdict"].tolist() == [claim[1].verdict]
    # Claims are pure functions of the frames: replayed on the loaded ones, same verdict.
    (again,) = judge_study(study.claims, runs.trials, runs.history, study.design, reached=1)
    assert again.result.verdict == claim[1].verdict
    assert claim_mismatches(runs, study.claims) == []

    path = build_report("tiny", tracking_uri=store, out_dir=tmp_path)
    html = path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert ">fast</th>" in html and ">slow</th>" in html
    assert "The fast arm reaches the target in fewer epochs." in html
    assert "could not be drawn" not in html
    summary = json.loads((tmp_path / "tiny.json").read_text(encoding="utf-8"))
    # Nothing is missing (a note on uncommitted changes depends on the checkout, not the store).
    assert [n for n in summary["missing"] if "uncommitted" not in n] == []
    # Each arm's parent run carries its own panel of the per-arm plot.
    client = MlflowClient(tracking_uri=store)
    for arm, run_id in zip(runs.arms["arm"], runs.arms["run_id"], strict=True):
        files = [a.path for a in client.list_artifacts(run_id, "figures")]
        assert files == [f"figures/01-histograms-{arm}.png"]

    # Rerun with one more seed: the report follows the latest invocation only.
    runner.run_study(study, tracking_uri=store, jobs=1, progress_bar=False, n_seeds=4)
    again = load_runs("tiny", tracking_uri=store)
    assert sorted(again.trials["seed"].unique()) == [0, 1, 2, 3]
    assert len(again.trials) == 8
    assert again.arms["n_trials"].tolist() == [4, 4]


def test_a_deleted_trial_and_an_unfinished_rerun_are_named(store, toy_study, store_of):
    toy_study.plots = []
    exp_id = store_of(store, toy_study)
    client = MlflowClient(tracking_uri=store)
    (gone,) = client.search_runs(
        [exp_id], "tags.kind = 'trial' and tags.arm = 'tanh-lr0.1' and tags.seed = '1'"
    )
    client.delete_run(gone.info.run_id)
    client.create_run(exp_id, run_name="summary-later", tags={"kind": "summary"})
    runs = load_runs("toy", tracking_uri=store)
    assert len(runs.trials) == 11
    assert runs.summary_run["run_name"] == "summary-20260102T030400Z"
    notes = completeness_notes(runs)
    assert (
        f"Trial 'tanh-lr0.1' seed 1 (run {gone.info.run_id}) is listed by the invocation but "
        "no longer in the store." in notes
    )
    assert any(n.startswith("A later invocation, summary-later, has status RUNNING") for n in notes)
    assert "Arm 'tanh-lr0.1': 1 of 3 seeds missing (seed 1)." in notes
