"""A Batch turns every ``chunk_rows`` rows of a table into Arrow while a file is parsed (bounded
memory for large files): whatever the chunk size, the rows stored, their order, the quarantine
entries and the version list are the ones an unchunked batch gives — duplicates, identical repeats
and superseded versions included, also when the earlier row is already in a chunk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_record_versions import enc as _encounter

import carevalue.ingest.csv_sources as csv_sources
from carevalue.ingest.batch import Batch, Reason
from carevalue.ingest.fhir import parse_ndjson

UNCHUNKED = 10**9


def _outcome(batch: Batch) -> tuple[Any, ...]:
    frozen = batch.freeze().frozen or {}
    return ({n: t.to_pylist() for n, t in frozen.items()}, batch.read, batch.quarantine_rows,
            sorted(batch.versions.items()))


def _parse_ndjson(path: Path, chunk_rows: int) -> tuple[Any, ...]:
    b = Batch(str(path), "fhir-ndjson", chunk_rows=chunk_rows)
    parse_ndjson(path, b, None)
    return _outcome(b)


records = st.lists(st.tuples(st.sampled_from(["e1", "e2", "e3", "e4"]),
                             st.sampled_from(["finished", "in-progress"]),
                             st.sampled_from([None, "2022-01-01T10:00:00Z", "2022-01-02T10:00:00Z"]),
                             st.sampled_from(["AMB", "IMP"])), min_size=1, max_size=14)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records)
def test_any_chunk_size_stores_and_quarantines_what_one_chunk_does(tmp_path: Path, recs: list[Any]) -> None:
    path = tmp_path / "Encounter.ndjson"
    lines = [{"resourceType": "Patient", "id": "p", "birthDate": "1960-01-01"}] + [_encounter(*r) for r in recs]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    want = _parse_ndjson(path, UNCHUNKED)
    for k in (1, 2, 3):
        assert _parse_ndjson(path, k) == want, k


def test_a_later_version_replaces_a_row_already_in_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "Encounter.ndjson"
    lines = [_encounter("e1", "in-progress", "2022-01-01T10:00:00Z", "AMB"),
             _encounter("e2", "finished", None, "AMB"),
             _encounter("e1", "finished", "2022-01-02T10:00:00Z", "AMB"),   # newer: replaces line 1
             _encounter("e2", "cancelled", None, "AMB"),                    # same id, other content
             _encounter("e2", "finished", None, "AMB")]                     # identical repeat
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    b = Batch(str(path), "fhir-ndjson", chunk_rows=1)
    parse_ndjson(path, b, None)
    assert b.rows["encounters"] == []  # every row went into a chunk at once
    enc = b.freeze().arrow("encounters").to_pylist()
    assert [(r["encounter_id"], r["status"], r["_locator"]) for r in enc] == [
        ("e2", "finished", "line 2"), ("e1", "finished", "line 3")]
    assert [(q[1], q[5]) for q in b.quarantine_rows] == [("line 1", Reason.SUPERSEDED), ("line 4", Reason.DUPLICATE)]


def test_csv_rows_in_chunks_keep_the_duplicate_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "activities.csv"
    head = "activity_id,patient_id,encounter_id,resource_id,step_code,start_ts,minutes,practitioner_id"
    body = ["a-1,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,95,pr-1", "a-2,p-1,e-1,r-1,s,2024-03-01T09:00:00Z,5,pr-1",
            "a-1,p-1,e-1,r-1,s,2024-03-01T08:00:00Z,95,pr-1",  # identical repeat of line 2
            "a-2,p-1,e-1,r-1,s,2024-03-01T09:00:00Z,6,pr-1",   # a-2 again, other minutes
            "a-3,p-1,e-2,r-1,s,2024-03-02,0,"]
    path.write_text("\n".join([head, *body]) + "\n")
    monkeypatch.setattr(csv_sources, "read_columnar", lambda *a: False)  # the record-by-record reader

    def parse(k: int) -> tuple[Any, ...]:
        b = Batch(str(path), "csv", chunk_rows=k)
        csv_sources.parse_csv(path, "activities", b)
        return _outcome(b)

    want = parse(UNCHUNKED)
    assert [r["activity_id"] for r in want[0]["activities"]] == ["a-1", "a-2", "a-3"]
    assert [q[5] for q in want[2]] == [Reason.DUPLICATE]
    assert parse(1) == want and parse(2) == want


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_rows"):
        Batch("x", "csv", chunk_rows=0)
