"""Cost-reduction opportunities (F13), each with the money at stake and a sentence saying why.

Kinds: unused-capacity (capacity paid for and not used), skill-mismatch (work done by a costlier
role than the process map's least costly able role), expensive-setting (routine steps in
inpatient/ED encounters or expensive facility types), cycle-time-wait (recorded minutes beyond the
time equation; long gaps between a cycle's events), low-value (steps the process map flags). Every opportunity belongs to one period (calendar year)
inside the data's observation window and carries that period's data coverage; periods outside the
window or below the policy's ``min_period_coverage`` are not reported, so money at stake is never
summed over years that barely have data.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from carevalue.definitions.process_map import CostingPolicy
from carevalue.engine.capacity import data_periods
from carevalue.engine.costing import Inputs

# A saving under half a cent on one activity is floating-point residue of equal rates (seen as
# 1e-15 dollars, positive on one backend and zero on another), not an opportunity.
MIN_SAVING = 0.005

COLUMNS = ("kind", "period", "period_coverage", "entity_type", "entity_id", "organization_id", "condition",
           "step_code", "count", "minutes", "money_at_stake", "explanation")


def _n(x: ir.NumericValue, digits: int = 0) -> ir.StringValue:
    return x.round(digits).cast("string") if digits else x.round(0).cast("int64").cast("string")


def _shape(t: ir.Table, **cols: ir.Value) -> ir.Table:
    out = t.select(**cols)
    types = {"kind": "string", "period": "string", "period_coverage": "float64", "entity_type": "string", "entity_id": "string", "organization_id": "string",
             "condition": "string", "step_code": "string", "count": "int64", "minutes": "float64",
             "money_at_stake": "float64", "explanation": "string"}
    return out.select(*(out[c].cast(types[c]) for c in COLUMNS))


def unused_capacity(cap: ir.Table, policy: CostingPolicy) -> ir.Table:
    u = cap.filter((cap.practical_capacity_minutes > 0) & cap.year.notnull()
                   & (cap.period_coverage >= policy.min_period_coverage)
                   & (cap.unused_minutes / cap.practical_capacity_minutes >= policy.min_unused_share))
    return _shape(
        u, kind=ibis.literal("unused-capacity"), period=u.year.cast("string"),
        period_coverage=u.period_coverage, entity_type=ibis.literal("resource"),
        entity_id=u.resource_id, organization_id=u.organization_id, condition=ibis.null("string"),
        step_code=ibis.null("string"), count=u.activities, minutes=u.unused_minutes,
        money_at_stake=u.unused_capacity_cost,
        explanation=(u.name.fill_null(u.resource_id) + " (" + u.role.fill_null("?") + ") used "
                     + _n(u.used_minutes) + " of " + _n(u.practical_capacity_minutes)
                     + " practical minutes in " + u.year.cast("string").fill_null("undated activity")
                     + "; " + _n(u.unused_minutes) + " minutes unused at "
                     + _n(u.rate_per_minute, 2) + "/min"),
    )


def _role_rates(rates: ir.Table) -> tuple[ir.Table, ir.Table]:
    local = rates.group_by(lc_org=rates.organization_id, lc_role=rates.role).aggregate(
        local_rate=rates.rate_per_minute.mean())
    overall = rates.group_by(g_role=rates.role).aggregate(global_rate=rates.rate_per_minute.mean())
    return local, overall


def in_periods(acts: ir.Table, periods: ir.Table) -> ir.Table:
    """Activities of the reported periods, with ``period`` (the year) and its ``period_coverage``."""
    p = periods.select(p_year="year", p_cov="period_coverage")
    j = acts.join(p, acts.start_ts.year().cast("int64") == p.p_year)
    return j.mutate(period=j.p_year.cast("string"), period_coverage=j.p_cov).drop("p_year", "p_cov")


def skill_mismatch(acts: ir.Table, rates: ir.Table) -> ir.Table:
    local, overall = _role_rates(rates)
    a = acts.filter(acts.least_cost_role.notnull() & (acts.role != acts.least_cost_role))
    a = a.left_join(local, [a.facility_id == local.lc_org, a.least_cost_role == local.lc_role]).select(
        a, local.local_rate)
    a = a.left_join(overall, a.least_cost_role == overall.g_role).select(a, overall.global_rate)
    cheap = a.local_rate.fill_null(a.global_rate)
    a = a.mutate(cheap_rate=cheap, saving=a.minutes * (a.rate_per_minute - cheap))
    a = a.filter(a.saving >= MIN_SAVING)
    g = a.group_by("period", "period_coverage", "facility_id", "condition", "step_code", "role",
                   "least_cost_role").aggregate(
        count=a.count(), minutes=a.minutes.sum(), money=a.saving.sum(),
        rate=a.rate_per_minute.mean(), cheap_rate=a.cheap_rate.mean())
    return _shape(
        g, kind=ibis.literal("skill-mismatch"), period=g.period, period_coverage=g.period_coverage,
        entity_type=ibis.literal("facility"),
        entity_id=g.facility_id, organization_id=g.facility_id, condition=g.condition,
        step_code=g.step_code, count=g["count"], minutes=g.minutes, money_at_stake=g.money,
        explanation=(_n(g["count"]) + " activities of step " + g.step_code + " (" + _n(g.minutes)
                     + " min) done by " + g.role + " at " + _n(g.rate, 2) + "/min; the process map says "
                     + g.least_cost_role + " can do it at " + _n(g.cheap_rate, 2) + "/min"),
    )


def expensive_setting(acts: ir.Table, rates: ir.Table, orgs: ir.Table, policy: CostingPolicy) -> ir.Table:
    o = orgs.select(o_id=orgs.organization_id, o_type=orgs.type_code)
    cheap_rates = rates.join(o, rates.organization_id == o.o_id)
    cheap_rates = cheap_rates.filter(~cheap_rates.o_type.isin(policy.expensive_facility_types))
    ref = cheap_rates.group_by(ref_role=cheap_rates.role).aggregate(ref_rate=cheap_rates.rate_per_minute.mean())
    a = acts.filter(acts.routine.fill_null(False))
    a = a.left_join(o, a.facility_id == o.o_id).select(a, o.o_type)
    a = a.filter(a.encounter_class.isin(policy.expensive_encounter_classes)
                 | a.o_type.isin(policy.expensive_facility_types))
    a = a.join(ref, a.role == ref.ref_role).select(a, ref.ref_rate)
    a = a.mutate(saving=a.labour_cost - a.minutes * a.ref_rate)
    a = a.filter(a.saving >= MIN_SAVING)
    g = a.group_by("period", "period_coverage", "facility_id", "condition", "step_code").aggregate(
        count=a.count(), minutes=a.minutes.sum(), money=a.saving.sum(), cost=a.labour_cost.sum(),
        setting=a.setting.min(), where=a.o_type.fill_null(a.encounter_class).min())
    return _shape(
        g, kind=ibis.literal("expensive-setting"), period=g.period, period_coverage=g.period_coverage,
        entity_type=ibis.literal("facility"),
        entity_id=g.facility_id, organization_id=g.facility_id, condition=g.condition,
        step_code=g.step_code, count=g["count"], minutes=g.minutes, money_at_stake=g.money,
        explanation=("routine step " + g.step_code + " (meant for " + g.setting.fill_null("?") + ") done "
                     + _n(g["count"]) + " times in an expensive setting (" + g.where.fill_null("?")
                     + ") for " + _n(g.cost) + "; at lower-cost facilities' rates it would cost "
                     + _n(g.cost - g.money)),
    )


def excess_time(acts: ir.Table, policy: CostingPolicy) -> ir.Table:
    a = acts.filter((acts.minutes_source == "recorded") & acts.standard_minutes.notnull()
                    & (acts.minutes > acts.standard_minutes * (1 + policy.excess_time_tolerance)))
    a = a.mutate(excess=a.minutes - a.standard_minutes)
    g = a.group_by("period", "period_coverage", "facility_id", "condition", "step_code", "role").aggregate(
        count=a.count(), minutes=a.excess.sum(), money=(a.excess * a.rate_per_minute.fill_null(0.0)).sum(),
        standard=a.standard_minutes.mean())
    return _shape(
        g, kind=ibis.literal("cycle-time-wait"), period=g.period, period_coverage=g.period_coverage,
        entity_type=ibis.literal("facility"),
        entity_id=g.facility_id, organization_id=g.facility_id, condition=g.condition,
        step_code=g.step_code, count=g["count"], minutes=g.minutes, money_at_stake=g.money,
        explanation=(_n(g["count"]) + " " + g.role.fill_null("?") + " activities of step " + g.step_code
                     + " took " + _n(g.minutes) + " minutes more than the time equation (mean standard "
                     + _n(g.standard, 1) + " min, tolerance " + ibis.literal(f"{policy.excess_time_tolerance:.0%}") + ")"),
    )


def waits(inp: Inputs, policy: CostingPolicy, periods: ir.Table) -> ir.Table:
    """Gaps between a cycle's cost-bearing events, in the period of the event that ends the wait."""
    e = inp.cycle_events
    e = e.filter(e.cost_bearing.fill_null(False) & e.event_ts.notnull())
    e = e.select("cycle_id", "event_ts")  # the window sorts only what the gaps need
    w = ibis.window(group_by=e.cycle_id, order_by=e.event_ts)
    e = e.mutate(gap_days=(e.event_ts.epoch_seconds() - e.event_ts.lag().over(w).epoch_seconds()) / 86400.0)
    e = e.filter(e.gap_days > policy.max_wait_days)
    p = periods.select(p_year="year", p_cov="period_coverage")
    e = e.join(p, e.event_ts.year().cast("int64") == p.p_year)
    c = inp.care_cycles
    e = e.join(c, e.cycle_id == c.cycle_id).select(
        e.gap_days, cycle_org=c.organization_id, cond=c.condition, cycle_id=c.cycle_id,
        period=e.p_year.cast("string"), period_coverage=e.p_cov)
    g = e.group_by("period", "period_coverage", "cycle_org", "cond").aggregate(
        count=e.count(), cycles=e.cycle_id.nunique(), excess_days=(e.gap_days - policy.max_wait_days).sum())
    return _shape(
        g, kind=ibis.literal("cycle-time-wait"), period=g.period, period_coverage=g.period_coverage,
        entity_type=ibis.literal("provider"),
        entity_id=g.cycle_org, organization_id=g.cycle_org, condition=g.cond,
        step_code=ibis.null("string"), count=g["count"], minutes=ibis.null("float64"),
        money_at_stake=g.excess_days * policy.cost_per_wait_day,
        explanation=(_n(g["count"]) + " waits longer than " + ibis.literal(f"{policy.max_wait_days:g}")
                     + " days between events in " + _n(g.cycles) + " cycles, "
                     + _n(g.excess_days) + " excess days"
                     + ibis.literal("" if policy.cost_per_wait_day else " (waiting days not valued)")),
    )


def low_value(acts: ir.Table) -> ir.Table:
    a = acts.filter(acts.low_value.fill_null(False))
    g = a.group_by("period", "period_coverage", "facility_id", "condition", "step_code").aggregate(
        count=a.count(), minutes=a.minutes.sum(), money=a.labour_cost.sum(),
        patients=a.patient_id.nunique())
    return _shape(
        g, kind=ibis.literal("low-value"), period=g.period, period_coverage=g.period_coverage,
        entity_type=ibis.literal("facility"),
        entity_id=g.facility_id, organization_id=g.facility_id, condition=g.condition,
        step_code=g.step_code, count=g["count"], minutes=g.minutes, money_at_stake=g.money,
        explanation=("low-value step " + g.step_code + " done for " + _n(g.patients) + " patients ("
                     + _n(g["count"]) + " resource activities) costing " + _n(g.money)),
    )


def cost_opportunities(inp: Inputs, acts: ir.Table, cap: ir.Table, policy: CostingPolicy,
                       rates: ir.Table | None = None, periods: ir.Table | None = None) -> ir.Table:
    """All opportunities in one table, one row per kind, period and entity (see the module doc)."""
    rates = rates if rates is not None else inp.con.table("capacity_cost_rates")
    periods = periods if periods is not None else data_periods(acts, policy)
    periods = periods.filter(periods.period_coverage >= policy.min_period_coverage)
    pa = in_periods(acts, periods)
    parts = [
        unused_capacity(cap, policy),
        skill_mismatch(pa, rates),
        expensive_setting(pa, rates, inp.organizations, policy),
        excess_time(pa, policy),
        waits(inp, policy, periods),
        low_value(pa),
    ]
    return ibis.union(*parts)
