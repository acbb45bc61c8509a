"""Plausibility (issue 11 item 3): implausible dates are flagged with a reason and counted, never
lost; a record repeated with only a status change is one fact, resolved by meta.lastUpdated."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine.record_filter import counting
from carevalue.ingest.run import check_plausibility, ingest
from carevalue.ingest.store import Store

RULES = load().get("record-rules", "default")


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def enc(rid: str, pid: str, start: str, status: str = "finished", updated: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Encounter", "id": rid, "status": status,
                         "subject": {"reference": f"Patient/{pid}"}, "period": {"start": start}}
    if updated:
        r["meta"] = {"lastUpdated": updated}
    return r


def test_implausible_dates_are_flagged_counted_and_not_counted(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.ndjson", [
        {"resourceType": "Patient", "id": "future", "birthDate": "2099-01-01"},
        {"resourceType": "Patient", "id": "old", "birthDate": "1801-01-01"},
        {"resourceType": "Patient", "id": "dead", "birthDate": "1950-01-01", "deceasedDateTime": "2020-01-01"},
        {"resourceType": "Patient", "id": "ok", "birthDate": "1960-06-01"},
        enc("e-future", "future", "2019-01-01T00:00:00Z"),       # before birth, and the patient is implausible
        enc("e-before", "ok", "1960-05-01T00:00:00Z"),           # a month before birth
        enc("e-birth", "ok", "1960-06-01T08:00:00Z"),            # on the day of birth: plausible
        enc("e-death-59", "dead", "2020-02-29T00:00:00Z"),      # 59 days after death: plausible (DQD allows 60)
        enc("e-death-61", "dead", "2020-03-02T00:00:00Z"),      # 61 days after death
    ])
    with Store(tmp_path / "s.duckdb") as s:
        report = ingest([f], s)
        flags = s.con.execute("SELECT record_table, record_id, rule, detail FROM plausibility_flags "
                              "ORDER BY record_id, rule").fetchall()
    assert (report.files[0].read, report.files[0].stored, report.files[0].quarantined) == (9, 9, 0)
    assert report.implausible == {
        "birth date before 1850 (exclude)": 1, "birth date in the future (exclude)": 1,
        "event before birth (exclude)": 2, "event more than 60 days after death (exclude)": 1}
    assert [(t, i, r) for t, i, r, _ in flags] == [
        ("encounters", "e-before", "event-before-birth"),
        ("encounters", "e-death-61", "event-after-death"),
        ("encounters", "e-future", "event-before-birth"),
        ("patients", "future", "birth-date-in-future"),
        ("patients", "old", "birth-date-before-1850"),
    ]
    assert "encounter on 2020-03-02, died 2020-01-01" in dict(((i, d) for _, i, _, d in flags))["e-death-61"]
    con = connect(tmp_path / "s.duckdb")
    pts = set(counting(con, "patients", RULES).execute().patient_id)
    encs = set(counting(con, "encounters", RULES).execute().encounter_id)
    con.disconnect()
    assert pts == {"dead", "ok"}
    assert encs == {"e-birth", "e-death-59"}


def test_flags_are_re_derived_not_accumulated(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.ndjson", [{"resourceType": "Patient", "id": "p", "birthDate": "2030-01-01"}])
    with Store(tmp_path / "s.duckdb") as s:
        ingest([f], s)
        assert check_plausibility(s, as_of=date(2029, 12, 31)) == {"birth date in the future (exclude)": 1}
        assert check_plausibility(s, as_of=date(2030, 1, 1)) == {}
        assert s.count("plausibility_flags") == 0


def test_a_status_only_repeat_keeps_the_latest_version(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.ndjson", [
        {"resourceType": "Patient", "id": "p", "birthDate": "1960-01-01"},
        enc("e1", "p", "2022-01-01T09:00:00Z", "in-progress", "2022-01-01T09:05:00Z"),
        enc("e1", "p", "2022-01-01T09:00:00Z", "finished", "2022-01-01T11:00:00Z"),
        # Later in the file but an older version: it loses.
        enc("e2", "p", "2022-02-01T09:00:00Z", "finished", "2022-02-01T12:00:00Z"),
        enc("e2", "p", "2022-02-01T09:00:00Z", "entered-in-error", "2022-02-01T10:00:00Z"),
        # Without lastUpdated the conflict stays a conflict (quarantined, as before).
        enc("e3", "p", "2022-03-01T09:00:00Z", "in-progress"),
        enc("e3", "p", "2022-03-01T09:00:00Z", "finished"),
    ])
    with Store(tmp_path / "s.duckdb") as s:
        report = ingest([f], s)
        rows = dict(s.con.execute("SELECT encounter_id, status FROM encounters").fetchall())
        q = s.con.execute("SELECT locator, reason, detail, content IS NOT NULL FROM quarantine ORDER BY locator").fetchall()
    fr = report.files[0]
    assert (fr.read, fr.stored, fr.quarantined) == (7, 4, 3)  # read = stored + quarantined
    assert rows == {"e1": "finished", "e2": "finished", "e3": "in-progress"}
    assert [(loc, reason) for loc, reason, _, _ in q] == [
        ("line 2", "superseded by a later version"),
        ("line 5", "superseded by a later version"),
        ("line 7", "duplicate id with different content"),
    ]
    assert "replaced by the later version at line 3" in q[0][2]
    assert all(has for *_, has in q)  # each quarantined version keeps its raw text


def test_parallel_ingest_compiles_the_check_while_parsing_and_flags_the_same(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from carevalue.ingest import parallel

    (tmp_path / "in").mkdir()
    files = [_write(tmp_path / "in" / "Patient.000.ndjson", [
                 {"resourceType": "Patient", "id": "ok", "birthDate": "1960-06-01"},
                 {"resourceType": "Patient", "id": "future", "birthDate": "2099-01-01"}]),
             _write(tmp_path / "in" / "Encounter.000.ndjson", [enc("e-before", "ok", "1960-05-01T00:00:00Z")]),
             _write(tmp_path / "in" / "Encounter.001.ndjson", [enc("e-after", "ok", "1990-05-01T00:00:00Z")])]
    calls: list[int] = []
    real = parallel.parsed_in_order

    def spy(files, store, workers, while_parsing=None):  # type: ignore[no-untyped-def]
        assert while_parsing is not None

        def noted() -> None:
            calls.append(len(files))
            while_parsing()
        return real(files, store, workers, noted)

    flags = {}
    for workers in (1, 2):
        with Store(tmp_path / f"s{workers}.duckdb") as s:
            monkeypatch.setattr(parallel, "parsed_in_order", spy)
            report = ingest([files[0].parent], s, workers=workers)
            flags[workers] = (report.implausible, s.con.execute(
                "SELECT record_id, rule FROM plausibility_flags ORDER BY ALL").fetchall())
    assert calls == [3]  # once, in the parallel ingest only
    assert flags[1] == flags[2] == (
        {"birth date in the future (exclude)": 1, "event before birth (exclude)": 1},
        [("e-before", "event-before-birth"), ("future", "birth-date-in-future")])


def test_a_check_that_cannot_compile_fails_the_ingest_after_the_last_file(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from carevalue.ingest import plausibility

    (tmp_path / "in").mkdir()
    _write(tmp_path / "in" / "Patient.000.ndjson", [{"resourceType": "Patient", "id": "ok", "birthDate": "1960-06-01"}])
    _write(tmp_path / "in" / "Encounter.000.ndjson", [enc("e1", "ok", "1990-05-01T00:00:00Z")])
    calls: list[int] = []

    def broken(rules: Any, as_of: Any = None) -> str:
        calls.append(1)
        raise RuntimeError("rules content broken")

    monkeypatch.setattr(plausibility, "violations_sql", broken)
    with Store(tmp_path / "s.duckdb") as s:
        with pytest.raises(RuntimeError, match="rules content broken"):
            ingest([tmp_path / "in"], s, workers=2)
        files = s.con.execute("SELECT source, stored FROM ingest_files ORDER BY source").fetchall()
    assert len(calls) == 2  # tried while parsing, raised after the last file
    assert files == [("in/Encounter.000.ndjson", 1), ("in/Patient.000.ndjson", 1)]
