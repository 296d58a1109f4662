"""A claim's source on its card and in ``NAME.json``: the paper and setting it restates, the
verdict the source reports, and the claim's reason where the measured verdict differs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from reports.render import render_report
from studies.engine.spec import Claim
from studies.stats import Comparison, Evidence, SequentialDesign, judge_claims
from studies.store.reader import CLAIM_COLUMNS
from studies.store.writer import claim_json, experiment_note

SEEDS = list(range(20))
XSS = "<script>alert(1)</script>"


def _never(summaries, histories):  # the claims here are judged by hand below
    raise AssertionError("not evaluated in these tests")


def make_claim(claim_id: str, **fields) -> Claim:
    return Claim(claim_id, f"{claim_id} holds.", "a paired t", _never, **fields)


CLAIMS = [
    make_claim(
        "faster",
        source="Kingma & Ba 2015, Fig. 2",
        setting="MNIST MLP, 2 x 1000 ReLU, minibatch 128",
        expected="supported",
        explanation="never shown: the verdict agrees with the source",
    ),
    make_claim(
        "wider",
        source="Schmidt et al. 2021, Sec. 4",
        setting="DeepOBS test problems",
        expected="supported",
        explanation=f"One task is too easy to separate them {XSS}",
    ),
    make_claim(
        "unexplained",
        source="Ng & Jordan 2001, Fig. 1",
        setting="15 UCI sets",
        expected="supported",
    ),
]


@pytest.fixture(scope="module")
def judged() -> list:
    """Supported, not supported and again not supported (the last with no explanation)."""
    rng = np.random.default_rng(0)
    evidence = [
        Evidence([Comparison(rng.normal(-1.2, 0.8, 20), SEEDS, "less", label="a - b")]),
        Evidence([Comparison(rng.normal(-0.5, 0.5, 20), SEEDS, "greater", label="c - d")]),
        Evidence([Comparison(rng.normal(-0.6, 0.5, 20), SEEDS, "greater", label="e - f")]),
    ]
    results = [j.result for j in judge_claims(evidence, SequentialDesign(), reached=4)]
    assert [r.verdict for r in results] == ["supported", "not supported", "not supported"]
    return results


@pytest.fixture(scope="module")
def rows(judged) -> pd.DataFrame:
    stored = [claim_json(c, r) for c, r in zip(CLAIMS, judged, strict=True)]
    return pd.DataFrame(json.loads(json.dumps(stored)), columns=CLAIM_COLUMNS)


def test_expected_must_be_a_verdict_a_source_can_give():
    with pytest.raises(ValueError, match=r"claim 'x'.*'inconclusive'.*not supported, supported"):
        make_claim("x", expected="inconclusive")
    with pytest.raises(ValueError, match="'yes'"):
        make_claim("x", expected="yes")


def test_explanation_only_for_a_verdict_other_than_expected():
    claim = make_claim("x", expected="supported", explanation="  the data are too easy ")
    assert claim.explains("supported") is None
    assert claim.explains("not supported") == "the data are too easy"
    assert claim.explains("inconclusive") == "the data are too easy"
    assert make_claim("y").explains("inconclusive") is None  # no source verdict to differ from


def test_claims_json_carries_source_setting_expected_and_the_needed_explanation(judged):
    faster, wider, unexplained = (claim_json(c, r) for c, r in zip(CLAIMS, judged, strict=True))
    assert faster["source"] == "Kingma & Ba 2015, Fig. 2"
    assert faster["setting"] == "MNIST MLP, 2 x 1000 ReLU, minibatch 128"
    assert faster["expected"] == "supported" and faster["explanation"] is None
    assert wider["explanation"].startswith("One task is too easy")
    assert unexplained["expected"] == "supported" and unexplained["explanation"] is None


def test_card_shows_source_setting_and_reason(lean, rows):
    html, summary = render_report(lean(claims=rows))
    faster = html.split('id="claim-faster"')[1].split("</article>")[0]
    wider = html.split('id="claim-wider"')[1].split("</article>")[0]
    assert "Kingma &amp; Ba 2015, Fig. 2" in faster and "minibatch 128" in faster
    assert "the source reports: supported" in faster and "Why it differs" not in faster
    assert "measured here: not supported" in wider
    assert "Why it differs:" in wider and "One task is too easy" in wider
    assert XSS not in html and "&lt;script&gt;" in wider
    assert "2 of 3 agree" not in html and "1 of 3 agree with what their source reports" in html


def test_a_differing_claim_without_reason_is_flagged(lean, rows):
    html, summary = render_report(lean(claims=rows))
    card = html.split('id="claim-unexplained"')[1].split("</article>")[0]
    assert 'class="claim-why missing"' in card and "gives no explanation" in card
    assert any("claim unexplained" in note for note in summary["missing"])
    assert not any("claim wider" in note for note in summary["missing"])


def test_json_claims_carry_the_source_fields(lean, rows):
    _, summary = render_report(lean(claims=rows))
    json.dumps(summary, allow_nan=False)
    by_id = {c["id"]: c for c in summary["claims"]}
    assert by_id["faster"]["source"] == "Kingma & Ba 2015, Fig. 2"
    assert by_id["faster"]["setting"].startswith("MNIST MLP")
    assert [by_id[i]["expected"] for i in ("faster", "wider", "unexplained")] == ["supported"] * 3
    assert by_id["faster"]["explanation"] is None
    assert by_id["wider"]["explanation"].startswith("One task")
    assert by_id["unexplained"]["explanation"] is None


def test_older_store_without_source_fields_renders(lean, rows):
    old = rows.drop(columns=["source", "setting", "expected", "explanation"])
    html, summary = render_report(lean(claims=old.reindex(columns=CLAIM_COLUMNS)))
    assert "Source:" not in html and "Why it differs" not in html
    assert {c["source"] for c in summary["claims"]} == {None}


def test_experiment_note_names_what_the_source_reports(judged):
    note = experiment_note("Q?", list(zip(CLAIMS, judged, strict=True)), "python -m studies")
    assert "| source reports |" in note
    assert "supported (Kingma & Ba 2015, Fig. 2)" in note


def test_index_counts_the_claims_that_differ_from_their_source(lean, rows):
    from reports.render import render_index

    _, summary = render_report(lean(claims=rows))
    summary["report"] = "toy.html"
    html = render_index([summary])
    assert "2 differ from the source" in html
    assert 'title="wider, unexplained"' in html
    # a quick (smoke) run's verdicts are not held against the sources on the index either
    assert "differ from the source" not in render_index([{**summary, "quick": True}])


def test_a_quick_run_is_not_held_against_the_sources(lean, rows):
    runs = lean(claims=rows)
    quick = dataclasses.replace(runs, summary_run={**runs.summary_run, "quick": True})
    html, summary = render_report(quick)
    assert not any("gives no explanation" in note for note in summary["missing"])
    card = html.split('id="claim-unexplained"')[1].split("</article>")[0]
    assert "Why it differs" not in card and "measured here: not supported" in card
