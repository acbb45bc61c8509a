"""segment_counts: living patients per segment on a date (default the data's last), small cells hidden."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load_library
from carevalue.queries.base import QueryError
from carevalue.queries.segments import segment_counts


@pytest.fixture(scope="module")
def con():  # type: ignore[no-untyped-def]
    """30 chronic, 25 at-risk, 12 healthy, 3 complex on 2024-06-30; one more chronic patient died on
    2024-03-01; the at-risk patients were healthy until they moved on 2024-01-01."""
    people = [(f"c{i}", "chronic") for i in range(30)] + [(f"a{i}", "at-risk") for i in range(25)] + \
        [(f"h{i}", "healthy") for i in range(12)] + [(f"x{i}", "complex") for i in range(3)] + [("dead", "chronic")]
    c = ibis.duckdb.connect()
    c.create_table("patients", pd.DataFrame({
        "patient_id": [p for p, _ in people],
        "death_date": [pd.NaT] * (len(people) - 1) + [pd.Timestamp("2024-03-01")]}).astype({"death_date": "datetime64[s]"}))
    c.create_table("encounters", pd.DataFrame({"encounter_id": ["e1", "e2"], "patient_id": ["c0", "c1"],
                                               "start_ts": pd.to_datetime(["2023-01-05 09:00", "2024-06-30 10:00"])}))
    seg = [(p, s, date(2020, 1, 1), None) for p, s in people if s != "at-risk"]
    seg += [(p, "healthy", date(2020, 1, 1), date(2024, 1, 1)) for p, s in people if s == "at-risk"]
    seg += [(p, "at-risk", date(2024, 1, 1), None) for p, s in people if s == "at-risk"]
    c.create_table("segments", pd.DataFrame(seg, columns=["patient_id", "segment", "valid_from", "valid_to"]))
    c.create_table("segment_transitions", pd.DataFrame(
        [(p, "healthy", "at-risk", date(2024, 1, 1)) for p, s in people if s == "at-risk"],
        columns=["patient_id", "from_segment", "to_segment", "transition_date"]))
    return c


def _by(rows):  # type: ignore[no-untyped-def]
    return {r["segment"]: r for r in rows}


def test_default_date_is_the_last_encounter_and_small_cells_are_hidden(con) -> None:  # type: ignore[no-untyped-def]
    rows = segment_counts(con, load_library())
    assert {r["as_of"] for r in rows} == {"2024-06-30"}
    by = _by(rows)
    # the dead patient is not counted: 30 chronic alive on the day; 25 at-risk, all 25 moved in
    assert (by["chronic"]["patients"], by["chronic"]["suppressed"]) == (30, False)
    assert (by["at-risk"]["patients"], by["at-risk"]["patients_moved_in"]) == (25, 25)
    # complex 3 < 11 is hidden; the segments add up to the panel, so the next-smallest (healthy 12) too
    assert (by["complex"]["patients"], by["complex"]["suppressed"]) == ("<11", True)
    assert (by["healthy"]["patients"], by["healthy"]["suppressed"]) == ("<11", True)
    # every segment of the library is listed, empty ones as 0, in priority order, with names
    assert by["rare-condition"]["patients"] == 0 and by["complex"]["name"] == "Complex"
    assert [r["segment"] for r in rows][-1] == "healthy"


def test_on_a_date_before_the_moves(con) -> None:  # type: ignore[no-untyped-def]
    by = _by(segment_counts(con, load_library(), on="2023-06-30"))
    # before 2024-01-01: 37 healthy (25 future at-risk + 12); nobody at risk or moved in yet
    assert (by["healthy"]["patients"], by["at-risk"]["patients"], by["at-risk"]["patients_moved_in"]) == (37, 0, 0)
    # complex 3 hidden; the smallest other non-empty segment, chronic 31 (the dead one alive then), too
    assert by["complex"]["suppressed"] and by["chronic"]["suppressed"] and by["chronic"]["patients"] == "<11"


@pytest.mark.parametrize("bad", ["2024-13-45", "yesterday", "31/12/2024"])
def test_a_bad_date_is_a_query_error(con, bad: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match="not a date"):
        segment_counts(con, load_library(), on=bad)
