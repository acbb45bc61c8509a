"""Parsing files in worker processes stores exactly what a serial ingest stores, bad records included,
and a kill -9 of a parallel ingest leaves the store as complete files only."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from store_snapshot import snapshot

from carevalue.ingest import file_parts
from carevalue.ingest.run import ingest
from carevalue.ingest.sources import SourceFile
from carevalue.ingest.store import Store

NPI = "http://hl7.org/fhir/sid/us-npi"


def _patient(i: int, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": f"p{i}", "gender": "female", "birthDate": "1950-03-04",
            "identifier": [{"system": "https://example.org/mrn", "value": f"mrn-{i}"}], **more}


def _encounter(i: int, patient: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": f"e{i}", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"individual": {"reference": f"Practitioner?identifier={NPI}|999{i % 3}"}}],
            "period": {"start": f"2020-01-{1 + i % 28:02d}T10:00:00+01:00", "end": f"2020-01-{1 + i % 28:02d}T11:00:00+01:00"},
            **more}


def _observation(i: int, patient: str, updated: str | None = None, value: float = 7.1, **more: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation", "id": f"o{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2020-01-01T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}, **more}
    if updated:
        r["meta"] = {"lastUpdated": updated}
    return r


def _lines(path: Path, items: list[Any]) -> None:
    data = b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in items)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def _test_bed(folder: Path) -> None:
    """Files in dependency order whose later files resolve identifiers stored by earlier ones, with
    every kind of bad record: malformed lines, wrong resource types, dangling references,
    duplicates within and across files, versions across files."""
    folder.mkdir()
    _lines(folder / "Practitioner.000.ndjson", [
        {"resourceType": "Practitioner", "id": f"pr{k}", "identifier": [{"system": NPI, "value": f"999{k}"}]}
        for k in range(3)])
    patients = [_patient(i) for i in range(40)]
    _lines(folder / "Patient.000.ndjson", [
        *patients, patients[3],  # an identical repeat: stored once
        _patient(4, gender="male"),  # same id, other content: quarantined
        b'{"resourceType": "Patient", "id": ',  # malformed JSON
        b"", b"   ",  # blank lines: not records
        {"resourceType": 5, "id": "x"}, {"resourceType": "MedicationOrder", "id": "old"},
        {"resourceType": "Patient"}, ["not", "an", "object"], b"\x00\x01binary",
        _patient(41, gender="robot"), _patient(42, birthDate="1950-13-45"),
    ])
    _lines(folder / "Encounter.000.ndjson.gz", [
        *[_encounter(i, f"p{i % 40}") for i in range(120)],
        _encounter(500, "nobody"),  # dangling: the patient is not stored
        _encounter(3, "p3"),  # identical repeat
        _encounter(4, "p5"),  # same id, other content
        _encounter(501, "p1", period={"end": "2020-01-01"}),  # missing period.start
        _encounter(502, "p1", **{"class": [{"code": "AMB"}]}),  # R5 shape
        _encounter(503, "p1", subject={"reference": "Group/g1"}),
    ])
    _lines(folder / "Observation.000.ndjson", [
        *[_observation(i, f"p{i % 40}", "2021-01-01T00:00:00Z") for i in range(60)],
        _observation(600, "p1", valueQuantity={"value": 1, "system": "http://unitsofmeasure.org"}),
        _observation(601, "p1", valueQuantity={"value": "7", "unit": "%"}),
        {"resourceType": "Questionnaire", "id": "q-in-obs-file", "status": "active"},  # other type in the file
        {"resourceType": "Basic", "id": "b1", "subject": {"reference": "Patient/p2"}},  # kept raw
    ])
    _lines(folder / "Observation.001.ndjson", [
        *[_observation(i, f"p{i % 40}", "2022-01-01T00:00:00Z", value=8.2) for i in range(0, 60, 2)],  # later
        *[_observation(i, f"p{i % 40}", "2020-01-01T00:00:00Z", value=6.0) for i in range(1, 60, 4)],  # older
        _observation(700, "p0"), _observation(700, "p0", value=9.9),  # within-file conflict, no versions
    ])
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:b-p", "resource": _patient(90) | {"id": None}},
        {"fullUrl": "urn:uuid:b-e", "resource": _encounter(90, "x") | {"subject": {"reference": "urn:uuid:b-p"}}},
        {"request": {"method": "DELETE", "url": "Patient/p9"}},
    ]}
    bundle["entry"][0]["resource"].pop("id")  # type: ignore[index]
    (folder / "bundle.json").write_bytes(orjson.dumps(bundle))


def test_parallel_ingest_stores_what_serial_ingest_stores(tmp_path: Path) -> None:
    data = tmp_path / "bed"
    _test_bed(data)
    with Store(tmp_path / "serial.duckdb") as serial, Store(tmp_path / "parallel.duckdb") as par:
        rep_s = ingest([data], serial, workers=1)
        rep_p = ingest([data], par, workers=2)
        assert [f.as_json() for f in rep_p.files] == [f.as_json() for f in rep_s.files]
        assert snapshot(par) == snapshot(serial)
        # the bed exercised what it is for
        reasons = {r for f in rep_p.files for r in f.reasons}
        assert {"malformed JSON", "dangling reference", "duplicate id with different content",
                "invalid resourceType", "unsupported FHIR version", "missing id", "not a JSON object",
                "binary or non-UTF-8 content", "superseded by a later version", "unknown unit",
                "non-numeric value", "invalid gender", "unparseable date", "missing required field",
                "invalid reference", "bundle entry without resource"} <= reasons
        assert all(f.read == f.stored + f.quarantined for f in rep_p.files)
        # encounters were parsed before the practitioners were stored, and still resolve to them
        assert par.con.execute("SELECT DISTINCT practitioner_id FROM encounters ORDER BY 1").fetchall() == [
            ("pr0",), ("pr1",), ("pr2",)]
        # re-running in parallel is idempotent, and reports what a serial re-run reports
        again_s = ingest([data], serial, workers=1)
        again_p = ingest([data], par, workers=2)
        assert [f.as_json() for f in again_p.files] == [f.as_json() for f in again_s.files]
        assert snapshot(par) == snapshot(serial)


def test_parallel_ingest_of_files_in_parts_stores_what_serial_ingest_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every NDJSON file of the bed cut into parts (some join, some meet a duplicate and are parsed
    whole): the same store and reports as a serial ingest."""
    monkeypatch.setattr(file_parts, "PART_MIN_BYTES", 256)
    data = tmp_path / "bed"
    _test_bed(data)
    cut = {f.name: len(file_parts.spans(SourceFile(f, f.name, "fhir-ndjson", ""), 3))
           for f in data.glob("*.ndjson")}
    assert cut["Patient.000.ndjson"] == cut["Observation.000.ndjson"] == cut["Observation.001.ndjson"] == 3, cut
    with Store(tmp_path / "serial.duckdb") as serial, Store(tmp_path / "parallel.duckdb") as par:
        rep_s = ingest([data], serial, workers=1)
        rep_p = ingest([data], par, workers=3)
        assert [f.as_json() for f in rep_p.files] == [f.as_json() for f in rep_s.files]
        assert snapshot(par) == snapshot(serial)


def _running(pid: str) -> bool:
    """Whether a process is still running (a zombie waiting to be reaped is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


_RUNNER = """
import sys
from pathlib import Path
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store
def on_file(src, i, n):
    print(i, flush=True)
with Store(sys.argv[1]) as store:
    ingest([Path(sys.argv[2])], store, on_file, workers=2)
print("done", flush=True)
"""


def test_kill_9_of_a_parallel_ingest_keeps_complete_files_and_rerun_equals_clean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _lines(data / "Patient.000.ndjson", [_patient(i) for i in range(300)])
    for f in range(5):
        _lines(data / f"Observation.{f:03d}.ndjson",
               [_observation(f * 10_000 + i, f"p{i % 300}") for i in range(3000)] + [_observation(f, "nobody")])
    with Store(tmp_path / "clean.duckdb") as clean:
        ingest([data], clean, workers=1)
        expected = snapshot(clean)
    crashed = tmp_path / "crashed.duckdb"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", _RUNNER, str(crashed), str(data)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    for out in proc.stdout:
        if out.strip() == "3":
            time.sleep(0.05)
            break
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert workers, "the ingest runs worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(map(_running, workers)), "workers end with their ingest"
    with Store(crashed) as store:
        done = store.count("ingest_files")
        assert 1 <= done < 6, "the kill must land mid-ingest"
        for src, read, stored, quarantined in store.con.execute(
                "SELECT source, read, stored, quarantined FROM ingest_files").fetchall():
            assert read == stored + quarantined, src
            row = store.con.execute("SELECT count(*) FROM observations WHERE source = ?", [src]).fetchone()
            assert row is not None and row[0] in (0, 3000), src
        ingest([data], store, workers=2)
        assert snapshot(store) == expected
