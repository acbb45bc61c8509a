"""CMS-HCC risk scores computed in the backend: a few joins over the shipped CMS tables.

The same steps as CMS's SAS software (and hccpy, its Python translation, which loops patient by
patient): ICD-10 -> condition categories (CCs), age/sex edits, hierarchies (a severe CC drops the
milder ones), the payment-HCC count variable, interactions, then the relative factors of the
patient's segment summed with the demographic cell. Every step is a join with a data table, so the
engine names no HCC; a new model version is a new data folder.
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
from carevalue.engine.record_filter import counting, joins_as_written
from carevalue.engine.riskscores import hccmask, reference
from carevalue.engine.riskscores.diagnoses import Crosswalk, scored_on
from carevalue.engine.riskscores.diagnoses import icd10_diagnoses as icd10_diagnoses  # re-exported

MODELS: Mapping[str, str] = {"cms-hcc-v24": "cms_hcc_v24"}
SCORE_COLUMNS = ("patient_id", "model", "score", "hcc_count", "as_of", "deceased")
ENROLMENT_COLUMNS = ("patient_id", "segment", "orec", "medicaid")


def _folder(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"unknown risk model {model!r}; known: {', '.join(MODELS)}")
    return MODELS[model]


def age_at(birth_date: ir.DateValue, as_of: date | ir.DateValue) -> ir.IntegerValue:
    """Whole years completed on ``as_of`` (a date, or a date column such as a per-patient as-of)."""
    on: ir.DateValue = ibis.literal(as_of) if isinstance(as_of, date) else as_of
    before_birthday = (birth_date.month() > on.month()) | (
        (birth_date.month() == on.month()) & (birth_date.day() > on.day()))
    return (on.year() - birth_date.year() - before_birthday.cast("int64")).cast("int64")


def people(patients: ir.Table, as_of: date, model: str = "cms-hcc-v24",
           enrolment: ir.Table | None = None) -> ir.Table:
    """patient_id, as_of, deceased, age, sex (M/F), segment, orec, medicaid, disabled, origds per patient.

    ``as_of`` is the given date, or the date of death for a patient who died before it; the age is
    the age on that date.
    ``enrolment`` (patient_id, segment, orec, medicaid; any may be null) overrides the defaults,
    which are the model's aged segment from ``default_aged_from`` and its disabled segment below.
    Sex other than male scores as F, as in hccpy.
    """
    cfg = reference.settings(_folder(model))
    pt = scored_on(patients, as_of, "birth_date", "sex")
    age = age_at(pt.birth_date, pt.as_of)
    p = pt.select(
        patient_id=pt.patient_id,
        as_of=pt.as_of,
        deceased=pt.deceased,
        age=age,
        sex=ibis.ifelse(pt.sex.lower().strip() == "male", "M", "F"),
        aged=age >= cfg["default_aged_from"],
    )
    seg = ibis.ifelse(p.aged, cfg["default_segment"]["aged"], cfg["default_segment"]["disabled"])
    orec = ibis.ifelse(p.aged, cfg["default_orec"]["aged"], cfg["default_orec"]["disabled"])
    if enrolment is None:
        p = p.mutate(segment=seg, orec=orec, medicaid=ibis.literal(False))
    else:
        e = enrolment.select(e_id=enrolment.patient_id, e_segment=enrolment.segment.cast("string"),
                             e_orec=enrolment.orec.cast("string"),
                             e_medicaid=enrolment.medicaid.cast("boolean"))
        j = p.left_join(e, p.patient_id == e.e_id)
        p = j.select(
            "patient_id", "as_of", "deceased", "age", "sex", "aged",
            segment=j.e_segment.coalesce(seg), orec=j.e_orec.coalesce(orec),
            medicaid=j.e_medicaid.coalesce(False),
        )
    disabled = (p.age < cfg["disabled_below_age"]) & (p.orec != cfg["aged_orec"])
    p = p.mutate(disabled=disabled.fill_null(False))
    origds = p.orec.isin(cfg["origds_orec"]) & ~p.disabled & p.age.notnull()
    return p.mutate(origds=origds.fill_null(False)).drop("aged")


def mapped_diagnoses(dx: ir.Table, model: str = "cms-hcc-v24") -> ir.Table:
    """(patient_id, icd10, hcc) for the diagnoses that map to a CC (one row per CC of a code)."""
    d2h = reference.table(_folder(model), "dx_to_hcc")
    return dx.join(d2h, "icd10").select("patient_id", "icd10", "hcc")


def condition_categories(mapped: ir.Table, person: ir.Table, model: str = "cms-hcc-v24",
                         distinct: bool = True) -> ir.Table:
    """(patient_id, hcc) after the age/sex edits, before hierarchies, from :func:`mapped_diagnoses`
    (``distinct=False`` may repeat a row, for callers that OR rows together anyway)."""
    folder = _folder(model)
    edits = reference.table(folder, "age_sex_edits").rename(new_hcc="hcc")
    # Edits only re-map codes that the mapping has (the build script checks every edit code is).
    # Filtering on the handful of edited codes first keeps the person join small.
    edit_codes = sorted(set(reference.arrow(folder, "age_sex_edits").column("icd10").to_pylist()))
    few = mapped.filter(mapped.icd10.isin(edit_codes)).select("patient_id", "icd10").distinct()
    e = few.join(edits, "icd10").join(person.select("patient_id", "age", "sex"), "patient_id")
    applies = ((e.sex.isnull() | (e.sex == e.sex_right))
               & (e.age_below.isnull() | (e.age < e.age_below))
               & (e.age_above.isnull() | (e.age > e.age_above)))
    edited = e.filter(applies).select("patient_id", "icd10", "new_hcc").distinct()
    kept = mapped.anti_join(edited, ["patient_id", "icd10"]).select("patient_id", "hcc")
    remapped = edited.filter(edited.new_hcc.notnull()).select("patient_id", hcc=edited.new_hcc)
    return kept.union(remapped, distinct=distinct)


def apply_hierarchy(ccs: ir.Table, model: str = "cms-hcc-v24") -> ir.Table:
    """Drop every CC that another present CC dominates (the shipped hierarchy is transitive)."""
    hier = reference.table(_folder(model), "hierarchy")
    dropped = ccs.join(hier, "hcc").select("patient_id", hcc=hier.drops)
    return ccs.anti_join(dropped, ["patient_id", "hcc"])


def hcc_variables(dx: ir.Table, person: ir.Table, model: str = "cms-hcc-v24",
                  hccs: ir.Table | None = None) -> ir.Table:
    """(patient_id, variable, coefficient): every term of each patient's score, the demographic
    cell included, with the relative factor of the patient's segment (0 where the model has none).
    ``hccs`` (after hierarchies) may be passed in when the caller already has it."""
    folder = _folder(model)
    if hccs is None:
        hccs = apply_hierarchy(condition_categories(mapped_diagnoses(dx, model), person, model), model)

    counted = hccs.group_by("patient_id").aggregate(n=hccs.count())
    bins = reference.table(folder, "counts")
    cj = counted.join(bins, (counted.n >= bins.min_hccs)
                      & (bins.max_hccs.isnull() | (counted.n <= bins.max_hccs)))
    count_vars = cj.select("patient_id", "variable")

    groups = reference.table(folder, "groups")
    # Flags are distinct per patient (HCCs are, groups are de-duplicated, DISABLED is one), so a
    # variable is present when the count of its matched terms equals its number of terms.
    in_group = hccs.join(groups, "hcc").select("patient_id", flag=groups.group).distinct()
    disabled = person.filter(person.disabled).select("patient_id", flag=ibis.literal("DISABLED"))
    flags = ibis.union(hccs.select("patient_id", flag=hccs.hcc), in_group, disabled, distinct=False)
    terms = reference.table(folder, "interactions")
    sizes = terms.group_by("variable").aggregate(needed=terms.count())
    met = flags.join(terms, flags.flag == terms.term).group_by(["patient_id", "variable"]).aggregate(
        have=ibis._.count())
    met = met.join(sizes, "variable")
    inter_vars = met.filter(met.have == met.needed).select("patient_id", "variable")

    demo = reference.table(folder, "demographics")
    dj = person.join(demo, (person.segment == demo.segment) & (person.sex == demo.sex)
                     & (person.age >= demo.age_lo) & (demo.age_hi.isnull() | (person.age < demo.age_hi)))
    demo_vars = dj.select("patient_id", "variable")

    status = reference.table(folder, "status_terms")
    flagged = person.filter(person.origds).select("patient_id", "sex", status=ibis.literal("origds")).union(
        person.filter(person.medicaid).select("patient_id", "sex", status=ibis.literal("medicaid")))
    sj = flagged.join(status, ["status", "sex"])
    status_vars = sj.select("patient_id", "variable")

    variables = ibis.union(hccs.select("patient_id", variable=hccs.hcc), count_vars, inter_vars,
                           demo_vars, status_vars, distinct=False)
    coef = reference.table(folder, "coefficients")
    vs = variables.join(person.select("patient_id", "segment"), "patient_id")
    vc = vs.left_join(coef, (vs.segment == coef.segment) & (vs.variable == coef.variable))
    return vc.select(vs.patient_id, vs.variable, coefficient=vc.coefficient.fill_null(0.0))


def scores_from(dx: ir.Table, person: ir.Table, as_of: date, model: str = "cms-hcc-v24") -> ir.Table:
    """The score table from the diagnoses (patient_id, icd10; duplicates allowed, e.g.
    :func:`icd10_diagnoses` with ``distinct=False``) and :func:`people`, by the bit-mask path
    (:mod:`carevalue.engine.riskscores.hccmask`): one join with the model's code table, one
    aggregation per patient, one expression per patient."""
    folder = _folder(model)
    masks = hccmask.patient_masks(dx.select("patient_id", "icd10"), folder)
    return hccmask.score_expression(masks, person, as_of, model, folder, reference.settings(folder)["score_decimals"])


def hcc_scores(conditions: ir.Table, codings: ir.Table | None, patients: ir.Table, as_of: date, *,
               model: str = "cms-hcc-v24", lookback_days: int | None = 365,
               enrolment: ir.Table | None = None, crosswalk: Crosswalk = None,
               code_pairs: ir.Table | None = None) -> ir.Table:
    """One row per patient: patient_id, model, score, hcc_count, as_of, deceased.

    ``score`` is the sum of the relative factors rounded as hccpy/CMS do (unnormalised, no coding
    intensity adjustment); ``hcc_count`` counts payment HCCs after hierarchies. A patient who died
    before ``as_of`` is scored as of the date of death (age and diagnoses then), never at an age
    they did not reach. Patients without a birth date get a null score. SNOMED CT conditions
    without an ICD-10 code count through ``crosswalk`` (None: not). ``conditions`` are the ones
    that count (:func:`carevalue.engine.record_filter.counting`); ``code_pairs`` may give a
    table holding at least their codes (e.g. the stored conditions) to look the codes up from.
    """
    folder = _folder(model)
    masks = hccmask.masks_from_store(conditions, codings, patients, as_of, folder, lookback_days, crosswalk,
                                     code_pairs)
    return hccmask.score_expression(masks, people(patients, as_of, model, enrolment), as_of, model, folder,
                                    reference.settings(folder)["score_decimals"])


def run(con: BaseBackend, as_of: date, *, rules: RecordRules, crosswalk: Crosswalk,
        model: str = "cms-hcc-v24", lookback_days: int | None = 365,
        enrolment: ir.Table | None = None, table: str = "patient_risk_scores") -> dict[str, Any]:
    """Compute the scores from the store's records that count (``rules``) and write them to
    ``table``; SNOMED CT conditions count through ``crosswalk`` (the library's; None: not).

    One query from the store's tables to ``table``: each of conditions, codings and patients is
    read where it is needed, nothing intermediate is materialised; the codes are looked up from
    the distinct codes of the stored conditions."""
    codings = con.table("codings") if "codings" in con.list_tables() else None
    patients = counting(con, "patients", rules)
    expr = hcc_scores(counting(con, "conditions", rules), codings, patients, as_of, model=model,
                      lookback_days=lookback_days, enrolment=enrolment, crosswalk=crosswalk,
                      code_pairs=con.table("conditions"))
    with joins_as_written(con):
        written = write_table(con, table, expr)
    # One score row per person (score_expression left-joins the people).
    return {"table": table, "rows": int(written.count().execute())}
