"""The report's network section over a hand-built network store: volume vs standard per provider with
its figure, the below-standard list, the scenario's projected cost and outcome intervals, IPU scores
with the evidence per attribute, a tile-free map; no count of 1..10 printed; a note naming the command
when the network tables are missing."""

from __future__ import annotations

import sys
from pathlib import Path

import ibis
import pytest
from _pages import SMALL, body, cells, page_of

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import network_store  # noqa: E402

from carevalue.report import network as page  # noqa: E402
from carevalue.report.layout import Report  # noqa: E402
from carevalue.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def built():  # type: ignore[no-untyped-def]
    rep = Report()
    sec = page.section(Workspace.on_connection(network_store.build()), rep)
    return rep, sec, page_of(sec)


def test_section_shows_standards_scenarios_ipu_and_map(built) -> None:  # type: ignore[no-untyped-def]
    rep, sec, html = built
    assert sec.computed and '<section id="network" data-computed="yes"' in html
    checks = rep.tables[f"network-checks-{network_store.COND}"]
    assert {r["unit_id"]: r["meets"] for r in checks} == {"org-big": True, "org-mid": False, "org-small": False}
    assert [r["unit_id"] for r in rep.tables["network-below"]] == ["org-mid", "org-small"]
    # the two-year average (30 + 4) / 2 = 17 would reveal org-mid's 4 cycles of 2024: hidden
    assert next(r for r in checks if r["unit_id"] == "org-mid")["two_year_average"] == "<11"
    sc = rep.tables["network-scenarios"][0]
    assert sc["projected_cost_interval"] == "280,000 to 320,000" and sc["cycles_before"] == sc["cycles_after"] == 95
    out = rep.tables["network-outcomes-consolidate-knee-org-mid"][0]
    assert out["interval"] == "0.02 to 0.09" and out["better"] is True
    scores = {r["organization_id"]: r["score"] for r in rep.tables["network-ipu-scores"]}
    assert scores == {"org-big": 20, "org-mid": 0}
    assert "evidence org-mid 10" in html
    fig = rep.figures["network-map"]
    assert {t.type for t in fig.data} == {"scattermap"} and fig.layout.map.style == "white-bg"
    bars = rep.figures[f"network-volume-{network_store.COND}"].data[0]
    assert list(bars.x) == ["org-big", "org-mid"]          # the small cell is not drawn


def test_no_small_count_is_printed(built) -> None:  # type: ignore[no-untyped-def]
    _, _, html = built
    bad = [(h, c) for h, c in cells(body(html)) if h in ("cycles", "shortfall", "annualised (estimate)")
           and SMALL.fullmatch(c.replace(",", ""))]
    assert not bad, bad


def test_missing_tables_name_the_command() -> None:
    sec = page.section(Workspace.on_connection(ibis.duckdb.connect()), Report())
    assert not sec.computed and "Not computed" in sec.note
