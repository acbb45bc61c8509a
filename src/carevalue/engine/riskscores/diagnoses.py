"""ICD-10 diagnoses per patient in a look-back window: the input of every diagnosis-based risk score.

A condition's own code counts when its system is ICD-10(-CM); so do its extra codings in the
``codings`` table (synthetic and many real FHIR sources put SNOMED CT first and ICD-10-CM second).
Codes are compared upper-case without dots (``E11.9`` = ``E119``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CODE_SYSTEM_ALIASES

ICD10_SYSTEMS = tuple(sorted({s.lower() for s in CODE_SYSTEM_ALIASES["ICD-10-CM"]}))
NOT_A_DIAGNOSIS = ("refuted", "entered-in-error")


def normalised(code: ir.StringValue) -> ir.StringValue:
    """Upper case, no dots, no surrounding blanks."""
    return code.strip().upper().replace(".", "")


def is_icd10(system: ir.StringValue) -> ir.BooleanValue:
    return system.lower().isin(ICD10_SYSTEMS)


def in_window(conditions: ir.Table, as_of: date, lookback_days: int | None) -> ir.Table:
    """Conditions present at some time in [as_of - lookback_days, as_of] (whole days).

    Start is the onset, else the recorded time; a condition with neither counts (its timing is
    unknown, not absent). Refuted and entered-in-error conditions never count. ``lookback_days``
    None counts every condition that started by ``as_of``.
    """
    end = ibis.literal(datetime.combine(as_of + timedelta(days=1), datetime.min.time()))
    start = conditions.onset_ts.coalesce(conditions.recorded_ts)
    keep = (start.isnull() | (start < end)) & (
        conditions.verification_status.isnull()
        | ~conditions.verification_status.lower().isin(NOT_A_DIAGNOSIS))
    if lookback_days is not None:
        begin = ibis.literal(datetime.combine(as_of - timedelta(days=lookback_days), datetime.min.time()))
        keep = keep & (conditions.abatement_ts.isnull() | (conditions.abatement_ts >= begin))
    return conditions.filter(keep)


def icd10_diagnoses(conditions: ir.Table, codings: ir.Table | None, as_of: date,
                    lookback_days: int | None = 365, distinct: bool = True) -> ir.Table:
    """(patient_id, icd10) of the conditions in the window, from both code places; distinct
    unless the caller de-duplicates later itself (``distinct=False`` saves a hash aggregation)."""
    cond = in_window(conditions, as_of, lookback_days)
    own = cond.filter(is_icd10(cond.code_system) & cond.code.notnull()).select(
        patient_id=cond.patient_id, icd10=normalised(cond.code))
    if codings is None:
        return own.distinct() if distinct else own
    extra = codings.filter((codings.record_table == "conditions") & is_icd10(codings.code_system)
                           & codings.code.notnull())
    linked = extra.join(cond.select("condition_id", "patient_id"),
                        extra.record_id == cond.condition_id)
    more = linked.select(patient_id=linked.patient_id, icd10=normalised(linked.code))
    return own.union(more, distinct=distinct)
