"""Primary-care segmentation on hand-made patients: rules, first match wins, history and transitions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import segments
from carevalue.ingest.store import Store

LIB = load()
RULES = load().get("record-rules", "default")
SNOMED = "http://snomed.info/sct"


def put(store: Store, table: str, **cols: Any) -> None:
    cols.setdefault("source", "fixture")
    store.con.execute(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})',
                      list(cols.values()))


def run(path: Path) -> tuple[dict[str, list[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    con = connect(path)
    segments.run(con, list(LIB.kind("segments").values()), LIB.kind("value-sets"), rules=RULES)
    rows = con.table("segments").order_by(["patient_id", "valid_from"]).execute()
    hist: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows.itertuples():
        vt = None if r.valid_to is None or str(r.valid_to) in ("NaT", "None") else str(r.valid_to)[:10]
        hist.setdefault(r.patient_id, []).append((r.segment, str(r.valid_from)[:10], vt))
    tr = con.table("segment_transitions").order_by(["patient_id", "transition_date"]).execute()
    trans = [(t.patient_id, t.from_segment, t.to_segment, str(t.transition_date)[:10]) for t in tr.itertuples()]
    con.disconnect()
    return hist, trans


def test_history_of_a_patient_who_becomes_chronic_then_complex_then_frail(tmp_path: Path) -> None:
    p = tmp_path / "s.duckdb"
    with Store(p) as s:
        put(s, "patients", patient_id="a", birth_date="1940-05-10")
        # BMI 32 in 2010 -> at risk; diabetes 2015 -> chronic; HF + COPD 2018 -> complex (3 chronic);
        # 85th birthday 2025-05-10 -> frail elderly.
        put(s, "observations", observation_id="o1", patient_id="a", code_system="http://loinc.org",
            code="39156-5", effective_ts="2010-03-01 10:00", value_num=32.0)
        for cid, code, onset in (("c1", "44054006", "2015-01-01"), ("c2", "84114007", "2018-06-01"),
                                 ("c3", "13645005", "2018-07-01")):
            put(s, "conditions", condition_id=cid, patient_id="a", code_system=SNOMED, code=code,
                onset_ts=f"{onset} 00:00")
        put(s, "patients", patient_id="b", birth_date="1990-01-01")
    hist, trans = run(p)
    assert hist["a"] == [
        ("healthy", "1940-05-10", "2010-03-01"),
        ("at-risk", "2010-03-01", "2015-01-01"),
        ("chronic", "2015-01-01", "2018-07-01"),
        ("complex", "2018-07-01", "2025-05-10"),
        ("frail-elderly-disabled", "2025-05-10", None),
    ]
    assert hist["b"] == [("healthy", "1990-01-01", None)]
    assert ("a", "complex", "frail-elderly-disabled", "2025-05-10") in trans
    assert len([t for t in trans if t[0] == "a"]) == 4


def test_utilisation_window_and_smoking_and_abatement(tmp_path: Path) -> None:
    p = tmp_path / "s.duckdb"
    with Store(p) as s:
        put(s, "patients", patient_id="c", birth_date="1970-01-01")
        put(s, "conditions", condition_id="c1", patient_id="c", code_system=SNOMED, code="44054006",
            onset_ts="2020-01-01 00:00")
        put(s, "conditions", condition_id="c2", patient_id="c", code_system=SNOMED, code="38341003",
            onset_ts="2020-01-01 00:00")
        for i, d in enumerate(("2022-02-01", "2022-06-01")):
            put(s, "encounters", encounter_id=f"e{i}", patient_id="c", class_code="EMER", start_ts=f"{d} 12:00")
        # Smoker until quitting (latest observation wins).
        put(s, "patients", patient_id="d", birth_date="1980-01-01")
        put(s, "observations", observation_id="s1", patient_id="d", code_system="http://loinc.org",
            code="72166-2", effective_ts="2019-01-01 10:00", value_code="77176002")
        put(s, "observations", observation_id="s2", patient_id="d", code_system="http://loinc.org",
            code="72166-2", effective_ts="2021-01-01 10:00", value_code="8517006")
        # A resolved asthma makes the patient chronic only while active.
        put(s, "conditions", condition_id="c3", patient_id="d", code_system=SNOMED, code="195967001",
            onset_ts="2019-06-01 00:00", abatement_ts="2020-06-01 00:00")
    hist, _ = run(p)
    # Two chronic conditions + 2 ED visits within 12 months: complex from the 2nd visit for 365 days
    # after the first visit drops out of the window (2022-02-01 + 365 days = 2023-02-01).
    assert hist["c"] == [
        ("healthy", "1970-01-01", "2020-01-01"),
        ("chronic", "2020-01-01", "2022-06-01"),
        ("complex", "2022-06-01", "2023-02-01"),
        ("chronic", "2023-02-01", None),
    ]
    assert hist["d"] == [
        ("healthy", "1980-01-01", "2019-01-01"),
        ("at-risk", "2019-01-01", "2019-06-01"),
        ("chronic", "2019-06-01", "2020-06-01"),
        ("at-risk", "2020-06-01", "2021-01-01"),
        ("healthy", "2021-01-01", None),
    ]


def test_segment_on_a_date(tmp_path: Path) -> None:
    p = tmp_path / "s.duckdb"
    with Store(p) as s:
        put(s, "patients", patient_id="e", birth_date="1950-01-01")
        put(s, "conditions", condition_id="x", patient_id="e", code_system=SNOMED, code="190905008",
            onset_ts="2000-01-01 00:00")
    run(p)
    con = connect(p)
    got = segments.segment_on(con, "2010-01-01").execute()
    assert got.to_dict("records") == [{"patient_id": "e", "segment": "rare-condition"}]
    assert date(2010, 1, 1)  # the date is inclusive of valid_from, exclusive of valid_to
    con.disconnect()
