"""The page and its JSON twin, rendered from fixture frames (no MLflow)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from reports.plots import PLOT_KINDS
from reports.render import render_index, render_report, seed_text

XSS = "<script>alert(1)</script>"


@pytest.fixture
def page(toy_page) -> tuple[str, dict]:
    return toy_page


def test_config_values_and_claim_texts_are_escaped(page):
    html, _ = page
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>on this toy</i>" not in html and "&lt;i&gt;on this toy&lt;/i&gt;" in html
    assert "<script" not in html.lower()


def test_sections_come_in_the_promised_order(page, toy_runs):
    html, _ = page
    anchors = [
        toy_runs.study["question"],
        'id="claims"',
        'id="plots"',
        'id="results"',
        'id="setup"',
        'id="mlflow"',
    ]
    positions = [html.index(a) for a in anchors]
    assert positions == sorted(positions)


def test_every_claim_with_verdict_word_colour_and_numbers(page, toy_runs):
    html, summary = page
    for claim in toy_runs.claims.itertuples():
        assert claim.text.replace("<", "&lt;").replace(">", "&gt;") in html
        assert claim.statistic in html
    for word, css in [
        ("supported", "supported"),
        ("not supported", "not-supported"),
        ("inconclusive", "inconclusive"),
    ]:
        assert re.search(rf'<span class="verdict {css}">.*?{word}</span>', html)
    assert "<b>p_value</b> = 0.003" in html
    assert "<b>ratio</b> = n/a" in html
    assert summary["verdicts"] == {"supported": 1, "not supported": 1, "inconclusive": 1}


def test_every_arm_and_trial_run_is_linked(page, toy_runs):
    html, _ = page
    for arm in toy_runs.trials["arm"].unique():
        assert f">{arm}</th>" in html
    for run_id in toy_runs.trials["run_id"]:
        assert f"/#/experiments/1/runs/{run_id}" in html
    assert "make mlflow-ui" in html and "http://127.0.0.1:5000/#/experiments/1" in html


def test_http_store_links_go_to_the_server(lean):
    html, _ = render_report(lean(tracking_uri="https://mlflow.example.test/"))
    assert "https://mlflow.example.test/#/experiments/1/runs/run0000" in html
    assert "make mlflow-ui" not in html


def test_page_is_self_contained(page):
    html, _ = page
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert len(sources) == len(PLOT_KINDS)  # the toy study declares every kind once
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    # External addresses appear only as links the reader may follow.
    for match in re.finditer(r"https?://", html):
        assert html.rfind("href=", 0, match.start()) > html.rfind(">", 0, match.start())


def test_results_table_and_setup(page):
    html, _ = page
    assert '<table id="T_results0" class="results">' in html
    assert "\u2605" in html
    assert "python -m studies run toy" in html and "make report-toy" in html
    assert "toy spirals, 200 train / 100 test points" in html
    assert "Declared: 0\u20132 (3). Found in the store: 0\u20132." in html
    assert "<code>0123456789abcdef</code>" in html


def test_best_marks_follow_the_directions_the_study_declares(lean):
    def results_body(runs) -> str:
        html, _ = render_report(runs)
        table = re.search(r'<table id="T_results0".*?</table>', html, re.S).group()
        return table[table.index("<thead>") :]

    runs = lean()
    assert runs.study["metrics"]["test_acc"] == "higher"
    declared = results_body(runs)
    assert "test_acc \u2191" in declared and "final_val_loss \u2193" in declared
    assert declared.count("\u2605") == 3  # one best arm per declared metric
    bare = {k: v for k, v in runs.study.items() if k != "metrics"}
    body = results_body(dataclasses.replace(runs, study=bare))
    assert "\u2605" not in body and "\u2191" not in body and "\u2193" not in body


def test_partial_store_says_what_is_missing(toy_study, runs_of, lean):
    runs = runs_of(toy_study, missing={("tanh-lr0.1", s) for s in toy_study.seeds})
    html, summary = render_report(lean(runs))
    assert "Arm &#39;tanh-lr0.1&#39; has no trial in the store." in html
    assert summary["missing"] == ["Arm 'tanh-lr0.1' has no trial in the store."]


def test_empty_store_still_renders(toy_runs):
    empty = dataclasses.replace(
        toy_runs,
        summary_run=None,
        study={},
        claims=toy_runs.claims.iloc[0:0],
        trials=toy_runs.trials.iloc[0:0],
        history=toy_runs.history.iloc[0:0],
        arms=pd.DataFrame(columns=["arm", "run_id"]),
        artifacts=toy_runs.artifacts.iloc[0:0],
        summary_keys=[],
        history_keys=[],
    )
    html, summary = render_report(empty)
    assert "No summary run was found" in html
    assert "No claim verdicts were found" in html
    assert summary["claims"] == [] and summary["results"] == []


def test_a_plot_that_cannot_be_drawn_is_named(toy_runs):
    study = {**toy_runs.study, "plots": [{"kind": "sweep", "title": "Bad", "options": {"x": "lr"}}]}
    html, summary = render_report(dataclasses.replace(toy_runs, study=study))
    assert "<b>Bad</b> (sweep) could not be drawn: missing option(s) metric" in html
    assert summary["plots_not_drawn"][0]["title"] == "Bad"


def test_removed_arms_are_left_out(toy_runs, lean):
    runs = lean()
    del runs.study["arms"]["relu-lr0.01"]
    html, summary = render_report(runs)
    assert [r["arm"] for r in summary["results"]] == ["relu-lr0.1", "tanh-lr0.01", "tanh-lr0.1"]
    assert "no longer declares are left out of this report: relu-lr0.01" in html


def test_json_twin_is_strict_and_stable(lean, page):
    _, summary = page
    text = json.dumps(summary, allow_nan=False, sort_keys=True)
    assert json.loads(text)["claims"][2]["numbers"] == {"ratio": None}
    assert summary["last_run"] == "2026-01-02T03:04:00+00:00"
    runs = lean()
    _, first = render_report(runs, built_at=datetime(2026, 1, 1, tzinfo=UTC))
    _, again = render_report(runs, built_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)


def test_index_lists_studies_with_verdicts(page):
    _, summary = page
    other = {
        "study": "b<x>",
        "question": "Q?",
        "report": "b.html",
        "verdicts": {},
        "last_run": None,
    }
    html = render_index([other, summary])
    assert html.index('href="b.html"') < html.index('href="toy.html"')
    assert "b&lt;x&gt;" in html and "never" in html
    assert (
        '<span class="verdict supported"><span aria-hidden="true">\u2714</span> 1 supported' in html
    )
    assert "last run: 2026-01-02 03:04 UTC" in html
    assert "No report has been built yet" in render_index([])


def test_one_results_table_per_stage_with_its_own_metrics(toy_runs, lean):
    trials = toy_runs.trials.copy()
    tune = trials["arm"].str.startswith("relu")
    trials.loc[tune, "stage"] = "tune"
    trials.loc[tune, "final_val_loss"] = float("nan")
    html, summary = render_report(lean(trials=trials))
    assert "<h3>Stage tune</h3>" in html and "<h3>Stage main</h3>" in html
    tables = re.findall(r'<table id="T_results\d".*?</table>', html, re.S)
    assert len(tables) == 2
    by_stage = {"tune" if "relu-lr0.01" in t else "main": t for t in tables}
    assert "final_val_loss" not in by_stage["tune"] and "final_val_loss" in by_stage["main"]
    assert {r["stage"] for r in summary["results"]} == {"tune", "main"}


def test_seed_text():
    assert seed_text([4, 0, 1, 2, 3]) == "0\u20134"
    assert seed_text([0, 1]) == "0, 1"
    assert seed_text([0, 2, 5]) == "0, 2, 5"
    assert seed_text([]) == ""


def test_each_arm_run_gets_its_own_copy_of_the_per_arm_plots(toy_runs):
    from reports.render import arm_figures

    figures = arm_figures(toy_runs)
    parents = dict(zip(toy_runs.arms["run_id"], toy_runs.arms["arm"], strict=True))
    assert set(figures) == set(parents)  # every arm has trials with histograms and norms
    for run_id, files in figures.items():
        arm = parents[run_id]
        slug = re.sub(r"[^a-z0-9]+", "-", arm.lower()).strip("-")
        assert sorted(files) == [
            f"01-activations-{slug}.png",
            f"02-gradient-norm-per-layer-over-training-{slug}.png",
        ]
        assert all(png.startswith(b"\x89PNG") for png in files.values())


def test_results_tables_lead_with_the_figures_the_claims_are_judged_on(toy_runs, lean):
    claims = toy_runs.claims.copy()
    claims["parts"] = [
        [{"label": "relu-lr0.1 - tanh-lr0.1 test_acc", "mean": 0.1}],
        [{"label": "mean log(variance a / b)", "mean": 0.2}],
        None,
    ][: len(claims)]
    html, _ = render_report(lean(claims=claims))
    header = re.search(r'<table id="T_results0".*?</thead>', html, re.S).group(0)
    assert header.index("test_acc") < header.index("epochs_to_target")
    assert header.index("epochs_to_target") < header.index("final_val_loss")
    plain, _ = render_report(toy_runs)
    header = re.search(r'<table id="T_results0".*?</thead>', plain, re.S).group(0)
    assert header.index("epochs_to_target") < header.index("test_acc")


def test_diverged_trials_are_listed_apart_from_what_is_missing(page):
    html, summary = page
    missing = html[html.index('id="missing"') : html.index('class="notes diverged"')]
    diverged = html[html.index('id="diverged"') : html.index('id="claims"')]
    assert "failed (seed 1)" in missing and "diverged" not in missing
    assert "<h2>Diverged trials</h2>" in diverged
    assert "Arm &#39;tanh-lr0.1&#39;: 1 trial(s) diverged (seed 2 at epoch 4)." in diverged
    assert summary["diverged"] == ["Arm 'tanh-lr0.1': 1 trial(s) diverged (seed 2 at epoch 4)."]
    assert not any("diverged" in note for note in summary["missing"])
