"""Risk scores by primary-care segment: how sick each segment's patients are (HCC and Charlson),
and how many of them have any ICD-10 code to be scored on (own or mapped from SNOMED CT)."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.record_filter import counting
from carevalue.engine.riskscores.diagnoses import Crosswalk, diagnosis_codes, scored_on

# Below this share of a segment's patients with any ICD-10 code, its scores are mostly demographic.
LOW_CODING_COVERAGE = 0.5


def _segment_on(t: ir.Table, seg: ir.Table) -> ir.Table:
    """t (patient_id, as_of, ...) with the segment each patient was in on their as-of date."""
    on = [t.patient_id == seg.patient_id, seg.valid_from <= t.as_of.cast("date"),
          seg.valid_to.isnull() | (seg.valid_to > t.as_of.cast("date"))]
    # No segment interval covers the date: the data does not observe the patient then (observation periods).
    return t.left_join(seg, on).select(t, segment=seg.segment.fill_null("(not observed on that date)"))


def risk_by_segment(con: BaseBackend) -> ir.Table:
    """Patients, mean and 90th-percentile CMS-HCC score and mean Charlson index per segment,
    with each patient placed in the segment they were in on the scores' as-of date. Patients who
    died before it leave the denominators (their scores, as of death, stay in the score tables)."""
    hcc = con.table("patient_risk_scores")
    ch = con.table("patient_charlson")
    seg = con.table("segments")
    if "deceased" in hcc.columns:
        hcc = hcc.filter(~hcc.deceased.fill_null(False))
    j = hcc.left_join(ch.select("patient_id", charlson=ch.score), "patient_id").select(
        hcc.patient_id, hcc.as_of, hcc.score, "charlson")
    k = _segment_on(j, seg)
    return k.group_by("segment").aggregate(
        patients=k.patient_id.nunique(),
        mean_hcc=k.score.mean(),
        p90_hcc=k.score.quantile(0.9),
        mean_charlson=k.charlson.mean(),
    ).order_by(ibis.desc("mean_hcc"))


def icd10_coverage(con: BaseBackend, as_of: date, *, rules: RecordRules, crosswalk: Crosswalk,
                   lookback_days: int | None = 365) -> ir.Table:
    """Per segment on ``as_of`` (living patients): patients, how many have an ICD-10 code of their
    own in the look-back window, how many only through the SNOMED CT crosswalk, how many have any,
    ``any_share`` and ``low_coverage`` (any_share below :data:`LOW_CODING_COVERAGE`)."""
    codings = con.table("codings") if "codings" in con.list_tables() else None
    patients = counting(con, "patients", rules)
    dx = diagnosis_codes(counting(con, "conditions", rules), codings, as_of, lookback_days, crosswalk, patients)
    per = dx.group_by("patient_id").aggregate(own=(dx.origin == "own").any(), mapped=(dx.origin == "mapped").any())
    alive = scored_on(patients, as_of)
    alive = alive.filter(~alive.deceased)
    t = alive.left_join(per, "patient_id").select(
        alive.patient_id, alive.as_of, own=per.own.fill_null(False), mapped=per.mapped.fill_null(False))
    k = _segment_on(t, con.table("segments"))
    g = k.group_by("segment").aggregate(
        patients=k.patient_id.nunique(),
        with_own_icd10=k.own.sum().cast("int64"),
        with_mapped_icd10_only=(k.mapped & ~k.own).sum().cast("int64"),
        with_any_icd10=(k.own | k.mapped).sum().cast("int64"),
    )
    g = g.mutate(any_share=g.with_any_icd10 / g.patients)
    return g.mutate(low_coverage=g.any_share < LOW_CODING_COVERAGE).order_by("segment")
