"""Cost per care cycle (F12): the cost lines of each cycle (phase × line × role × facility) and one
total per cycle, both from the same cost rows (activity costs, consumables and charges in one shape).

:func:`cost_rows` is one row per record that reached a cycle; ``cycle_costs`` aggregates it per line
and is written straight from that aggregate (no intermediate table), ``cycle_cost_totals``
aggregates it per cycle, with the main facility read from the written lines.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

CYCLE_KEYS = ("cycle_id", "patient_id", "condition", "cycle_type", "organization_id", "facility_id",
              "phase", "line", "role")
# What a cost row carries beyond cycle_costs' measures, for the totals only.
TOTALS_ONLY = ("rated_minutes", "consumables")
MEASURES = ("minutes", "recorded_minutes", "standard_minutes", "activities", "labour_cost", "consumables_cost",
            "charges")
CYCLE_COST_COLUMNS = (*CYCLE_KEYS, *MEASURES, "total_cost")
# Grouped on; the other keys follow from them (condition, cycle type and the cycle's provider from
# the cycle id; organization_id is the cycle's provider, else the facility) and are carried along.
LINE_KEYS = ("cycle_id", "patient_id", "facility_id", "phase", "line", "role")

COST_SOURCES = ("recorded-minutes", "standard-times", "charges-only", "not-costed")
NOT_COSTED_REASONS = {
    "charges": "no activity minutes or consumables recorded; charges are shown beside costs, never used as costs",
    "no-minutes": "activities recorded without minutes, and their steps have no standard time in a process map",
    "no-rate": "minutes recorded, but their resources have no capacity cost rate (annual cost / practical capacity)",
    "nothing": "no activity, consumable or charge data linked to the cycle's encounters",
}


def cost_rows(acts: ir.Table, cons: ir.Table, chg: ir.Table) -> ir.Table:
    """One row per activity, consumable use and charge attributed to a cycle: the line keys
    (``CYCLE_KEYS``: line ``resource``, ``consumables`` or ``charges``) and what the row adds to its
    line and cycle (``MEASURES`` and ``TOTALS_ONLY``). ``organization_id`` is the cycle's provider,
    else the facility."""
    zero, zint, one = ibis.literal(0.0), ibis.literal(0, type="int64"), ibis.literal(1, type="int64")

    def keys(t: ir.Table, line: str, role: ir.Value) -> dict[str, ir.Value]:
        return {"cycle_id": t.cycle_id, "patient_id": t.patient_id, "condition": t.condition,
                "cycle_type": t.cycle_type,
                "organization_id": t.cycle_organization_id.fill_null(t.facility_id),
                "facility_id": t.facility_id, "phase": t.phase, "line": ibis.literal(line), "role": role}

    a = acts.filter(acts.cycle_id.notnull())
    ra = a.select(
        **keys(a, "resource", a.role), minutes=a.minutes,
        recorded_minutes=ibis.ifelse(a.minutes_source == "recorded", a.minutes, zero),
        standard_minutes=ibis.ifelse(a.minutes_source == "standard", a.minutes, zero),
        activities=one, labour_cost=a.labour_cost, consumables_cost=zero, charges=zero,
        rated_minutes=ibis.ifelse(a.rate_per_minute.notnull(), a.minutes, zero), consumables=zint)
    c = cons.filter(cons.cycle_id.notnull())
    rc = c.select(
        **keys(c, "consumables", ibis.null("string")), minutes=zero, recorded_minutes=zero,
        standard_minutes=zero, activities=zint, labour_cost=zero, consumables_cost=c.consumables_cost,
        charges=zero, rated_minutes=zero, consumables=one)
    h = chg.filter(chg.cycle_id.notnull())
    rh = h.select(
        **keys(h, "charges", ibis.null("string")), minutes=zero, recorded_minutes=zero,
        standard_minutes=zero, activities=zint, labour_cost=zero, consumables_cost=zero,
        charges=h.charges, rated_minutes=zero, consumables=zint)
    cols = ra.columns
    return ibis.union(ra, rc.select(*cols), rh.select(*cols))


def cost_lines(rows: ir.Table) -> ir.Table:
    """Cost per cycle × phase × line (resource|consumables|charges) × role × facility from
    :func:`cost_rows` (columns ``CYCLE_COST_COLUMNS``)."""
    g = rows.group_by(*LINE_KEYS).aggregate(
        condition=rows.condition.arbitrary(), cycle_type=rows.cycle_type.arbitrary(),
        organization_id=rows.organization_id.arbitrary(),
        **{m: rows[m].sum() for m in MEASURES})
    return g.mutate(total_cost=g.labour_cost + g.consumables_cost).select(*CYCLE_COST_COLUMNS)


def cycle_costs(rows: ir.Table) -> ir.Table:
    """The ``cycle_costs`` table: :func:`cost_lines` of the cost rows."""
    return cost_lines(rows)


def _main_facility(lines: ir.Table) -> ir.Table:
    """Per cycle, the facility that supplied most of its minutes (ties: the smaller id), so a
    cycle without an attributed provider (a primary-care segment year) is credited deterministically."""
    r = lines.filter(lines.line == "resource")
    f = r.group_by(["cycle_id", "organization_id"]).aggregate(m=r.minutes.sum())
    w = ibis.window(group_by=f.cycle_id, order_by=[ibis.desc(f.m), f.organization_id])
    ranked = f.mutate(rank=ibis.row_number().over(w))
    return ranked.filter(ranked.rank == 0).select("cycle_id", facility="organization_id")


def cycle_cost_totals(rows: ir.Table, care_cycles: ir.Table, lines: ir.Table | None = None) -> ir.Table:
    """One row per cycle (every stored care cycle, and every segment year with data): labour,
    consumables, total cost, charges, the recorded/standard share and where the cost came from.

    A cycle is costed when some of its minutes have a capacity cost rate or it used consumables;
    ``cost_source`` is then ``recorded-minutes`` (every minute recorded) or ``standard-times``
    (some minutes filled from the process map's time equations). Otherwise it is
    ``charges-only`` or ``not-costed``: its costs are null (never 0) and ``not_costed_reason``
    says why. Summed from :func:`cost_rows` per cycle_id; the main facility comes from ``lines``
    (the written ``cycle_costs``; :func:`cost_lines` of the rows when not given).
    """
    zero, zint = ibis.literal(0.0), ibis.literal(0, type="int64")
    u = rows
    t = u.group_by("cycle_id").aggregate(
        patient_id=u.patient_id.arbitrary(), condition=u.condition.arbitrary(),
        cycle_type=u.cycle_type.arbitrary(), provider=u.organization_id.min(),
        minutes=u.minutes.sum(), recorded_minutes=u.recorded_minutes.sum(),
        standard_minutes=u.standard_minutes.sum(), rated_minutes=u.rated_minutes.sum(),
        activities=u.activities.sum(), labour_cost=u.labour_cost.sum(),
        consumables_cost=u.consumables_cost.sum(), consumables=u.consumables.sum(), charges=u.charges.sum())
    main = _main_facility(cost_lines(rows) if lines is None else lines)
    t = t.left_join(main, t.cycle_id == main.cycle_id).select(
        *[t[col] for col in t.columns if col != "provider"], provider=main.facility.fill_null(t.provider))
    # Stored cycles with no cost data at all still get a row: "not costed" is a finding.
    bare = care_cycles.anti_join(t, "cycle_id")
    bare = bare.select(
        "cycle_id", "patient_id", "condition", "cycle_type", minutes=zero, recorded_minutes=zero,
        standard_minutes=zero, rated_minutes=zero, activities=zint, labour_cost=zero,
        consumables_cost=zero, consumables=zint, charges=zero, provider=bare.organization_id)
    t = t.union(bare.select(*t.columns))
    c = care_cycles
    j = t.left_join(c, t.cycle_id == c.cycle_id).select(
        t.cycle_id, t.patient_id, t.condition, t.cycle_type,
        organization_id=c.organization_id.fill_null(t.provider), ipu_id=c.ipu_id,
        period_label=c.period_label, start_ts=c.start_ts, end_ts=c.end_ts,
        minutes=t.minutes, recorded_minutes=t.recorded_minutes, standard_minutes=t.standard_minutes,
        rated_minutes=t.rated_minutes, activities=t.activities, labour_cost=t.labour_cost,
        consumables_cost=t.consumables_cost, consumables=t.consumables, charges=t.charges)
    costed = (j.rated_minutes > 0) | (j.consumables > 0)
    nothing = ibis.null("float64")
    j = j.mutate(
        cost_source=ibis.cases(
            (costed & (j.standard_minutes > 0), "standard-times"), (costed, "recorded-minutes"),
            (j.charges > 0, "charges-only"), else_="not-costed"),
        not_costed_reason=ibis.cases(
            (costed, ibis.null("string")),
            (j.charges > 0, NOT_COSTED_REASONS["charges"]),
            (j.minutes > 0, NOT_COSTED_REASONS["no-rate"]),
            (j.activities > 0, NOT_COSTED_REASONS["no-minutes"]),
            else_=NOT_COSTED_REASONS["nothing"]),
        labour_cost=ibis.ifelse(costed, j.labour_cost, nothing),
        consumables_cost=ibis.ifelse(costed, j.consumables_cost, nothing),
        total_cost=ibis.ifelse(costed, j.labour_cost + j.consumables_cost, nothing),
    )
    return j.mutate(
        recorded_share=ibis.ifelse(j.minutes > 0, j.recorded_minutes / j.minutes, ibis.null("float64")),
        standard_share=ibis.ifelse(j.minutes > 0, j.standard_minutes / j.minutes, ibis.null("float64")),
    ).drop("rated_minutes")
