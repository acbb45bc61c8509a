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
from carevalue.engine.codesets import matches
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.payment.facility import encounter_money

COLUMNS = ("cycle_id", "excluded_cost", "excluded_charges", "exclusions", "eligibility_excluded")


def _diagnoses(con: BaseBackend) -> ir.Table:
    x = con.table("conditions")
    return x.select(_xp="patient_id", _xe="encounter_id", _xs="code_system", _xc="code",
                    _xts=x.onset_ts.coalesce(x.recorded_ts))


def _carve_outs(con: BaseBackend, cycles: ir.Table, b: Bundle) -> ir.Table | None:
    """(cycle_id, encounter_id, exclusion) of encounters in the bundle window recording an excluded diagnosis."""
    parts = []
    lo, hi = -(b.trigger.days_before if b.trigger else 0), b.window_days
    c = cycles.filter(cycles.condition.isin(b.conditions)).select("cycle_id", "patient_id", "condition", "index_ts")
    for ex in b.exclusions:
        d = _diagnoses(con)
        d = d.filter(matches(d._xs, d._xc, ex.codes) & d._xe.notnull())
        j = c.inner_join(d, c.patient_id == d._xp)
        day = days_between(j._xts, j.index_ts)
        j = j.filter((day >= lo) & (day <= hi))
        parts.append(j.select("cycle_id", "condition", encounter_id=j._xe, exclusion=ibis.literal(ex.id)))
    if not parts:
        return None
    u = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return u.group_by("cycle_id", "condition", "encounter_id").aggregate(exclusion=u.exclusion.min())


def _ineligible(con: BaseBackend, cycles: ir.Table, b: Bundle) -> ir.Table | None:
    """cycle_id of cycles whose patient has an eligibility-excluding diagnosis by the end of the window."""
    if not b.eligibility.exclusions:
        return None
    c = cycles.filter(cycles.condition.isin(b.conditions)).select("cycle_id", "patient_id", "index_ts")
    d = _diagnoses(con)
    d = d.filter(matches(d._xs, d._xc, b.eligibility.exclusions))
    j = c.inner_join(d, c.patient_id == d._xp)
    j = j.filter(days_between(j._xts, j.index_ts) <= b.window_days)
    return j.select("cycle_id").distinct()


def bundle_exclusions(con: BaseBackend, cycles: ir.Table, bundles: Sequence[Bundle],
                      fee_schedules: Sequence[FeeSchedule] = (), amounts: ir.Table | None = None) -> ir.Table | None:
    """Per cycle of a bundle with exclusions: cost and FFS payment (claim charges + facility
    payment) of the carved-out encounters, the exclusion ids, and whether eligibility excludes it.
    ``amounts``: the per-encounter money of :func:`~carevalue.engine.payment.facility.encounter_amounts`."""
    carve = [p for b in bundles if (p := _carve_outs(con, cycles, b)) is not None]
    inel = [p for b in bundles if (p := _ineligible(con, cycles, b)) is not None]
    if not carve and not inel:
        return None
    out = None
    if carve:
        ev = encounter_money(con, ibis.union(*carve) if len(carve) > 1 else carve[0], fee_schedules, amounts)
        ev = ev.mutate(_paid=ev.encounter_paid, _cost=ev.encounter_cost)
        out = ev.group_by("cycle_id").aggregate(excluded_cost=ev._cost.sum(), excluded_charges=ev._paid.sum(),
                                                exclusions=ev.exclusion.group_concat("; "))
    if inel:
        ie = ibis.union(*inel) if len(inel) > 1 else inel[0]
        ie = ie.distinct().mutate(eligibility_excluded=ibis.literal(True))
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
