"""Claim cards of the report: verdict and key number first, the sequential design's look,
seeds and Holm level in one line, a monitoring chart per comparison, the rest in details."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from reports.claim_chart import BOTTOM, HEIGHT, TOP, monitoring_svg
from reports.render import render_report
from studies.stats import Comparison, Evidence, SequentialDesign, judge_claims
from studies.store.reader import CLAIM_COLUMNS
from studies.store.writer import claim_json

XSS = "<script>alert(1)</script>"
MINUS = "\u2212"
NBSP = "\u00a0"
DESIGN = SequentialDesign(looks=(5, 10, 15, 20))
SEEDS = list(range(20))
TEXTS = [
    ("adam_faster", "Adam reaches the target in fewer epochs than SGD."),
    ("tanh_better", "tanh beats relu."),
    ("bn_same", "Batch norm leaves the test accuracy unchanged."),
]


def judged_claims(evidence, texts, reached=4) -> pd.DataFrame:
    """``claims.json`` rows as the runner writes them, read back as ``StudyRuns.claims``."""
    judged = judge_claims(evidence, DESIGN, reached=reached)
    rows = [
        claim_json(SimpleNamespace(id=i, text=t), j.result)
        for (i, t), j in zip(texts, judged, strict=True)
    ]
    return pd.DataFrame(json.loads(json.dumps(rows)), columns=CLAIM_COLUMNS)


@pytest.fixture(scope="module")
def three_claims() -> pd.DataFrame:
    """Supported at look 2, not supported at look 2, inconclusive after the last look."""
    rng = np.random.default_rng(0)
    evidence = [
        Evidence(
            [
                Comparison(
                    rng.normal(-1.2, 0.8, 20), SEEDS, "less", label="adam - sgd epochs_to_target"
                )
            ],
            numbers={"adam.epochs_to_target": 3.1},
            detail="Adam is faster in most seeds.",
        ),
        Evidence([Comparison(rng.normal(-0.5, 0.5, 20), SEEDS, "greater", label="tanh - relu")]),
        Evidence(
            [
                Comparison(
                    rng.normal(0.01, 0.05, 20), SEEDS, "equivalence", margin=0.02, label="bn acc"
                )
            ]
        ),
    ]
    frame = judged_claims(evidence, TEXTS)
    # The data are chosen for these outcomes; the tests below read everything else from rows.
    assert list(frame["verdict"]) == ["supported", "not supported", "inconclusive"]
    assert list(frame["look"]) == [2, 2, 4]
    assert frame["seeds_needed"][2] > 20
    return frame


@pytest.fixture
def page(lean, three_claims):
    return render_report(lean(claims=three_claims))


def card(html: str, claim_id: str) -> str:
    match = re.search(
        rf'<article class="claim [^"]*" id="claim-{claim_id}">.*?</article>', html, re.S
    )
    assert match, f"no card for {claim_id}"
    return match.group()


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment, spaces collapsed (no-break spaces too)."""
    text = re.sub(r"<[^>]+>", " ", fragment).replace(NBSP, " ")
    return re.sub(r"\s+", " ", text).replace(" :", ":").strip()


def optional_int(value: float) -> int | None:
    """A count read back through pandas (float, NaN where missing)."""
    return None if value is None or math.isnan(value) else int(value)


def signed(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}".replace("-", MINUS)


def test_card_leads_with_verdict_and_key_number(page, three_claims):
    html, _ = page
    row = three_claims.iloc[0]
    part = row["parts"][0]
    body = card(html, "adam_faster")
    lead = text_of(body[: body.index("<details")])
    assert lead.startswith("\u2714 supported Adam reaches the target")
    key = f"adam {MINUS} sgd epochs_to_target: {signed(part['mean'])} "
    key += f"[{signed(part['ci_lo'])}, {signed(part['ci_hi'])}] (claimed below 0)"
    assert key in lead
    assert part["mean"] < part["ci_hi"] < 0  # a supported "below 0" claim
    how = (
        f"decided at look 2 of 4 (10 seeds): t = {signed(part['statistic'])} crossed the "
        f"boundary \u00b1{part['boundary']:.3g}; t-test; "
        f"Holm level 0.0167 of \u03b1 0.05 across 3 claims"
    )
    assert how in lead
    assert lead.index("supported") < lead.index(key) < lead.index(how)


def test_not_supported_and_inconclusive_cards(page, three_claims):
    html, _ = page
    lead = text_of(card(html, "tanh_better").split("<details")[0])
    assert lead.startswith("\u2718 not supported")
    assert "(claimed above 0)" in lead and "decided at look 2 of 4 (10 seeds): t = \u2212" in lead
    assert "Holm level 0.025 of \u03b1 0.05 across 3 claims" in lead
    row = three_claims.iloc[2]
    lead = text_of(card(html, "bn_same").split("<details")[0])
    assert lead.startswith("? inconclusive")
    assert "(claimed within \u00b10.02)" in lead
    part, needed = row["parts"][0], optional_int(row["seeds_needed"])
    assert (
        f"undecided after the last look (20 seeds): t = {signed(part['statistic'])} "
        f"stayed within \u00b1{part['boundary']:.3g}; about {needed} "
        "seeds would decide it with 80% power at the observed effect; t-test; "
        "Holm level 0.05 of \u03b1 0.05 across 3 claims"
    ) in lead


def test_numbers_statistic_and_detail_fold_into_details(page, three_claims):
    html, _ = page
    body = card(html, "adam_faster")
    head, details = body.split('<details class="claim-details">')
    details = details[: details.index("</details>")]
    assert "<summary>Details</summary>" in details
    row = three_claims.iloc[0]
    assert len(row["numbers"]) > 10
    for key in row["numbers"]:
        assert f"<b>{key}</b> = " in details
        assert f"<b>{key}</b>" not in head
    assert "<b>adam.epochs_to_target</b> = 3.1" in details
    assert row["statistic"].replace("'", "&#39;") in details and "Statistic:" not in head
    assert "Adam is faster in most seeds." in details and "Adam is faster" not in head


def _svgs(fragment: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", fragment, re.S)]


def _points(element: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in element.get("points").split()]


def test_chart_draws_the_path_and_both_boundaries(page, three_claims):
    html, _ = page
    for claim_id, row in zip(three_claims["id"], three_claims.to_dict("records")):
        part = row["parts"][0]
        (svg,) = _svgs(card(html, claim_id))
        assert svg.get("viewBox") == "0 0 360 190" and svg.get("width") == "100%"
        assert svg.get("role") == "img" and "Monitoring chart of" in svg.get("aria-label")
        assert svg.find("title") is not None
        reached = len(part["statistics"])
        assert reached == row["look"]
        (path,) = svg.findall("polyline[@class='mc-path']")
        assert len(_points(path)) == reached
        markers = svg.findall("circle[@class='mc-point']") + svg.findall(
            "circle[@class='mc-decisive']"
        )
        assert len(markers) == reached
        assert len(svg.findall("circle[@class='mc-decisive']")) == 1
        (upper,) = svg.findall("polyline[@class='mc-upper']")
        (lower,) = svg.findall("polyline[@class='mc-lower']")
        assert len(_points(upper)) == len(_points(lower)) == len(DESIGN.looks)
        # Symmetric about t = 0: the lower boundary mirrors the upper one.
        zero = (_points(upper)[-1][1] + _points(lower)[-1][1]) / 2
        assert all(
            abs((u[1] - zero) + (v[1] - zero)) < 0.2
            for u, v in zip(_points(upper)[1:], _points(lower)[1:])
        )
    # The first O'Brien-Fleming boundary is off the scale and says how far it is.
    first = three_claims.iloc[0]["parts"][0]["boundaries"][0]
    assert f"\u2191{first:.3g}" in card(html, "adam_faster")


def test_chart_decisive_point_sits_beyond_its_boundary():
    part = {
        "label": "a - b",
        "verdict": "supported",
        "look": 2,
        "looks": [5, 10],
        "sizes": [5, 10],
        "statistics": [1.0, 3.0],
        "boundaries": [4.0, 2.0],
        "boundary": 2.0,
    }
    svg = ET.fromstring(monitoring_svg(part))
    (dot,) = svg.findall("circle[@class='mc-decisive']")
    x, y = float(dot.get("cx")), float(dot.get("cy"))
    upper = dict(_points(svg.find("polyline[@class='mc-upper']")))
    assert x == max(upper) and y < upper[x]  # above (higher t than) the boundary in the SVG


def test_chart_clips_extreme_statistics_to_the_frame():
    part = {
        "label": "gain",
        "verdict": "inconclusive",
        "look": 3,
        "looks": [5, 10, 15],
        "sizes": [5, 10, 15],
        "statistics": [math.inf, float("nan"), -50.0],
        "boundaries": [9.0, 3.0, 2.0],
        "boundary": 2.0,
    }
    svg_text = monitoring_svg(part)
    svg = ET.fromstring(svg_text)
    clipped = svg.findall("polygon[@class='mc-point mc-clipped']") + svg.findall(
        "polygon[@class='mc-decisive mc-clipped']"
    )
    assert len(clipped) == 2  # inf and -50; the NaN look is a gap
    assert "t=\u221e" in svg_text and "t=\u221250" in svg_text
    assert svg.find("polyline[@class='mc-path']") is None  # no two adjacent finite looks
    for polygon in clipped:
        assert all(TOP - 0.1 <= y <= HEIGHT - BOTTOM + 0.1 for _, y in _points(polygon))
    assert "nan" not in svg_text.lower().replace("nan at", "")


def test_chart_needs_looks_and_statistics():
    assert monitoring_svg({"label": "x", "statistics": [1.0]}) is None
    assert monitoring_svg({"label": "x", "looks": [5], "boundaries": [3.0]}) is None


def test_old_style_claims_render_as_before(lean, toy_runs):
    html, summary = render_report(lean())
    assert '<details class="claim-details">' not in html and "<svg" not in html
    assert "<b>p_value</b> = 0.003" in html and "Statistic: paired t-test across seeds" in html
    assert "The larger rate wins in every seed." in html
    for claim in summary["claims"]:
        assert claim["key"] == [] and claim["seeds"] is None and claim["look"] is None
        assert claim["level"] is None and claim["test"] is None


def test_old_and_new_claims_side_by_side(lean, toy_runs, three_claims):
    # pandas fills the older rows' new columns with NaN: they must not reach the page.
    claims = pd.concat([toy_runs.claims, three_claims], ignore_index=True)
    html, summary = render_report(lean(claims=claims))
    assert html.count('<details class="claim-details">') == 3
    assert html.count("<svg ") == 3
    assert "<b>p_value</b> = 0.003" in html.split('<details class="claim-details">')[0]
    assert [c["look"] for c in summary["claims"]] == [None, None, None, 2, 2, 4]
    json.dumps(summary, allow_nan=False)


def test_labels_from_study_code_are_escaped(lean):
    rng = np.random.default_rng(1)
    evidence = [
        Evidence(
            [
                Comparison(
                    rng.normal(0.93, 0.01, 20) - 0.9,
                    SEEDS,
                    "greater",
                    reference=0.9,
                    label=f"acc {XSS}",
                    name=f"first {XSS}",
                ),
                Comparison(
                    rng.normal(-0.3, 0.6, 20),
                    SEEDS,
                    "less",
                    label="a - b loss",
                    name="second",
                    test="permutation",
                ),
            ]
        )
    ]
    claims = judged_claims(evidence, [("joint", f"Joint {XSS}")])
    html, summary = render_report(lean(claims=claims))
    assert "<script" not in html.lower()
    body = card(html, "joint")
    assert body.count("acc &lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # key, title, aria
    assert len(_svgs(body)) == 2
    lead = text_of(body.split("<details")[0])
    assert "(claimed above 0.9)" in lead and "second: sign-flip p = " in lead
    assert "sign-flip permutation test and t-test" in lead
    assert summary["claims"][0]["key"][0]["label"] == f"acc {XSS}"


def test_interval_keeps_the_digits_that_separate_it_from_the_threshold(lean):
    part = {
        "name": "",
        "label": "acc",
        "alternative": "greater",
        "margin": None,
        "reference": 0.9,
        "mean": 0.93121,
        "ci_lo": 0.90041,
        "ci_hi": 0.96203,
        "verdict": "supported",
    }
    row = {
        "id": "thr",
        "text": "Above 0.9.",
        "statistic": "",
        "verdict": "supported",
        "numbers": {},
        "detail": "",
        "seeds": 5,
        "look": 1,
        "level": 0.05,
        "alpha": 0.05,
        "family": 1,
        "test": "t",
        "seeds_needed": None,
        "parts": [part],
    }
    html, _ = render_report(lean(claims=pd.DataFrame([row], columns=CLAIM_COLUMNS)))
    lead = text_of(card(html, "thr"))
    assert "acc: 0.9312 [0.9004, 0.962] (claimed above 0.9)" in lead
    assert "decided at look 1 (5 seeds)" in lead and "across 1 claim" in lead


def test_json_claims_gain_the_sequential_fields(page, three_claims):
    _, summary = page
    json.dumps(summary, allow_nan=False)
    for claim, row in zip(summary["claims"], three_claims.to_dict("records")):
        for key in ("id", "text", "statistic", "verdict", "numbers", "detail"):
            assert claim[key] == row[key]
        assert claim["seeds"] == row["seeds"] and claim["look"] == row["look"]
        assert claim["level"] == pytest.approx(row["level"]) and claim["alpha"] == 0.05
        assert claim["family"] == 3 and claim["test"] == "t"
        assert claim["seeds_needed"] == optional_int(row["seeds_needed"])
        (key,) = claim["key"]
        part = row["parts"][0]
        assert set(key) == {
            "name",
            "label",
            "mean",
            "ci_lo",
            "ci_hi",
            "alternative",
            "margin",
            "reference",
        }
        for field in ("label", "alternative", "margin", "reference", "mean", "ci_lo", "ci_hi"):
            assert key[field] == part[field]
    assert summary["claims"][2]["key"][0]["margin"] == 0.02
    assert [c["level"] for c in summary["claims"]] == pytest.approx([0.05 / 3, 0.025, 0.05])


def test_a_futility_stop_says_the_effect_is_short_of_the_smallest_of_interest(lean):
    # A true gap of 0 against a smallest effect of interest of 1: "not supported" by futility,
    # although t against 0 never crosses the boundary.
    values = np.random.default_rng(1).normal(0.0, 0.5, 20)
    evidence = [Evidence([Comparison(values, SEEDS, "greater", label="gap", min_effect=1.0)])]
    frame = judged_claims(evidence, [("gap_claim", "The gap is positive.")])
    (part,) = frame["parts"][0]
    assert frame["verdict"][0] == "not supported" and part["min_effect"] == 1.0
    assert abs(part["statistic"]) < part["boundary"]
    html, _ = render_report(lean(claims=frame))
    lead = text_of(card(html, "gap_claim").split("<details")[0])
    assert "(claimed above 0; smallest effect of interest 1)" in lead
    assert "its repeated interval lies short of the smallest effect of interest 1" in lead
    assert "crossed the boundary" not in lead
    assert "t against that effect decides" in text_of(card(html, "gap_claim"))
