"""Each kind of bad FHIR record is quarantined with its reason; the good records beside it are stored."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from carevalue.ingest import fhir
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-03-04"}
ENCOUNTER = {
    "resourceType": "Encounter", "id": "e1", "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "subject": {"reference": "Patient/p1"},
    "period": {"start": "2020-01-01T10:00:00+01:00", "end": "2020-01-01T11:00:00+01:00"},
}
CONDITION = {
    "resourceType": "Condition", "id": "c1",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
    "subject": {"reference": "Patient/p1"}, "onsetDateTime": "2019-05-01",
}
OBSERVATION = {
    "resourceType": "Observation", "id": "o1", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
    "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-01T10:00:00Z",
    "valueQuantity": {"value": 7.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
}
CLAIM = {
    "resourceType": "Claim", "id": "cl1", "status": "active", "patient": {"reference": "Patient/p1"},
    "total": {"value": 100.0, "currency": "USD"},
    "item": [{"sequence": 1, "productOrService": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
              "quantity": {"value": 1}, "net": {"value": 100.0}}],
}
GOOD = [PATIENT, ENCOUNTER, CONDITION]


def bad(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``base`` with a new id and the given top-level changes (None deletes)."""
    out = {**base, "id": f"bad-{base['resourceType'].lower()}"}
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def line(x: Any) -> bytes:
    return x if isinstance(x, bytes) else orjson.dumps(x)


# (case id, bad line, expected reason, expected field or None)
CASES: list[tuple[str, Any, str, str | None]] = [
    ("malformed-json", b'{"resourceType": "Patient", "id": ', "malformed JSON", None),
    ("trailing-garbage", b'{"resourceType": "Patient", "id": "x"} xyz', "malformed JSON", None),
    ("json-array", b"[1, 2, 3]", "not a JSON object", None),
    ("json-string", b'"hello"', "not a JSON object", None),
    ("missing-resourceType", {"id": "x", "gender": "male"}, "missing resourceType", "resourceType"),
    ("resourceType-not-string", {"resourceType": 42, "id": "x"}, "invalid resourceType", "resourceType"),
    ("resourceType-lowercase", {"resourceType": "patient", "id": "x"}, "invalid resourceType", "resourceType"),
    ("dstu2-resource", {"resourceType": "MedicationOrder", "id": "x"}, "unsupported FHIR version", "resourceType"),
    ("r5-encounter-class", bad(ENCOUNTER, **{"class": [{"coding": [{"code": "AMB"}]}]}), "unsupported FHIR version", "class"),
    ("missing-id", bad(PATIENT, id=None) | {"id": None}, "missing id", "id"),
    ("id-with-blank", bad(PATIENT) | {"id": "a b"}, "invalid id", "id"),
    ("id-not-string", bad(PATIENT) | {"id": 12}, "invalid id", "id"),
    ("encounter-without-subject", bad(ENCOUNTER, subject=None), "missing required field", "subject"),
    ("observation-without-code", bad(OBSERVATION, code=None), "missing required field", "code"),
    ("encounter-without-start", bad(ENCOUNTER, period={"end": "2020-01-01"}), "missing required field", "period.start"),
    ("observation-without-status", bad(OBSERVATION, status=None), "missing required field", "status"),
    ("unparseable-date", bad(CONDITION, onsetDateTime="2020-13-45"), "unparseable date", "onsetDateTime"),
    ("us-date-format", bad(OBSERVATION, effectiveDateTime="01/02/2020"), "unparseable date", "effectiveDateTime"),
    ("birthdate-garbled", bad(PATIENT, birthDate="19xx-01-01"), "unparseable date", "birthDate"),
    ("date-is-number", bad(OBSERVATION, effectiveDateTime=20200101), "wrong type", "effectiveDateTime"),
    ("end-before-start", bad(ENCOUNTER, period={"start": "2020-01-02T10:00:00Z", "end": "2020-01-01T10:00:00Z"}),
     "end before start", "period"),
    ("died-before-born", bad(PATIENT, deceasedDateTime="1940-01-01T00:00:00Z"), "end before start", "deceasedDateTime"),
    ("abatement-before-onset", bad(CONDITION, abatementDateTime="2010-01-01"), "end before start", "abatementDateTime"),
    ("dangling-patient", bad(CONDITION, subject={"reference": "Patient/nobody"}), "dangling reference", "patient"),
    ("reference-not-string", bad(CONDITION, subject={"reference": 12}), "invalid reference", "subject"),
    ("subject-is-group", bad(OBSERVATION, subject={"reference": "Group/g1"}), "invalid reference", "subject"),
    ("conditional-without-identifier", bad(ENCOUNTER, serviceProvider={"reference": "Organization?name=x"}),
     "invalid reference", "serviceProvider"),
    ("ucum-unit-with-blank", bad(OBSERVATION, valueQuantity={"value": 1, "system": "http://unitsofmeasure.org", "code": "mg dL"}),
     "unknown unit", "valueQuantity.code"),
    ("ucum-value-without-unit", bad(OBSERVATION, valueQuantity={"value": 1, "system": "http://unitsofmeasure.org"}),
     "unknown unit", "valueQuantity.code"),
    ("negative-line-quantity", bad(CLAIM, item=[{"sequence": 1, "quantity": {"value": -2}}]), "negative quantity", "item[0].quantity.value"),
    ("negative-charge", bad(CLAIM, total={"value": -5.0}), "negative quantity", "total.value"),
    ("value-as-text", bad(OBSERVATION, valueQuantity={"value": "7.1", "unit": "%"}), "non-numeric value", "valueQuantity.value"),
    ("integer-with-fraction", bad(OBSERVATION, valueQuantity=None, valueInteger=1.5), "non-numeric value", "valueInteger"),
    ("empty-code", bad(CONDITION, code={"coding": [{"system": "http://snomed.info/sct", "code": ""}]}), "invalid code", "code.coding[0].code"),
    ("code-is-string", bad(CONDITION, code="44054006"), "wrong type", "code"),
    ("category-not-list", bad(OBSERVATION, category={"coding": []}), "wrong type", "category"),
    ("invalid-gender", bad(PATIENT, gender="M"), "invalid gender", "gender"),
    ("invalid-status", bad(ENCOUNTER, status="done"), "invalid status", "status"),
    ("immunization-invalid-status", {"resourceType": "Immunization", "id": "i1", "status": "given",
                                     "vaccineCode": {"text": "flu"}, "patient": {"reference": "Patient/p1"}},
     "invalid status", "status"),
    ("duplicate-different-content", bad(PATIENT) | {"id": "p1", "gender": "male"}, "duplicate id with different content", "patient_id"),
    ("claim-duplicate-line", bad(CLAIM, item=[{"sequence": 1}, {"sequence": 1}]), "duplicate id with different content", "item[1].sequence"),
    ("qr-without-questionnaire", {"resourceType": "QuestionnaireResponse", "id": "qr1", "status": "completed",
                                  "subject": {"reference": "Patient/p1"}}, "missing required field", "questionnaire"),
    ("medication-missing", {"resourceType": "MedicationRequest", "id": "m1", "status": "active",
                            "subject": {"reference": "Patient/p1"}}, "missing required field", "medication[x]"),
    ("binary-garbage", b"\x00\x01\x02\xff\xfe binary", "binary or non-UTF-8 content", None),
    ("invalid-utf8", b'{"resourceType": "Patient", "id": "\xff\xfe"}', "binary or non-UTF-8 content", None),
    ("deprivation-out-of-range", bad(PATIENT, extension=[{
        "url": "https://carevalue.org/fhir/StructureDefinition/deprivation-index", "valueDecimal": 1.7}]),
     "value out of range", "extension(deprivation-index)"),
]


def ingest_ndjson(tmp_path: Path, lines: list[bytes], name: str = "Mixed.000.ndjson") -> tuple[Any, Store]:
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    store = Store(":memory:")
    report = ingest([path], store)
    return report.files[0], store


def test_there_are_at_least_30_distinct_kinds() -> None:
    assert len({c[0] for c in CASES}) >= 30
    assert len({c[2] for c in CASES}) >= 18


@pytest.mark.parametrize(("bad_line", "reason", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_record_quarantined_good_ones_stored(tmp_path: Path, bad_line: Any, reason: str, field: str | None) -> None:
    lines = [line(PATIENT), line(ENCOUNTER), line(bad_line), line(CONDITION)]
    rep, store = ingest_ndjson(tmp_path, lines)
    with store:
        q = store.con.execute("SELECT locator, reason, field, detail, content FROM quarantine").fetchall()
        assert (rep.read, rep.stored, rep.quarantined) == (4, 3, 1), q
        assert rep.reasons == {reason: 1}
        locator, got_reason, got_field, detail, content = q[0]
        assert locator == "line 3"
        if field is not None:
            assert got_field == field, detail
        assert detail and len(detail) > 10
        assert content, "the raw record is kept with the quarantine entry"
        assert store.con.execute("SELECT patient_id, sex FROM patients").fetchall() == [("p1", "female")]
        assert store.con.execute("SELECT encounter_id FROM encounters").fetchall() == [("e1",)]
        assert store.con.execute("SELECT condition_id FROM conditions").fetchall() == [("c1",)]
        assert store.count("claims") == store.count("claim_lines") == 0


def test_line_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir, "MAX_LINE_BYTES", 500)
    long_line = line(bad(PATIENT) | {"text": {"div": "x" * 5000}})
    rep, store = ingest_ndjson(tmp_path, [line(PATIENT), long_line, line(CONDITION)])
    with store:
        assert (rep.read, rep.stored, rep.quarantined) == (3, 2, 1)
        assert rep.reasons == {"line too long": 1}


def test_blank_lines_are_not_records_and_bom_is_ignored(tmp_path: Path) -> None:
    rep, store = ingest_ndjson(tmp_path, [b"\xef\xbb\xbf" + line(PATIENT), b"", b"   ", line(CONDITION), b"\r"])
    with store:
        assert (rep.read, rep.stored, rep.quarantined) == (2, 2, 0)


def test_utf16_and_gzip_files(tmp_path: Path) -> None:
    text = (line(PATIENT) + b"\n" + line(CONDITION) + b"\n").decode()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Patient.000.ndjson").write_bytes(text.encode("utf-16"))
    (tmp_path / "a" / "Obs.000.ndjson.gz").write_bytes(gzip.compress(line(OBSERVATION) + b"\n"))
    with Store(":memory:") as store:
        rep = ingest([tmp_path / "a"], store)
        assert [(f.read, f.stored) for f in rep.files] == [(2, 2), (1, 1)]


def bundle(entries: list[Any], **extra: Any) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries, **extra})


@pytest.mark.parametrize(("doc", "read", "reason"), [
    (b'{"resourceType": "Bundle", "entry": [', 1, "malformed JSON"),
    (orjson.dumps({"resourceType": "Bundle", "type": "searchset"}), 1, "bundle without entries"),
    (orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": {"resource": PATIENT}}), 1, "wrong type"),
    (bundle([{"resource": PATIENT}, {"fullUrl": "urn:uuid:x", "request": {"method": "DELETE", "url": "Patient/x"}}]),
     2, "bundle entry without resource"),
    (bundle([{"resource": PATIENT}, "not an entry"]), 2, "not a JSON object"),
    (bundle([{"resource": PATIENT}, {"resource": bad(CONDITION, subject={"reference": "urn:uuid:nowhere"})}]),
     2, "dangling reference"),
], ids=["malformed", "no-entry", "entry-not-list", "entry-without-resource", "entry-not-object", "dangling-urn"])
def test_bad_bundles(tmp_path: Path, doc: bytes, read: int, reason: str) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(doc)
    with Store(":memory:") as store:
        rep = ingest([path], store).files[0]
        assert rep.read == read
        assert rep.quarantined == 1 and rep.reasons == {reason: 1}
        assert rep.stored == read - 1
        assert store.con.execute("SELECT content IS NOT NULL FROM quarantine").fetchone() == (True,)
        if read == 2:
            assert store.count("patients") == 1


def test_bundle_urn_uuid_references_and_ids_from_fullurl(tmp_path: Path) -> None:
    pat = {k: v for k, v in PATIENT.items() if k != "id"}
    enc = ENCOUNTER | {"subject": {"reference": "urn:uuid:11111111-2222"}}
    doc = bundle([{"fullUrl": "urn:uuid:11111111-2222", "resource": pat},
                  {"fullUrl": "urn:uuid:e-9", "resource": enc}])
    path = tmp_path / "b.json.gz"
    path.write_bytes(gzip.compress(doc))
    with Store(":memory:") as store:
        rep = ingest([path], store).files[0]
        assert (rep.read, rep.stored) == (2, 2)
        assert store.con.execute("SELECT encounter_id, patient_id FROM encounters").fetchall() == [("e1", "11111111-2222")]


def test_single_resource_json_file(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_bytes(line(PATIENT))
    with Store(":memory:") as store:
        rep = ingest([tmp_path / "p.json"], store).files[0]
        assert (rep.read, rep.stored, rep.quarantined) == (1, 1, 0)


def test_deprivation_index_extension_is_stored(tmp_path: Path) -> None:
    """The carevalue deprivation extension (a case-mix variable) lands in patients.deprivation_index."""
    p = dict(PATIENT, extension=[{"url": "https://carevalue.org/fhir/StructureDefinition/deprivation-index",
                                  "valueDecimal": 0.42}])
    f = tmp_path / "Patient.000.ndjson"
    f.write_bytes(orjson.dumps(p) + b"\n")
    with Store(tmp_path / "s.duckdb") as store:
        ingest([f], store)
        assert store.con.execute("SELECT deprivation_index FROM patients").fetchall() == [(0.42,)]
