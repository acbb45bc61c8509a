"""Value scorecards: outcome set by tier beside TDABC cost (arithmetic from the fixture), the
Health Affairs primary-care exhibits as validated content, and composites only with weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import dashboard_fixture as fx  # noqa: E402

from carevalue.definitions.loader import load_library
from carevalue.queries import scorecard as sc  # noqa: E402
from carevalue.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return Workspace.on_connection(fx.build())


def test_costs_per_provider(ws: Workspace) -> None:
    rows = {r["organization_id"]: r for r in ws.ask(sc.scorecard_costs, condition=fx.CONDITION)}
    # 300 + 6000 + 1200 = 7500 per costed cycle; org-b 10% more; one cycle per provider not costed.
    assert rows["org-c"]["cost_per_cycle"] == pytest.approx(7500.0)
    assert rows["org-b"]["cost_per_cycle"] == pytest.approx(8250.0)
    assert rows["org-c"]["costed_cycles"] == 59 and rows["org-c"]["not_costed"] == 1
    assert rows["org-c"]["charges_per_cycle"] == pytest.approx(9000.0)
    assert rows["org-tiny"]["suppressed"] and rows["org-tiny"]["cost_per_cycle"] is None


def test_phases_add_up_to_the_cycle_cost(ws: Workspace) -> None:
    phases = [r for r in ws.ask(sc.scorecard_phases, condition=fx.CONDITION) if r["organization_id"] == "org-c"]
    assert [r["phase"] for r in phases] == ["diagnosing", "intervening", "recovering-rehabbing"]  # template order
    assert sum(r["cost_per_cycle"] for r in phases) == pytest.approx(7500.0)


def test_outcomes_ordered_by_tier_with_status_rows(ws: Workspace) -> None:
    rows = ws.ask(sc.scorecard_outcomes, condition=fx.CONDITION)
    tiers = [(r["tier"], r["level"]) for r in rows]
    assert tiers == sorted(tiers)
    death = [r for r in rows if r["measure"] == "mortality-90d"]
    assert death and death[0]["organization_id"] is None and death[0]["status"] == "insufficient data"
    assert all(r["patients"] == "<11" for r in rows if r["organization_id"] == "org-tiny")


def test_trend_by_year(ws: Workspace) -> None:
    rows = ws.ask(sc.scorecard_trend, condition=fx.CONDITION)
    c = {r["period"]: r["cycles"] for r in rows if r["organization_id"] == "org-c"}
    assert c == {"2023": 30, "2024": 30}


def test_exhibits_content_follows_the_paper() -> None:
    ex = sc.exhibits(load_library())
    assert "Health Affairs 32(3):516-525" in ex.source
    e1, e2 = (ex.for_segment(s)[0] for s in ("healthy", "chronic"))
    assert e1 is not None and e2 is not None
    assert [r.level for r in e1.rows] == [1, 2, 3, 4, 5, 6] == [r.level for r in e2.rows]
    assert "Need for emergency department visits or hospitalizations" in [s.text for r in e2.rows for s in r.specifics]
    segments = load_library().kind("segments")
    for seg in segments:  # every packaged segment has a scorecard, with the reason shown
        exhibit, why = ex.for_segment(seg)
        assert exhibit is not None and why
    assert {s.metric for r in e2.rows for s in r.specifics if s.metric} <= set(sc.SEGMENT_METRICS)


def test_segment_scorecard_measures_mortality(ws: Workspace) -> None:
    rows = ws.ask(sc.segment_scorecard, segment="chronic")
    death = next(r for r in rows if r["metric"] == "mortality")
    # patients p1..p40 are in the segment 2023-2025; p1..p12 died on 2024-06-01: 12 / 40.
    assert death["patients"] == 40 and death["events"] == 12 and death["value"] == pytest.approx(0.3)
    assert any(r["status"] == "not measured" for r in rows)


def test_composite_needs_explicit_weights_and_shows_them(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        sc.CompositeDefinition.model_validate({"id": "x", "condition": fx.CONDITION, "title": "x",
                                               "weights": [], "source": "test"})
    f = tmp_path / "c.yaml"
    f.write_text("id: los\ncondition: hip-osteoarthritis\ntitle: stay only\nsource: test weights\n"
                 "weights:\n  - {measure: length-of-stay, weight: 2, source: test}\n")
    rows = {r["organization_id"]: r for r in ws.ask(sc.composite, definition=sc.load_composite(f))}
    assert "length-of-stay × 1.000 (test)" in rows["org-b"]["weights"]
    # lower is better: the score is −(O − E), so the shorter stays score higher.
    assert rows["org-c"]["score"] > rows["org-b"]["score"]


def test_suppressed_outcome_rows_hide_their_flags(ws: Workspace) -> None:
    rows = [r for r in ws.ask(sc.scorecard_outcomes, condition=fx.CONDITION) if r["suppressed"]]
    assert rows and all(r["flag_95"] is None and r["flag_998"] is None and r["oe"] is None for r in rows)
