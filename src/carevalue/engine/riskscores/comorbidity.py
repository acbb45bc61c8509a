"""Charlson and Elixhauser comorbidity indices from ICD-10 diagnoses, as Ibis joins.

Categories are the Quan et al. (2005) ICD-10 code-prefix lists and the weights are published
weightings (Charlson: Quan 2011 or Charlson 1987; Elixhauser: van Walraven 2009 or Swiss), all
shipped as data. A code counts in every category whose prefix it starts with; when a severe
category is present its milder form keeps its flag but carries no weight (comorbidipy's
``assign0``, the R ``comorbidity`` package's rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.record_filter import counting
from carevalue.engine.riskscores import reference
from carevalue.engine.riskscores.diagnoses import Crosswalk, icd10_diagnoses, scored_on
from carevalue.engine.riskscores.hcc import age_at

FOLDER = "comorbidity"
DEFAULT_WEIGHTING: Mapping[str, str] = {"charlson": "quan", "elixhauser": "vw"}
# Charlson's age points: one per decade over 40, at most 4 (Charlson 1994, as in comorbidipy).
AGE_POINTS = {"from_age": 40, "per_years": 10, "max_points": 4}


def categories(index: str) -> list[str]:
    """The index's category codes in published order (they name the output columns)."""
    if index not in DEFAULT_WEIGHTING:
        raise ValueError(f"unknown comorbidity index {index!r}; known: {', '.join(DEFAULT_WEIGHTING)}")
    return [str(c) for c in reference.arrow(FOLDER, f"{index}_categories").column("category").to_pylist()]


def comorbidity_flags(dx: ir.Table, index: str = "charlson") -> ir.Table:
    """Distinct (patient_id, category) for diagnoses (patient_id, icd10) starting with a prefix.

    Prefix matching is one equi-join per prefix length, not a nested-loop ``startswith``.
    """
    categories(index)
    prefixes = reference.table(FOLDER, f"{index}_icd10_quan")
    lengths = sorted({len(p) for p in reference.arrow(FOLDER, f"{index}_icd10_quan").column("prefix").to_pylist()})
    parts = []
    for n in lengths:
        head = dx.select("patient_id", prefix=dx.icd10.substr(0, n))
        of_len = prefixes.filter(prefixes.prefix.length() == n)
        parts.append(head.join(of_len, "prefix").select("patient_id", "category"))
    return ibis.union(*parts, distinct=True)


def comorbidity_from(dx: ir.Table, patients: ir.Table, as_of: date, index: str = "charlson",
                     weighting: str | None = None) -> ir.Table:
    """One row per patient: patient_id, as_of (the date, or the date of death if earlier),
    deceased, index, weighting, one 0/1 column per category, score, and (Charlson)
    age_adjusted_score with the age on that date."""
    cats = categories(index)
    weighting = weighting or DEFAULT_WEIGHTING[index]
    known = set(reference.arrow(FOLDER, f"{index}_weights").column("weighting").to_pylist())
    if weighting not in known:
        raise ValueError(f"unknown weighting {weighting!r} for {index}; known: {', '.join(sorted(known))}")
    weights = reference.table(FOLDER, f"{index}_weights")
    weights = weights.filter(weights.weighting == weighting)
    flags = comorbidity_flags(dx, index)
    hier = reference.table(FOLDER, f"{index}_hierarchy")
    dominated = flags.join(hier, "category").select("patient_id", category=hier.drops)
    weighed = flags.anti_join(dominated, ["patient_id", "category"]).join(
        weights.select("category", "weight"), "category")
    score = weighed.group_by("patient_id").aggregate(score=weighed.weight.sum())
    wide = flags.group_by("patient_id").aggregate(
        **{c: (flags.category == c).any().cast("int8") for c in cats})

    on = scored_on(patients, as_of)
    pt = patients.join(on, "patient_id")
    base = pt.select("patient_id", "as_of", "deceased", age=age_at(pt.birth_date, pt.as_of))
    j = base.left_join(wide, "patient_id").select(base.patient_id, base.as_of, base.deceased, base.age,
                                                  *[wide[c] for c in cats])
    j = j.left_join(score, "patient_id").select(j, score.score)
    cols: dict[str, Any] = {c: j[c].fill_null(0).cast("int8") for c in cats}
    score_col = j.score.fill_null(0).cast("int64")
    extra: dict[str, Any] = {}
    if index == "charlson":
        pts = ((j.age - AGE_POINTS["from_age"]) // AGE_POINTS["per_years"]).clip(
            lower=0, upper=AGE_POINTS["max_points"])
        extra["age_adjusted_score"] = score_col + pts.cast("int64")
    out = j.select(
        patient_id=j.patient_id,
        as_of=j.as_of,
        deceased=j.deceased,
        index=ibis.literal(index),
        weighting=ibis.literal(weighting),
        **cols,
        score=score_col,
        **extra,
    )
    return out


def comorbidity_scores(conditions: ir.Table, codings: ir.Table | None, patients: ir.Table, as_of: date, *,
                       index: str = "charlson", weighting: str | None = None,
                       lookback_days: int | None = 365, crosswalk: Crosswalk = None) -> ir.Table:
    """The index for every patient from the diagnoses present in the look-back window (ending at
    death for the deceased; SNOMED CT conditions through ``crosswalk``)."""
    dx = icd10_diagnoses(conditions, codings, as_of, lookback_days, crosswalk=crosswalk, patients=patients)
    return comorbidity_from(dx, patients, as_of, index, weighting)


def run(con: BaseBackend, as_of: date, *, rules: RecordRules, crosswalk: Crosswalk,
        index: str = "charlson", weighting: str | None = None, lookback_days: int | None = 365,
        table: str | None = None) -> dict[str, Any]:
    """Write ``patient_<index>`` (e.g. ``patient_charlson``) from the store's records that count
    (``rules``); SNOMED CT conditions count through ``crosswalk`` (the library's; None: not)."""
    table = table or f"patient_{index}"
    codings = con.table("codings") if "codings" in con.list_tables() else None
    expr = comorbidity_scores(counting(con, "conditions", rules), codings, counting(con, "patients", rules), as_of, index=index,
                              weighting=weighting, lookback_days=lookback_days, crosswalk=crosswalk)
    write_table(con, table, expr)
    return {"table": table, "rows": int(con.table(table).count().execute())}
