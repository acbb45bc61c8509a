"""Status semantics in care cycles and segments (issue 11 item 1): a refuted diagnosis is stored
but opens no cycle and moves nobody into a chronic segment; an entered-in-error one neither."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, segments
from carevalue.ingest.store import Store

LIB = load()
RULES = load().get("record-rules", "default")
SNOMED = "http://snomed.info/sct"


def put(store: Store, table: str, **cols: Any) -> None:
    cols.setdefault("source", "fixture")
    store.con.execute(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})',
                      list(cols.values()))


def diabetic(store: Store, pid: str, verification: str | None) -> None:
    put(store, "patients", patient_id=pid, birth_date="1960-01-01", sex="male")
    for i, d in enumerate(("2019-03-01", "2020-03-01", "2021-03-01")):
        put(store, "encounters", encounter_id=f"{pid}-e{i}", patient_id=pid, class_code="AMB",
            status="finished", start_ts=f"{d} 09:00")
    put(store, "conditions", condition_id=f"{pid}-dm", patient_id=pid, encounter_id=f"{pid}-e1",
        code_system=SNOMED, code="44054006", verification_status=verification, clinical_status="active",
        onset_ts="2020-03-01 09:00", recorded_ts="2020-03-01 09:00")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        diabetic(s, "confirmed", "confirmed")
        diabetic(s, "unknown", None)
        diabetic(s, "refuted", "refuted")
        diabetic(s, "error", "entered-in-error")
    return path


def test_a_refuted_diagnosis_opens_no_cycle_and_no_chronic_segment(store: Path) -> None:
    con = connect(store)
    cycles.run(con, [LIB.get("conditions", "type-2-diabetes")], RULES)
    segments.run(con, list(LIB.kind("segments").values()), LIB.kind("value-sets"), rules=RULES)
    cyc = con.table("care_cycles").execute()
    seg = con.table("segments").execute()
    stored = con.table("conditions").count().execute()
    con.disconnect()
    by_patient = cyc.groupby("patient_id").size().to_dict()
    # Confirmed and status-less diagnoses in 2020-03 with data to 2021-03: periods 2020 and 2021.
    assert by_patient == {"confirmed": 2, "unknown": 2}
    assert stored == 4  # the refuted and erroneous diagnoses are kept, just not counted
    chronic = set(seg[seg.segment == "chronic"].patient_id)
    assert chronic == {"confirmed", "unknown"}
    assert set(seg[seg.patient_id == "refuted"].segment) == {"healthy"}
    assert set(seg[seg.patient_id == "error"].segment) == {"healthy"}
