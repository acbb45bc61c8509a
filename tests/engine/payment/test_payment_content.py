"""Payment content as data: the shipped bundles, time-based payments and episode models load,
carry a source, and say what they could not verify."""

from __future__ import annotations

import pytest

from carevalue.definitions.loader import load

LIB = load()


def test_stockholm_orthochoice_terms() -> None:
    b = LIB.get("bundles", "stockholm-hip-knee")
    assert b.reference_price == 8000 and b.eligibility.asa_max == 2
    assert b.eligibility.asa_variable == "asa-class"
    assert b.trigger is not None and b.trigger.code_sets == ["index-procedure"]
    w = b.warranties[0]
    assert w.code_sets == ["revision"]
    assert w.covered_days(extended=False) == 730 and w.covered_days(extended=True) == 1826
    assert {e.id for e in b.exclusions} == {"unrelated-trauma"}
    assert "seeds/000" in b.source


def test_head_and_neck_year_bundle_has_no_invented_price() -> None:
    b = LIB.get("bundles", "head-and-neck-cancer-year")
    assert b.reference_price is None and b.window_days == 365
    assert "Spinks" in b.source and "not disclosing" in b.source


@pytest.mark.parametrize("kind", ["bundles", "time-based-payments", "episode-models"])
def test_every_payment_definition_has_a_source(kind: str) -> None:
    defs = LIB.kind(kind)
    assert defs
    for d in defs.values():
        assert d.source.strip(), d.id


def test_team_and_cjr_rules_as_content() -> None:
    team = LIB.get("episode-models", "cms-team")
    assert team.post_anchor_days == 30
    assert {c.id for c in team.categories} == {"lejr", "shfft", "spinal-fusion", "cabg", "major-bowel"}
    assert {c.id: c.discount for c in team.categories}["cabg"] == 0.015
    assert team.baseline_weights == [0.17, 0.33, 0.50]
    assert (team.track("track-1").stop_gain, team.track("track-1").stop_loss) == (0.10, 0.0)
    assert (team.track("track-3").stop_gain, team.track("track-3").stop_loss) == (0.20, 0.20)
    assert any("discount" in u for u in team.unverified)
    cjr = LIB.get("episode-models", "cms-cjr")
    assert cjr.post_anchor_days == 90 and cjr.categories[0].discount == 0.03
    assert cjr.category_of("knee-osteoarthritis") is not None


def test_pmpm_rates_from_the_article() -> None:
    p = LIB.get("time-based-payments", "porter-primary-care-pmpm")
    assert p.rate_per_year() == {"healthy": 60, "at-risk": 120, "chronic": 300, "complex": 1200}
