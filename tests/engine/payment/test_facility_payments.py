"""Facility payments under fee-for-service, worked by hand: the MS-DRG each admission groups to
under the shipped hip/knee fee schedule, and the APC of outpatient surgery and emergency visits.

Base rate $6,497.36 per unit of relative weight (content/fee-schedules/cms-facility-hip-knee):
  replacement admission, CPT 27447           → DRG 470: 6,497.36 × 1.9289 = $12,532.7577
  readmission with an SSI (T81.49XA)         → DRG 863: 6,497.36 × 1.05   =  $6,822.228
  readmission with an SSI and a PE (I26.99)  → DRG 862 (PE is an MCC): × 1.95 = $12,669.852
  readmission for a PE alone                 → DRG 176 (the PE is the principal, not an MCC): × 0.90 = $5,847.624
  revision admission, CPT 27487              → DRG 468: × 2.60 = $16,893.136
  admission no rule matches                  → DRG 948: × 0.75 = $4,873.02
  outpatient 27447 (AMB)                     → APC 5115: $13,000
  emergency visit 99285 (EMER)               → APC 5025: $608.43
  an office visit (99214, AMB)               → no facility payment
"""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load
from carevalue.engine.payment.facility import cycle_facility, encounter_payments

LIB = load()
FS = LIB.get("fee-schedules", "cms-facility-hip-knee")
T0 = datetime(2024, 3, 1)


def _con() -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    enc = [("e-index", "IMP"), ("e-ssi", "IMP"), ("e-ssi-pe", "IMP"), ("e-pe", "IMP"), ("e-rev", "IMP"),
           ("e-other", "IMP"), ("e-op", "AMB"), ("e-ed", "EMER"), ("e-office", "AMB")]
    con.create_table("encounters", pd.DataFrame({
        "encounter_id": [e for e, _ in enc], "patient_id": "p1", "class_code": [c for _, c in enc],
        "start_ts": T0}))
    con.create_table("procedures", pd.DataFrame({
        "procedure_id": ["x1", "x2", "x3"], "patient_id": "p1", "encounter_id": ["e-index", "e-rev", "e-op"],
        "code_system": "CPT", "code": ["27447", "27487", "27447"]}))
    con.create_table("conditions", pd.DataFrame({
        "condition_id": ["c1", "c2", "c3", "c4"], "patient_id": "p1",
        "encounter_id": ["e-ssi", "e-ssi-pe", "e-ssi-pe", "e-pe"],
        "code_system": "ICD-10-CM", "code": ["T81.49XA", "T81.49XA", "I26.99", "I26.99"]}))
    con.create_table("claims", pd.DataFrame({"claim_id": ["k1", "k2", "k3"], "encounter_id": ["e-op", "e-ed", "e-office"]}))
    con.create_table("claim_lines", pd.DataFrame({
        "claim_id": ["k1", "k2", "k3"], "line_no": [1, 1, 1], "code": ["27447", "99285", "99214"],
        "quantity": [1.0, 1.0, 1.0]}))
    con.create_table("cycle_events", pd.DataFrame({
        "cycle_id": ["cy1"] * 3 + ["cy2"], "condition": ["knee-osteoarthritis"] * 3 + ["heart-failure"],
        "event_table": "encounters", "event_id": ["e-index", "e-ssi", "e-ed", "e-other"],
        "cost_bearing": [True, True, True, True]}))
    return con


def test_each_encounter_groups_to_its_drg_or_apc() -> None:
    out = encounter_payments(_con(), FS).execute().set_index("encounter_id")
    expected = {"e-index": ("DRG 470", 12_532.7577), "e-ssi": ("DRG 863", 6_822.228),
                "e-ssi-pe": ("DRG 862", 12_669.852), "e-pe": ("DRG 176", 5_847.624),
                "e-rev": ("DRG 468", 16_893.136), "e-other": ("DRG 948", 4_873.02),
                "e-op": ("APC 5115", 13_000.0), "e-ed": ("APC 5025", 608.43)}
    assert set(out.index) == set(expected)  # the office visit has no facility payment
    for enc, (code, amount) in expected.items():
        assert out.loc[enc, "code"] == code
        assert out.loc[enc, "amount"] == pytest.approx(amount)


def test_a_cycle_is_paid_for_the_encounters_it_carries_of_the_schedules_conditions() -> None:
    """Knee cycle cy1 carries the index admission, the SSI readmission and the ED visit:
    12,532.7577 + 6,822.228 + 608.43 = $19,963.4157. The heart-failure cycle is not the schedule's."""
    out = cycle_facility(_con(), FS).execute()
    assert set(out.cycle_id) == {"cy1"}
    assert out.amount.sum() == pytest.approx(19_963.4157)


def test_fee_schedule_says_what_it_could_not_verify() -> None:
    assert FS.unverified and "Table 5" in " ".join(FS.unverified)
    assert FS.drg_payment("470") == pytest.approx(12_532.7577)


def test_encounter_money_pays_facility_only_for_the_schedules_conditions() -> None:
    """The same readmission (e-ssi, DRG 863 = $6,822.228) carried by a knee cycle and by a heart-
    failure cycle: knee is in the schedule, so that row is paid 500 + 6,822.228 = 7,322.228; the
    heart-failure row gets the claim's charges only (500). Cost is the encounter's labour cost (300)."""
    from carevalue.engine.payment.facility import encounter_money

    con = _con()
    con.create_table("activity_costs", pd.DataFrame({"encounter_id": ["e-ssi"], "labour_cost": [300.0]}))
    con.drop_table("claims")
    con.create_table("claims", pd.DataFrame({"claim_id": ["k9"], "encounter_id": ["e-ssi"], "total_charge": [500.0]}))
    ev = ibis.memtable({"cycle_id": ["knee", "hf"], "condition": ["knee-osteoarthritis", "heart-failure"],
                        "encounter_id": ["e-ssi", "e-ssi"]})
    out = encounter_money(con, ev, [FS]).execute().set_index("cycle_id")
    assert out.loc["knee", "encounter_paid"] == pytest.approx(500 + 6_822.228)
    assert out.loc["hf", "encounter_paid"] == pytest.approx(500.0)
    assert list(out.encounter_cost) == [300.0, 300.0]
    assert not [c for c in out.columns if c.startswith("_")]


def test_encounter_amounts_one_row_per_encounter_summing_each_source() -> None:
    """The shared per-encounter money: labour cost summed over activities, charges over claims, the
    facility payment per schedule (e-index: DRG 470; e-office: none); records without an encounter
    are left out; an encounter only claimed still gets its row."""
    from carevalue.engine.payment.facility import encounter_amounts

    con = _con()
    con.create_table("activity_costs", pd.DataFrame({"encounter_id": ["e-index", "e-index", None],
                                                     "labour_cost": [100.0, 50.0, 7.0]}))
    con.drop_table("claims")
    con.create_table("claims", pd.DataFrame({"claim_id": ["k1", "k2", "k3"], "encounter_id": ["e-index", "e-office", None],
                                             "total_charge": [900.0, 120.0, 5.0]}))
    out = encounter_amounts(con, [FS]).execute().set_index("encounter_id")
    assert out.index.is_unique and out.index.notna().all()
    assert out.loc["e-index", "_enc_cost"] == pytest.approx(150.0)
    assert out.loc["e-index", "_enc_charges"] == pytest.approx(900.0)
    assert out.loc["e-index", "_fac_0"] == pytest.approx(12_532.7577)
    assert (out.loc["e-office", "_enc_cost"], out.loc["e-office", "_enc_charges"], out.loc["e-office", "_fac_0"]) == (
        0.0, pytest.approx(120.0), 0.0)
