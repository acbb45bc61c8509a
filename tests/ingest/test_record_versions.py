"""Versions of one record in different files (issue 11 item 3): meta.lastUpdated decides which is
stored, a tie goes to the later ingest, every version is listed in record_versions and the losing
one is quarantined (nothing lost), and re-ingesting changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def enc(rid: str, status: str, updated: str | None, cls: str = "AMB") -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Encounter", "id": rid, "status": status,
                         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": cls},
                         "subject": {"reference": "Patient/p"}, "period": {"start": "2022-01-01T09:00:00Z"}}
    if updated:
        r["meta"] = {"lastUpdated": updated}
    return r


PATIENT = {"resourceType": "Patient", "id": "p", "birthDate": "1960-01-01"}


def _files(tmp: Path) -> tuple[Path, Path]:
    a = _write(tmp / "a.ndjson", [
        PATIENT,
        enc("e1", "in-progress", "2022-01-01T10:00:00Z"),   # superseded by b's e1 (12:00)
        enc("e2", "finished", "2022-01-05T10:00:00Z"),      # later than b's e2 (09:00): a keeps it
        enc("e3", "in-progress", "2022-01-03T10:00:00Z"),   # same lastUpdated as b's: the later ingest (b) wins
        enc("e4", "in-progress", None),                     # no lastUpdated: stays a conflict
        enc("e5", "finished", "2022-01-01T10:00:00Z"),      # identical in b: one fact, a keeps it
    ])
    b = _write(tmp / "b.ndjson", [
        enc("e1", "finished", "2022-01-01T12:00:00+00:00"),
        enc("e2", "entered-in-error", "2022-01-05T09:00:00Z"),
        enc("e3", "finished", "2022-01-03T10:00:00Z"),
        enc("e4", "finished", "2022-01-04T10:00:00Z"),
        enc("e5", "finished", "2022-01-01T10:00:00Z"),
    ])
    return a, b


def _state(s: Store) -> dict[str, list[tuple[Any, ...]]]:
    q = {
        "encounters": "SELECT encounter_id, status, source FROM encounters ORDER BY 1",
        "quarantine": "SELECT source, locator, record_id, reason, detail, content IS NOT NULL FROM quarantine ORDER BY 1, 2",
        "versions": "SELECT table_name, record_id, source, locator, last_updated, ingest_seq, \"current\", why "
                    "FROM record_versions ORDER BY 1, 2, 3",
        "files": "SELECT source, read, stored, quarantined FROM ingest_files ORDER BY 1",
    }
    return {k: s.con.execute(v).fetchall() for k, v in q.items()}


def _name(src: str) -> str:
    return src.rsplit("/", 1)[-1]


def test_the_latest_version_across_files_is_stored(tmp_path: Path) -> None:
    a, b = _files(tmp_path)
    with Store(tmp_path / "s.duckdb") as s:
        ingest([a], s)
        ingest([b], s)
        st = _state(s)
    enc_rows = {e: (status, _name(src)) for e, status, src in st["encounters"]}
    assert enc_rows == {
        "e1": ("finished", "b.ndjson"),      # 12:00 beats 10:00
        "e2": ("finished", "a.ndjson"),      # b's 09:00 is older
        "e3": ("finished", "b.ndjson"),      # tie: the later ingest
        "e4": ("in-progress", "a.ndjson"),   # a has no lastUpdated: b's version is a conflict
        "e5": ("finished", "a.ndjson"),
    }
    q = {(_name(src), rid): (reason, detail, has) for src, _, rid, reason, detail, has in st["quarantine"]}
    assert set(q) == {("a.ndjson", "e1"), ("a.ndjson", "e3"), ("b.ndjson", "e2"), ("b.ndjson", "e4")}
    assert q[("a.ndjson", "e1")][0] == "superseded by a later version"
    assert "superseded by the version in" in q[("a.ndjson", "e1")][1]
    assert "the later ingest wins" in q[("a.ndjson", "e3")][1]
    assert q[("b.ndjson", "e2")][0] == "superseded by a later version"
    assert q[("b.ndjson", "e4")][0] == "duplicate id with different content"
    assert all(has for _, _, has in q.values())  # every losing version is kept with its content
    # The stored version keeps its rows as JSON in quarantine: nothing lost.
    # read = stored + quarantined per file, including the file that lost e1 and e3 afterwards.
    files = {_name(src): (r, st_, qu) for src, r, st_, qu in st["files"]}
    assert files == {"a.ndjson": (6, 4, 2), "b.ndjson": (5, 3, 2)}
    cur = {(rid, _name(src)): (current, why) for _, rid, src, _, _, _, current, why in st["versions"]}
    assert {k for k, (c, _) in cur.items() if c} == {("e1", "b.ndjson"), ("e2", "a.ndjson"),
                                                     ("e3", "b.ndjson"), ("e5", "a.ndjson")}
    assert len(cur) == 9  # every version carrying lastUpdated (a: e1, e2, e3, e5; b: all five)
    assert cur[("e4", "b.ndjson")] == (False, "quarantined: duplicate id with different content")
    assert cur[("e5", "b.ndjson")][1].startswith("same content as the current version in")


def test_order_of_ingest_does_not_change_the_facts_except_ties(tmp_path: Path) -> None:
    a, b = _files(tmp_path)
    p = _write(tmp_path / "p.ndjson", [PATIENT])
    with Store(tmp_path / "s.duckdb") as s:
        ingest([p], s)
        ingest([b], s)
        ingest([a], s)
        rows = {e: (status, _name(src)) for e, status, src in _state(s)["encounters"]}
    assert rows["e1"] == ("finished", "b.ndjson")
    assert rows["e2"] == ("finished", "a.ndjson")
    assert rows["e3"] == ("in-progress", "a.ndjson")   # the tie now goes to a, ingested later


def test_re_ingest_is_idempotent(tmp_path: Path) -> None:
    a, b = _files(tmp_path)
    with Store(tmp_path / "s.duckdb") as s:
        ingest([a, b], s)
        first = _state(s)
        ingest([a, b], s)
        assert _state(s) == first
        ingest([b], s)
        assert _state(s) == first
        ingest([a], s)
        assert _state(s) == first
