"""A bundle's exclusions applied to the care cycles (F15): care for an excluded diagnosis inside the
bundle window (e.g. unrelated trauma) is carved out and paid fee-for-service beside the price, and
a patient with an eligibility-excluding diagnosis is paid fee-for-service for the whole cycle."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.bundle import Bundle
from carevalue.definitions.fee_schedule import FeeSchedule
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.payment.coded import DIAGNOSES, CodeLists, coded_records, with_key
from carevalue.engine.payment.facility import encounter_money

COLUMNS = ("cycle_id", "excluded_cost", "excluded_charges", "exclusions", "eligibility_excluded")


def exclusion_code_lists(bundles: Sequence[Bundle], lists: CodeLists) -> None:
    """Add every bundle's carve-out exclusions and eligibility exclusions (diagnoses) to ``lists``."""
    for bi, b in enumerate(bundles):
        for ei, ex in enumerate(b.exclusions):
            lists.add(DIAGNOSES, f"excl:{bi}:{ei}", ex.codes)
        lists.add(DIAGNOSES, f"elig:{bi}", b.eligibility.exclusions)


def _terms(rows: list[dict[str, object]], schema: dict[str, str]) -> ir.Table:
    return ibis.memtable({c: [r[c] for r in rows] for c in schema}, schema=schema)


def _carve_outs(coded: ir.Table, cycles: ir.Table, bundles: Sequence[Bundle]) -> ir.Table | None:
    """(bundle, cycle_id, condition, encounter_id, exclusion) of encounters in a bundle's window
    recording one of its excluded diagnoses (the first exclusion id when several match)."""
    rows: list[dict[str, object]] = [
        {"_k": f"excl:{bi}:{ei}", "_b": bi, "_kc": cond, "exclusion": ex.id,
         "_lo": -(b.trigger.days_before if b.trigger else 0), "_hi": b.window_days}
        for bi, b in enumerate(bundles) for ei, ex in enumerate(b.exclusions) for cond in b.conditions]
    if not rows:
        return None
    terms = _terms(rows, {"_k": "string", "_b": "int64", "_kc": "string", "exclusion": "string",
                          "_lo": "float64", "_hi": "float64"})
    d = with_key(coded.filter(coded.encounter_id.notnull()), sorted({str(r["_k"]) for r in rows}))
    d = d.select(_xp="patient_id", _xe="encounter_id", _xts="ts", _xk="_key")
    d = d.inner_join(terms, d._xk == terms._k)
    c = cycles.select("cycle_id", "patient_id", "condition", "index_ts")
    j = c.inner_join(d, [c.patient_id == d._xp, c.condition == d._kc])
    day = days_between(j._xts, j.index_ts)
    j = j.filter((day >= j._lo) & (day <= j._hi))
    return j.group_by(["_b", "cycle_id", "condition", j._xe.name("encounter_id")]).aggregate(
        exclusion=j.exclusion.min())


def _ineligible(coded: ir.Table, cycles: ir.Table, bundles: Sequence[Bundle]) -> ir.Table | None:
    """cycle_id of cycles whose patient has an eligibility-excluding diagnosis by the end of the window."""
    rows: list[dict[str, object]] = [{"_k": f"elig:{bi}", "_kc": cond, "_hi": b.window_days}
                                     for bi, b in enumerate(bundles) if b.eligibility.exclusions
                                     for cond in b.conditions]
    if not rows:
        return None
    terms = _terms(rows, {"_k": "string", "_kc": "string", "_hi": "float64"})
    d = with_key(coded, sorted({str(r["_k"]) for r in rows})).select(_xp="patient_id", _xts="ts", _xk="_key")
    d = d.inner_join(terms, d._xk == terms._k)
    c = cycles.select("cycle_id", "patient_id", "condition", "index_ts")
    j = c.inner_join(d, [c.patient_id == d._xp, c.condition == d._kc])
    j = j.filter(days_between(j._xts, j.index_ts) <= j._hi)
    return j.select("cycle_id").distinct()


def bundle_exclusions(con: BaseBackend, cycles: ir.Table, bundles: Sequence[Bundle],
                      fee_schedules: Sequence[FeeSchedule] = (), amounts: ir.Table | None = None,
                      coded: ir.Table | None = None) -> ir.Table | None:
    """Per cycle of a bundle with exclusions: cost and FFS payment (claim charges + facility
    payment) of the carved-out encounters, the exclusion ids, and whether eligibility excludes it.
    ``amounts``: the per-encounter money of :func:`~carevalue.engine.payment.facility.encounter_amounts`;
    ``coded``: coded records holding :func:`exclusion_code_lists` (matched here when not given)."""
    if not any(b.exclusions or b.eligibility.exclusions for b in bundles):
        return None
    if coded is None:
        lists = CodeLists()
        exclusion_code_lists(bundles, lists)
        coded = coded_records(con, lists)
    coded = coded.filter(coded._src == DIAGNOSES)
    carve = _carve_outs(coded, cycles, bundles)
    ie = _ineligible(coded, cycles, bundles)
    out = None
    if carve is not None:
        ev = encounter_money(con, carve, fee_schedules, amounts)
        ev = ev.mutate(_paid=ev.encounter_paid, _cost=ev.encounter_cost)
        out = ev.group_by("cycle_id").aggregate(excluded_cost=ev._cost.sum(), excluded_charges=ev._paid.sum(),
                                                exclusions=ev.exclusion.group_concat("; "))
    if ie is not None:
        ie = ie.mutate(eligibility_excluded=ibis.literal(True))
        if out is None:
            return ie.select("cycle_id", excluded_cost=ibis.literal(0.0), excluded_charges=ibis.literal(0.0),
                             exclusions=ibis.null("string"), eligibility_excluded=ie.eligibility_excluded)
        out = out.outer_join(ie, out.cycle_id == ie.cycle_id)
        out = out.select(cycle_id=out.cycle_id.coalesce(out.cycle_id_right),
                         excluded_cost=out.excluded_cost.coalesce(0.0),
                         excluded_charges=out.excluded_charges.coalesce(0.0), exclusions=out.exclusions,
                         eligibility_excluded=out.eligibility_excluded.coalesce(False))
        return out
    assert out is not None
    return out.mutate(eligibility_excluded=ibis.literal(False))
