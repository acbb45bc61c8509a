"""The three real Synthea CSV samples ingest completely: every data row stored or quarantined.

Expected values are read from the raw CSV files with the csv module, independently of the ingest.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from carevalue.ingest.run import IngestReport, ingest
from carevalue.ingest.store import Store

SAMPLES = ("dbt-synthea-v3.0", "unmc-crane-v3.0", "mcode-v2")

# The only quarantine entries of the real samples. Synthea wrote these medications with a STOP
# before their START (a medication "stopped" at an earlier encounter than the one that started it:
# mcode-v2 patient 402242ce... lines 3332-3336, unmc patient f5bf24a8... lines 3224-3225); they are
# kept in quarantine rather than silently repaired.
EXPECTED_QUARANTINE = {
    "mcode-v2/medications.csv": {"end before start": 4},
    "unmc-crane-v3.0/medications.csv": {"end before start": 2},
}


def data_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def ingested(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Store, IngestReport]]:
    out = {}
    for name in SAMPLES:
        store = Store(tmp_path_factory.mktemp(name) / "s.duckdb")
        out[name] = (store, ingest([shared_data / "synthea-csv" / name], store))
    yield out  # type: ignore[misc]
    for store, _ in out.values():
        store.close()


@pytest.mark.parametrize("name", SAMPLES)
def test_every_row_of_every_file_is_stored_or_quarantined(
        name: str, shared_data: Path, ingested: dict[str, tuple[Store, IngestReport]]) -> None:
    folder = shared_data / "synthea-csv" / name
    _, report = ingested[name]
    by_source = {f.source: f for f in report.files}
    files = sorted(folder.glob("*.csv"))
    assert {f"{name}/{p.name}" for p in files} == set(by_source)
    for p in files:
        f = by_source[f"{name}/{p.name}"]
        assert f.read == len(data_rows(p)), p.name
        assert f.read == f.stored + f.quarantined, p.name
        assert f.reasons == EXPECTED_QUARANTINE.get(f.source, {}), p.name


def test_dbt_sample_values_match_the_raw_csv(shared_data: Path, ingested: dict[str, tuple[Store, IngestReport]]) -> None:
    folder = shared_data / "synthea-csv" / "dbt-synthea-v3.0"
    store, _ = ingested["dbt-synthea-v3.0"]
    con = store.con
    # patients.csv line 2: 3edac2e3..., BIRTHDATE 2014-10-06, GENDER M
    assert con.execute("SELECT birth_date, death_date, sex FROM patients WHERE patient_id = ?",
                       ["3edac2e3-d223-6fae-d515-daf96ef6bc76"]).fetchone() == (date(2014, 10, 6), None, "male")
    # encounters.csv line 2: ambulatory, BASE_ENCOUNTER_COST 77.49, TOTAL_CLAIM_COST 3798.09
    assert con.execute(
        "SELECT class_code, start_ts, charge_amount, claim_charge_total, organization_id, payer_id FROM encounters "
        "WHERE encounter_id = '57f2562b-445c-f11c-ba40-edc55af3c84f'").fetchone() == (
        "AMB", datetime(2023, 1, 27, 16, 17, 47), 77.49, 3798.09,
        "e002090d-4e92-300e-b41e-7d1f21dee4c6", "42c4fca7-f8a9-3cd1-982a-dd9751bf3e2a")
    classes = Counter(r["ENCOUNTERCLASS"] for r in data_rows(folder / "encounters.csv"))
    stored = dict(con.execute("SELECT class_code, count(*) FROM encounters GROUP BY 1").fetchall())
    assert stored["AMB"] == classes["ambulatory"] + classes["wellness"] + classes["outpatient"]
    assert stored["EMER"] == classes["emergency"] + classes["urgentcare"]
    assert stored["IMP"] == classes["inpatient"]

    # Claims: totals are the sums of the claim's CHARGE amounts / PAYMENT payments.
    tx = data_rows(folder / "claims_transactions.csv")
    charge: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    for t in tx:
        if t["TYPE"] == "CHARGE":
            charge[t["CLAIMID"]] += float(t["AMOUNT"])
        elif t["TYPE"] == "PAYMENT":
            paid[t["CLAIMID"]] += float(t["PAYMENTS"])
    rows = con.execute("SELECT claim_id, total_charge, total_paid FROM claims").fetchall()
    assert len(rows) == len(data_rows(folder / "claims.csv"))
    for claim_id, total_charge, total_paid in rows:
        assert total_charge == pytest.approx(charge[claim_id]), claim_id
        assert total_paid == pytest.approx(paid[claim_id]), claim_id
    # claim 9120543f...: one CHARGE of 77.49 (claims_transactions.csv line 2), paid 77.49 in cash
    assert con.execute("SELECT total_charge, total_paid, payer_id, encounter_id FROM claims WHERE claim_id = ?",
                       ["9120543f-28b9-96ae-09eb-d54f6d918234"]).fetchone() == (
        77.49, 77.49, "42c4fca7-f8a9-3cd1-982a-dd9751bf3e2a", "57f2562b-445c-f11c-ba40-edc55af3c84f")
    # One claim line per CHARGE; every other transaction is kept verbatim; line payments add up.
    n_charge = sum(t["TYPE"] == "CHARGE" for t in tx)
    assert store.count("claim_lines") == n_charge
    assert con.execute("SELECT count(*) FROM raw_resources WHERE record_type = 'claims_transactions'"
                       ).fetchone() == (len(tx) - n_charge,)
    assert con.execute("SELECT sum(paid_amount) FROM claim_lines").fetchone()[0] == pytest.approx(sum(paid.values()))

    # observations.csv line 2: Body Height 127.9 cm (numeric); text observations keep their text
    assert con.execute("SELECT value_num, value_unit, code_system FROM observations WHERE patient_id = ? AND code = '8302-2' "
                       "AND effective_ts = '2023-10-10 04:17:47'", ["3edac2e3-d223-6fae-d515-daf96ef6bc76"]
                       ).fetchone() == (127.9, "cm", "http://loinc.org")
    obs = data_rows(folder / "observations.csv")
    assert con.execute("SELECT count(value_text) FROM observations").fetchone() == (sum(o["TYPE"] == "text" for o in obs),)
    # Files without a table of their own are kept row for row.
    for kind in ("allergies", "careplans", "devices", "imaging_studies", "payer_transitions", "supplies"):
        n = len({tuple(r.values()) for r in data_rows(folder / f"{kind}.csv")})
        assert con.execute("SELECT count(*) FROM raw_resources WHERE record_type = ?", [kind]).fetchone() == (n,), kind
    # practitioners carry organization and specialty (providers.csv line 2)
    assert con.execute("SELECT organization_id, specialty, sex FROM practitioners WHERE practitioner_id = ?",
                       ["0f4db68f-7743-3960-b373-4a47d811dec2"]).fetchone() == (
        "5e765f2b-e908-3888-9fc7-df2cb87beb58", "GENERAL PRACTICE", "female")


def test_v2_procedures_use_their_single_date_column(shared_data: Path, ingested: dict[str, tuple[Store, IngestReport]]) -> None:
    store, _ = ingested["mcode-v2"]
    # mcode-v2/procedures.csv line 2: DATE 2014-02-03T13:58:14Z, BASE_COST 14964.75
    row = store.con.execute(
        "SELECT start_ts, end_ts, charge_amount, code_system FROM procedures WHERE patient_id = ? AND code = '228557008' "
        "ORDER BY start_ts LIMIT 1", ["b63edfda-d82b-5fc1-4738-10b77b73b271"]).fetchone()
    assert row == (datetime(2014, 2, 3, 13, 58, 14), None, 14964.75, "http://snomed.info/sct")


def test_counts_per_core_table(shared_data: Path, ingested: dict[str, tuple[Store, IngestReport]]) -> None:
    """Rows per table equal data rows per file (identical duplicate rows are one record)."""
    for name in SAMPLES:
        folder = shared_data / "synthea-csv" / name
        store, _ = ingested[name]
        for kind, tbl in (("patients", "patients"), ("encounters", "encounters"), ("organizations", "organizations"),
                          ("providers", "practitioners"), ("payers", "payers"), ("conditions", "conditions"),
                          ("procedures", "procedures"), ("immunizations", "immunizations"),
                          ("medications", "medications")):
            rows = {tuple(r.values()) for r in data_rows(folder / f"{kind}.csv")}
            quarantined = sum(EXPECTED_QUARANTINE.get(f"{name}/{kind}.csv", {}).values())
            assert store.count(tbl) == len(rows) - quarantined, (name, kind)


def test_reingest_is_idempotent(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "synthea-csv" / "dbt-synthea-v3.0"
    tables = ("patients", "encounters", "conditions", "observations", "claims", "claim_lines", "raw_resources", "quarantine")
    with Store(tmp_path / "s.duckdb") as store:
        first = ingest([folder], store).as_json()
        snap = {t: sorted(map(repr, store.con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
        second = ingest([folder], store).as_json()
        assert first == second
        for t in tables:
            assert sorted(map(repr, store.con.execute(f"SELECT * FROM {t}").fetchall())) == snap[t], t
