"""The column-wise (Arrow) reader of plain costing CSVs gives exactly what the record-by-record reader
gives: same rows, types, line locators and quarantine entries; files it cannot read exactly go
to the record-by-record reader."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import carevalue.ingest.csv_sources as csv_sources
from carevalue.ingest.batch import Batch
from carevalue.ingest.costing_csv import ACTIVITIES, ONE_ROW_KINDS
from carevalue.ingest.csv_columnar import read_columnar

HEADER = "activity_id,patient_id,encounter_id,resource_id,step_code,start_ts,minutes,practitioner_id"


def _parse(path: Path, kind: str, columnar: bool, monkeypatch: pytest.MonkeyPatch) -> Batch:
    with monkeypatch.context() as m:
        if not columnar:
            m.setattr(csv_sources, "read_columnar", lambda *a: False)
        b = Batch(str(path), "csv")
        csv_sources.parse_csv(path, kind, b)
        return b.freeze()


def _same(path: Path, kind: str, monkeypatch: pytest.MonkeyPatch) -> Batch:
    """Parse both ways and check the outcomes are identical; return the columnar one."""
    a, b = _parse(path, kind, True, monkeypatch), _parse(path, kind, False, monkeypatch)
    assert a.read == b.read
    assert sorted(a.quarantine_rows, key=repr) == sorted(b.quarantine_rows, key=repr)
    assert set(a.frozen or {}) == set(b.frozen or {})
    for name, t in (b.frozen or {}).items():
        assert (a.frozen or {})[name].to_pylist() == t.to_pylist()
    return a


def _header_of(path: Path) -> list[str]:
    with path.open() as fh:
        return [h.strip() for h in fh.readline().split(",")]


def test_plain_file_is_read_columnwise_with_line_locators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "activities.000.csv"
    p.write_text(f"{HEADER}\na-1,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,95.5,pr-1\n"
                 'a-2,p-1,"",r-1,s,2024-03-01T08:00:00+01:00,120,""\na-3,p-1,e-2,r-1,s,2024-03-02,0,\n')
    b = Batch("x", "csv")
    assert read_columnar(p, ACTIVITIES, _header_of(p), b, 100)
    rows = b.arrow("activities").to_pylist()
    assert [(r["activity_id"], r["encounter_id"], r["start_ts"], r["minutes"], r["practitioner_id"], r["_locator"])
            for r in rows] == [
        ("a-1", "e-1", datetime(2024, 3, 1, 8), 95.5, "pr-1", "line 2"),
        ("a-2", None, datetime(2024, 3, 1, 7), 120.0, None, "line 3"),  # +01:00 -> UTC
        ("a-3", "e-2", datetime(2024, 3, 2), 0.0, None, "line 4")]
    _same(p, "activities", monkeypatch)


def test_bad_rows_keep_their_reason_and_line_among_columnar_rows(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "activities.000.csv"
    p.write_text(f"{HEADER}\na-1,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,10,\n"
                 "a-2,p-1,e-1,r-1,s,2024-02-30T08:00:00Z,10,\n"     # no such day
                 "a-3,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,-1,\n"      # negative minutes
                 "a-4,,e-1,r-1,s,2024-03-01T08:00:00Z,1,\n"           # no patient
                 "a-1,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,10,\n"      # identical repeat: stored once
                 "a-5,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,1_5,\n"     # Python's float() reads 15
                 "a-6,p-1,e-1,r-1,s, 2024-03-01 08:00 ,2,\n"         # space separator, padded
                 "a-7,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,1e999,\n"   # not finite
                 "a-6,p-1,e-1,r-2,s,2024-03-01T08:00:00Z,2,\n")      # same id, other content
    b = _same(p, "activities", monkeypatch)
    got = {r["activity_id"]: (r["minutes"], r["start_ts"], r["_locator"]) for r in b.arrow("activities").to_pylist()}
    assert got == {"a-1": (10.0, datetime(2024, 3, 1, 8), "line 2"), "a-5": (15.0, datetime(2024, 3, 1, 8), "line 7"),
                   "a-6": (2.0, datetime(2024, 3, 1, 8), "line 8")}
    assert [r["_locator"] for r in b.arrow("activities").to_pylist()] == ["line 2", "line 7", "line 8"]
    reasons = {q[1]: q[5] for q in b.quarantine_rows}
    assert reasons == {"line 3": "unparseable date", "line 4": "negative quantity", "line 5": "missing required field",
                       "line 9": "non-numeric value", "line 10": "duplicate id with different content"}


@pytest.mark.parametrize("content", [
    f'{HEADER}\na-1,p-1,e-1,r-1,"step, with comma",2024-03-01,1,\n',   # a quoted value
    f'{HEADER}\na-1,p-1,e-1,r-1,"two\nlines",2024-03-01,1,\n',           # a line break in a value
    f"{HEADER}\na-1,p-1,e-1,r-1,s,2024-03-01,1,\n\na-2,p-1,e-1,r-1,s,2024-03-01,1,\n",  # blank line
    f"{HEADER}\na-1,p-1,e-1,r-1,séance,2024-03-01,1,\n",                 # not ASCII
    f"{HEADER}\na-1,p-1,e-1,r-1,s,2024-03-01,1\n",                       # a field short
    f"{HEADER}\na-1,p-1,e-1,r-1,s\x1f,2024-03-01,1,\n",                  # a separator str.strip() removes
    f'{HEADER}\na-1,p-1,e-1,r-1,s"x,2024-03-01,1,\n',                    # a stray quote
    "activity_id,patient_id,encounter_id,step_code,start_ts,minutes\na-1,p-1,e-1,s,2024-03-01,1\n",  # no resource_id
])
def test_files_it_cannot_read_exactly_go_record_by_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          content: str) -> None:
    p = tmp_path / "activities.000.csv"
    p.write_text(content)
    assert not read_columnar(p, ACTIVITIES, _header_of(p), Batch("x", "csv"), 100)
    _same(p, "activities", monkeypatch)


def test_crlf_bom_and_gzip_are_read_columnwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = ("\ufeffresource_id,name,resource_type,role,organization_id,annual_cost,practical_capacity_minutes\r\n"
            "r-1,Surgeon,Person,surgeon,o-1,600000,84000\r\nr-2,Robot,robot,,o-1,1,1\r\nr-3,Nurse,person,,o-1,1,0\r\n")
    p = tmp_path / "resources.csv.gz"
    with gzip.open(p, "wt", newline="") as fh:
        fh.write(text)
    header = [h.strip() for h in text.removeprefix("\ufeff").split("\r\n")[0].split(",")]
    assert read_columnar(p, ONE_ROW_KINDS["resources"], header, Batch("x", "csv"), 100)
    b = _same(p, "resources", monkeypatch)
    assert [(r["resource_id"], r["resource_type"]) for r in b.arrow("resources").to_pylist()] == [("r-1", "person")]
    assert {q[1]: q[5] for q in b.quarantine_rows} == {"line 3": "invalid code", "line 4": "value must be positive"}


_VALUES = {
    "id": st.sampled_from(["a-1", "a-2", "a-3", " a-1", "a-2 ", "", '""']),
    "text": st.sampled_from(["p-1", "", '""', " p-2", "x y", "P-1\t"]),
    "ts": st.sampled_from(["2024-03-01T08:00:00Z", "2024-03-01", "2024-03-01T08:00:00.25+05:30", "2024-02-30",
                           "2024-03-01T24:00:00", "2024-03-01 08:00", "20240301", "", "soon", " 2024-03-01 ",
                           "2024-03-01T08:00:00.1234567"]),
    "num": st.sampled_from(["1", "0", "-0", "-1", "1.5", ".5", "5.", "1e3", "+2", "1_0", "inf", "nan", "", "x",
                            " 3 ", "1e999", "0x10"]),
}
_ROW = st.tuples(_VALUES["id"], _VALUES["text"], _VALUES["text"], _VALUES["text"], _VALUES["text"], _VALUES["ts"],
                 _VALUES["num"], _VALUES["text"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=0, max_size=12), crlf=st.booleans())
def test_columnar_and_record_readers_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           rows: list[tuple[str, ...]], crlf: bool) -> None:
    """Property: on any mix of clean and dirty values both readers store and quarantine the same."""
    end = "\r\n" if crlf else "\n"
    p = tmp_path / "activities.000.csv"
    p.write_bytes((end.join([HEADER, *(",".join(r) for r in rows)]) + end).encode())
    _same(p, "activities", monkeypatch)


def test_a_batch_holds_a_table_either_as_arrow_or_record_by_record(tmp_path: Path) -> None:
    """One table of a batch comes from one reader: Arrow rows after records, or records after
    Arrow rows, are refused rather than silently mixed."""
    from carevalue.ingest.batch import arrow_schema
    empty = arrow_schema(ACTIVITIES.table, ("_locator",)).empty_table()
    b = Batch("x.csv", "csv")
    b.add_arrow(ACTIVITIES.table, empty)
    with pytest.raises(ValueError, match="already holds"):
        b.row(ACTIVITIES.table, activity_id="a1")
    with pytest.raises(ValueError, match="already holds"):
        b.add_arrow(ACTIVITIES.table, empty)
    c = Batch("y.csv", "csv")
    c.accept("line 2", [(ACTIVITIES.table, c.row(ACTIVITIES.table, activity_id="a1"))])
    with pytest.raises(ValueError, match="already holds"):
        c.add_arrow(ACTIVITIES.table, empty)
