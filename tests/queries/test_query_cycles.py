"""patient_cycles: one patient's cycles oldest first, each with its events, names beside ids."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load_library
from carevalue.queries.base import QueryError
from carevalue.queries.cycles import patient_cycles


@pytest.fixture(scope="module")
def con():  # type: ignore[no-untyped-def]
    c = ibis.duckdb.connect()
    ts = pd.to_datetime
    c.create_table("patients", pd.DataFrame({"patient_id": ["p1", "p2"]}))
    c.create_table("organizations", pd.DataFrame({"organization_id": ["h1"], "name": ["Riverside Hospital"]}))
    c.create_table("care_cycles", pd.DataFrame({
        "cycle_id": ["k2", "k1", "x"], "patient_id": ["p1", "p1", "p3"],
        "condition": ["type-2-diabetes", "hip-osteoarthritis", "migraine"],
        "cycle_type": ["chronic", "acute", "chronic"],
        "start_ts": ts(["2024-01-01", "2023-05-01", "2024-01-01"]), "end_ts": ts(["2024-12-31", "2024-05-01", "2024-12-31"]),
        "index_ts": ts(["2024-01-01", "2023-11-01", "2024-01-01"]), "trigger_table": ["conditions", "procedures", "conditions"],
        "trigger_id": ["c1", "pr1", "c9"], "organization_id": ["h1", None, "h1"], "ipu_id": pd.Series([None, None, None], dtype="string"),
        "period_label": ["2024", "", "2024"]}))
    c.create_table("cycle_events", pd.DataFrame({
        "cycle_id": ["k1", "k1", "k2"], "patient_id": ["p1", "p1", "p1"],
        "event_ts": ts(["2023-11-01 08:00", "2023-05-02 08:00", "2024-02-01 08:00"]), "phase": ["intervening", "diagnosing", "monitoring-managing"],
        "event_table": ["procedures", "encounters", "encounters"], "event_id": ["pr1", "e1", "e2"],
        "encounter_id": ["e5", "e1", "e2"], "organization_id": ["h1", "h1", None],
        "practitioner_id": [None, "dr1", None], "cost_bearing": [True, True, False]}))
    return c


def test_cycles_oldest_first_with_their_events(con) -> None:  # type: ignore[no-untyped-def]
    rows = patient_cycles(con, load_library(), patient="p1")
    assert [r["cycle_id"] for r in rows] == ["k1", "k2"]
    hip = rows[0]
    assert hip["condition_name"].startswith("Osteoarthritis of the hip") and hip["facility"] is None
    assert hip["start_ts"] == "2023-05-01T00:00:00"
    assert [(e["event_table"], e["phase"]) for e in hip["events"]] == [("encounters", "diagnosing"),
                                                                         ("procedures", "intervening")]
    assert hip["events"][1]["facility"] == "Riverside Hospital"
    assert rows[1]["events"][0]["cost_bearing"] is False and rows[1]["facility"] == "Riverside Hospital"


def test_a_known_patient_without_cycles_has_none(con) -> None:  # type: ignore[no-untyped-def]
    assert patient_cycles(con, load_library(), patient="p2") == []


def test_an_unknown_patient_says_how_to_find_ids(con) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match="no patient 'p3'.*carevalue list patients"):
        patient_cycles(con, load_library(), patient="p3")  # has a cycle row but is not in patients
