"""carevalue costing CSVs (resources, activities*, consumables): typed, validated, split and gzipped files."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest

from carevalue.ingest.run import IngestReport, ingest
from carevalue.ingest.store import Store

PATIENTS = "Id,BIRTHDATE,GENDER\np-1,1950-01-02,F\n"
RESOURCES = """resource_id,name,resource_type,role,organization_id,annual_cost,practical_capacity_minutes
r-surgeon,Orthopaedic surgeon,person,surgeon,o-1,600000,84000
r-or,Operating room,space,operating-room,o-1,1200000.5,120000
r-bad-type,Robot,robot,,o-1,100,100
r-zero,Nurse,person,nurse,o-1,90000,0
r-neg,Nurse,person,nurse,o-1,-1,1000
r-text,Nurse,person,nurse,o-1,lots,1000
,Nurse,person,nurse,o-1,1,1000
"""
ACTIVITIES_0 = """activity_id,patient_id,encounter_id,resource_id,step_code,start_ts,minutes,practitioner_id
a-1,p-1,e-1,r-surgeon,surgery,2024-03-01T08:00:00Z,95.5,pr-1
a-2,p-1,e-1,r-or,surgery,2024-03-01T08:00:00+01:00,120,
a-3,p-1,e-1,r-or,surgery,01/03/2024 08:00,120,
"""
ACTIVITIES_1 = """activity_id,patient_id,encounter_id,resource_id,step_code,start_ts,minutes,practitioner_id
a-4,p-1,e-1,r-surgeon,consult,2024-02-01T08:00:00Z,-10,pr-1
a-5,p-1,e-1,,consult,2024-02-01T08:00:00Z,10,pr-1
a-6,p-9,e-1,r-surgeon,consult,2024-02-01T08:00:00Z,10,pr-1
"""
CONSUMABLES = """consumable_id,patient_id,encounter_id,item_code,description,quantity,unit_cost,used_ts
k-1,p-1,e-1,IMPL-HIP,Hip implant,1,2450.00,2024-03-01T09:00:00Z
k-2,p-1,e-1,GAUZE,Gauze,-2,0.5,2024-03-01T09:00:00Z
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, IngestReport, dict[tuple[str, str], tuple[str, str, str]]]:
    d = tmp_path_factory.mktemp("costing") / "source"
    d.mkdir()
    (d / "patients.csv").write_text(PATIENTS)
    (d / "resources.csv").write_text(RESOURCES)
    (d / "activities.000.csv").write_text(ACTIVITIES_0)
    (d / "activities.001.csv").write_text(ACTIVITIES_1)
    with gzip.open(d / "consumables.csv.gz", "wt") as fh:
        fh.write(CONSUMABLES)
    (d / "consumables.002.csv").write_text("consumable_id,patient_id,quantity\nk-9,p-1,1\n")  # no unit_cost
    store = Store(":memory:")
    report = ingest([d], store)
    q = {(Path(s).name, loc): (f, r, det) for s, loc, f, r, det in store.con.execute(
        "SELECT source, locator, field, reason, detail FROM quarantine").fetchall()}
    return store, report, q


def test_costing_files_reconcile(result) -> None:  # type: ignore[no-untyped-def]
    _, report, _ = result
    got = {Path(f.source).name: (f.read, f.stored, f.quarantined) for f in report.files}
    assert got == {"patients.csv": (1, 1, 0), "resources.csv": (7, 2, 5), "activities.000.csv": (3, 2, 1),
                   "activities.001.csv": (3, 0, 3), "consumables.csv.gz": (2, 1, 1), "consumables.002.csv": (1, 0, 1)}


def test_valid_costing_rows_are_typed(result) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = result
    con = store.con
    assert con.execute("SELECT resource_id, resource_type, annual_cost, practical_capacity_minutes FROM resources "
                       "ORDER BY 1").fetchall() == [("r-or", "space", 1200000.5, 120000.0),
                                                    ("r-surgeon", "person", 600000.0, 84000.0)]
    # Zoned timestamps are stored in UTC: 08:00+01:00 -> 07:00.
    assert con.execute("SELECT activity_id, start_ts, minutes, practitioner_id FROM activities ORDER BY 1").fetchall() == [
        ("a-1", datetime(2024, 3, 1, 8), 95.5, "pr-1"), ("a-2", datetime(2024, 3, 1, 7), 120.0, None)]
    assert con.execute("SELECT consumable_id, quantity, unit_cost, used_ts FROM consumables").fetchall() == [
        ("k-1", 1.0, 2450.0, datetime(2024, 3, 1, 9))]


@pytest.mark.parametrize(("file", "line", "field", "reason", "words"), [
    ("resources.csv", "line 4", "resource_type", "invalid code", "'robot' is not one of equipment, person, space, support"),
    ("resources.csv", "line 5", "practical_capacity_minutes", "value must be positive", "must be greater than 0"),
    ("resources.csv", "line 6", "annual_cost", "negative quantity", "is negative"),
    ("resources.csv", "line 7", "annual_cost", "non-numeric value", "'lots'"),
    ("resources.csv", "line 8", "resource_id", "missing required field", "resource_id is empty"),
    ("activities.000.csv", "line 4", "start_ts", "unparseable date", "'01/03/2024 08:00'"),
    ("activities.001.csv", "line 2", "minutes", "negative quantity", "-10 is negative"),
    ("activities.001.csv", "line 3", "resource_id", "missing required field", "resource_id is empty"),
    ("activities.001.csv", "line 4", "patient", "dangling reference", "p-9"),
    ("consumables.csv.gz", "line 3", "quantity", "negative quantity", "-2 is negative"),
    ("consumables.002.csv", "line 2", "unit_cost", "missing required column", "unit_cost is not in the header"),
])
def test_bad_costing_row_is_quarantined(result, file: str, line: str, field: str, reason: str, words: str) -> None:  # type: ignore[no-untyped-def]
    _, _, q = result
    f, r, detail = q[(file, line)]
    assert (f, r) == (field, reason)
    assert words in detail


def test_repeated_activity_ids_in_one_file(tmp_path: Path) -> None:
    """One-row records of a CSV chunk are accepted in bulk (Batch.accept_one_row_records) with the
    per-record rules: an identical repeat is stored once, a repeat with other content is
    quarantined as a duplicate, a bad row between them is quarantined with its own reason."""
    d = tmp_path / "source"
    d.mkdir()
    (d / "patients.csv").write_text(PATIENTS)
    (d / "activities.csv").write_text(
        "activity_id,patient_id,encounter_id,resource_id,step_code,start_ts,minutes,practitioner_id\n"
        "a-1,p-1,e-1,r-or,surgery,2024-03-01T08:00:00Z,95.5,pr-1\n"
        "a-2,p-1,e-1,r-or,surgery,2024-03-01T08:00:00Z,oops,pr-1\n"
        "a-1,p-1,e-1,r-or,surgery,2024-03-01T08:00:00Z,95.5,pr-1\n"
        "a-1,p-1,e-1,r-or,surgery,2024-03-01T08:00:00Z,12,pr-1\n"
        "a-3,p-1,e-1,r-or,surgery,2024-03-01T08:00:00Z,7,pr-1\n")
    with Store(tmp_path / "s.duckdb") as store:
        report = ingest([d], store)
        acts = store.con.execute("SELECT activity_id, minutes FROM activities ORDER BY 1").fetchall()
        quarantined = store.con.execute(
            "SELECT locator, record_id, reason FROM quarantine WHERE source LIKE '%activities.csv' "
            "ORDER BY locator").fetchall()
    assert acts == [("a-1", 95.5), ("a-3", 7.0)]
    assert quarantined == [("line 3", "a-2", "non-numeric value"),
                           ("line 5", "a-1", "duplicate id with different content")]
    f = next(f for f in report.files if f.source.endswith("activities.csv"))
    assert (f.read, f.stored, f.quarantined) == (5, 3, 2)  # the identical repeat counts as stored
