"""cycle_costs and cycle_cost_totals are summed from one cost-lines aggregate (engine/cycle_costs.py):
the totals must equal summing the activities, consumables and charges of each cycle directly, and
the per-cycle provider and cost source must not depend on how the lines were grouped."""

from __future__ import annotations

from datetime import datetime

import pytest
from costing_store import memory_backend

from carevalue.definitions.loader import load
from carevalue.definitions.process_map import CostingPolicy
from carevalue.engine.costing_run import SCRATCH, run_costing

T = datetime(2024, 5, 1, 9)
RULES = load().get("record-rules", "default")


def _res(rid: str, role: str, org: str, cost: float | None) -> dict:
    return {"resource_id": rid, "name": rid, "resource_type": "person", "role": role, "organization_id": org,
            "annual_cost": cost, "practical_capacity_minutes": 100_000}


def _enc(eid: str, pid: str, org: str) -> dict:
    return {"encounter_id": eid, "patient_id": pid, "class_code": "AMB", "start_ts": T, "organization_id": org}


def _ev(cid: str, pid: str, eid: str, phase: str) -> dict:
    return {"cycle_id": cid, "patient_id": pid, "event_table": "encounters", "event_id": eid, "encounter_id": eid,
            "event_ts": T, "phase": phase, "cost_bearing": True}


@pytest.fixture(scope="module")
def con():  # type: ignore[no-untyped-def]
    acts = [  # (id, patient, encounter, resource, minutes)
        ("A1", "P1", "E1", "DOC-X", 30.0), ("A2", "P1", "E2", "NURSE-Y", 10.0),
        ("A3", "P1", "E2", "NURSE-Y", 10.0), ("A4", "P1", "E1", "DOC-X", 5.0),
        ("A5", "P2", "E3", "NORATE-X", 40.0),   # minutes without a rate: not costed, reason no-rate
    ]
    be = memory_backend({
        "patients": [{"patient_id": p} for p in ("P1", "P2", "P3", "P4")],
        "organizations": [{"organization_id": o, "type_code": "hospital"} for o in ("X", "Y")],
        "resources": [_res("DOC-X", "doctor", "X", 600_000), _res("NURSE-Y", "nurse", "Y", 200_000),
                      _res("NORATE-X", "doctor", "X", None)],
        "encounters": [_enc("E1", "P1", "X"), _enc("E2", "P1", "Y"), _enc("E3", "P2", "X"),
                       _enc("E4", "P3", "Y"), _enc("E5", "P4", "Y")],
        "activities": [{"activity_id": a, "patient_id": p, "encounter_id": e, "resource_id": r,
                        "step_code": "visit", "start_ts": T, "minutes": m} for a, p, e, r, m in acts],
        "consumables": [
            {"consumable_id": "K1", "patient_id": "P1", "encounter_id": "E1", "used_ts": T, "quantity": 2,
             "unit_cost": 50.0},
            {"consumable_id": "K2", "patient_id": "P3", "encounter_id": "E4", "used_ts": T, "quantity": 1,
             "unit_cost": 80.0},   # a cycle costed from consumables alone
        ],
        "claims": [{"claim_id": "L1", "patient_id": "P4", "encounter_id": "E5", "service_start": T,
                    "total_charge": 500.0}],   # charges only: never a cost
        "care_cycles": [
            # C1 has no provider of its own: its facility is where most minutes were supplied (X: 35 > Y: 20)
            {"cycle_id": "C1", "patient_id": "P1", "condition": "cond-a", "cycle_type": "acute"},
            {"cycle_id": "C2", "patient_id": "P2", "condition": "cond-a", "cycle_type": "acute", "organization_id": "X"},
            {"cycle_id": "C3", "patient_id": "P3", "condition": "cond-a", "cycle_type": "acute", "organization_id": "Y"},
            {"cycle_id": "C4", "patient_id": "P4", "condition": "cond-a", "cycle_type": "acute", "organization_id": "Y"},
            {"cycle_id": "C5", "patient_id": "P4", "condition": "cond-a", "cycle_type": "acute", "organization_id": "Y"},
        ],
        "cycle_events": [_ev("C1", "P1", "E1", "intervening"), _ev("C1", "P1", "E2", "recovering-rehabbing"),
                         _ev("C2", "P2", "E3", "intervening"), _ev("C3", "P3", "E4", "intervening"),
                         _ev("C4", "P4", "E5", "intervening")],
    })
    run_costing(be, maps=[], policy=CostingPolicy(id="t", title="t"), rules=RULES)
    return be


def test_totals_equal_the_sums_of_each_cycles_records(con) -> None:  # type: ignore[no-untyped-def]
    tot = con.table("cycle_cost_totals").execute().set_index("cycle_id")
    acts = con.table("activity_costs").execute()
    by_cycle = acts.groupby("cycle_id").agg(minutes=("minutes", "sum"), labour=("labour_cost", "sum"),
                                            n=("activity_id", "count"))
    for cid, row in by_cycle.iterrows():
        assert tot.loc[cid, "minutes"] == pytest.approx(row.minutes)
        assert tot.loc[cid, "activities"] == row.n
    # C1: 35 min x 6.00 + 20 min x 2.00 + 2 x 50 consumables = 350
    assert tot.loc["C1", "labour_cost"] == pytest.approx(250.0)
    assert tot.loc["C1", "total_cost"] == pytest.approx(350.0)
    assert tot.loc["C1", "consumables"] == 1 and tot.loc["C1", "cost_source"] == "recorded-minutes"
    assert tot.loc["C3", "total_cost"] == pytest.approx(80.0) and tot.loc["C3", "labour_cost"] == 0


def test_provider_and_cost_sources_of_uncosted_cycles(con) -> None:  # type: ignore[no-untyped-def]
    tot = con.table("cycle_cost_totals").execute().set_index("cycle_id")
    assert tot.loc["C1", "organization_id"] == "X"   # most minutes, from the resource lines only
    assert tot.loc["C2", "cost_source"] == "not-costed" and "no capacity cost rate" in tot.loc["C2", "not_costed_reason"]
    assert tot.loc["C4", "cost_source"] == "charges-only" and tot.loc["C4", "charges"] == pytest.approx(500.0)
    assert tot.loc["C5", "cost_source"] == "not-costed" and tot.loc["C5", "activities"] == 0  # no data at all
    assert tot.total_cost[tot.cost_source.isin(["charges-only", "not-costed"])].isna().all()


def test_lines_sum_to_totals_and_scratch_is_dropped(con) -> None:  # type: ignore[no-untyped-def]
    lines = con.table("cycle_costs").execute()
    tot = con.table("cycle_cost_totals").execute().set_index("cycle_id")
    costed = tot[tot.total_cost.notna()]
    sums = lines.groupby("cycle_id").total_cost.sum()
    assert sums[costed.index].to_dict() == pytest.approx(costed.total_cost.to_dict())
    assert lines.groupby("cycle_id").charges.sum()["C4"] == pytest.approx(500.0)
    assert set(lines.line) == {"resource", "consumables", "charges"}
    assert not set(SCRATCH) & set(con.list_tables())
