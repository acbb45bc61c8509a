"""The store: duplicates across files, records kept whole, idempotent re-runs, crash safety (kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from store_snapshot import snapshot

from carevalue.ingest.batch import Batch
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store
from carevalue.model import TABLES

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-03-04"}


def write_ndjson(path: Path, resources: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
    return path


def test_duplicate_across_files_identical_kept_once_different_quarantined(tmp_path: Path) -> None:
    a = write_ndjson(tmp_path / "a.ndjson", [PATIENT])
    b = write_ndjson(tmp_path / "b.ndjson", [PATIENT, PATIENT | {"id": "p2"}])
    c = write_ndjson(tmp_path / "c.ndjson", [PATIENT | {"gender": "male"}])
    with Store(":memory:") as store:
        rep = ingest([a, b, c], store)
        assert [(f.read, f.stored, f.quarantined) for f in rep.files] == [(1, 1, 0), (2, 2, 0), (1, 0, 1)]
        assert rep.files[2].reasons == {"duplicate id with different content": 1}
        assert store.con.execute("SELECT patient_id, source FROM patients ORDER BY 1").fetchall() == [
            ("p1", str(a)), ("p2", str(b))]


def test_record_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    """A claim whose header conflicts with a stored claim takes its lines with it into quarantine."""
    claim = {"resourceType": "Claim", "id": "cl1", "status": "active", "patient": {"reference": "Patient/p1"},
             "item": [{"sequence": 1, "net": {"value": 10.0}}, {"sequence": 2, "net": {"value": 5.0}}]}
    a = write_ndjson(tmp_path / "a.ndjson", [PATIENT, claim])
    b = write_ndjson(tmp_path / "b.ndjson", [claim | {"status": "cancelled", "item": [
        {"sequence": 1, "net": {"value": 10.0}}, {"sequence": 3, "net": {"value": 7.0}}]}])
    with Store(":memory:") as store:
        rep = ingest([a, b], store)
        assert (rep.files[1].stored, rep.files[1].quarantined) == (0, 1)
        assert store.con.execute("SELECT line_no FROM claim_lines ORDER BY 1").fetchall() == [(1,), (2,)]


def test_batch_row_builder_and_identical_repeat() -> None:
    batch = Batch("src", "test")
    row = batch.row("patients", patient_id="p1", sex="male")
    assert row[0] == "p1" and row[-1] == "src" and len(row) == len(TABLES[0].columns)
    assert batch.accept("line 1", [("patients", row)])
    assert batch.accept("line 2", [("patients", row)])  # identical repeat: not an error, stored once
    assert len(batch.columns["patients"][0]) == 1
    assert not batch.accept("line 3", [("patients", batch.row("patients", patient_id="p1", sex="female"))])
    assert batch.quarantine_rows[0][5] == "duplicate id with different content"


# ---------------------------------------------------------------- crash safety

def _population(folder: Path, patients: int = 600, files: int = 6) -> None:
    folder.mkdir()
    write_ndjson(folder / "Patient.000.ndjson", [PATIENT | {"id": f"p{i}"} for i in range(patients)])
    for f in range(files):
        rows = []
        for i in range(patients):
            for k in range(4):
                rows.append({"resourceType": "Observation", "id": f"o{f}-{i}-{k}", "status": "final",
                             "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                             "subject": {"reference": f"Patient/p{i}"}, "effectiveDateTime": f"2020-0{1 + k}-01",
                             "valueQuantity": {"value": 120 + k, "unit": "mm[Hg]"}})
        rows.append({"resourceType": "Observation", "id": f"bad{f}", "subject": {"reference": "Patient/x"}})
        write_ndjson(folder / f"Observation.{f:03d}.ndjson", rows)


_RUNNER = """
import sys
from pathlib import Path
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store
def on_file(src, i, n):
    print(i, flush=True)
with Store(sys.argv[1]) as store:
    ingest([Path(sys.argv[2])], store, on_file)
print("done", flush=True)
"""


def _killed_run(store: Path, data: Path, kill_at_file: int, extra_delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _RUNNER, str(store), str(data)], stdout=subprocess.PIPE,
                            text=True, env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert proc.stdout is not None
    for out in proc.stdout:
        if out.strip() == str(kill_at_file):
            time.sleep(extra_delay)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_mid_ingest_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _population(data)
    with Store(tmp_path / "clean.duckdb") as clean:
        ingest([data], clean)
        expected = snapshot(clean)
    assert len(expected["observations"]) == 6 * 600 * 4 and len(expected["quarantine"]) == 6

    crashed = tmp_path / "crashed.duckdb"
    _killed_run(crashed, data, kill_at_file=3, extra_delay=0.0)  # killed while file 3 is parsed
    with Store(crashed) as store:
        done = store.count("ingest_files")
        assert 1 <= done < 7, "the kill must land mid-ingest"
        # whatever was committed is complete per file
        for src, read, stored, quarantined in store.con.execute(
                "SELECT source, read, stored, quarantined FROM ingest_files").fetchall():
            assert read == stored + quarantined, src
    _killed_run(crashed, data, kill_at_file=1, extra_delay=0.3)  # a second crash, while replacing files
    with Store(crashed) as store:
        ingest([data], store)
        assert snapshot(store) == expected
