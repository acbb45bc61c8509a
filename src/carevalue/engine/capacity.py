"""Capacity cost rates and capacity use (TDABC): what a minute of each resource costs, and how much
of the capacity paid for was used.

Rate = cost of capacity supplied ÷ practical capacity (Kaplan & Porter 2011). Practical capacity is
taken from ``resources.practical_capacity_minutes``, or derived as paid minutes × practical share
for resource types/roles the costing policy says are given as paid time.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from carevalue.definitions.process_map import CostingPolicy


def capacity_cost_rates(resources: ir.Table, policy: CostingPolicy) -> ir.Table:
    """One row per resource with practical capacity (minutes/year) and rate ($/minute)."""
    r = resources
    share = ibis.literal(policy.practical_share, type="float64")
    if policy.share_by_role:
        share = r.role.cases(*((k, float(v)) for k, v in policy.share_by_role.items()), else_=share)
    paid = ibis.literal(False)
    if policy.paid_time_resource_types:
        paid = paid | r.resource_type.isin(policy.paid_time_resource_types)
    if policy.paid_time_roles:
        paid = paid | r.role.isin(policy.paid_time_roles)
    cap = r.practical_capacity_minutes.cast("float64")
    practical = ibis.ifelse(paid, cap * share, cap)
    out = r.select(
        "resource_id", "name", "resource_type", "role", "organization_id",
        annual_cost=r.annual_cost.cast("float64"),
        capacity_basis=ibis.ifelse(paid, "paid-time x practical share", "practical"),
        paid_minutes=ibis.ifelse(paid, cap, ibis.null("float64")),
        practical_share=ibis.ifelse(paid, share, ibis.null("float64")),
        practical_capacity_minutes=practical,
    )
    return out.mutate(
        rate_per_minute=ibis.ifelse(
            out.practical_capacity_minutes > 0,
            out.annual_cost / out.practical_capacity_minutes, ibis.null("float64"))
    )


PERIOD_SCHEMA = {"year": "int64", "year_share": "float64", "activities": "int64",
                 "period_coverage": "float64", "window_start": "timestamp", "window_end": "timestamp"}


def data_periods(activity_costs: ir.Table, policy: CostingPolicy | None = None) -> ir.Table:
    """One row per calendar year inside the activity data's observation window.

    The window runs from the first to the last activity after trimming leading and trailing
    months whose activity count is below ``policy.min_month_share`` x the median month with data.
    ``year_share`` is the part of the year inside the window (capacity supplied is scaled by it);
    ``period_coverage`` is the year's activities over a full year at the median monthly volume,
    capped at 1 (how much of a year of data the period really holds). Only the per-month counts
    are brought to the client.
    """
    policy = policy or CostingPolicy(id="default", title="Built-in defaults")
    a = activity_costs.filter(activity_costs.start_ts.notnull())
    m = a.group_by(y=a.start_ts.year().cast("int64"), mo=a.start_ts.month().cast("int64")).aggregate(
        n=a.count(), first=a.start_ts.min(), last=a.start_ts.max()).order_by(["y", "mo"]).execute()
    if m.empty:
        return ibis.memtable([], schema=PERIOD_SCHEMA)
    reference = float(m["n"].median())
    dense = m[m["n"] >= policy.min_month_share * reference]
    first = dense["first"].min().to_pydatetime()
    last = dense["last"].max().to_pydatetime()
    inside = m[(m["last"] >= dense["first"].min()) & (m["first"] <= dense["last"].max())]
    per_year = inside.groupby("y")["n"].sum().to_dict()
    rows: list[dict[str, object]] = []
    for y in range(first.year, last.year + 1):
        start, end = dt.datetime(y, 1, 1), dt.datetime(y + 1, 1, 1)
        lo, hi = max(first, start), min(last, end)
        days = max((hi - lo).total_seconds() / 86400.0, 1.0)
        n = int(per_year.get(y, 0))
        rows.append({"year": y, "year_share": min(days / (end - start).days, 1.0), "activities": n,
                     "period_coverage": min(n / (12 * reference), 1.0),
                     "window_start": first, "window_end": last})
    return ibis.memtable(rows, schema=PERIOD_SCHEMA)


def capacity_use(activity_costs: ir.Table, rates: ir.Table, policy: CostingPolicy | None = None,
                 periods: ir.Table | None = None) -> ir.Table:
    """Used vs practical capacity per resource and calendar year, with unused capacity cost.

    Capacity supplied in a year is scaled to the part of the year inside the data's observation
    window (:func:`data_periods`), so a store holding six months is not read as 50% idle and a
    year with a handful of stray records is not a year of idle capacity. ``over_capacity`` is
    true when more minutes were used than practically available; only then can allocated cost
    exceed capacity cost. ``period_coverage`` is the year's data coverage.
    """
    a = activity_costs
    years = periods if periods is not None else data_periods(a, policy)
    years = years.select("year", "year_share", "period_coverage")
    used = a.group_by(resource_id=a.resource_id, year=a.start_ts.year().cast("int64")).aggregate(
        used_minutes=a.minutes.sum(), activities=a.count())
    # Every resource appears in every covered year (unused capacity is the point), plus any year
    # its activities carry even without a timestamp span.
    grid = rates.cross_join(years).select(rates.resource_id, years.year, years.year_share, years.period_coverage)
    g = grid.left_join(used, [grid.resource_id == used.resource_id, grid.year == used.year]).select(
        grid.resource_id, grid.year, grid.year_share, grid.period_coverage, used.used_minutes, used.activities)
    undated = used.filter(used.year.isnull()).select(
        "resource_id", "year", year_share=ibis.literal(1.0), period_coverage=ibis.null("float64"),
        used_minutes=used.used_minutes, activities=used.activities)
    g = g.union(undated.select(*g.columns))
    g = g.join(rates, g.resource_id == rates.resource_id).select(
        g.resource_id, g.year, rates.name, rates.resource_type, rates.role, rates.organization_id,
        rates.rate_per_minute, g.period_coverage,
        activities=g.activities.fill_null(0),
        used_minutes=g.used_minutes.fill_null(0.0),
        practical_capacity_minutes=rates.practical_capacity_minutes * g.year_share,
        capacity_cost=rates.annual_cost * g.year_share,
    )
    unused = ibis.greatest(g.practical_capacity_minutes - g.used_minutes, 0.0)
    return g.mutate(
        allocated_cost=g.used_minutes * g.rate_per_minute,
        unused_minutes=unused,
        unused_capacity_cost=unused * g.rate_per_minute,
        utilisation=ibis.ifelse(g.practical_capacity_minutes > 0,
                                g.used_minutes / g.practical_capacity_minutes, ibis.null("float64")),
        over_capacity=g.used_minutes > g.practical_capacity_minutes,
    )
