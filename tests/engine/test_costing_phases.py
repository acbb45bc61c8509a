"""Costs land in the phase of the service, not of the encounter (issue 11.2), and cycles without
TDABC inputs are "not costed" with a reason, never 0 (issue 11.4)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from costing_store import make_store

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.definitions.process_map import CostingPolicy, ProcessMap
from carevalue.engine.costing import cost_source_shares
from carevalue.engine.costing_run import run_costing

RULES = load().get("record-rules", "default")

POLICY = CostingPolicy(id="t", title="t")
HIP = ProcessMap.model_validate({
    "id": "hip", "title": "hip", "applies_to": "hip",
    "steps": [
        {"step_code": "surgery", "description": "THR", "phase": "intervening", "setting": "operating-room",
         "resources": [{"role": "surgeon", "minutes": 90}, {"role": "anaesthetist", "minutes": 110},
                       {"role": "operating-room", "minutes": 120}]},
        {"step_code": "pt", "description": "physio", "phase": "recovering-rehabbing", "setting": "clinic",
         "resources": [{"role": "physiotherapist", "minutes": 30}]},
    ]})
SURGERY, PT_TIME = datetime(2024, 4, 2, 8), datetime(2024, 4, 2, 15)


def _res(rid: str, role: str, per_minute: float) -> dict:
    # 100,000 practical minutes a year, so annual cost / capacity = the rate exactly.
    return {"resource_id": rid, "name": rid, "resource_type": "person", "role": role, "organization_id": "ASC",
            "annual_cost": per_minute * 100_000, "practical_capacity_minutes": 100_000}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("phases") / "s.duckdb"
    acts = [  # one same-day encounter E1 at an ambulatory surgery centre
        ("A1", "SURG", "surgery", SURGERY, 95.0),   # recorded
        ("A2", "ANAES", "surgery", SURGERY, None),  # standard 110
        ("A3", "OR", "surgery", SURGERY, 130.0),
        ("A4", "PT", "pt", PT_TIME, None),          # standard 30, rehab the same afternoon
    ]
    make_store(path, {
        "patients": [{"patient_id": p} for p in ("P1", "P2", "P3")],
        "organizations": [{"organization_id": "ASC", "type_code": "ambulatory-surgery-centre"}],
        "resources": [_res("SURG", "surgeon", 8.0), _res("ANAES", "anaesthetist", 6.0),
                      _res("OR", "operating-room", 10.0), _res("PT", "physiotherapist", 1.0)],
        "encounters": [
            {"encounter_id": "E1", "patient_id": "P1", "class_code": "AMB", "start_ts": SURGERY,
             "organization_id": "ASC"},
            {"encounter_id": "E2", "patient_id": "P2", "class_code": "AMB", "start_ts": SURGERY,
             "organization_id": "ASC"},
        ],
        "activities": [{"activity_id": a, "patient_id": "P1", "encounter_id": "E1", "resource_id": r,
                        "step_code": s, "start_ts": t, "minutes": m} for a, r, s, t, m in acts],
        "consumables": [{"consumable_id": "K1", "patient_id": "P1", "encounter_id": "E1", "item_code": "implant",
                         "quantity": 1.0, "unit_cost": 2500.0, "used_ts": datetime(2024, 4, 2, 9)}],
        "claims": [{"claim_id": "CL2", "kind": "Claim", "patient_id": "P2", "encounter_id": "E2", "total_charge": 900.0,
                    "service_start": SURGERY}],
        "care_cycles": [
            {"cycle_id": "C1", "patient_id": "P1", "condition": "hip", "cycle_type": "acute", "organization_id": "ASC"},
            {"cycle_id": "C2", "patient_id": "P2", "condition": "hip", "cycle_type": "acute", "organization_id": "ASC"},
            {"cycle_id": "C3", "patient_id": "P3", "condition": "hip", "cycle_type": "acute", "organization_id": "ASC"},
        ],
        # The cycle builder put the day-case encounter in rehab (it follows the index procedure day).
        "cycle_events": [
            {"cycle_id": c, "patient_id": p, "event_table": "encounters", "event_id": e, "encounter_id": e,
             "event_ts": SURGERY, "phase": "recovering-rehabbing", "cost_bearing": True}
            for c, p, e in (("C1", "P1", "E1"), ("C2", "P2", "E2"))],
    })
    run_costing(connect(path), maps=[HIP], policy=POLICY, rules=RULES)
    return path


def test_day_case_surgery_is_intervening(store) -> None:  # type: ignore[no-untyped-def]
    cc = connect(store).table("cycle_costs").execute()
    c1 = cc[cc.cycle_id == "C1"].groupby("phase").total_cost.sum().to_dict()
    # intervening: surgeon 95 x 8 = 760, anaesthetist 110 (standard) x 6 = 660,
    # theatre 130 x 10 = 1300, implant 1 x 2500 (used at 09:00, nearest step: surgery) = 5220.
    # recovering-rehabbing: physiotherapist 30 (standard) x 1 = 30.
    assert c1 == pytest.approx({"intervening": 5220.0, "recovering-rehabbing": 30.0})
    a = connect(store).table("activity_costs").execute().set_index("activity_id")
    assert set(a.phase_source) == {"step"}


def test_cost_source_and_not_costed(store) -> None:  # type: ignore[no-untyped-def]
    t = connect(store).table("cycle_cost_totals").execute().set_index("cycle_id")
    assert t.loc["C1", "cost_source"] == "standard-times" and t.loc["C1", "total_cost"] == pytest.approx(5250.0)
    assert t.loc["C2", "cost_source"] == "charges-only" and t.loc["C2", "charges"] == pytest.approx(900.0)
    assert t.loc["C3", "cost_source"] == "not-costed"
    for c in ("C2", "C3"):   # never 0: null, with the reason
        assert t.loc[c, ["labour_cost", "consumables_cost", "total_cost"]].isna().all()
        assert isinstance(t.loc[c, "not_costed_reason"], str) and t.loc[c, "not_costed_reason"]
    assert pd.isna(t.loc["C1", "not_costed_reason"])
    shares = {r["cost_source"]: r["share"] for r in cost_source_shares(connect(store).table("cycle_cost_totals"))
              .execute().to_dict(orient="records")}
    assert shares == pytest.approx({"standard-times": 1 / 3, "charges-only": 1 / 3, "not-costed": 1 / 3})
