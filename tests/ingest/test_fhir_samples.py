"""The real FHIR samples in ../shared/data/fhir ingest with read = stored + quarantined per file.

Expected counts come from the files themselves (`wc -l` of each NDJSON file; `len(entry)` of each
Bundle), so a record the ingest loses or double-counts fails the test.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from carevalue.ingest.run import IngestReport, ingest
from carevalue.ingest.store import Store

# The one record of the samples that is quarantined, and why: Synthea wrote a mean blood pressure
# as {"value": 73.443, "system": "http://unitsofmeasure.org"} -- a number with a UCUM system but
# no unit code, so nothing says what it measures in.
EXPLAINED = {
    ("bundles-mcode-r4/Soledad678_Samaniego616_59f5d5c6-a050-ba8f-a869-9cb8afe0d0ba.json.gz", "entry 87",
     "unknown unit"),
}


def _records_in(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        if ".ndjson" in path.name:
            return sum(1 for ln in fh if ln.strip())
        return len(json.load(fh)["entry"])


@pytest.fixture(scope="module")
def ingested(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[IngestReport, Path, Path]:
    fhir = shared_data / "fhir"
    store_path = tmp_path_factory.mktemp("fhir") / "s.duckdb"
    with Store(store_path) as store:
        report = ingest([fhir / "bulk-ndjson-smart-10pt", fhir / "bundles-mcode-r4"], store)
    return report, store_path, fhir


def test_every_file_reconciles(ingested: tuple[IngestReport, Path, Path]) -> None:
    report, _, fhir = ingested
    assert len(report.files) == 13 + 28
    for f in report.files:
        assert f.read == f.stored + f.quarantined, f.source
        assert f.read == _records_in(fhir / f.source), f.source
        assert f.read > 0


def test_quarantine_is_only_the_explained_entries(ingested: tuple[IngestReport, Path, Path]) -> None:
    _, store_path, _ = ingested
    with Store(store_path) as store:
        rows = set(store.con.execute("SELECT source, locator, reason FROM quarantine").fetchall())
    assert rows == EXPLAINED


def test_export_log_and_licence_are_reported_as_skipped(ingested: tuple[IngestReport, Path, Path]) -> None:
    report, _, _ = ingested
    skipped = dict(report.skipped)
    assert "bulk-export log" in skipped["bulk-ndjson-smart-10pt/log.ndjson"]
    assert "not a data file" in skipped["bulk-ndjson-smart-10pt/LICENSE.head"]


def test_conditional_and_logical_references_resolve_to_stored_ids(ingested: tuple[IngestReport, Path, Path]) -> None:
    _, store_path, _ = ingested
    with Store(store_path) as store:
        con = store.con
        # Bulk set: Practitioner?identifier=<npi>, Organization?identifier=..., Location?identifier=...
        unresolved = con.execute("""
            SELECT count(*) FILTER (WHERE p.practitioner_id IS NULL),
                   count(*) FILTER (WHERE o.organization_id IS NULL),
                   count(*) FILTER (WHERE l.location_id IS NULL), count(*)
            FROM encounters e
            LEFT JOIN practitioners p ON p.practitioner_id = e.practitioner_id
            LEFT JOIN organizations o ON o.organization_id = e.organization_id
            LEFT JOIN locations l ON l.location_id = e.location_id
            WHERE e.source LIKE 'bulk%'""").fetchone()
        assert unresolved == (0, 0, 0, 1215)
        # PractitionerRole uses logical references {"identifier": {...}} to practitioner and organization.
        roles = con.execute("""
            SELECT count(p.practitioner_id), count(o.organization_id), count(*) FROM practitioner_roles r
            LEFT JOIN practitioners p ON p.practitioner_id = r.practitioner_id
            LEFT JOIN organizations o ON o.organization_id = r.organization_id""").fetchone()
        assert roles == (43, 43, 43)
        # Bundles: urn:uuid subjects resolve to the bundle's Patient.
        orphans = con.execute("""SELECT count(*) FROM observations o WHERE o.source LIKE 'bundles%'
                                 AND o.patient_id NOT IN (SELECT patient_id FROM patients)""").fetchone()
        assert orphans == (0,)


def test_mapped_content(ingested: tuple[IngestReport, Path, Path]) -> None:
    _, store_path, _ = ingested
    with Store(store_path) as store:
        con = store.con
        assert store.count("patients") == 13 + 28
        # Blood pressure panels: components become rows pointing at their panel.
        bp = con.execute("""SELECT count(*) FROM observations WHERE component_of IS NOT NULL AND code = '8480-6'""").fetchone()
        assert bp is not None and bp[0] > 100
        # Claims keep line items; EOB lines carry the paid amount.
        lines = con.execute("""SELECT count(*), count(paid_amount) FROM claim_lines l JOIN claims c USING (claim_id)
                               WHERE c.kind = 'ExplanationOfBenefit'""").fetchone()
        assert lines is not None and lines[0] > 0 and lines[1] > 0
        # Types without a table are kept verbatim and counted.
        kinds = dict(con.execute("SELECT record_type, count(*) FROM raw_resources GROUP BY 1").fetchall())
        assert kinds["DocumentReference"] > 1215 and kinds["Provenance"] == 28 and kinds["Device"] >= 16
        # Timestamps are UTC: 1989-10-04T02:25:16-04:00 is 06:25:16.
        ts = con.execute("SELECT start_ts FROM encounters WHERE encounter_id = '00c7f717-4030-5582-2ed8-888ad2bc878e'").fetchone()
        assert ts is not None and str(ts[0]) == "1989-10-04 06:25:16"


def test_rerun_is_idempotent(ingested: tuple[IngestReport, Path, Path]) -> None:
    report, store_path, fhir = ingested
    with Store(store_path) as store:
        before = {t: store.count(t) for t in ("patients", "encounters", "observations", "claim_lines", "raw_resources", "quarantine")}
        again = ingest([fhir / "bulk-ndjson-smart-10pt"], store)
        after = {t: store.count(t) for t in before}
    assert before == after
    first = {f.source: (f.read, f.stored, f.quarantined, f.reasons) for f in report.files}
    for f in again.files:
        assert first[f.source] == (f.read, f.stored, f.quarantined, f.reasons)
