"""Where the costs come from: every cycle has one cost source, shares add up, small cells hidden."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.engine.costing import COST_SOURCES
from carevalue.queries.costs import cost_sources

pytestmark = pytest.mark.slow


def test_cost_sources_cover_every_cycle_and_hide_small_cells(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = synthetic_workspace
    rows = ws.ask(cost_sources)
    assert rows and {r["cost_source"] for r in rows} <= set(COST_SOURCES)
    totals = ws.con.table("cycle_cost_totals")
    per = totals.group_by("condition").aggregate(n=totals.count()).execute().set_index("condition").n
    for cond, n in per.items():
        mine = [r for r in rows if r["condition"] == cond]
        if all(not r["suppressed"] for r in mine):  # nothing hidden: the shares and counts add up
            assert sum(r["cycles"] for r in mine) == n
            assert abs(sum(r["share"] for r in mine) - 1) < 1e-9
        hidden = [r for r in mine if r["suppressed"]]
        assert len(hidden) != 1 or len(mine) == 1  # a lone hidden row would be recoverable
    assert all(r["cycles"] == "<11" for r in rows if r["suppressed"])
    out = CliRunner().invoke(app, ["cost-sources", "--store", str(ws.store), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == rows
