"""Cost opportunities per period with the period's data coverage; periods outside the data's
observation window are excluded, so money at stake is never summed over a year with a few stray
records (issue 11.5)."""

from __future__ import annotations

from datetime import datetime

import pytest
from costing_store import make_store

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.definitions.process_map import CostingPolicy, ProcessMap
from carevalue.engine.costing_run import run_costing

RULES = load().get("record-rules", "default")

POLICY = CostingPolicy(id="t", title="t", min_unused_share=0.1)
MAP = ProcessMap.model_validate({
    "id": "m", "title": "m", "applies_to": "x",
    "steps": [{"step_code": "scan", "description": "s", "phase": "diagnosing", "setting": "imaging",
               "low_value": True, "resources": [{"role": "nurse", "minutes": 10}]}]})


def _times() -> list[datetime]:
    # Two stray activities in December 2021, then 10 a month from January 2022 to June 2024.
    out = [datetime(2021, 12, 5, 10), datetime(2021, 12, 6, 10)]
    for y in (2022, 2023, 2024):
        for mo in range(1, 13 if y < 2024 else 7):
            out += [datetime(y, mo, 1, 10 + i) for i in range(10)]
    return out


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("periods") / "s.duckdb"
    make_store(path, {
        "patients": [{"patient_id": "P1"}],
        "resources": [{"resource_id": "R1", "name": "R1", "resource_type": "person", "role": "nurse",
                       "organization_id": "O", "annual_cost": 100_000.0, "practical_capacity_minutes": 100_000.0}],
        "encounters": [{"encounter_id": "E1", "patient_id": "P1", "start_ts": datetime(2021, 12, 5)}],
        "activities": [{"activity_id": f"A{i}", "patient_id": "P1", "encounter_id": "E1", "resource_id": "R1",
                        "step_code": "scan", "start_ts": t, "minutes": 10.0} for i, t in enumerate(_times())],
        "care_cycles": [{"cycle_id": "C1", "patient_id": "P1", "condition": "x", "cycle_type": "chronic",
                         "organization_id": "O"}],
        "cycle_events": [{"cycle_id": "C1", "patient_id": "P1", "event_table": "encounters", "event_id": "E1",
                          "encounter_id": "E1", "event_ts": datetime(2021, 12, 5), "phase": "diagnosing",
                          "cost_bearing": True}],
    })
    c = connect(path)
    run_costing(c, maps=[MAP], policy=POLICY, rules=RULES)
    return c


def test_observation_window_trims_sparse_edge(con) -> None:  # type: ignore[no-untyped-def]
    p = con.table("cost_periods").execute().set_index("year")
    # Median month = 10 activities; December 2021 has 2 < 0.5 x 10: outside the window.
    assert list(p.index) == [2022, 2023, 2024]
    # Coverage = activities / (12 x 10): 120/120, 120/120, 60/120.
    assert p.period_coverage.to_dict() == pytest.approx({2022: 1.0, 2023: 1.0, 2024: 0.5})
    assert p.loc[2022, "window_start"] == datetime(2022, 1, 1, 10)
    assert p.loc[2024, "window_end"] == datetime(2024, 6, 1, 19)


def test_opportunities_per_period_with_coverage(con) -> None:  # type: ignore[no-untyped-def]
    o = con.table("cost_opportunities").execute()
    assert set(o.period) == {"2022", "2023", "2024"}   # never 2021, never one sum over years
    lv = o[o.kind == "low-value"].set_index("period")
    # 120 activities x 10 min x 1.00/min = 1200 in full years; 60 x 10 = 600 in 2024; 2021's 20 min dropped.
    assert lv.money_at_stake.to_dict() == pytest.approx({"2022": 1200.0, "2023": 1200.0, "2024": 600.0})
    assert lv.period_coverage.to_dict() == pytest.approx({"2022": 1.0, "2023": 1.0, "2024": 0.5})
    un = o[o.kind == "unused-capacity"].set_index("period")
    # 2024: capacity scaled to the window's part of the year (1 Jan 00:00 to 1 Jun 19:00 of 366 days).
    share = (datetime(2024, 6, 1, 19) - datetime(2024, 1, 1)).total_seconds() / 86400 / 366
    assert un.loc["2024", "money_at_stake"] == pytest.approx(100_000 * share - 600)
    assert un.loc["2023", "money_at_stake"] == pytest.approx(100_000 - 1200)
