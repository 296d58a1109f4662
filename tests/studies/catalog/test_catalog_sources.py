"""Every catalogue claim names its source, the source's setting and the verdict it reports
(issue "Every claim faithful to its source")."""

from __future__ import annotations

import pytest

from studies.engine.registry import discover
from studies.engine.spec import EXPECTED

CLAIMS = [(name, claim) for name, study in sorted(discover().items()) for claim in study.claims]


def test_catalogue_has_claims():
    assert len({name for name, _ in CLAIMS}) >= 7 and len(CLAIMS) >= 25


@pytest.mark.parametrize(
    "claim", [c for _, c in CLAIMS], ids=[f"{name}.{c.id}" for name, c in CLAIMS]
)
def test_claim_restates_a_source(claim):
    assert len(claim.source.strip()) >= 10, "source: the paper and its figure, table or section"
    assert any(ch.isdigit() for ch in claim.source), "source: a year (and a figure or section)"
    assert len(claim.setting.strip()) >= 10, "setting: the source's set-up in one line"
    assert claim.expected in EXPECTED
