"""Table builders and the completeness notes, on fixture frames (no MLflow)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
from scipy import stats

from reports.tables import (
    BEST_MARK,
    arm_differences,
    base_config_rows,
    best_arms,
    claim_mismatches,
    completeness_notes,
    declared_seeds,
    divergence_notes,
    flatten,
    format_number,
    metric_directions,
    results_frame,
    results_records,
    results_table,
    stage_seeds,
)
from studies import Claim, ClaimResult


def test_metric_directions_are_what_the_study_declares(caplog):
    study = {"metrics": {"test_acc": "higher", "val_loss": "lower", "bias": None, "f1": "max"}}
    assert metric_directions(study) == {"test_acc": "higher", "val_loss": "lower"}
    assert "declares metric 'f1' as 'max'; expected one of higher, lower" in caplog.text
    assert "'bias'" not in caplog.text  # None: declared as neither way, not an error
    assert metric_directions({}) == {}
    assert metric_directions({"metrics": None}) == {}
    assert metric_directions({"metrics": ["test_acc"]}) == {}


def test_results_frame_uses_the_logged_arm_aggregates(toy_runs):
    results = results_frame(toy_runs.trials, toy_runs.arms, ["test_acc"], ["tanh-lr0.1"])
    assert list(results.index)[0] == "tanh-lr0.1"
    arms = toy_runs.arms.set_index("arm")
    for arm in results.index:
        for stat in ("mean", "ci_lo", "ci_hi"):
            assert results.loc[arm, ("test_acc", stat)] == arms.loc[arm, f"test_acc_{stat}"]
    counts = results.loc["relu-lr0.1", "trials"]
    assert (counts["n_trials"], counts["n_ok"], counts["n_failed"]) == (3, 2, 1)
    assert results.loc["tanh-lr0.1", ("trials", "n_diverged")] == 1


def test_results_frame_computes_a_t_interval_when_nothing_was_logged(toy_runs):
    results = results_frame(toy_runs.trials, toy_runs.arms.iloc[0:0], ["test_acc"])
    values = toy_runs.trials.query("arm == 'relu-lr0.01'")["test_acc"].to_numpy()
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    row = results.loc["relu-lr0.01", "test_acc"]
    np.testing.assert_allclose([row["mean"], row["ci_lo"], row["ci_hi"]], [values.mean(), lo, hi])


def test_best_arms_by_declared_direction_and_ties():
    columns = pd.MultiIndex.from_tuples(
        [("trials", "n_ok"), ("acc", "mean"), ("loss", "mean"), ("bias", "mean")]
    )
    results = pd.DataFrame(
        [[3, 0.9, 0.2, 1.0], [3, 0.9, 0.1, 2.0], [3, 0.5, math.nan, 3.0]],
        index=["a", "b", "c"],
        columns=columns,
    )
    directions = {"acc": "higher", "loss": "lower"}
    assert best_arms(results, directions) == {"acc": ["a", "b"], "loss": ["b"], "bias": []}
    # The declaration decides, not the name: a "loss" declared higher-is-better.
    assert best_arms(results, {"loss": "higher"})["loss"] == ["a"]
    assert best_arms(results, {}) == {"acc": [], "loss": [], "bias": []}


def test_results_table_marks_the_best_cell_and_escapes(toy_runs):
    trials = toy_runs.trials.copy()
    trials.loc[trials["arm"] == "relu-lr0.01", "arm"] = "<b>bold</b>"
    results = results_frame(trials, toy_runs.arms.iloc[0:0], ["test_acc", "final_val_loss"])
    html = results_table(results, metric_directions(toy_runs.study)).set_uuid("t").to_html()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    best_acc = results[("test_acc", "mean")].idxmax()
    best_loss = results[("final_val_loss", "mean")].idxmin()
    body = html[html.index("<tbody>") :]
    assert body.count(BEST_MARK) == 2
    row = results.index.get_loc(best_acc)
    cell = body[body.index(f'id="T_t_row{row}_col3"') :].split("</td>")[0]
    assert BEST_MARK in cell
    assert f"#T_t_row{row}_col3" in html and "font-weight: 700" in html
    assert "test_acc \u2191" in html and "final_val_loss \u2193" in html
    assert best_loss in html


def test_an_undeclared_metric_gets_no_star_and_no_arrow(toy_runs):
    results = results_frame(toy_runs.trials, toy_runs.arms, ["test_acc", "final_val_loss"])

    def header_and_body(directions: dict) -> tuple[str, str]:
        html = results_table(results, directions).set_uuid("t").to_html()
        return html[html.index("<thead>") : html.index("</thead>")], html[html.index("<tbody>") :]

    header, body = header_and_body({"test_acc": "higher"})
    assert body.count(BEST_MARK) == 1
    assert "test_acc \u2191" in header and ">final_val_loss</th>" in header
    header, body = header_and_body({})
    assert BEST_MARK not in body
    assert "\u2191" not in header and "\u2193" not in header


def test_results_records_are_strict_json(toy_runs):
    results = results_frame(toy_runs.trials, toy_runs.arms, toy_runs.summary_keys)
    records = results_records(results)
    assert [r["arm"] for r in records] == list(results.index)
    relu = records[0]
    assert relu["epochs_to_target.mean"] is None  # never reached: NaN -> None
    assert isinstance(relu["n_trials"], int)
    json.dumps(records, allow_nan=False)


def test_format_number():
    assert format_number(math.nan) == "n/a"
    assert format_number(math.inf) == "inf"
    assert format_number(3) == "3"
    assert format_number(0.123456) == "0.1235"


def test_setup_tables(toy_runs):
    rows = dict(base_config_rows(toy_runs.study))
    assert rows["optimizer.lr"] == "0.1" and rows["model.activation"] == "relu"
    keys, arm_rows = arm_differences(toy_runs.study)
    assert keys == ["model.activation", "optimizer.lr", "note"]
    first = dict(zip(keys, arm_rows[0][1], strict=True))
    assert first["note"] == "<script>alert(1)</script>"  # raw here; the template escapes it
    assert arm_rows[1][1][2] == ""  # the other arms keep the base note
    assert flatten({"a": {"b": {"c": 1}}, "d": {}}) == {"a.b.c": 1, "d": {}}


def test_declared_seeds():
    assert declared_seeds({"seeds": 3}) == [0, 1, 2]
    assert declared_seeds({"seeds": [4, 7]}) == [4, 7]
    assert declared_seeds({}) is None
    assert stage_seeds(
        {"stages": [{"name": "tune", "seeds": [0]}, {"name": "main", "seeds": 2}]}
    ) == {
        "tune": [0],
        "main": [0, 1],
    }


def test_complete_store_has_no_notes(toy_study, runs_of):
    assert completeness_notes(runs_of(toy_study)) == []


def test_notes_name_every_gap(toy_study, runs_of):
    runs = runs_of(
        toy_study,
        diverged={("tanh-lr0.1", 2): 4},
        failed={("relu-lr0.1", 1)},
        missing={("tanh-lr0.01", 0), ("tanh-lr0.01", 2)}
        | {("relu-lr0.01", s) for s in toy_study.seeds},
    )
    runs.summary_run.update(quick=True, git_dirty=True)
    notes = completeness_notes(runs)
    text = "\n".join(notes)
    assert "Arm 'relu-lr0.01' has no trial in the store." in notes
    assert "Arm 'tanh-lr0.01': 2 of 3 seeds missing (seed 0, 2)." in notes
    assert not any("diverged" in n for n in notes)
    assert divergence_notes(runs) == ["Arm 'tanh-lr0.1': 1 trial(s) diverged (seed 2 at epoch 4)."]
    assert "Arm 'relu-lr0.1': 1 trial(s) failed (seed 1)." in notes
    assert "quick (smoke) run" in text and "uncommitted changes" in text


def test_arms_run_to_different_seed_counts_by_the_design_are_complete(toy_study, runs_of):
    # The sequential design gave two arms only seeds 0-1: that is no gap; a missing seed of
    # the seeds an arm did run is one.
    runs = runs_of(toy_study, missing={("tanh-lr0.01", 2), ("relu-lr0.01", 2), ("relu-lr0.1", 1)})
    runs.study["arm_seeds"] = {
        "tanh-lr0.01": [0, 1],
        "relu-lr0.01": [0, 1],
        "relu-lr0.1": [0, 1, 2],
        "tanh-lr0.1": [0, 1, 2],
    }
    notes = [n for n in completeness_notes(runs) if "seeds missing" in n]
    assert notes == ["Arm 'relu-lr0.1': 1 of 3 seeds missing (seed 1)."]


def test_notes_without_a_summary_run(toy_runs):
    runs = dataclasses.replace(toy_runs, summary_run=None)
    assert any(n.startswith("No summary run was found") for n in completeness_notes(runs))


def test_claims_are_rechecked_against_the_logged_verdicts(toy_runs):
    def verdict(word):
        return lambda summaries, histories: ClaimResult(word, "s", {"n": len(summaries)})

    def broken(summaries, histories):
        raise KeyError("val_acc_final")

    claims = [
        Claim("lr_matters", "t", "s", verdict("supported")),
        Claim("tanh_better", "t", "s", verdict("supported")),
        Claim("deep_stable", "t", "s", broken),
        Claim("not_logged", "t", "s", broken),
    ]
    notes = claim_mismatches(toy_runs, claims)
    assert notes == [
        "Claim 'tanh_better': the run logged 'not supported', but the study's current claim "
        "gives 'supported' on the same trials (its code changed since).",
        "Claim 'deep_stable' could not be re-evaluated from the store: KeyError: 'val_acc_final'",
    ]


def test_many_diverged_trials_of_an_arm_are_one_short_line():
    from reports.tables import _bad_trials, _ranges

    assert _ranges([0, 1, 2, 5, 7, 8]) == "0\u20132, 5, 7\u20138"
    seeds = [0, 1, 2, 3, 4, 6]
    trials = pd.DataFrame(
        {
            "arm": ["sgd/lr=10"] * 8,
            "seed": [*seeds, 5, 7],
            "status": ["diverged"] * 6 + ["ok"] * 2,
            "diverged_epoch": [1, 2, 1, 1, 2, 1, None, None],
        }
    )
    bad = trials[trials["status"] == "diverged"]
    assert _bad_trials(bad, "diverged", trials) == (
        "6 of 8 trials diverged (seeds 0\u20134, 6, at epochs 1\u20132)"
    )
    assert _bad_trials(bad.head(2), "diverged", trials) == (
        "2 trial(s) diverged (seed 0 at epoch 1, seed 1 at epoch 2)"
    )
