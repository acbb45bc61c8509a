"""Map the files of a Synthea CSV export (v2 and v3 headers) onto the common data model.

Columns are found by header name, so versions that add, drop or rename columns still map.
Synthea's money columns (BASE_COST, TOTALCOST, BASE_ENCOUNTER_COST, claim amounts) are charges,
never costs. Files the model has no table for are kept verbatim in ``raw_resources``.
"""

from __future__ import annotations

from typing import Any

import orjson

from carevalue.ingest.csv_records import CsvRecords, Emit, KindSpec, parse_number
from carevalue.ingest.synthea_claims import map_claims, map_claims_transactions

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"

# Synthea's SYSTEM column spellings -> FHIR code system URIs (unknown spellings kept as given).
SYSTEMS = {
    "SNOMED-CT": SNOMED, "SNOMED": SNOMED, "SNOMED CT": SNOMED, "SNOMEDCT": SNOMED,
    "LOINC": LOINC, "RXNORM": RXNORM, "CVX": CVX,
    "ICD10": "http://hl7.org/fhir/sid/icd-10-cm", "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm", "CPT": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
}

ENCOUNTER_CLASS = {
    "ambulatory": "AMB", "wellness": "AMB", "outpatient": "AMB",
    "inpatient": "IMP", "emergency": "EMER", "urgentcare": "EMER",
    "home": "HH", "virtual": "VR",
}
SEX = {"M": "male", "F": "female", "MALE": "male", "FEMALE": "female", "O": "other", "U": "unknown"}


def code_systems(recs: CsvRecords, default: str) -> list[str | None] | str:
    """The SYSTEM column mapped to URIs where the export has one (v3), else the kind's system."""
    if recs.has("SYSTEM") is None:
        return default
    return [SYSTEMS.get(s.upper(), s) if s else default for s in recs.text("SYSTEM")]


def reason_systems(codes: list[str | None]) -> list[str | None]:
    return [SNOMED if c else None for c in codes]


def hash_ids(recs: CsvRecords) -> list[str]:
    ids = recs.row_hashes()
    recs.ids = list(ids)
    return ids


def map_patients(r: CsvRecords) -> list[Emit]:
    ids = r.text("Id", required=True)
    r.ids = ids
    birth = r.date("BIRTHDATE")
    death = r.date("DEATHDATE")
    r.not_before(birth, death, "BIRTHDATE", "DEATHDATE")
    sex = [SEX.get(g.upper(), g.lower()) if g else None for g in r.text("GENDER")]
    return [Emit("patients", {
        "patient_id": ids, "identifier_system": "https://github.com/synthetichealth/synthea",
        "identifier_value": ids, "birth_date": birth, "death_date": death, "sex": sex,
        "race": r.text("RACE"), "ethnicity": r.text("ETHNICITY"), "postal_code": r.text("ZIP"),
        "state": r.text("STATE"), "deprivation_index": None,
    })]


def map_encounters(r: CsvRecords) -> list[Emit]:
    ids = r.text("Id", required=True)
    r.ids = ids
    start = r.timestamp("START", required=True)
    end = r.timestamp("STOP")
    r.not_before(start, end, "START", "STOP")
    reason = r.text("REASONCODE")
    classes = [ENCOUNTER_CLASS.get(c.lower(), c) if c else None for c in r.text("ENCOUNTERCLASS")]
    return [Emit("encounters", {
        "encounter_id": ids, "patient_id": r.text("PATIENT", required=True), "class_code": classes,
        "code_system": code_systems(r, SNOMED), "code": r.text("CODE"), "display": r.text("DESCRIPTION"),
        "status": "finished", "start_ts": start, "end_ts": end,
        "organization_id": r.text("ORGANIZATION"), "practitioner_id": r.text("PROVIDER"),
        "payer_id": r.text("PAYER"), "reason_code": reason, "reason_system": reason_systems(reason),
        "charge_amount": r.number("BASE_ENCOUNTER_COST"),
        "claim_charge_total": r.number("TOTAL_CLAIM_COST"),
    })]


def map_conditions(r: CsvRecords) -> list[Emit]:
    onset = r.timestamp("START", required=True)
    end = r.timestamp("STOP")
    r.not_before(onset, end, "START", "STOP")
    return [Emit("conditions", {
        "condition_id": hash_ids(r), "patient_id": r.text("PATIENT", required=True),
        "encounter_id": r.text("ENCOUNTER"), "code_system": code_systems(r, SNOMED),
        "code": r.text("CODE", required=True), "display": r.text("DESCRIPTION"),
        "category": "encounter-diagnosis",
        "clinical_status": ["resolved" if e is not None else "active" for e in end],
        "verification_status": "confirmed", "onset_ts": onset, "abatement_ts": end, "recorded_ts": onset,
    })]


def map_procedures(r: CsvRecords) -> list[Emit]:
    start = r.timestamp("START", "DATE", required=True)  # v2 has one DATE column
    end = r.timestamp("STOP")
    r.not_before(start, end, r.has("START", "DATE") or "START", "STOP")
    reason = r.text("REASONCODE")
    return [Emit("procedures", {
        "procedure_id": hash_ids(r), "patient_id": r.text("PATIENT", required=True),
        "encounter_id": r.text("ENCOUNTER"), "code_system": code_systems(r, SNOMED),
        "code": r.text("CODE", required=True), "display": r.text("DESCRIPTION"), "status": "completed",
        "start_ts": start, "end_ts": end, "reason_code": reason, "reason_system": reason_systems(reason),
        "charge_amount": r.number("BASE_COST"),
    })]


def map_observations(r: CsvRecords) -> list[Emit]:
    values = r.text("VALUE")
    types = r.text("TYPE")
    name = r.has("VALUE") or "VALUE"
    num: list[float | None] = [None] * r.n
    txt: list[str | None] = [None] * r.n
    for j, (v, t) in enumerate(zip(values, types, strict=True)):
        if v is None:
            continue
        if t is not None and t.lower() == "numeric":
            try:
                num[j] = parse_number(v)
            except ValueError:
                r.problem(j, name, "non-numeric value", f"{name} = {v[:80]!r} is not a number but TYPE is numeric")
        elif t is None:  # older exports have no TYPE: numbers are numbers, the rest is text
            try:
                num[j] = parse_number(v)
            except ValueError:
                txt[j] = v
        else:
            txt[j] = v
    return [Emit("observations", {
        "observation_id": hash_ids(r), "patient_id": r.text("PATIENT", required=True),
        "encounter_id": r.text("ENCOUNTER"), "code_system": code_systems(r, LOINC),
        "code": r.text("CODE", required=True), "display": r.text("DESCRIPTION"),
        "category": r.text("CATEGORY"), "status": "final",
        "effective_ts": r.timestamp("DATE", required=True), "value_num": num,
        "value_unit": r.text("UNITS"), "value_text": txt,
    })]


def map_medications(r: CsvRecords) -> list[Emit]:
    start = r.timestamp("START", required=True)
    end = r.timestamp("STOP")
    r.not_before(start, end, "START", "STOP")
    return [Emit("medications", {
        "medication_id": hash_ids(r), "patient_id": r.text("PATIENT", required=True),
        "encounter_id": r.text("ENCOUNTER"), "code_system": code_systems(r, RXNORM),
        "code": r.text("CODE", required=True), "display": r.text("DESCRIPTION"),
        "status": ["stopped" if e is not None else "active" for e in end], "intent": "order",
        "authored_ts": start, "end_ts": end, "dispenses": r.number("DISPENSES"),
        "charge_amount": r.number("TOTALCOST"),
    })]


def map_immunizations(r: CsvRecords) -> list[Emit]:
    return [Emit("immunizations", {
        "immunization_id": hash_ids(r), "patient_id": r.text("PATIENT", required=True),
        "encounter_id": r.text("ENCOUNTER"), "code_system": code_systems(r, CVX),
        "code": r.text("CODE", required=True), "display": r.text("DESCRIPTION"), "status": "completed",
        "occurrence_ts": r.timestamp("DATE", required=True), "charge_amount": r.number("BASE_COST"),
    })]


def map_organizations(r: CsvRecords) -> list[Emit]:
    ids = r.text("Id", required=True)
    r.ids = ids
    return [Emit("organizations", {
        "organization_id": ids, "name": r.text("NAME"), "type_code": "prov",
        "type_display": "Healthcare Provider", "city": r.text("CITY"), "state": r.text("STATE"),
        "postal_code": r.text("ZIP"), "identifier_value": ids,
    })]


def map_providers(r: CsvRecords) -> list[Emit]:
    ids = r.text("Id", required=True)
    r.ids = ids
    sex = [SEX.get(g.upper(), g.lower()) if g else None for g in r.text("GENDER")]
    return [Emit("practitioners", {
        "practitioner_id": ids, "name": r.text("NAME"), "sex": sex,
        "organization_id": r.text("ORGANIZATION"), "specialty": r.text("SPECIALITY", "SPECIALTY"),
    })]


def payer_type(name: str | None, ownership: str | None) -> str | None:
    """Synthea payer names/ownership -> commercial, medicare, medicaid, dual-eligible, self-pay."""
    n = (name or "").strip().lower()
    if n in ("medicare", "medicaid"):
        return n
    if n == "dual eligible":
        return "dual-eligible"
    if n == "no_insurance" or (ownership or "").upper() == "NO_INSURANCE":
        return "self-pay"
    if ownership and ownership.upper() == "GOVERNMENT":
        return "government"
    return "commercial" if n else None


def map_payers(r: CsvRecords) -> list[Emit]:
    ids = r.text("Id", required=True)
    r.ids = ids
    names = r.text("NAME")
    owners = r.text("OWNERSHIP")
    return [Emit("payers", {
        "payer_id": ids, "name": names,
        "payer_type": [payer_type(n, o) for n, o in zip(names, owners, strict=True)],
    })]


def map_raw(r: CsvRecords) -> list[Emit]:
    """Files without a table of their own: the row as JSON in raw_resources, id = row hash."""
    header = r.header
    content = [orjson.dumps(dict(zip(header, row, strict=True))).decode() for row in r.rows]
    cols: dict[str, Any] = {
        "record_type": r.kind, "record_id": hash_ids(r), "patient_id": r.text("PATIENT", "PATIENTID"),
        "content": content,
    }
    return [Emit("raw_resources", cols)]


def _sig(*cols: str) -> frozenset[str]:
    return frozenset(c.upper() for c in cols)


SYNTHEA_KINDS: dict[str, KindSpec] = {
    "patients": KindSpec(map_patients, _sig("Id", "BIRTHDATE", "DEATHDATE", "GENDER", "RACE")),
    "encounters": KindSpec(map_encounters, _sig("Id", "START", "PATIENT", "ENCOUNTERCLASS", "BASE_ENCOUNTER_COST")),
    "conditions": KindSpec(map_conditions),
    "procedures": KindSpec(map_procedures),
    "observations": KindSpec(map_observations, _sig("DATE", "PATIENT", "CATEGORY", "VALUE", "UNITS")),
    "medications": KindSpec(map_medications, _sig("START", "PATIENT", "DISPENSES", "TOTALCOST")),
    "immunizations": KindSpec(map_immunizations),
    "claims": KindSpec(map_claims, _sig("Id", "PATIENTID", "APPOINTMENTID", "SERVICEDATE"),
                       whole_file=True),  # reads the transactions file once for the totals
    "claims_transactions": KindSpec(map_claims_transactions, _sig("ID", "CLAIMID", "CHARGEID", "TYPE"),
                                    whole_file=True),
    "organizations": KindSpec(map_organizations),
    "providers": KindSpec(map_providers, _sig("Id", "ORGANIZATION", "NAME", "SPECIALITY")),
    "payers": KindSpec(map_payers, _sig("Id", "NAME", "AMOUNT_COVERED", "AMOUNT_UNCOVERED")),
    **{k: KindSpec(map_raw) for k in (
        "careplans", "allergies", "devices", "supplies", "imaging_studies", "payer_transitions",
    )},
}
