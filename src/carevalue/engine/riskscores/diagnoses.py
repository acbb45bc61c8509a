"""ICD-10 diagnoses per patient in a look-back window: the input of every diagnosis-based risk score.

A condition's own code counts when its system is ICD-10(-CM); so do its extra codings in the
``codings`` table (synthetic and many real FHIR sources put SNOMED CT first and ICD-10-CM second).
A SNOMED CT condition with no ICD-10 code of its own gets the crosswalk's targets (the library's,
:mod:`carevalue.engine.riskscores.crosswalk`), so SNOMED-only data (Synthea) is scored too.
Codes are compared upper-case without dots (``E11.9`` = ``E119``). With ``patients`` given, a
deceased patient's window ends at the date of death. Which conditions count (refuted and
entered-in-error ones do not) is the caller's: pass ``record_filter.counting(con, "conditions", rules)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypeAlias

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from carevalue.definitions.base import CODE_SYSTEM_ALIASES
from carevalue.engine.riskscores.crosswalk import crosswalk_table

ICD10_SYSTEMS = tuple(sorted({s.lower() for s in CODE_SYSTEM_ALIASES["ICD-10-CM"]}))
SNOMED_SYSTEMS = tuple(sorted({s.lower() for s in CODE_SYSTEM_ALIASES["SNOMED CT"]}))
Crosswalk: TypeAlias = ir.Table | pa.Table | None


def normalised(code: ir.StringValue) -> ir.StringValue:
    """Upper case, no dots, no surrounding blanks."""
    return code.strip().upper().replace(".", "")


def is_icd10(system: ir.StringValue) -> ir.BooleanValue:
    return system.lower().isin(ICD10_SYSTEMS)


def is_snomed(system: ir.StringValue) -> ir.BooleanValue:
    return system.lower().isin(SNOMED_SYSTEMS)


def scored_on(patients: ir.Table, as_of: date) -> ir.Table:
    """patient_id, as_of (the date, never after death) and deceased (died on or before ``as_of``)."""
    day = ibis.literal(as_of)
    dead = patients.death_date.notnull() & (patients.death_date <= day)
    return patients.select("patient_id", as_of=ibis.ifelse(dead, patients.death_date, day), deceased=dead)


def in_window(conditions: ir.Table, as_of: date, lookback_days: int | None,
              patients: ir.Table | None = None) -> ir.Table:
    """Conditions present at some time in [end - lookback_days, end] (whole days), where end is
    ``as_of`` or, for a patient who died before it, the date of death.

    Start is the onset, else the recorded time; a condition with neither counts (its timing is
    unknown, not absent). ``lookback_days`` None counts every condition that started by the end.
    """
    if patients is None:
        end: ir.Value = ibis.literal(datetime.combine(as_of + timedelta(days=1), datetime.min.time()))
        c = conditions
    else:
        on = scored_on(patients, as_of).select(_pid="patient_id", _on="as_of")
        c = conditions.join(on, conditions.patient_id == on._pid)
        end = (c._on + ibis.interval(days=1)).cast("timestamp")
    start = c.onset_ts.coalesce(c.recorded_ts)
    keep = start.isnull() | (start < end)
    if lookback_days is not None:
        begin = end - ibis.interval(days=lookback_days + 1)
        keep = keep & (c.abatement_ts.isnull() | (c.abatement_ts >= begin))
    out = c.filter(keep)
    return out.drop("_pid", "_on") if patients is not None else out


def diagnosis_codes(conditions: ir.Table, codings: ir.Table | None, as_of: date,
                    lookback_days: int | None = 365, crosswalk: Crosswalk = None,
                    patients: ir.Table | None = None, windowed: bool = False) -> ir.Table:
    """(patient_id, icd10, origin) of the conditions in the window; origin is ``own`` (the record's
    ICD-10 code or coding) or ``mapped`` (crosswalk target of a SNOMED CT code, used only for
    conditions without an ICD-10 code of their own). ``crosswalk`` None maps nothing.
    ``windowed`` says ``conditions`` are already cut to the window (:func:`windowed_conditions`)."""
    cond = conditions if windowed else in_window(conditions, as_of, lookback_days, patients)
    # Codes are cleaned once per distinct (system, code), not once per record: the dictionaries
    # are small and joined back on the raw code.
    icd = _icd10_dictionary(cond.select("code_system", "code"))
    own = cond.join(icd, [cond.code_system == icd._sys, cond.code == icd._code]).select(
        "condition_id", patient_id=cond.patient_id, icd10=icd._icd10)
    if codings is not None:
        extra = codings.filter(codings.record_table == "conditions")
        xicd = _icd10_dictionary(extra.select("code_system", "code"))
        extra = extra.join(xicd, [extra.code_system == xicd._sys, extra.code == xicd._code])
        linked = extra.join(cond.select("condition_id", "patient_id"), extra.record_id == cond.condition_id)
        own = own.union(linked.select(condition_id=linked.record_id, patient_id=linked.patient_id,
                                      icd10=linked._icd10))
    out = own.select("patient_id", "icd10", origin=ibis.literal("own"))
    if crosswalk is None:
        return out
    xw = crosswalk_table(crosswalk) if isinstance(crosswalk, pa.Table) else crosswalk
    sn_codes = cond.select("code_system", "code").distinct()
    sn_codes = sn_codes.filter(is_snomed(sn_codes.code_system) & sn_codes.code.notnull())
    sn_map = sn_codes.join(xw, sn_codes.code.strip() == xw.snomed_code).select(
        _sys=sn_codes.code_system, _code=sn_codes.code, _icd10=xw.icd10)
    ids = own.select(_cid=own.condition_id)
    sn = cond.anti_join(ids, cond.condition_id == ids._cid)
    m = sn.join(sn_map, [sn.code_system == sn_map._sys, sn.code == sn_map._code])
    return out.union(m.select(patient_id=m.patient_id, icd10=m._icd10, origin=ibis.literal("mapped")))


def _icd10_dictionary(codes: ir.Table) -> ir.Table:
    """(_sys, _code) -> _icd10 (:func:`normalised`) for the distinct ICD-10 coded (system, code) pairs."""
    d = codes.distinct()
    d = d.filter(is_icd10(d.code_system) & d.code.notnull())
    return d.select(_sys=d.code_system, _code=d.code, _icd10=normalised(d.code))


def windowed_conditions(conditions: ir.Table, as_of: date, lookback_days: int | None = 365,
                        patients: ir.Table | None = None) -> ir.Table:
    """The columns diagnosis codes are read from, of the conditions in the window (:func:`in_window`):
    worth materialising once, since own codes, extra codings and the crosswalk each read them."""
    return in_window(conditions, as_of, lookback_days, patients).select(
        "condition_id", "patient_id", "code_system", "code")


def icd10_diagnoses(conditions: ir.Table, codings: ir.Table | None, as_of: date,
                    lookback_days: int | None = 365, distinct: bool = True,
                    crosswalk: Crosswalk = None, patients: ir.Table | None = None,
                    windowed: bool = False) -> ir.Table:
    """(patient_id, icd10) of the conditions in the window, own and mapped (see
    :func:`diagnosis_codes`); distinct unless the caller de-duplicates later itself."""
    dx = diagnosis_codes(conditions, codings, as_of, lookback_days, crosswalk, patients, windowed).select(
        "patient_id", "icd10")
    return dx.distinct() if distinct else dx
