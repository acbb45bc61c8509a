"""Map one FHIR R4 resource (already parsed JSON) to rows of the core tables.

One function per resource type; each returns the rows of one record or raises Reject. Rows are
built positionally by generated builders, so each mapper names its columns and stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from carevalue.ingest.batch import Reason
from carevalue.ingest.fhir_values import (
    Reject,
    array,
    code_of,
    coding,
    concept,
    day,
    first,
    instant,
    money,
    nonnegative,
    number,
    obj,
    period,
    quantity,
    string,
)
from carevalue.ingest.references import References, Unresolvable
from carevalue.model import TABLES

Row = tuple[str, tuple[Any, ...]]


def _builder(name: str, columns: list[str]) -> Callable[..., tuple[Any, ...]]:
    data = [c for c in columns if c != "source"]
    code = (f"def build(source, *, {', '.join(f'{c}=None' for c in data)}):\n"
            f"    return ({', '.join(data)}, source)\n")
    ns: dict[str, Any] = {}
    exec(code, ns)  # noqa: S102 - generated from the schema declaration, not from input
    fn: Callable[..., tuple[Any, ...]] = ns["build"]
    fn.__name__ = f"row_{name}"
    return fn


ROW: dict[str, Callable[..., tuple[Any, ...]]] = {t.name: _builder(t.name, t.column_names) for t in TABLES}


def positional(name: str, fields: str) -> Callable[..., tuple[Any, ...]]:
    """A row builder of table ``name`` taking the source, then the columns ``fields`` names, in that
    order, by position (columns not named are null): the hot mappers' rows, since a call by keyword
    costs several times one by position. The mapper lists its values in the order of ``fields``."""
    columns = next(t.column_names for t in TABLES if t.name == name)
    if columns[-1] != "source":
        raise ValueError(f"{name}: last column must be 'source'")
    given = fields.split()
    unknown = [f for f in given if f not in columns or f == "source"]
    if unknown or len(set(given)) != len(given):
        raise ValueError(f"{name}: unknown or repeated columns {unknown or given}")
    values = ", ".join(c if c in given else "None" for c in columns[:-1])
    code = f"def build(source, {', '.join(given)}):\n    return ({values}, source)\n"
    ns: dict[str, Any] = {}
    exec(code, ns)  # noqa: S102 - generated from the schema declaration, not from input
    fn: Callable[..., tuple[Any, ...]] = ns["build"]
    fn.__name__ = f"row_{name}"
    return fn

STATUS: dict[str, frozenset[str]] = {
    "Encounter": frozenset(["planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"]),
    "Observation": frozenset(["registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"]),
    "Procedure": frozenset(["preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"]),
    "MedicationRequest": frozenset(["active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"]),
    "MedicationRequest.intent": frozenset(["proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"]),
    "Immunization": frozenset(["completed", "entered-in-error", "not-done"]),
    "Claim": frozenset(["active", "cancelled", "draft", "entered-in-error"]),
    "ExplanationOfBenefit": frozenset(["active", "cancelled", "draft", "entered-in-error"]),
    "CareTeam": frozenset(["proposed", "active", "suspended", "inactive", "entered-in-error"]),
    "QuestionnaireResponse": frozenset(["in-progress", "completed", "amended", "entered-in-error", "stopped"]),
    "Questionnaire": frozenset(["draft", "active", "retired", "unknown"]),
}
# Status is 1..1 in R4 for these. MedicationRequest.intent is 1..1 too, but older exports omit it:
# a missing intent is stored as null (and counts, content/record-rules), a wrong one is quarantined.
STATUS_REQUIRED = frozenset(STATUS) - {"CareTeam", "MedicationRequest.intent"}
# Condition's two status elements are CodeableConcepts (0..1) bound to these required value sets.
CONDITION_STATUS: dict[str, frozenset[str]] = {
    "clinicalStatus": frozenset(["active", "recurrence", "relapse", "inactive", "remission", "resolved"]),
    "verificationStatus": frozenset(["unconfirmed", "provisional", "differential", "confirmed", "refuted",
                                     "entered-in-error"]),
}
GENDERS = frozenset(("male", "female", "other", "unknown"))
ORDINAL_URLS = (
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
)
CONDITION_TEMPLATE_URL = "https://carevalue.org/fhir/StructureDefinition/condition-template"
PAYER_TYPES = frozenset(("pay", "payer", "ins"))


class Context:
    """What mapping a record needs beyond the record: the source, references, bundle Medications."""

    def __init__(self, source: str, refs: References) -> None:
        self.source = source
        self.refs = refs
        self.medications: dict[str, tuple[str | None, str | None, str | None, list[Any]]] = {}

    def ref(self, value: Any, field: str, expected: str | None = None) -> tuple[str | None, str | None]:
        if value is None:
            return None, None
        try:
            return self.refs.resolve(value, expected)
        except Unresolvable as e:
            raise Reject(field, Reason.INVALID_REFERENCE, f"{field}: {e}") from None

    def ref_id(self, value: Any, field: str, expected: str | None = None) -> str | None:
        if value is None:
            return None
        try:
            return self.refs.resolve(value, expected)[1]
        except Unresolvable as e:
            raise Reject(field, Reason.INVALID_REFERENCE, f"{field}: {e}") from None

    def patient(self, value: Any, field: str) -> str:
        """The patient a record belongs to (required)."""
        if value is None:
            raise Reject(field, Reason.MISSING_FIELD, f"{field} (the patient) is missing")
        rtype, rid = self.ref(value, field, "Patient")
        if rid is None:
            raise Reject(field, Reason.MISSING_FIELD, f"{field} names no patient (no reference or identifier)")
        if rtype not in (None, "Patient"):
            raise Reject(field, Reason.INVALID_REFERENCE, f"{field} refers to a {rtype}, not a Patient")
        return rid


def _status(r: dict[str, Any], rtype: str, element: str = "status") -> str | None:
    """A required-binding code element (``status``, ``intent``) checked against its R4 value set."""
    key = rtype if element == "status" else f"{rtype}.{element}"
    st = r.get(element)
    if st is None:
        if key in STATUS_REQUIRED:
            raise Reject(element, Reason.MISSING_FIELD, f"{rtype}.{element} is required and missing")
        return None
    if type(st) is not str:
        raise Reject(element, Reason.WRONG_TYPE, f"{element} should be a code, got {type(st).__name__}")
    allowed = STATUS.get(key)
    if allowed is not None and st not in allowed:
        raise Reject(element, Reason.INVALID_STATUS,
                     f"{rtype}.{element} {st!r} is not one of {', '.join(sorted(allowed))}")
    return st


def _condition_status(r: dict[str, Any], element: str) -> str | None:
    """Condition.clinicalStatus / verificationStatus: the code, checked against its R4 value set."""
    code = code_of(r.get(element), element)
    allowed = CONDITION_STATUS[element]
    if code is not None and code not in allowed:
        raise Reject(element, Reason.INVALID_STATUS,
                     f"Condition.{element} {code!r} is not one of {', '.join(sorted(allowed))}")
    return code


def _required_concept(r: dict[str, Any], field: str, rtype: str) -> tuple[Any, Any, Any, list[Any]]:
    value = r.get(field)
    if value is None:
        raise Reject(field, Reason.MISSING_FIELD, f"{rtype}.{field} is required and missing")
    c = concept(value, field)
    if c[1] is None and c[2] is None:
        raise Reject(field, Reason.MISSING_FIELD, f"{rtype}.{field} has neither a code nor text")
    return c


_CODING = positional("codings", "record_table record_id seq code_system code display")


def _codings(src: str, tbl: str, rid: str, more: list[Any]) -> list[Row]:
    build = _CODING
    return [("codings", build(src, tbl, rid, i, s, c, d)) for i, (s, c, d) in enumerate(more, 2)]


def _extension(r: dict[str, Any], url: str) -> dict[str, Any] | None:
    for e in array(r.get("extension"), "extension"):
        if type(e) is dict and e.get("url") == url:
            return e
    return None


DEPRIVATION_URL = "https://carevalue.org/fhir/StructureDefinition/deprivation-index"


def _us_core_text(r: dict[str, Any], url: str) -> str | None:
    e = _extension(r, url)
    if e is None:
        return None
    for sub in array(e.get("extension"), "extension.extension"):
        if type(sub) is dict and sub.get("url") == "text":
            return string(sub.get("valueString"), "extension.valueString")
    return None


def _address(value: Any, field: str) -> dict[str, Any]:
    a = obj(value, field) if type(value) is dict else first(value, field)
    return {"city": string(a.get("city"), f"{field}.city"), "state": string(a.get("state"), f"{field}.state"),
            "postal_code": string(a.get("postalCode"), f"{field}.postalCode")}


def _identifier(r: dict[str, Any]) -> tuple[str | None, str | None]:
    i = first(r.get("identifier"), "identifier")
    return string(i.get("system"), "identifier[0].system"), string(i.get("value"), "identifier[0].value")


def _human_name(value: Any, field: str) -> str | None:
    n = first(value, field)
    if not n:
        return None
    text = string(n.get("text"), f"{field}[0].text")
    if text:
        return text
    parts = [p for p in array(n.get("prefix"), f"{field}[0].prefix") + array(n.get("given"), f"{field}[0].given")
             if type(p) is str]
    family = string(n.get("family"), f"{field}[0].family")
    if family:
        parts.append(family)
    return " ".join(parts) or None


def _value(h: dict[str, Any], prefix: str = "") -> tuple[Any, Any, Any, Any, Any]:
    """(value_num, value_unit, value_code_system, value_code, value_text) of an element's value[x]."""
    q = h.get("valueQuantity")
    if q is not None:
        num, unit = quantity(q, f"{prefix}valueQuantity")
        return num, unit, None, None, None
    cc = h.get("valueCodeableConcept")
    if cc is not None:
        s, c, d, _ = concept(cc, f"{prefix}valueCodeableConcept")
        return None, None, s, c, d
    for key, v in h.items():
        if not key.startswith("value") or key == "value":
            continue
        f = prefix + key
        if key == "valueString":
            return None, None, None, None, string(v, f)
        if key == "valueBoolean":
            if type(v) is not bool:
                raise Reject(f, Reason.WRONG_TYPE, f"{f} should be true or false, got {v!r}")
            return None, None, None, None, "true" if v else "false"
        if key == "valueInteger":
            if type(v) is not int:
                raise Reject(f, Reason.NON_NUMERIC, f"{f} should be an integer, got {v!r}")
            return number(v, f), None, None, None, None
        if key == "valueDecimal":
            return number(v, f), None, None, None, None
        if key in ("valueDateTime", "valueInstant", "valueDate"):
            instant(v, f)
            return None, None, None, None, v
        if key == "valueCoding":
            s, c, d = coding(v, f)
            return None, None, s, c, d
        if key in ("valueTime", "valueUri", "valueCode"):
            return None, None, None, None, string(v, f)
        return None, None, None, None, orjson.dumps(v).decode()
    return None, None, None, None, None


# ---------------------------------------------------------------- resource mappers

def patient(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    gender = r.get("gender")
    if gender is not None and gender not in GENDERS:
        raise Reject("gender", Reason.INVALID_GENDER, f"gender {gender!r} is not one of male, female, other, unknown")
    birth = day(r.get("birthDate"), "birthDate")
    death = day(r.get("deceasedDateTime"), "deceasedDateTime")
    if birth is not None and death is not None and death < birth:
        raise Reject("deceasedDateTime", Reason.END_BEFORE_START, f"died ({death}) before being born ({birth})")
    system, value = _identifier(r)
    addr = _address(r.get("address"), "address")
    return [("patients", _PATIENT(
        ctx.source, rid, system, value, birth, death, gender,
        _us_core_text(r, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"),
        _us_core_text(r, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"),
        addr["postal_code"], addr["state"], _deprivation(r)))]


_PATIENT = positional("patients", "patient_id identifier_system identifier_value birth_date death_date sex race "
                                  "ethnicity postal_code state deprivation_index")


def _deprivation(r: dict[str, Any]) -> float | None:
    """Area deprivation score 0-1 from the carevalue Patient extension (a case-mix variable)."""
    e = _extension(r, DEPRIVATION_URL)
    if e is None or "valueDecimal" not in e:
        return None
    v = number(e["valueDecimal"], "extension(deprivation-index).valueDecimal")
    if v is not None and not 0 <= v <= 1:
        raise Reject("extension(deprivation-index)", Reason.OUT_OF_RANGE,
                     f"deprivation index must be between 0 and 1, got {v}")
    return v


def encounter(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("subject"), "subject")
    status = _status(r, "Encounter")
    cls = r.get("class")
    if type(cls) is list:
        raise Reject("class", Reason.UNSUPPORTED_VERSION, "class is a list (FHIR R5 Encounter); expected an R4 Coding")
    class_code = coding(cls, "class")[1] if cls is not None else None
    system, code, display, more = concept(first(r.get("type"), "type"), "type[0]")
    start, end = period(r.get("period"), "period")
    if start is None:
        raise Reject("period.start", Reason.MISSING_FIELD, "Encounter.period.start is required and missing")
    practitioner = None
    for i, p in enumerate(array(r.get("participant"), "participant")):
        ind = obj(p, f"participant[{i}]").get("individual")
        if ind is not None:
            practitioner = ctx.ref_id(ind, f"participant[{i}].individual", "Practitioner")
            break
    loc = first(r.get("location"), "location").get("location")
    reason = concept(first(r.get("reasonCode"), "reasonCode"), "reasonCode[0]")
    rows: list[Row] = [("encounters", _ENCOUNTER(
        ctx.source, rid, pid, class_code, system, code, display, status, start, end,
        ctx.ref_id(r.get("serviceProvider"), "serviceProvider", "Organization"),
        ctx.ref_id(loc, "location[0].location", "Location"), practitioner, reason[1], reason[0]))]
    return rows + _codings(ctx.source, "encounters", rid, more) if more else rows


_ENCOUNTER = positional("encounters", "encounter_id patient_id class_code code_system code display status start_ts "
                                      "end_ts organization_id location_id practitioner_id reason_code reason_system")


def condition(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("subject"), "subject")
    system, code, display, more = _required_concept(r, "code", "Condition")
    onset = instant(r.get("onsetDateTime"), "onsetDateTime")
    if onset is None and "onsetPeriod" in r:
        onset = period(r["onsetPeriod"], "onsetPeriod")[0]
    abatement = instant(r.get("abatementDateTime"), "abatementDateTime")
    if abatement is None and "abatementPeriod" in r:
        p = period(r["abatementPeriod"], "abatementPeriod")
        abatement = p[1] or p[0]
    if onset is not None and abatement is not None and abatement < onset:
        raise Reject("abatementDateTime", Reason.END_BEFORE_START,
                     f"abatement ({r.get('abatementDateTime')}) is before onset ({r.get('onsetDateTime')})")
    rows: list[Row] = [("conditions", _CONDITION(
        ctx.source, rid, pid, ctx.ref_id(r.get("encounter"), "encounter", "Encounter"), system, code, display,
        code_of(first(r.get("category"), "category"), "category[0]"),
        _condition_status(r, "clinicalStatus"), _condition_status(r, "verificationStatus"),
        onset, abatement, instant(r.get("recordedDate"), "recordedDate")))]
    return rows + _codings(ctx.source, "conditions", rid, more) if more else rows


_CONDITION = positional("conditions", "condition_id patient_id encounter_id code_system code display category "
                                      "clinical_status verification_status onset_ts abatement_ts recorded_ts")


def procedure(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("subject"), "subject")
    status = _status(r, "Procedure")
    system, code, display, more = _required_concept(r, "code", "Procedure")
    if "performedPeriod" in r:
        start, end = period(r["performedPeriod"], "performedPeriod")
    else:
        start = end = instant(r.get("performedDateTime"), "performedDateTime")
    performer = first(r.get("performer"), "performer").get("actor")
    reason = concept(first(r.get("reasonCode"), "reasonCode"), "reasonCode[0]")
    rows: list[Row] = [("procedures", _PROCEDURE(
        ctx.source, rid, pid, ctx.ref_id(r.get("encounter"), "encounter", "Encounter"),
        system, code, display, status, start, end,
        ctx.ref_id(performer, "performer[0].actor", "Practitioner"),
        ctx.ref_id(r.get("location"), "location", "Location"), reason[1], reason[0]))]
    return rows + _codings(ctx.source, "procedures", rid, more) if more else rows


_PROCEDURE = positional("procedures", "procedure_id patient_id encounter_id code_system code display status start_ts "
                                      "end_ts practitioner_id location_id reason_code reason_system")


def observation(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("subject"), "subject")
    status = _status(r, "Observation")
    system, code, display, more = _required_concept(r, "code", "Observation")
    effective = instant(r.get("effectiveDateTime"), "effectiveDateTime")
    if effective is None:
        if "effectivePeriod" in r:
            effective = period(r["effectivePeriod"], "effectivePeriod")[0]
        elif "effectiveInstant" in r:
            effective = instant(r["effectiveInstant"], "effectiveInstant")
    encounter_id = ctx.ref_id(r.get("encounter"), "encounter", "Encounter")
    category = code_of(first(r.get("category"), "category"), "category[0]")
    derived = None
    for i, d in enumerate(array(r.get("derivedFrom"), "derivedFrom")):
        rtype, did = ctx.ref(d, f"derivedFrom[{i}]", None)
        if rtype == "QuestionnaireResponse":
            derived = did
            break
    build = _OBSERVATION
    num, unit, vsys, vcode, vtext = _value(r)
    rows: list[Row] = [("observations", build(
        ctx.source, rid, pid, encounter_id, system, code, display, category, status, effective,
        num, unit, vsys, vcode, vtext, None, derived))]
    if more:
        rows += _codings(ctx.source, "observations", rid, more)
    for i, comp in enumerate(array(r.get("component"), "component")):
        f = f"component[{i}]"
        c = obj(comp, f)
        csys, ccode, cdisp, _ = _required_concept(c, "code", f"Observation.{f}")
        num, unit, vsys, vcode, vtext = _value(c, f + ".")
        rows.append(("observations", build(
            ctx.source, f"{rid}.c{i + 1}", pid, encounter_id, csys, ccode, cdisp, category, status,
            effective, num, unit, vsys, vcode, vtext, rid, derived)))
    return rows


_OBSERVATION = positional("observations", "observation_id patient_id encounter_id code_system code display category "
                                          "status effective_ts value_num value_unit value_code_system value_code "
                                          "value_text component_of derived_from")


def medication_request(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("subject"), "subject")
    status = _status(r, "MedicationRequest")
    intent = _status(r, "MedicationRequest", "intent")
    if "medicationCodeableConcept" in r:
        system, code, display, more = _required_concept(r, "medicationCodeableConcept", "MedicationRequest")
    elif "medicationReference" in r:
        mtype, mid = ctx.ref(r["medicationReference"], "medicationReference", "Medication")
        known = ctx.medications.get(mid or "")
        system, code, display, more = known if known else (None, mid, None, [])
    else:
        raise Reject("medication[x]", Reason.MISSING_FIELD, "MedicationRequest has no medicationCodeableConcept or medicationReference")
    disp = obj(r.get("dispenseRequest"), "dispenseRequest")
    repeats = nonnegative(disp.get("numberOfRepeatsAllowed"), "dispenseRequest.numberOfRepeatsAllowed")
    validity = period(disp.get("validityPeriod"), "dispenseRequest.validityPeriod") if "validityPeriod" in disp else (None, None)
    rows: list[Row] = [("medications", _MEDICATION(
        ctx.source, rid, pid, ctx.ref_id(r.get("encounter"), "encounter", "Encounter"),
        system, code, display, status, intent, instant(r.get("authoredOn"), "authoredOn"), validity[1],
        ctx.ref_id(r.get("requester"), "requester", "Practitioner"), None if repeats is None else repeats + 1))]
    return rows + _codings(ctx.source, "medications", rid, more) if more else rows


_MEDICATION = positional("medications", "medication_id patient_id encounter_id code_system code display status "
                                        "intent authored_ts end_ts practitioner_id dispenses")


def immunization(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("patient"), "patient")
    status = _status(r, "Immunization")
    system, code, display, more = _required_concept(r, "vaccineCode", "Immunization")
    rows: list[Row] = [("immunizations", _IMMUNIZATION(
        ctx.source, rid, pid, ctx.ref_id(r.get("encounter"), "encounter", "Encounter"),
        system, code, display, status, instant(r.get("occurrenceDateTime"), "occurrenceDateTime")))]
    return rows + _codings(ctx.source, "immunizations", rid, more) if more else rows


_IMMUNIZATION = positional("immunizations", "immunization_id patient_id encounter_id code_system code display status "
                                            "occurrence_ts")


_PAID = ("benefit", "paid", "line_prvdr_pmt_amt", "payment")
_SUBMITTED = ("submitted", "line_sbmtd_chrg_amt")


def _adjudication(item: dict[str, Any], field: str, wanted: tuple[str, ...]) -> float | None:
    for j, a in enumerate(array(item.get("adjudication"), f"{field}.adjudication")):
        f = f"{field}.adjudication[{j}]"
        a = obj(a, f)
        code = code_of(a.get("category"), f"{f}.category") or ""
        if code.rsplit("/", 1)[-1] in wanted:
            return money(a.get("amount"), f"{f}.amount")
    return None


def claim(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    rtype = r["resourceType"]
    pid = ctx.patient(r.get("patient"), "patient")
    status = _status(r, rtype)
    start, end = period(r.get("billablePeriod"), "billablePeriod")
    organization = practitioner = None
    ptype, pref = ctx.ref(r.get("provider"), "provider", None)
    if ptype == "Practitioner":
        practitioner = pref
    else:
        organization = pref
    for i, ct in enumerate(array(r.get("careTeam"), "careTeam")):
        if practitioner is None:
            practitioner = ctx.ref_id(obj(ct, f"careTeam[{i}]").get("provider"), f"careTeam[{i}].provider", "Practitioner")
    payer = None
    rows: list[Row] = []
    insurer = r.get("insurer")
    if insurer is not None:
        payer = ctx.ref_id(insurer, "insurer", "Organization") or string(obj(insurer, "insurer").get("display"), "insurer.display")
    contained = {c.get("id"): c for c in array(r.get("contained"), "contained") if type(c) is dict}
    for i, ins in enumerate(array(r.get("insurance"), "insurance")):
        cov = obj(obj(ins, f"insurance[{i}]").get("coverage"), f"insurance[{i}].coverage")
        ref = cov.get("reference")
        if type(ref) is str and ref.startswith("#") and ref[1:] in contained:
            rows += _payer_rows(contained[ref[1:]], ctx, f"contained {ref}")
            if payer is None and rows:
                payer = rows[-1][1][0]
        elif payer is None:
            payer = string(cov.get("display"), f"insurance[{i}].coverage.display")
        break
    if rtype == "Claim":
        total_charge = money(r.get("total"), "total")
        total_paid = None
    else:
        total_charge = None
        for i, t in enumerate(array(r.get("total"), "total")):
            t = obj(t, f"total[{i}]")
            if (code_of(t.get("category"), f"total[{i}].category") or "") in _SUBMITTED:
                total_charge = money(t.get("amount"), f"total[{i}].amount")
        total_paid = money(obj(r.get("payment"), "payment").get("amount"), "payment.amount")
    lines, encounter_id = claim_items(r.get("item"), rid, pid, ctx)
    if total_paid is None and any(ln[1][-2] is not None for ln in lines):
        total_paid = sum(ln[1][-2] or 0.0 for ln in lines)
    header = ("claims", _CLAIM(ctx.source, rid, rtype, pid, encounter_id, organization, practitioner, payer, status,
                               start, end, total_charge, total_paid))
    return [header, *lines, *rows]


def claim_items(items: Any, rid: str, pid: str, ctx: Context, quick: bool = True) -> tuple[list[Row], str | None]:
    """The claim_lines rows of a Claim's or EOB's ``item`` list, and the first encounter an item
    names. A plain item (``quick``) is read without building field names; any other, or one that
    fails a check, is read in full, so a Reject names its field as the full reading does."""
    encounter_id = None
    lines: list[Row] = []
    seen_seq: set[int] = set()
    build = _CLAIM_LINE
    for i, it in enumerate(array(items, "item")):
        want = encounter_id is None  # later items' encounters are not read once one is found
        values = _plain_item(it, i, seen_seq, ctx, want) if quick else None
        if values is None:
            values = _item(it, i, seen_seq, ctx, want)
        seq, enc, system, code, display, served, qty, charge, paid = values
        seen_seq.add(seq)
        if encounter_id is None:
            encounter_id = enc
        lines.append(("claim_lines", build(ctx.source, rid, seq, pid, system, code, display, served, qty, charge,
                                           paid)))
    return lines, encounter_id


# (sequence, encounter, system, code, display, service date, quantity, charge, paid) of one item
_ITEM = tuple[int, str | None, str | None, str | None, str | None, Any, float | None, float | None, float | None]
_PLAIN_ITEM_KEYS = frozenset(("sequence", "productOrService", "servicedDate", "quantity", "unitPrice", "net",
                              "encounter"))


def _amount(m: Any) -> float | None:
    """The value of a plain Money ({value, currency}), a finite number >= 0; else raises ValueError."""
    if m is None:
        return None
    v = m.get("value") if type(m) is dict else None
    if (type(v) is float or type(v) is int) and len(m) <= 2 and (len(m) == 1 or "currency" in m):
        f = float(v)
        if f >= 0 and math.isfinite(f):
            return f
    raise ValueError("not a plain amount")


def _plain_item(it: Any, i: int, seen_seq: set[int], ctx: Context, want_encounter: bool) -> _ITEM | None:
    """:func:`_item` of a plain item (only the common elements, well-formed), else None."""
    if type(it) is not dict or not _PLAIN_ITEM_KEYS.issuperset(it):
        return None
    try:
        seq = it.get("sequence", i + 1)
        if type(seq) is not int or not 0 < seq < 2**31 or seq in seen_seq:
            return None
        enc = None
        refs = it.get("encounter")
        if refs is not None:
            if type(refs) is not list or not refs:
                return None
            if want_encounter:
                enc = ctx.refs.resolve(refs[0], "Encounter")[1]
                if enc is None and len(refs) > 1:
                    return None  # the next reference may name it
        system, code, display, _ = concept(it.get("productOrService"), "productOrService")
        served = instant(it.get("servicedDate"), "servicedDate")
        q = it.get("quantity")
        if q is not None and (type(q) is not dict or len(q) != 1):
            return None
        qty = _amount(q)
        charge = _amount(it.get("net"))
        if charge is None and "unitPrice" in it:
            unit = _amount(it["unitPrice"])
            charge = None if unit is None else unit * (qty if qty is not None else 1.0)
        return seq, enc, system, code, display, served, qty, charge, None
    except (Reject, Unresolvable, TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
        return None  # read in full: the same outcome, with the field named


def _item(it: Any, i: int, seen_seq: set[int], ctx: Context, want_encounter: bool) -> _ITEM:
    """(sequence, first encounter, system, code, display, service date, quantity, charge, paid) of
    item ``i``, read in full (its encounter only when ``want_encounter``)."""
    f = f"item[{i}]"
    it = obj(it, f)
    seq = it.get("sequence", i + 1)
    if type(seq) is not int or not 0 < seq < 2**31:
        raise Reject(f"{f}.sequence", Reason.WRONG_TYPE, f"{f}.sequence should be a positive integer, got {seq!r}")
    if seq in seen_seq:
        raise Reject(f"{f}.sequence", Reason.DUPLICATE, f"{f}.sequence {seq} is used by an earlier item of this claim")
    enc = None
    for j, e in enumerate(array(it.get("encounter"), f"{f}.encounter")):
        if want_encounter and enc is None:
            enc = ctx.ref_id(e, f"{f}.encounter[{j}]", "Encounter")
    system, code, display, _ = concept(it.get("productOrService"), f"{f}.productOrService")
    served = instant(it.get("servicedDate"), f"{f}.servicedDate")
    if served is None and "servicedPeriod" in it:
        served = period(it["servicedPeriod"], f"{f}.servicedPeriod")[0]
    qty = None
    if "quantity" in it:
        qty = quantity(it["quantity"], f"{f}.quantity", allow_negative=False)[0]
    charge = money(it.get("net"), f"{f}.net")
    if charge is None and "unitPrice" in it:
        unit_price = money(it["unitPrice"], f"{f}.unitPrice")
        charge = None if unit_price is None else unit_price * (qty if qty is not None else 1.0)
    if charge is None and "adjudication" in it:
        charge = _adjudication(it, f, _SUBMITTED)
    paid = _adjudication(it, f, _PAID) if "adjudication" in it else None
    return seq, enc, system, code, display, served, qty, charge, paid


_CLAIM = positional("claims", "claim_id kind patient_id encounter_id organization_id practitioner_id payer_id status "
                              "service_start service_end total_charge total_paid")
_CLAIM_LINE = positional("claim_lines", "claim_id line_no patient_id code_system code display service_date quantity "
                                        "charge_amount paid_amount")


def _payer_rows(cov: dict[str, Any], ctx: Context, field: str) -> list[Row]:
    """A payers row from a Coverage's first payor (reference id, else its display as id)."""
    payor = first(cov.get("payor"), f"{field}.payor")
    if not payor:
        return []
    name = string(payor.get("display"), f"{field}.payor[0].display")
    pid = ctx.ref_id(payor, f"{field}.payor[0]", "Organization") or name
    if pid is None:
        return []
    ptype = concept(cov.get("type"), f"{field}.type")
    return [("payers", _PAYER(ctx.source, pid, name, ptype[2] or ptype[1]))]


_PAYER = positional("payers", "payer_id name payer_type")


def organization(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    system, code, display, _ = concept(first(r.get("type"), "type"), "type[0]")
    addr = _address(r.get("address"), "address")
    name = string(r.get("name"), "name")
    rows: list[Row] = [("organizations", ROW["organizations"](
        ctx.source, organization_id=rid, name=name, type_code=code, type_display=display,
        part_of=ctx.ref_id(r.get("partOf"), "partOf", "Organization"),
        identifier_value=_identifier(r)[1], **addr))]
    if code in PAYER_TYPES:
        rows.append(("payers", ROW["payers"](ctx.source, payer_id=rid, name=name, payer_type=display)))
    return rows


def _position(value: Any) -> tuple[float | None, float | None]:
    """Location.position as (latitude, longitude); both are 1..1 inside position, in degrees."""
    if value is None:
        return None, None
    p = obj(value, "position")
    lat, lon = number(p.get("latitude"), "position.latitude"), number(p.get("longitude"), "position.longitude")
    for name, v, bound in (("latitude", lat, 90.0), ("longitude", lon, 180.0)):
        if v is None:
            raise Reject(f"position.{name}", Reason.MISSING_FIELD, f"position.{name} is required when position is given")
        if abs(v) > bound:
            raise Reject(f"position.{name}", Reason.OUT_OF_RANGE, f"position.{name} {v} is outside -{bound:g}..{bound:g} degrees")
    return lat, lon


def location(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    addr = _address(r.get("address"), "address")
    lat, lon = _position(r.get("position"))
    return [("locations", ROW["locations"](
        ctx.source, location_id=rid, name=string(r.get("name"), "name"),
        organization_id=ctx.ref_id(r.get("managingOrganization"), "managingOrganization", "Organization"),
        type_code=code_of(first(r.get("type"), "type"), "type[0]"),
        identifier_value=_identifier(r)[1], latitude=lat, longitude=lon, **addr))]


def practitioner(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    gender = r.get("gender")
    if gender is not None and gender not in GENDERS:
        raise Reject("gender", Reason.INVALID_GENDER, f"gender {gender!r} is not one of male, female, other, unknown")
    q = concept(first(r.get("qualification"), "qualification").get("code"), "qualification[0].code")
    return [("practitioners", ROW["practitioners"](
        ctx.source, practitioner_id=rid, name=_human_name(r.get("name"), "name"), sex=gender,
        identifier_value=_identifier(r)[1], qualification=q[1] or q[2]))]


def practitioner_role(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    role = concept(first(r.get("code"), "code"), "code[0]")
    spec = concept(first(r.get("specialty"), "specialty"), "specialty[0]")
    return [("practitioner_roles", ROW["practitioner_roles"](
        ctx.source, role_id=rid,
        practitioner_id=ctx.ref_id(r.get("practitioner"), "practitioner", "Practitioner"),
        organization_id=ctx.ref_id(r.get("organization"), "organization", "Organization"),
        location_id=ctx.ref_id(first(r.get("location"), "location") or None, "location[0]", "Location"),
        role_code=role[1], role_display=role[2], specialty_code=spec[1], specialty_display=spec[2]))]


def care_team(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    status = _status(r, "CareTeam")
    patient_id = None
    if r.get("subject") is not None:
        stype, sid = ctx.ref(r["subject"], "subject", "Patient")
        patient_id = sid if stype in (None, "Patient") else None
    start, end = period(r.get("period"), "period")
    template = None
    ext = _extension(r, CONDITION_TEMPLATE_URL)
    if ext is not None:
        template = string(ext.get("valueString"), "extension(condition-template).valueString")
    rows: list[Row] = [("care_teams", ROW["care_teams"](
        ctx.source, care_team_id=rid, patient_id=patient_id,
        encounter_id=ctx.ref_id(r.get("encounter"), "encounter", "Encounter"),
        name=string(r.get("name"), "name"), status=status,
        organization_id=ctx.ref_id(first(r.get("managingOrganization"), "managingOrganization") or None,
                                   "managingOrganization[0]", "Organization"),
        period_start=start, period_end=end,
        category_code=code_of(first(r.get("category"), "category"), "category[0]"),
        condition_template=template))]
    build = ROW["care_team_members"]
    for i, p in enumerate(array(r.get("participant"), "participant")):
        f = f"participant[{i}]"
        p = obj(p, f)
        mtype, mid = ctx.ref(p.get("member"), f"{f}.member", None)
        role = concept(first(p.get("role"), f"{f}.role"), f"{f}.role[0]")
        rows.append(("care_team_members", build(
            ctx.source, care_team_id=rid, member_no=i + 1, member_id=mid, member_type=mtype,
            role_code=role[1], role_display=role[2])))
    return rows


def questionnaire(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    status = _status(r, "Questionnaire")
    return [("questionnaires", ROW["questionnaires"](
        ctx.source, questionnaire_id=rid, url=string(r.get("url"), "url"), name=string(r.get("name"), "name"),
        title=string(r.get("title"), "title"), version=string(r.get("version"), "version"), status=status,
        item_count=len(array(r.get("item"), "item"))))]


def _ordinal(c: dict[str, Any], field: str) -> float | None:
    for e in array(c.get("extension"), f"{field}.extension"):
        if type(e) is dict and e.get("url") in ORDINAL_URLS:
            return number(e.get("valueDecimal", e.get("valueInteger")), f"{field}.extension(ordinalValue)")
    return None


def _numeric(code: str) -> float | None:
    """An answer code that is a plain decimal number ("3", "-1.5") as its value, else None."""
    return float(code) if code.lstrip("-").replace(".", "", 1).isdigit() else None


def _coded(a: Any) -> tuple[float | None, str | None, str | None] | None:
    """(value_num, value_code, value_text) of an answer that is nothing but a well-formed valueCoding without
    extensions (the common shape), as the full reading in :func:`_answers` gives them; else None."""
    if type(a) is not dict or len(a) != 1:
        return None
    c = a.get("valueCoding")
    if type(c) is not dict or "extension" in c:
        return None
    try:
        _, code, display = coding(c, "valueCoding")
    except Reject:
        return None  # read again in full, to name the field
    if code is None:
        return None, None, display
    return _numeric(code), code, None


def _answers(items: Any, field: str, rid: str, ctx: Context, out: list[Row], seen: dict[str, int],
             quick: bool = True) -> None:
    """The answers of ``items`` (and of their nested items) as rows, in order. Field names are only
    built for answers that are read in full (any but a plain valueCoding, or all when not ``quick``),
    where a Reject needs them."""
    build = _ANSWER
    for i, item in enumerate(array(items, field)):
        link = item.get("linkId") if type(item) is dict else None
        if type(link) is not str or not link:
            f = f"{field}[{i}]"
            item = obj(item, f)
            link = string(item.get("linkId"), f"{f}.linkId")
            if not link:
                raise Reject(f"{f}.linkId", Reason.MISSING_FIELD, f"{f} has no linkId")
        answers = item.get("answer")
        if type(answers) is not list:
            answers = array(answers, f"{field}[{i}].answer")
        for j, a in enumerate(answers):
            coded = _coded(a) if quick else None
            af = None
            if coded is not None:
                num, code, text = coded
            else:
                af = f"{field}[{i}].answer[{j}]"
                a = obj(a, af)
                num, _, _, code, text = _value(a, af + ".")
                if "valueCoding" in a:
                    c = obj(a["valueCoding"], f"{af}.valueCoding")
                    num = _ordinal(c, f"{af}.valueCoding")
                    if num is None and code is not None:
                        num = _numeric(code)
                    text = None if code is not None else text
            n = seen.get(link, 0) + 1
            seen[link] = n
            out.append(("questionnaire_answers", build(ctx.source, rid, link if n == 1 else f"{link}[{n}]", num, code,
                                                       text)))
            if af is not None and a.get("item") is not None:
                _answers(a["item"], f"{af}.item", rid, ctx, out, seen, quick)
        if item.get("item") is not None:
            _answers(item["item"], f"{field}[{i}].item", rid, ctx, out, seen, quick)


def questionnaire_response(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    pid = ctx.patient(r.get("subject"), "subject")
    status = _status(r, "QuestionnaireResponse")
    q = r.get("questionnaire")
    if q is None:
        raise Reject("questionnaire", Reason.MISSING_FIELD, "QuestionnaireResponse.questionnaire is missing")
    q = string(q, "questionnaire")
    rows: list[Row] = [("questionnaire_responses", _RESPONSE(
        ctx.source, rid, pid, ctx.ref_id(r.get("encounter"), "encounter", "Encounter"), q, status,
        instant(r.get("authored"), "authored")))]
    _answers(r.get("item"), "item", rid, ctx, rows, {})
    return rows


_RESPONSE = positional("questionnaire_responses", "response_id patient_id encounter_id questionnaire status authored_ts")
_ANSWER = positional("questionnaire_answers", "response_id link_id value_num value_code value_text")


def _patient_of(r: dict[str, Any], ctx: Context) -> str | None:
    """Best-effort patient of an unmapped resource (never a reason to quarantine)."""
    for key in ("subject", "patient", "beneficiary"):
        v = r.get(key)
        if type(v) is dict:
            try:
                rtype, rid = ctx.refs.resolve(v, "Patient")
            except Unresolvable:
                return None
            return rid if rtype in (None, "Patient") else None
    return None


def coverage(r: dict[str, Any], rid: str, ctx: Context) -> list[Row]:
    return [*_payer_rows(r, ctx, "Coverage"), raw(r, rid, ctx)[0]]


def raw(r: dict[str, Any], rid: str, ctx: Context, text: str | None = None) -> list[Row]:
    return [("raw_resources", _RAW(ctx.source, r["resourceType"], rid, _patient_of(r, ctx),
                                   text if text is not None else orjson.dumps(r).decode()))]


_RAW = positional("raw_resources", "record_type record_id patient_id content")


MAPPERS: dict[str, Callable[[dict[str, Any], str, Context], list[Row]]] = {
    "Patient": patient,
    "Encounter": encounter,
    "Condition": condition,
    "Procedure": procedure,
    "Observation": observation,
    "MedicationRequest": medication_request,
    "Immunization": immunization,
    "Claim": claim,
    "ExplanationOfBenefit": claim,
    "Organization": organization,
    "Location": location,
    "Practitioner": practitioner,
    "PractitionerRole": practitioner_role,
    "CareTeam": care_team,
    "Questionnaire": questionnaire,
    "QuestionnaireResponse": questionnaire_response,
    "Coverage": coverage,
}
