"""Real-shaped data without TDABC inputs (the Synthea CSV samples have no resources, activities or
consumables): no cycle may show a cost of 0.00; each is "not costed" or "charges only", with a reason,
and the share of cycles by cost source says so (issue 11.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, segments
from carevalue.engine.costing import COST_SOURCES, cost_source_shares
from carevalue.engine.costing_run import run_costing
from carevalue.ingest.store import Store

RULES = load().get("record-rules", "default")

ingest_run = pytest.importorskip("carevalue.ingest.run")
SAMPLES = ("dbt-synthea-v3.0", "mcode-v2", "unmc-crane-v3.0")


@pytest.fixture(scope="module", params=SAMPLES)
def costed(request: pytest.FixtureRequest, shared_data: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    lib = load()
    store = tmp_path_factory.mktemp("synthea-cost") / f"{request.param}.duckdb"
    with Store(store) as s:
        ingest_run.ingest([shared_data / "synthea-csv" / request.param], s)
    con = connect(store)
    cycles.run(con, list(lib.kind("conditions").values()), RULES)
    segments.run(con, list(lib.kind("segments").values()), lib.kind("value-sets"), rules=RULES)
    run_costing(con, lib.process_maps(), lib.costing_policy(), RULES)
    return con


def test_no_cycle_costs_zero_without_inputs(costed) -> None:  # type: ignore[no-untyped-def]
    con = costed
    t = con.table("cycle_cost_totals").execute()
    stored_cycles = int(con.table("care_cycles").count().execute())
    assert len(t) >= stored_cycles   # every stored cycle has a row, costed or not
    assert set(t.cost_source) <= set(COST_SOURCES)
    assert not (t.total_cost == 0).any()
    uncosted = t[t.cost_source.isin(["charges-only", "not-costed"])]
    assert len(uncosted) == len(t)   # no resources/activities in Synthea CSV: nothing is costed
    assert uncosted.total_cost.isna().all() and uncosted.not_costed_reason.notna().all()
    charged = t[t.cost_source == "charges-only"]
    assert (charged.charges > 0).all()


def test_cost_source_shares_sum_to_one(costed) -> None:  # type: ignore[no-untyped-def]
    rows = cost_source_shares(costed.table("cycle_cost_totals"), by=("condition",)).execute()
    assert rows.groupby("condition").share.sum().round(12).eq(1.0).all()
    assert set(rows.cost_source) <= {"charges-only", "not-costed"}
