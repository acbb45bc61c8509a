"""Risk scores by primary-care segment: how sick each segment's patients are (HCC and Charlson)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend


def risk_by_segment(con: BaseBackend) -> ir.Table:
    """Patients, mean and 90th-percentile CMS-HCC score and mean Charlson index per segment,
    with each patient placed in the segment they were in on the scores' as-of date."""
    hcc = con.table("patient_risk_scores")
    ch = con.table("patient_charlson")
    seg = con.table("segments")
    j = hcc.left_join(ch.select("patient_id", charlson=ch.score), "patient_id")
    on = [
        j.patient_id == seg.patient_id,
        seg.valid_from <= j.as_of.cast("date"),
        seg.valid_to.isnull() | (seg.valid_to > j.as_of.cast("date")),
    ]
    k = j.left_join(seg, on).select(j.patient_id, j.score, j.charlson,
                                    segment=seg.segment.fill_null("(no segment)"))
    return k.group_by("segment").aggregate(
        patients=k.patient_id.nunique(),
        mean_hcc=k.score.mean(),
        p90_hcc=k.score.quantile(0.9),
        mean_charlson=k.charlson.mean(),
    ).order_by(ibis.desc("mean_hcc"))
