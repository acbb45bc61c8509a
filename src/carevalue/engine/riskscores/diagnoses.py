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


def scored_on(patients: ir.Table, as_of: date, *keep: str) -> ir.Table:
    """patient_id, the ``keep`` columns, as_of (the date, never after death) and deceased (died
    on or before ``as_of``)."""
    day = ibis.literal(as_of)
    dead = patients.death_date.notnull() & (patients.death_date <= day)
    return patients.select("patient_id", *keep, as_of=ibis.ifelse(dead, patients.death_date, day), deceased=dead)


def in_window(conditions: ir.Table, as_of: date, lookback_days: int | None,
              patients: ir.Table | None = None) -> ir.Table:
    """Conditions present at some time in [end - lookback_days, end] (whole days), where end is
    ``as_of`` or, for a patient who died before it, the date of death.

    Start is the onset, else the recorded time; a condition with neither counts (its timing is
    unknown, not absent). ``lookback_days`` None counts every condition that started by the end.
    """
    day_after = ibis.literal(datetime.combine(as_of + timedelta(days=1), datetime.min.time()))
    if patients is None:
        return _windowed(conditions, day_after, lookback_days)
    # Only the patients who died before as_of have another end: the conditions are left-joined
    # to those (few) alone, not to every patient, and everyone else's window ends after as_of.
    on = scored_on(patients, as_of)
    dead = on.filter(on.deceased).select(_pid="patient_id", _on="as_of")
    c = conditions.left_join(dead, conditions.patient_id == dead._pid)
    end = (c._on + ibis.interval(days=1)).cast("timestamp").coalesce(day_after)
    return _windowed(c, end, lookback_days).drop("_pid", "_on")


def _windowed(c: ir.Table, end: ir.Value, lookback_days: int | None) -> ir.Table:
    start = c.onset_ts.coalesce(c.recorded_ts)
    keep = start.isnull() | (start < end)
    if lookback_days is not None:
        begin = end - ibis.interval(days=lookback_days + 1)
        keep = keep & (c.abatement_ts.isnull() | (c.abatement_ts >= begin))
    return c.filter(keep)


def diagnosis_codes(conditions: ir.Table, codings: ir.Table | None, as_of: date,
                    lookback_days: int | None = 365, crosswalk: Crosswalk = None,
                    patients: ir.Table | None = None, windowed: bool = False) -> ir.Table:
    """(patient_id, icd10, origin) of the conditions in the window; origin is ``own`` (the record's
    ICD-10 code or coding) or ``mapped`` (crosswalk target of a SNOMED CT code, used only for
    conditions without an ICD-10 code of their own). ``crosswalk`` None maps nothing.
    ``windowed`` says ``conditions`` are already cut to the window (:func:`windowed_conditions`)."""
    cond = conditions if windowed else in_window(conditions, as_of, lookback_days, patients)
    cond = cond.select("condition_id", "patient_id", "code_system", "code")
    # Codes are cleaned record by record: three string functions per ICD-10 code cost less than
    # de-duplicating the (system, code) pairs and joining the cleaned dictionary back.
    own = ibis.ifelse(is_icd10(cond.code_system) & cond.code.notnull(), normalised(cond.code), ibis.null("string"))
    if codings is None and crosswalk is None:
        o = cond.select("patient_id", icd10=own, origin=ibis.literal("own"))
        return o.filter(o.icd10.notnull())
    j = cond.mutate(_own=own)
    if codings is None:
        j = j.mutate(_rid=ibis.null("string"), _xicd10=ibis.null("string"))
    else:
        x = codings.filter((codings.record_table == "conditions") & is_icd10(codings.code_system)
                           & codings.code.notnull())
        extra = x.select(_rid=x.record_id, _xicd10=normalised(x.code))
        # One left join of the conditions with their ICD-10 codings gives both the codings (own)
        # and the conditions that have none, whose SNOMED CT code then goes through the crosswalk.
        j = j.left_join(extra, j.condition_id == extra._rid)
    if crosswalk is None:
        j = j.mutate(_other=j._xicd10, _origin=ibis.literal("own"))
    else:
        xw = crosswalk_table(crosswalk) if isinstance(crosswalk, pa.Table) else crosswalk
        xw = xw.select(_snomed=xw.snomed_code, _sicd10=xw.icd10)
        # The crosswalk key is null unless the condition is SNOMED CT coded and has no ICD-10
        # coding, so that the left join stays one equi-join.
        j = j.mutate(_xkey=ibis.ifelse(j._rid.isnull() & is_snomed(j.code_system), j.code.strip(),
                                       ibis.null("string")))
        j = j.left_join(xw, j._xkey == xw._snomed)
        j = j.mutate(_other=j._xicd10.coalesce(j._sicd10), _origin=ibis.ifelse(j._rid.notnull(), "own", "mapped"))
    # Each joined row holds up to two codes (its own, and a coding's or the crosswalk's): a cross
    # join with two rows turns them into rows, so the conditions are read once, not once per kind.
    two = ibis.memtable(pa.table({"_k": pa.array([0, 1], pa.int64())}))
    r = j.select("patient_id", "_own", "_other", "_origin").cross_join(two)
    r = r.select("patient_id", icd10=ibis.ifelse(r._k == 0, r._own, r._other),
                 origin=ibis.ifelse(r._k == 0, ibis.literal("own"), r._origin))
    return r.filter(r.icd10.notnull())


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
