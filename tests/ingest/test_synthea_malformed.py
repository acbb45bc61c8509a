"""Malformed Synthea CSV: each bad row is quarantined with a readable reason, good rows beside it stored."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest

from carevalue.ingest.run import IngestReport, ingest
from carevalue.ingest.store import Store

P1 = "p-1"
P2 = "p-2"
PATIENTS = f"""Id,BIRTHDATE,DEATHDATE,SSN,FIRST,LAST,RACE,ETHNICITY,GENDER,STATE,ZIP
{P1},1950-01-02,,999-1,Ann,A,white,nonhispanic,F,Massachusetts,02138
{P2},1960-03-04,2020-05-06,999-2,Bob,B,black,hispanic,M,Massachusetts,
p-3,1970-01-01,1969-12-31,999-3,Cy,C,white,nonhispanic,M,Massachusetts,
p-4,1970-13-45,,999-4,Di,D,white,nonhispanic,F,Massachusetts,
{P1},1950-01-02,,999-1,Ann,A,white,nonhispanic,F,Massachusetts,02138
{P2},1961-03-04,,999-2,Bob,B,black,hispanic,M,Massachusetts,
"""
ENC_HEADER = ("Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
              "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION")
ENCOUNTERS = f"""{ENC_HEADER}
e-1,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,{P1},o-1,pr-1,pay-1,wellness,410620009,Well visit,129.16,129.16,0,,
e-2,2020-01-02T10:00:00Z,2020-01-02T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom
e-3,2020-01-03T10:00:00Z,2020-01-03T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,1,1,0,,,extra
,2020-01-04T10:00:00Z,2020-01-04T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,1,1,0,,
e-5,yesterday,2020-01-05T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,1,1,0,,
e-6,2020-01-06T10:00:00Z,2020-01-06T09:00:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,1,1,0,,
e-7,2020-01-07T10:00:00Z,2020-01-07T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,12,1,0,,
e-8,2020-01-08T10:00:00Z,2020-01-08T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,abc,1,0,,
e-9,2020-01-09T10:00:00Z,2020-01-09T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,Symptom,-5,1,0,,
e-10,2020-01-10T10:00:00Z,2020-01-10T10:15:00Z,nobody,o-1,pr-1,pay-1,ambulatory,185345009,Symptom,1,1,0,,
e-11,2020-01-11T10:00:00Z,2020-01-11T10:15:00Z,{P1},o-1,pr-1,pay-1,ambulatory,185345009,"Symptom,
on two lines",1,1,0,,
e-12,2020-01-12T10:00:00Z,,{P1},o-1,pr-1,pay-1,snf,185345009,Symptom,NaN,1,0,,

e-13,2020-01-13T10:00:00Z,,{P2},o-1,pr-1,pay-1,virtual,185345009,Symptom,1,1,0,,
e-14,2020-01-14T10:00:00Z,,,o-1,pr-1,pay-1,virtual,185345009,Symptom,1,1,0,,
e-1,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,{P1},o-1,pr-1,pay-1,wellness,410620009,Well visit,129.16,999,0,,
"""
OBSERVATIONS = f"""DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE
2020-01-01T10:00:00Z,{P1},e-1,vital-signs,8302-2,Body Height,170.1,cm,numeric
2020-01-01T10:00:00Z,{P1},e-1,vital-signs,8302-2,Body Height,tall,cm,numeric
2020-01-01T10:00:00Z,{P1},e-1,survey,72166-2,Tobacco smoking status,Never smoked,,text
2020-01-01T10:00:00Z,{P1},e-1,vital-signs,,Body Height,170.1,cm,numeric
"""
TRANSACTIONS = f"""ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,PROCEDURECODE,UNITS,NOTES,PAYMENTS
t-1,c-1,1,{P1},CHARGE,100.00,,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,410620009,1,Well visit,
t-2,c-1,2,{P1},PAYMENT,,CASH,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,410620009,1,Well visit,60.00
t-3,c-1,3,{P1},REFUND,,CASH,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,410620009,1,Well visit,1.00
t-4,c-1,x,{P1},PAYMENT,,CASH,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,410620009,1,Well visit,1.00
t-5,c-1,5,{P1},CHARGE,,,2020-01-01T10:00:00Z,2020-01-01T10:15:00Z,410620009,1,Well visit,
t-6,c-1,6,{P1},CHARGE,50.00,,2020-01-01T10:00:00Z,1970-01-01T00:00:00Z,140,1,Flu shot,
t-7,c-1,7,{P1},PAYMENT,,CC,2020-01-01T10:00:00Z,1970-01-01T00:00:00Z,140,1,Flu shot,50.00
"""
CLAIMS = f"""Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,APPOINTMENTID,SERVICEDATE,STATUS1,STATUSP
c-1,{P1},pr-1,pay-1,0,e-1,2020-01-01T10:00:00Z,CLOSED,CLOSED
"""


def write_export(d: Path) -> None:
    d.mkdir()
    (d / "patients.csv").write_text(PATIENTS)
    (d / "encounters.csv").write_text(ENCOUNTERS)
    (d / "observations.csv").write_text(OBSERVATIONS)
    (d / "claims.csv").write_text(CLAIMS)
    (d / "claims_transactions.csv").write_text(TRANSACTIONS)
    # missing required column: PATIENT
    (d / "conditions.csv").write_text("START,STOP,ENCOUNTER,CODE,DESCRIPTION\n2020-01-01,,e-1,44054006,Diabetes\n"
                                      "2020-01-02,,e-1,38341003,Hypertension\n")
    # unknown kind
    (d / "notes.csv").write_text("A,B\n1,2\n3,4\n5,6\n")
    # not UTF-8 (latin-1 byte) beside a good row, gzipped
    with gzip.open(d / "immunizations.csv.gz", "wb") as fh:
        fh.write(f"DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST\n"
                 f"2020-01-01T10:00:00Z,{P1},e-1,140,Influenza,140.52\n"
                 f"2020-01-01T10:00:00Z,{P1},e-1,140,Influ\xe9nza,140.52\n".encode("latin-1"))
    # a known header under an unknown name is recognised by its header
    (d / "export_procs.csv").write_text(
        "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS\npr-1,o-1,Dr Who,F,GENERAL PRACTICE,1 Main St\n")
    (d / "empty_allergies.csv").write_text("")
    # a NUL byte inside a value; a quote that is never closed (swallows the rest of the file)
    (d / "devices.csv").write_bytes(
        b"START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI\n"
        b"2020-01-01T10:00:00Z,,p-1,e-1,705643001,Stent,(01)1\n"
        b"2020-01-01T10:00:00Z,,p-1,e-1,705643001,Ste\x00nt,(01)2\n"
        b'2020-01-01T10:00:00Z,,p-1,e-1,705643001,"Stent,(01)3\n'
        b"2020-01-01T10:00:00Z,,p-1,e-1,705643001,Stent,(01)4\n")
    # not a CSV at all
    (d / "organizations.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, IngestReport, dict[tuple[str, str], tuple[str, str, str]]]:
    d = tmp_path_factory.mktemp("bad") / "export"
    write_export(d)
    store = Store(":memory:")
    report = ingest([d], store)
    q = {(Path(s).name, loc): (f, r, det) for s, loc, f, r, det in store.con.execute(
        "SELECT source, locator, field, reason, detail FROM quarantine").fetchall()}
    return store, report, q


def test_every_file_reconciles(result) -> None:  # type: ignore[no-untyped-def]
    _, report, _ = result
    for f in report.files:
        assert f.read == f.stored + f.quarantined, f.source
    reads = {Path(f.source).name: f.read for f in report.files}
    assert reads == {"patients.csv": 6, "encounters.csv": 15, "observations.csv": 4, "claims.csv": 1,
                     "claims_transactions.csv": 7, "conditions.csv": 2, "notes.csv": 3,
                     "immunizations.csv.gz": 2, "export_procs.csv": 1, "empty_allergies.csv": 0,
                     "devices.csv": 3, "organizations.csv": 3}


@pytest.mark.parametrize(("file", "line", "field", "reason", "words"), [
    ("encounters.csv", "line 3", "", "wrong number of fields", "expected 15 fields as in the header, found 10"),
    ("encounters.csv", "line 4", "", "wrong number of fields", "found 16"),
    ("encounters.csv", "line 5", "Id", "missing required field", "Id is empty"),
    ("encounters.csv", "line 6", "START", "unparseable date", "'yesterday'"),
    ("encounters.csv", "line 7", "STOP", "end before start", "before START"),
    ("encounters.csv", "line 9", "BASE_ENCOUNTER_COST", "non-numeric value", "'abc' is not a number"),
    ("encounters.csv", "line 10", "BASE_ENCOUNTER_COST", "negative quantity", "-5 is negative"),
    ("encounters.csv", "line 11", "patient", "dangling reference", "nobody"),
    ("encounters.csv", "line 14", "BASE_ENCOUNTER_COST", "non-numeric value", "'NaN'"),
    ("encounters.csv", "line 17", "PATIENT", "missing required field", "PATIENT is empty"),
    ("encounters.csv", "line 18", "encounter_id", "duplicate id with different content", "e-1"),
    ("patients.csv", "line 4", "DEATHDATE", "end before start", "before BIRTHDATE"),
    ("patients.csv", "line 5", "BIRTHDATE", "unparseable date", "'1970-13-45'"),
    ("patients.csv", "line 7", "patient_id", "duplicate id with different content", P2),
    ("observations.csv", "line 3", "VALUE", "non-numeric value", "'tall' is not a number"),
    ("observations.csv", "line 5", "CODE", "missing required field", "CODE is empty"),
    ("claims_transactions.csv", "line 4", "TYPE", "invalid code", "'REFUND'"),
    ("claims_transactions.csv", "line 5", "CHARGEID", "non-numeric value", "'x' is not a whole number"),
    ("claims_transactions.csv", "line 6", "AMOUNT", "missing required field", "CHARGE has no AMOUNT"),
    ("conditions.csv", "line 2", "PATIENT", "missing required column", "PATIENT is not in the header"),
    ("conditions.csv", "line 3", "PATIENT", "missing required column", "PATIENT is not in the header"),
    ("notes.csv", "line 2", "", "unrecognised CSV file", "'notes'"),
    ("notes.csv", "line 4", "", "unrecognised CSV file", "matches no known"),
    ("immunizations.csv.gz", "line 3", "DESCRIPTION", "binary or non-UTF-8 content", "not valid UTF-8"),
    ("devices.csv", "line 3", "DESCRIPTION", "binary or non-UTF-8 content", "NUL"),
    ("devices.csv", "line 4", "", "wrong number of fields", "a quote opened on line 4 may never be closed"),
    ("organizations.csv", "line 2", "", "binary or non-UTF-8 content", "not a CSV file"),
])
def test_bad_row_is_quarantined_with_reason(result, file: str, line: str, field: str, reason: str, words: str) -> None:  # type: ignore[no-untyped-def]
    _, _, q = result
    assert (file, line) in q, sorted(k for k in q if k[0] == file)
    f, r, detail = q[(file, line)]
    assert (f, r) == (field, reason)
    assert words in detail


def test_only_the_bad_rows_are_quarantined(result) -> None:  # type: ignore[no-untyped-def]
    _, report, q = result
    quarantined = {Path(f.source).name: f.quarantined for f in report.files}
    assert quarantined == {"patients.csv": 2 + 1, "encounters.csv": 11, "observations.csv": 2, "claims.csv": 0,
                           "claims_transactions.csv": 3, "conditions.csv": 2, "notes.csv": 3,
                           "immunizations.csv.gz": 1, "export_procs.csv": 0, "empty_allergies.csv": 0,
                           "devices.csv": 2, "organizations.csv": 3}
    assert len(q) == sum(quarantined.values())


def test_good_rows_beside_bad_ones_are_stored(result) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = result
    con = store.con
    assert {r[0] for r in con.execute("SELECT patient_id FROM patients").fetchall()} == {P1, P2}
    encs = dict(con.execute("SELECT encounter_id, class_code FROM encounters").fetchall())
    # e-11 spans two physical lines (quoted newline): stored, and later locators still count lines.
    assert encs == {"e-1": "AMB", "e-7": "AMB", "e-11": "AMB", "e-13": "VR"}
    assert con.execute("SELECT display FROM encounters WHERE encounter_id = 'e-11'").fetchone() == ("Symptom,\non two lines",)
    assert con.execute("SELECT count(*) FROM observations").fetchone() == (2,)
    assert con.execute("SELECT value_text FROM observations WHERE value_text IS NOT NULL").fetchone() == ("Never smoked",)
    assert con.execute("SELECT count(*) FROM immunizations").fetchone() == (1,)
    assert con.execute("SELECT name, specialty FROM practitioners").fetchall() == [("Dr Who", "GENERAL PRACTICE")]
    assert con.execute("SELECT count(*) FROM raw_resources WHERE record_type = 'devices'").fetchone() == (1,)


def test_claim_lines_carry_charges_and_payments(result) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = result
    con = store.con
    lines = con.execute("SELECT line_no, charge_amount, paid_amount, service_date FROM claim_lines ORDER BY line_no").fetchall()
    # t-2 pays 60 on charge t-1; t-7 pays 50 on charge t-6.
    assert lines == [(1, 100.0, 60.0, datetime(2020, 1, 1, 10)), (6, 50.0, 50.0, datetime(2020, 1, 1, 10))]
    # Claim totals count the transactions file's well-formed rows (the CHARGE without AMOUNT adds nothing).
    assert con.execute("SELECT total_charge, total_paid, service_end FROM claims").fetchone() == (
        150.0, 110.0, datetime(2020, 1, 1, 10, 15))
    assert con.execute("SELECT count(*) FROM raw_resources WHERE record_type = 'claims_transactions'").fetchone() == (2,)


def test_mapping_in_small_chunks_gives_the_same_store(result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import carevalue.ingest.csv_sources as csv_sources

    store, report, _ = result
    monkeypatch.setattr(csv_sources, "CHUNK_ROWS", 2)
    write_export(tmp_path / "export")
    with Store(":memory:") as again:
        report2 = ingest([tmp_path / "export"], again)
        assert report2.as_json() == report.as_json()
        for t in ("patients", "encounters", "observations", "claim_lines", "quarantine"):
            q = f"SELECT * EXCLUDE (source) FROM {t} ORDER BY ALL" if t != "quarantine" else \
                "SELECT locator, field, reason, detail FROM quarantine ORDER BY ALL"
            assert again.con.execute(q).fetchall() == store.con.execute(q).fetchall(), t
