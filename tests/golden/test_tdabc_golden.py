"""Golden TDABC examples computed by hand; every expected number is derived in the comments.

Method: Kaplan & Porter, "How to Solve the Cost Crisis in Health Care", HBR Sept 2011 —
capacity cost rate = cost of capacity supplied / practical capacity; cost of a process step =
Σ minutes × rate; cost per cycle = Σ over steps + consumables. Rates below are chosen so the
arithmetic is exact in binary floating point where possible.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from costing_store import make_store  # noqa: E402

from carevalue.backends import connect  # noqa: E402
from carevalue.definitions.loader import load
from carevalue.definitions.process_map import CostingPolicy, ProcessMap  # noqa: E402
from carevalue.engine.costing_run import run_costing  # noqa: E402
from carevalue.queries.costs import _waterfall  # noqa: E402

RULES = load().get("record-rules", "default")

POLICY = CostingPolicy(id="golden", title="golden", practical_share=0.8, paid_time_roles=["surgeon"])

MAP = ProcessMap.model_validate({
    "id": "golden-hip", "title": "golden", "applies_to": "hip-osteoarthritis",
    "flags": [
        {"name": "interpreter", "codes": [{"system": "http://snomed.info/sct", "code": "315593009"}]},
        {"name": "outside_imaging", "codes": []},
    ],
    "steps": [
        {"step_code": "t-consult", "description": "consult", "phase": "diagnosing", "setting": "clinic",
         "resources": [
             {"role": "surgeon", "minutes": 20, "variations": [
                 {"flag": "interpreter", "extra_minutes": 15}, {"flag": "outside_imaging", "extra_minutes": 10}]},
             {"role": "exam-room", "minutes": 30, "variations": [{"flag": "interpreter", "extra_minutes": 15}]},
         ]},
        {"step_code": "t-surgery", "description": "THR", "phase": "intervening", "setting": "operating-room",
         "resources": [{"role": "surgeon", "minutes": 90}, {"role": "operating-room", "minutes": 120}]},
        {"step_code": "t-followup", "description": "follow-up", "phase": "recovering-rehabbing",
         "setting": "clinic", "routine": True,
         "resources": [{"role": "surgeon", "minutes": 15, "least_cost_role": "nurse"}]},
    ],
})

T = datetime(2024, 3, 1, 9)


def _res(rid: str, role: str, rtype: str, cost: float, cap: float) -> dict:
    return {"resource_id": rid, "name": rid, "resource_type": rtype, "role": role,
            "organization_id": "ORG1", "annual_cost": cost, "practical_capacity_minutes": cap}


def _act(aid: str, enc: str, rid: str, step: str, minutes: float | None, pid: str = "P1") -> dict:
    return {"activity_id": aid, "patient_id": pid, "encounter_id": enc, "resource_id": rid,
            "step_code": step, "start_ts": T, "minutes": minutes}


def _enc(eid: str, pid: str = "P1") -> dict:
    return {"encounter_id": eid, "patient_id": pid, "class_code": "AMB", "start_ts": T, "organization_id": "ORG1"}


def _ev(eid: str, phase: str, cost_bearing: bool = True, cycle: str = "C1") -> dict:
    return {"cycle_id": cycle, "patient_id": "P1", "condition": "hip-osteoarthritis", "event_table": "encounters",
            "event_id": eid, "event_ts": T, "phase": phase, "encounter_id": eid, "organization_id": "ORG1",
            "cost_bearing": cost_bearing}


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("golden") / "store.duckdb"
    make_store(path, {
        "patients": [{"patient_id": "P1"}, {"patient_id": "P2"}],
        "organizations": [{"organization_id": "ORG1", "type_code": "community-hospital"}],
        "resources": [
            # surgeon: capacity given as PAID minutes (policy.paid_time_roles) -> practical = paid x 0.8
            _res("R-SURG", "surgeon", "person", 720_000, 120_000),
            _res("R-NURSE", "nurse", "person", 96_000, 96_000),
            _res("R-OR", "operating-room", "space", 1_200_000, 60_000),
            _res("R-EXAM", "exam-room", "space", 24_000, 96_000),
        ],
        "encounters": [_enc("E1"), _enc("E2"), _enc("E3"), _enc("E9", "P2")],
        "activities": [
            _act("A1", "E1", "R-SURG", "t-consult", None),   # standard: time equation
            _act("A2", "E1", "R-EXAM", "t-consult", None),   # standard: time equation
            _act("A3", "E2", "R-SURG", "t-surgery", 100),    # recorded beats standard 90
            _act("A4", "E2", "R-OR", "t-surgery", 130),
            _act("A5", "E2", "R-NURSE", "t-surgery", 200),   # role not in the map: recorded only
            _act("A6", "E3", "R-SURG", "t-followup", 15),
            _act("A9", "E9", "R-SURG", "t-consult", 60, pid="P2"),  # no cycle: not in any cycle cost
        ],
        "consumables": [
            {"consumable_id": "K1", "patient_id": "P1", "encounter_id": "E2", "item_code": "implant",
             "quantity": 1, "unit_cost": 3000.0},
            {"consumable_id": "K2", "patient_id": "P1", "encounter_id": "E2", "item_code": "drug",
             "quantity": 2, "unit_cost": 25.0},
        ],
        "conditions": [{"condition_id": "X1", "patient_id": "P1", "code_system": "http://snomed.info/sct",
                        "code": "315593009", "onset_ts": datetime(2024, 1, 1)}],
        "claims": [{"claim_id": "CL1", "kind": "Claim", "patient_id": "P1", "encounter_id": "E2",
                    "service_start": T, "total_charge": 25_000.0}],
        "procedures": [{"procedure_id": "PR3", "patient_id": "P1", "encounter_id": "E3", "start_ts": T,
                        "charge_amount": 400.0},
                       # E2 has a claim: this procedure charge is inside it and must not be added again
                       {"procedure_id": "PR2", "patient_id": "P1", "encounter_id": "E2", "start_ts": T,
                        "charge_amount": 9_999.0}],
        "care_cycles": [{"cycle_id": "C1", "patient_id": "P1", "condition": "hip-osteoarthritis",
                         "cycle_type": "acute", "start_ts": datetime(2024, 2, 1), "end_ts": datetime(2024, 6, 1),
                         "organization_id": "ORG1"}],
        "cycle_events": [_ev("E1", "diagnosing"), _ev("E2", "intervening"), _ev("E3", "recovering-rehabbing")],
        "cycle_flags": [{"cycle_id": "C1", "flag": "outside_imaging"}],
    }, engine_tables=("care_cycles", "cycle_events", "cycle_flags"))
    c = connect(path)
    run_costing(c, maps=[MAP], policy=POLICY, rules=RULES)
    return c


def _rate(con, rid: str) -> float:  # type: ignore[no-untyped-def]
    r = con.table("capacity_cost_rates")
    return float(r.filter(r.resource_id == rid).rate_per_minute.execute().iloc[0])


def test_capacity_cost_rate(con) -> None:  # type: ignore[no-untyped-def]
    # Surgeon: 120,000 paid minutes (2,000 h x 60) x 0.8 practical share = 96,000 practical minutes;
    # 720,000 / 96,000 = 7.50 $/min.
    assert _rate(con, "R-SURG") == pytest.approx(7.50)
    # Operating room given as practical minutes: 1,200,000 / 60,000 = 20.00 $/min.
    assert _rate(con, "R-OR") == pytest.approx(20.00)
    assert _rate(con, "R-NURSE") == pytest.approx(1.00)   # 96,000 / 96,000
    assert _rate(con, "R-EXAM") == pytest.approx(0.25)    # 24,000 / 96,000


def test_two_resource_process_step_standard_cost() -> None:
    # THR step: surgeon 90 min x 7.50 = 675.00; operating room 120 min x 20.00 = 2,400.00;
    # step cost = 675 + 2,400 = 3,075.00.
    step = MAP.step("t-surgery")
    rates = {"surgeon": 7.50, "operating-room": 20.00}
    assert sum(r.standard_minutes() * rates[r.role] for r in step.resources) == pytest.approx(3075.00)


def test_time_equation_two_variations(con) -> None:  # type: ignore[no-untyped-def]
    # Consult, surgeon: 20 base + 15 (interpreter: SNOMED 315593009 recorded 2024-01-01, before the
    # cycle end) + 10 (outside_imaging: cycle_flags) = 45 min; 45 x 7.50 = 337.50.
    # Exam room: 30 + 15 (interpreter) = 45 min; 45 x 0.25 = 11.25.
    surgeon = MAP.step("t-consult").resources[0]
    assert surgeon.standard_minutes(["interpreter", "outside_imaging"]) == 45
    a = con.table("activity_costs").execute().set_index("activity_id")
    assert a.loc["A1", "minutes"] == 45 and a.loc["A1", "minutes_source"] == "standard"
    assert a.loc["A1", "labour_cost"] == pytest.approx(337.50)
    assert a.loc["A2", "minutes"] == 45 and a.loc["A2", "labour_cost"] == pytest.approx(11.25)


def test_full_small_cycle(con) -> None:  # type: ignore[no-untyped-def]
    # Labour: A1 337.50 + A2 11.25 (standard times, above)
    #       + A3 100 x 7.50 = 750.00 + A4 130 x 20.00 = 2,600.00 + A5 200 x 1.00 = 200.00 (recorded)
    #       + A6 15 x 7.50 = 112.50                                  = 4,011.25
    # Consumables: implant 1 x 3,000 + drug 2 x 25 = 3,050.00
    # Total = 4,011.25 + 3,050.00 = 7,061.25
    # Charges (beside, never cost): claim on E2 25,000 + procedure charge on E3 (no claim) 400 = 25,400
    # Minutes: recorded 100+130+200+15 = 445; standard 45+45 = 90; recorded share 445/535.
    t = con.table("cycle_cost_totals").execute().set_index("cycle_id")
    assert list(t.index) == ["C1"]   # P2's activity (no cycle, no segments) is not in any cycle
    c1 = t.loc["C1"]
    assert c1.labour_cost == pytest.approx(4011.25)
    assert c1.consumables_cost == pytest.approx(3050.00)
    assert c1.total_cost == pytest.approx(7061.25)
    assert c1.charges == pytest.approx(25_400.00)
    assert c1.recorded_share == pytest.approx(445 / 535)
    # By phase: diagnosing 337.50 + 11.25 = 348.75; intervening 750 + 2,600 + 200 + 3,050 = 6,600.00;
    # recovering-rehabbing 112.50.
    # (the waterfall before the privacy module: one cycle would show <11)
    w = {r["phase"]: r["cost_per_cycle"] for r in _waterfall(con, load(), "hip-osteoarthritis", None)}
    assert w == pytest.approx({"diagnosing": 348.75, "intervening": 6600.00, "recovering-rehabbing": 112.50,
                               "total": 7061.25})


def test_skill_mismatch_money(con) -> None:  # type: ignore[no-untyped-def]
    # Follow-up by the surgeon (7.50/min) where the map says a nurse (1.00/min at ORG1) can do it:
    # 15 x (7.50 - 1.00) = 97.50.
    o = con.table("cost_opportunities").execute()
    sm = o[o.kind == "skill-mismatch"]
    assert len(sm) == 1 and sm.money_at_stake.iloc[0] == pytest.approx(97.50)
    assert "t-followup" in sm.explanation.iloc[0]
