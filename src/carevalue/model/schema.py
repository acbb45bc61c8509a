"""The common data model (F1): every core table, its columns, types and meaning.

One declaration serves the store (DDL), the ingest writers (column order), the Ibis readers and
``docs/data-model.md``, so the four never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type: VARCHAR, DATE, TIMESTAMP, DOUBLE, BIGINT, INTEGER, TINYINT, BOOLEAN
    doc: str
    required: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    parent: str | None = None  # child tables are replaced together with their parent row
    parent_key: tuple[str, ...] = field(default_factory=tuple)
    counts: tuple[str, ...] = ()  # columns that count patients: small-cell suppression applies to them
    stage: str | None = None  # the engine stage that writes the table (None: ingest, a core table)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self) -> str:
        cols = ",\n  ".join(f'"{c.name}" {c.type}' for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  {cols}\n)'


def _c(name: str, type_: str, doc: str, required: bool = False) -> Column:
    return Column(name, type_, doc, required)


SOURCE = _c("source", "VARCHAR", "Source file the record was read from (path as given to ingest).", True)
CODE_COLS = (
    _c("code_system", "VARCHAR", "Code system URI or name (SNOMED CT, ICD-10-CM, LOINC, RxNorm, CPT, HCPCS ...)."),
    _c("code", "VARCHAR", "Code within code_system."),
    _c("display", "VARCHAR", "Human-readable text of the code."),
)

TABLES: tuple[Table, ...] = (
    Table("patients", "One row per person.", ("patient_id",), (
        _c("patient_id", "VARCHAR", "Stable id of the patient (FHIR Patient.id or Synthea Id).", True),
        _c("identifier_system", "VARCHAR", "System of the first business identifier (e.g. MRN system)."),
        _c("identifier_value", "VARCHAR", "Value of that identifier."),
        _c("birth_date", "DATE", "Date of birth."),
        _c("death_date", "DATE", "Date of death, null while alive."),
        _c("sex", "VARCHAR", "Administrative sex: male, female, other, unknown."),
        _c("race", "VARCHAR", "Race (US Core extension text or Synthea RACE)."),
        _c("ethnicity", "VARCHAR", "Ethnicity (US Core extension text or Synthea ETHNICITY)."),
        _c("postal_code", "VARCHAR", "Postal code of the home address."),
        _c("state", "VARCHAR", "State/region of the home address."),
        _c("deprivation_index", "DOUBLE", "Area deprivation score 0-1 where the source provides one (case-mix)."),
        SOURCE,
    )),
    Table("encounters", "A contact between a patient and the health system.", ("encounter_id",), (
        _c("encounter_id", "VARCHAR", "Encounter id.", True),
        _c("patient_id", "VARCHAR", "Patient (patients.patient_id).", True),
        _c("class_code", "VARCHAR", "Setting: AMB, IMP, EMER, HH, VR, ... (v3 ActCode or Synthea class mapped)."),
        *CODE_COLS,
        _c("status", "VARCHAR", "FHIR Encounter.status (planned, in-progress, finished, cancelled, entered-in-error, ...); what counts is set in content/record-rules."),
        _c("start_ts", "TIMESTAMP", "Start (UTC).", True),
        _c("end_ts", "TIMESTAMP", "End (UTC)."),
        _c("organization_id", "VARCHAR", "Service provider organization / facility."),
        _c("location_id", "VARCHAR", "Location of the encounter."),
        _c("practitioner_id", "VARCHAR", "Primary performer."),
        _c("payer_id", "VARCHAR", "Payer of the encounter where known."),
        _c("reason_code", "VARCHAR", "First reason code."),
        _c("reason_system", "VARCHAR", "System of reason_code."),
        _c("charge_amount", "DOUBLE", "Charge for the encounter itself where the source gives one (Synthea BASE_ENCOUNTER_COST; a charge, never a cost)."),
        _c("claim_charge_total", "DOUBLE", "Total charged on the encounter's claims (Synthea TOTAL_CLAIM_COST; a charge)."),
        SOURCE,
    )),
    Table("conditions", "Diagnoses and problems.", ("condition_id",), (
        _c("condition_id", "VARCHAR", "Condition id (Synthea CSV rows get a deterministic hash id).", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter where recorded."),
        *CODE_COLS,
        _c("category", "VARCHAR", "encounter-diagnosis, problem-list-item, ..."),
        _c("clinical_status", "VARCHAR", "active, recurrence, relapse, inactive, remission, resolved (FHIR Condition.clinicalStatus)."),
        _c("verification_status", "VARCHAR", "unconfirmed, provisional, differential, confirmed, refuted, entered-in-error (FHIR Condition.verificationStatus); refuted and entered-in-error never count (content/record-rules)."),
        _c("onset_ts", "TIMESTAMP", "Onset (UTC)."),
        _c("abatement_ts", "TIMESTAMP", "Abatement / resolution (UTC)."),
        _c("recorded_ts", "TIMESTAMP", "When recorded."),
        SOURCE,
    )),
    Table("procedures", "Procedures performed.", ("procedure_id",), (
        _c("procedure_id", "VARCHAR", "Procedure id.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        *CODE_COLS,
        _c("status", "VARCHAR", "completed, not-done, entered-in-error, ... (FHIR Procedure.status)."),
        _c("start_ts", "TIMESTAMP", "Start (UTC)."),
        _c("end_ts", "TIMESTAMP", "End (UTC)."),
        _c("practitioner_id", "VARCHAR", "First performer."),
        _c("location_id", "VARCHAR", "Location."),
        _c("reason_code", "VARCHAR", "First reason code."),
        _c("reason_system", "VARCHAR", "System of reason_code."),
        _c("charge_amount", "DOUBLE", "Charge where the source gives one (a charge, never a cost)."),
        SOURCE,
    )),
    Table("observations", "Measurements, lab results, vital signs, survey items and PROM scores.", ("observation_id",), (
        _c("observation_id", "VARCHAR", "Observation id.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        *CODE_COLS,
        _c("category", "VARCHAR", "vital-signs, laboratory, survey, ..."),
        _c("status", "VARCHAR", "registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown (FHIR Observation.status)."),
        _c("effective_ts", "TIMESTAMP", "Clinically relevant time (UTC)."),
        _c("value_num", "DOUBLE", "Numeric value (valueQuantity/valueInteger/valueDecimal)."),
        _c("value_unit", "VARCHAR", "UCUM unit of value_num."),
        _c("value_code_system", "VARCHAR", "System of a coded value."),
        _c("value_code", "VARCHAR", "Coded value (valueCodeableConcept)."),
        _c("value_text", "VARCHAR", "Text/boolean value as text."),
        _c("component_of", "VARCHAR", "Parent observation id for components (e.g. blood pressure)."),
        _c("derived_from", "VARCHAR", "QuestionnaireResponse id a score was derived from."),
        SOURCE,
    )),
    Table("questionnaires", "PROM instruments and other questionnaires.", ("questionnaire_id",), (
        _c("questionnaire_id", "VARCHAR", "Questionnaire id.", True),
        _c("url", "VARCHAR", "Canonical URL."),
        _c("name", "VARCHAR", "Computer-friendly name."),
        _c("title", "VARCHAR", "Title."),
        _c("version", "VARCHAR", "Version."),
        _c("status", "VARCHAR", "draft, active, retired."),
        _c("item_count", "BIGINT", "Number of top-level items."),
        SOURCE,
    )),
    Table("questionnaire_responses", "Completed questionnaires (PROM administrations).", ("response_id",), (
        _c("response_id", "VARCHAR", "QuestionnaireResponse id.", True),
        _c("patient_id", "VARCHAR", "Patient (subject).", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        _c("questionnaire", "VARCHAR", "Canonical reference to the Questionnaire answered.", True),
        _c("status", "VARCHAR", "completed, in-progress, ..."),
        _c("authored_ts", "TIMESTAMP", "When answered (UTC)."),
        SOURCE,
    )),
    Table("questionnaire_answers", "One row per answered item.", ("response_id", "link_id"), (
        _c("response_id", "VARCHAR", "QuestionnaireResponse id.", True),
        _c("link_id", "VARCHAR", "Item linkId (nested items flattened with their own linkId).", True),
        _c("value_num", "DOUBLE", "Numeric answer (integer/decimal, or a coding's ordinal where given)."),
        _c("value_code", "VARCHAR", "Coded answer."),
        _c("value_text", "VARCHAR", "Text/boolean/date answer."),
        SOURCE,
    ), parent="questionnaire_responses", parent_key=("response_id",)),
    Table("medications", "Medication orders / prescriptions.", ("medication_id",), (
        _c("medication_id", "VARCHAR", "MedicationRequest id.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        *CODE_COLS,
        _c("status", "VARCHAR", "active, completed, stopped, cancelled, entered-in-error, draft, ... (FHIR MedicationRequest.status)."),
        _c("intent", "VARCHAR", "proposal, plan, order, original-order, ... (FHIR MedicationRequest.intent); only orders count (content/record-rules)."),
        _c("authored_ts", "TIMESTAMP", "When ordered (UTC)."),
        _c("end_ts", "TIMESTAMP", "Stop date where known."),
        _c("practitioner_id", "VARCHAR", "Requester."),
        _c("dispenses", "DOUBLE", "Number of dispenses where known."),
        _c("charge_amount", "DOUBLE", "Total charge where the source gives one."),
        SOURCE,
    )),
    Table("immunizations", "Vaccines given.", ("immunization_id",), (
        _c("immunization_id", "VARCHAR", "Immunization id.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        *CODE_COLS,
        _c("status", "VARCHAR", "completed, not-done, entered-in-error (FHIR Immunization.status)."),
        _c("occurrence_ts", "TIMESTAMP", "When given."),
        _c("charge_amount", "DOUBLE", "Charge where the source gives one (Synthea BASE_COST; a charge, never a cost)."),
        SOURCE,
    )),
    Table("claims", "Claims and explanations of benefit (header).", ("claim_id",), (
        _c("claim_id", "VARCHAR", "Claim / ExplanationOfBenefit id.", True),
        _c("kind", "VARCHAR", "Claim, ExplanationOfBenefit or synthea-claim.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter billed."),
        _c("organization_id", "VARCHAR", "Billing provider organization."),
        _c("practitioner_id", "VARCHAR", "Rendering/billing practitioner."),
        _c("payer_id", "VARCHAR", "Insurer / payer."),
        _c("status", "VARCHAR", "active, cancelled, ..."),
        _c("service_start", "TIMESTAMP", "Billable period start."),
        _c("service_end", "TIMESTAMP", "Billable period end."),
        _c("total_charge", "DOUBLE", "Total charged (a charge, never a cost)."),
        _c("total_paid", "DOUBLE", "Total paid by payer where known."),
        SOURCE,
    )),
    Table("claim_lines", "Line-level charges.", ("claim_id", "line_no"), (
        _c("claim_id", "VARCHAR", "Claim.", True),
        _c("line_no", "BIGINT", "Sequence within the claim.", True),
        _c("patient_id", "VARCHAR", "Patient."),
        *CODE_COLS,
        _c("service_date", "TIMESTAMP", "Date of service."),
        _c("quantity", "DOUBLE", "Units."),
        _c("charge_amount", "DOUBLE", "Line charge."),
        _c("paid_amount", "DOUBLE", "Line paid amount where known."),
        SOURCE,
    ), parent="claims", parent_key=("claim_id",)),
    Table("organizations", "Hospitals, practices, payers' organizations, facilities.", ("organization_id",), (
        _c("organization_id", "VARCHAR", "Organization id.", True),
        _c("name", "VARCHAR", "Name."),
        _c("type_code", "VARCHAR", "Type code (prov, pay, ...; or carevalue facility type)."),
        _c("type_display", "VARCHAR", "Type text."),
        _c("part_of", "VARCHAR", "Parent organization id."),
        _c("city", "VARCHAR", "City."),
        _c("state", "VARCHAR", "State."),
        _c("postal_code", "VARCHAR", "Postal code."),
        _c("identifier_value", "VARCHAR", "First business identifier (e.g. NPI, Synthea id)."),
        SOURCE,
    )),
    Table("locations", "Physical places of care.", ("location_id",), (
        _c("location_id", "VARCHAR", "Location id.", True),
        _c("name", "VARCHAR", "Name."),
        _c("organization_id", "VARCHAR", "Managing organization."),
        _c("type_code", "VARCHAR", "Type code."),
        _c("city", "VARCHAR", "City."),
        _c("state", "VARCHAR", "State."),
        _c("postal_code", "VARCHAR", "Postal code."),
        _c("identifier_value", "VARCHAR", "First business identifier (targets of conditional references)."),
        _c("latitude", "DOUBLE", "Location.position.latitude (WGS84 decimal degrees)."),
        _c("longitude", "DOUBLE", "Location.position.longitude (WGS84 decimal degrees)."),
        SOURCE,
    )),
    Table("practitioners", "Clinicians.", ("practitioner_id",), (
        _c("practitioner_id", "VARCHAR", "Practitioner id.", True),
        _c("name", "VARCHAR", "Name as text."),
        _c("sex", "VARCHAR", "Administrative gender."),
        _c("identifier_value", "VARCHAR", "First business identifier (e.g. NPI)."),
        _c("qualification", "VARCHAR", "First qualification code/text."),
        _c("organization_id", "VARCHAR", "Organization (Synthea providers.csv)."),
        _c("specialty", "VARCHAR", "Specialty text (Synthea providers.csv)."),
        SOURCE,
    )),
    Table("practitioner_roles", "What a practitioner does where.", ("role_id",), (
        _c("role_id", "VARCHAR", "PractitionerRole id.", True),
        _c("practitioner_id", "VARCHAR", "Practitioner."),
        _c("organization_id", "VARCHAR", "Organization."),
        _c("location_id", "VARCHAR", "First location."),
        _c("role_code", "VARCHAR", "Role code (e.g. surgeon, nurse, care-manager)."),
        _c("role_display", "VARCHAR", "Role text."),
        _c("specialty_code", "VARCHAR", "First specialty code."),
        _c("specialty_display", "VARCHAR", "First specialty text."),
        _c("team_id", "VARCHAR", "Care team / IPU the role belongs to, where known."),
        SOURCE,
    )),
    Table("care_teams", "Care teams and IPU teams.", ("care_team_id",), (
        _c("care_team_id", "VARCHAR", "CareTeam id.", True),
        _c("patient_id", "VARCHAR", "Patient for a patient-specific team, null for a standing team."),
        _c("encounter_id", "VARCHAR", "Encounter."),
        _c("name", "VARCHAR", "Name."),
        _c("status", "VARCHAR", "active, ..."),
        _c("organization_id", "VARCHAR", "Managing organization."),
        _c("period_start", "TIMESTAMP", "Start."),
        _c("period_end", "TIMESTAMP", "End."),
        _c("category_code", "VARCHAR", "First category code (`ipu`, `primary-care-team`, ...)."),
        _c("condition_template", "VARCHAR", "Condition template id an IPU serves (CareTeam extension condition-template)."),
        SOURCE,
    )),
    Table("care_team_members", "Participants of a care team.", ("care_team_id", "member_no"), (
        _c("care_team_id", "VARCHAR", "CareTeam.", True),
        _c("member_no", "BIGINT", "Sequence within the team.", True),
        _c("member_id", "VARCHAR", "Practitioner / organization / patient id."),
        _c("member_type", "VARCHAR", "Resource type of the member."),
        _c("role_code", "VARCHAR", "Role code."),
        _c("role_display", "VARCHAR", "Role text."),
        SOURCE,
    ), parent="care_teams", parent_key=("care_team_id",)),
    Table("payers", "Insurers and other payers.", ("payer_id",), (
        _c("payer_id", "VARCHAR", "Payer id.", True),
        _c("name", "VARCHAR", "Name."),
        _c("payer_type", "VARCHAR", "commercial, medicare, medicaid, employer, self-pay, ..."),
        SOURCE,
    )),
    Table("resources", "Costing resources (TDABC): people by role, equipment, space, support.", ("resource_id",), (
        _c("resource_id", "VARCHAR", "Resource id.", True),
        _c("name", "VARCHAR", "Name."),
        _c("resource_type", "VARCHAR", "person, equipment, space, support.", True),
        _c("role", "VARCHAR", "Role for people (surgeon, nurse, ...) or kind of equipment/space."),
        _c("organization_id", "VARCHAR", "Facility that supplies the capacity."),
        _c("annual_cost", "DOUBLE", "Cost of capacity supplied per year (currency units).", True),
        _c("practical_capacity_minutes", "DOUBLE", "Practical capacity per year in minutes.", True),
        SOURCE,
    )),
    Table("activities", "Who did what for whom, for how many minutes, with which resource.", ("activity_id",), (
        _c("activity_id", "VARCHAR", "Activity id.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        _c("resource_id", "VARCHAR", "Resource used (resources.resource_id).", True),
        _c("step_code", "VARCHAR", "Process-map step code."),
        _c("start_ts", "TIMESTAMP", "When performed."),
        _c("minutes", "DOUBLE", "Minutes of the resource's time.", True),
        _c("practitioner_id", "VARCHAR", "Practitioner who did it, if a person."),
        SOURCE,
    )),
    Table("consumables", "Implants, drugs and supplies used for a patient, at acquisition cost (TDABC).", ("consumable_id",), (
        _c("consumable_id", "VARCHAR", "Consumable use id.", True),
        _c("patient_id", "VARCHAR", "Patient.", True),
        _c("encounter_id", "VARCHAR", "Encounter."),
        _c("item_code", "VARCHAR", "Item code (e.g. implant catalogue or RxNorm code)."),
        _c("description", "VARCHAR", "Item description."),
        _c("quantity", "DOUBLE", "Units used.", True),
        _c("unit_cost", "DOUBLE", "Acquisition cost per unit (a cost, not a charge).", True),
        _c("used_ts", "TIMESTAMP", "When used."),
        SOURCE,
    )),
    Table("codings", "Codings beyond the first of a record's main code (e.g. the ICD-10-CM coding after SNOMED CT).", ("record_table", "record_id", "seq"), (
        _c("record_table", "VARCHAR", "Table of the record (conditions, procedures, observations, ...).", True),
        _c("record_id", "VARCHAR", "Key of the record in that table.", True),
        _c("seq", "BIGINT", "Position of the coding in the CodeableConcept (2 = second coding).", True),
        *CODE_COLS,
        SOURCE,
    )),
    Table("raw_resources", "Records of types the model does not map, kept verbatim and counted.", ("record_type", "record_id"), (
        _c("record_type", "VARCHAR", "FHIR resourceType or Synthea file kind.", True),
        _c("record_id", "VARCHAR", "Id (FHIR id, or a deterministic hash of the CSV row).", True),
        _c("patient_id", "VARCHAR", "Patient reference where recognisable."),
        _c("content", "VARCHAR", "The record as JSON text."),
        SOURCE,
    )),
    Table("quarantine", "Every record that could not be stored, with a reason a person can read.", ("source", "locator", "field", "reason"), (
        _c("source", "VARCHAR", "Source file.", True),
        _c("locator", "VARCHAR", "Where in the file: 'line 12', 'entry 3 (Patient/abc)'.", True),
        _c("record_type", "VARCHAR", "Resource type or CSV kind."),
        _c("record_id", "VARCHAR", "Id of the record if known."),
        _c("field", "VARCHAR", "Field at fault ('' for the whole record).", True),
        _c("reason", "VARCHAR", "Reason category (e.g. 'missing required field').", True),
        _c("detail", "VARCHAR", "What was wrong, in words."),
        _c("content", "VARCHAR", "The raw record (truncated to 10 kB)."),
    )),
    Table("plausibility_flags", "Records that break a plausibility rule (content/plausibility-rules), re-derived after every ingest: the record stays stored; 'exclude' means no stage counts it.", ("record_table", "record_id", "rule"), (
        _c("record_table", "VARCHAR", "Core table of the record.", True),
        _c("record_id", "VARCHAR", "Key of the record in that table.", True),
        _c("patient_id", "VARCHAR", "Patient of the record."),
        _c("rule", "VARCHAR", "Plausibility rule id (e.g. event-before-birth).", True),
        _c("action", "VARCHAR", "exclude (no stage counts the record) or flag (counted, reported).", True),
        _c("detail", "VARCHAR", "What is implausible, in words."),
        _c("record_source", "VARCHAR", "Source file of the record."),
    )),
    Table("record_versions", "Every version of a record that carries FHIR meta.lastUpdated, from any file: which one is current (stored) and why; the others are quarantined as superseded.", ("table_name", "record_id", "source", "locator"), (
        _c("table_name", "VARCHAR", "Core table of the record's main row.", True),
        _c("record_id", "VARCHAR", "Key of the record in that table ('/'-joined when composite).", True),
        _c("record_type", "VARCHAR", "FHIR resourceType."),
        _c("source", "VARCHAR", "Source file holding this version.", True),
        _c("locator", "VARCHAR", "Where in that file.", True),
        _c("last_updated", "TIMESTAMP", "meta.lastUpdated of this version (UTC)."),
        _c("ingest_seq", "BIGINT", "Order in which this file's content was first ingested (breaks lastUpdated ties: the later ingest wins)."),
        _c("current", "BOOLEAN", "True for the version that is stored; false for a superseded one (in quarantine) or a repeat with the same content."),
        _c("why", "VARCHAR", "Why this version is or is not current, in words."),
        _c("row_keys", "VARCHAR", "JSON list of the rows this version produced: [table, key...] each."),
        _c("digest", "VARCHAR", "Hash of the version's content (without the source): equal digests are the same fact."),
    )),
    Table("ingest_files", "One row per source file ingested: the reconciliation read = stored + quarantined.", ("source",), (
        _c("source", "VARCHAR", "Source file.", True),
        _c("format", "VARCHAR", "fhir-ndjson, fhir-bundle, synthea-csv, carevalue-csv."),
        _c("sha256", "VARCHAR", "Content hash of the file."),
        _c("read", "BIGINT", "Records read."),
        _c("stored", "BIGINT", "Records stored."),
        _c("quarantined", "BIGINT", "Records quarantined."),
    )),
)

BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """The declaration of one core table; KeyError names the known tables."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(BY_NAME)}") from None
