"""Property tests of the care-cycle builder and segmentation on random small stores (hypothesis).

Each example is a store of several random patients, so a handful of examples covers many cases
while the Ibis/DuckDB build runs only a few times.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, segments
from carevalue.ingest.store import Store

LIB = load()
RULES = load().get("record-rules", "default")
TEMPLATES = [LIB.get("conditions", t) for t in ("hip-osteoarthritis", "knee-osteoarthritis", "type-2-diabetes",
                                                 "heart-failure")]
SNOMED = "http://snomed.info/sct"
T0 = datetime(2020, 1, 1)
COND_CODES = ["239872002", "239873007", "44054006", "84114007", "13645005", "248279007", "190905008",
              "254837009", "15777000"]
PROC_CODES = ["52734007", "609588000", "5880005", "70536003"]
ENC_CODES = ["185347001", "225886003", "183495009", "32485007", "390906007"]
ORGS = ["org-a", "org-b", "org-c"]

day = st.integers(min_value=0, max_value=5 * 365)
encounter = st.tuples(day, st.sampled_from(["AMB", "IMP", "EMER", "VR"]), st.sampled_from(ENC_CODES),
                      st.sampled_from([None, *COND_CODES]), st.sampled_from(ORGS))
patient = st.fixed_dictionaries({
    "birth": st.integers(min_value=1925, max_value=2010),
    "encounters": st.lists(encounter, max_size=8),
    # (day, code, encounter index or None, abatement after days or None)
    "conditions": st.lists(st.tuples(day, st.sampled_from(COND_CODES), st.integers(0, 9),
                                     st.one_of(st.none(), st.integers(1, 900))), max_size=4),
    "procedures": st.lists(st.tuples(day, st.sampled_from(PROC_CODES), st.integers(0, 9)), max_size=4),
    "observations": st.lists(st.tuples(day, st.sampled_from(["39156-5", "4548-4", "72166-2"]),
                                       st.floats(15, 45), st.integers(0, 9)), max_size=3),
})
population = st.lists(patient, min_size=1, max_size=6)


def put(store: Store, table: str, **cols: Any) -> None:
    cols.setdefault("source", "prop")
    store.con.execute(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})',
                      list(cols.values()))


def make_store(path: Path, pop: list[dict[str, Any]]) -> None:
    with Store(path) as s:
        for i, p in enumerate(pop):
            pid = f"p{i}"
            put(s, "patients", patient_id=pid, birth_date=f"{p['birth']}-03-15")
            encs = []
            for j, (d, cls, code, reason, org) in enumerate(p["encounters"]):
                eid = f"{pid}-e{j}"
                encs.append(eid)
                put(s, "encounters", encounter_id=eid, patient_id=pid, class_code=cls, code_system=SNOMED,
                    code=code, reason_system=SNOMED if reason else None, reason_code=reason,
                    start_ts=T0 + timedelta(days=d, hours=9), organization_id=org)
                put(s, "activities", activity_id=f"{eid}-a", patient_id=pid, encounter_id=eid,
                    resource_id="r", start_ts=T0 + timedelta(days=d, hours=9), minutes=10.0)

            def enc(k: int, encs: list[str] = encs) -> str | None:
                return encs[k % len(encs)] if encs and k < 7 else None

            for j, (d, code, k, ab) in enumerate(p["conditions"]):
                on = T0 + timedelta(days=d)
                put(s, "conditions", condition_id=f"{pid}-c{j}", patient_id=pid, encounter_id=enc(k),
                    code_system=SNOMED, code=code, onset_ts=on,
                    abatement_ts=on + timedelta(days=ab) if ab else None)
            for j, (d, code, k) in enumerate(p["procedures"]):
                put(s, "procedures", procedure_id=f"{pid}-x{j}", patient_id=pid, encounter_id=enc(k),
                    code_system=SNOMED, code=code, start_ts=T0 + timedelta(days=d, hours=10))
            for j, (d, code, v, k) in enumerate(p["observations"]):
                put(s, "observations", observation_id=f"{pid}-o{j}", patient_id=pid, encounter_id=enc(k),
                    code_system="http://loinc.org", code=code, effective_ts=T0 + timedelta(days=d, hours=11),
                    value_num=v, value_code="77176002" if v > 30 else "8517006")


# Each example builds a store (seconds): few examples, and no shrinking (it would take minutes).
SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])


@SETTINGS
@given(population)
def test_cycle_invariants(pop: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.duckdb"
        make_store(path, pop)
        con = connect(path)
        cycles.run(con, TEMPLATES, RULES)
        cyc = con.table("care_cycles").execute()
        ev = con.table("cycle_events").execute()
        con.disconnect()
    # Every event lands in at most one cycle per condition.
    assert not ev.duplicated(["condition", "event_table", "event_id"]).any()
    # Cost-bearing events are never attributed twice; every attributed event bears its cost once.
    bearing = ev[ev.cost_bearing.astype(bool)]
    assert not bearing.duplicated(["event_table", "event_id"]).any()
    assert set(map(tuple, bearing[["event_table", "event_id"]].values)) == set(
        map(tuple, ev[["event_table", "event_id"]].values))
    # Cycles of one condition never overlap for a patient, and events lie in their cycle's window
    # (records that follow their encounter may not: they carry the encounter's cycle).
    for _, g in cyc.sort_values("start_ts").groupby(["patient_id", "condition"]):
        assert (g.start_ts.iloc[1:].values >= g.end_ts.iloc[:-1].values).all()
    j = ev.merge(cyc, on="cycle_id")
    own = j[j.event_table == "encounters"]
    assert ((own.event_ts >= own.start_ts) & (own.event_ts < own.end_ts)).all()
    assert set(ev.phase) <= {"monitoring-preventing", "diagnosing", "preparing", "intervening",
                             "recovering-rehabbing", "monitoring-managing"}


@SETTINGS
@given(population)
def test_segment_history_has_no_gaps_or_overlaps(pop: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.duckdb"
        make_store(path, pop)
        con = connect(path)
        segments.run(con, list(LIB.kind("segments").values()), LIB.kind("value-sets"), rules=RULES)
        seg = con.table("segments").execute()
        tr = con.table("segment_transitions").execute()
        con.disconnect()
    assert seg.patient_id.nunique() == len(pop)  # every patient has a history
    for i, p in enumerate(pop):
        g = seg[seg.patient_id == f"p{i}"].sort_values("valid_from")
        assert str(g.valid_from.iloc[0])[:10] == f"{p['birth']}-03-15"  # from birth
        assert g.valid_to.iloc[:-1].notna().all() and g.valid_to.isna().iloc[-1]  # open end only last
        assert list(g.valid_to.iloc[:-1]) == list(g.valid_from.iloc[1:])  # no gaps, no overlaps
        assert (g.segment.values[1:] != g.segment.values[:-1]).all()  # intervals are maximal
        assert len(tr[tr.patient_id == f"p{i}"]) == len(g) - 1
