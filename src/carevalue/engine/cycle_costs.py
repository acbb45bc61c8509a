"""Cost per care cycle (F12): the cost lines of each cycle (phase × line × role × facility) and one
total per cycle.

:func:`cost_lines` aggregates activity costs, consumables and charges once into the lines, and
``cycle_costs`` is written straight from that aggregate (no intermediate table). The per-cycle totals
are then summed from the written lines (a few hundred thousand narrow rows), with the two numbers the
lines do not carry (minutes with a capacity cost rate, consumables used) from small aggregates.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

CYCLE_KEYS = ("cycle_id", "patient_id", "condition", "cycle_type", "organization_id", "facility_id",
              "phase", "line", "role")
MEASURES = ("minutes", "recorded_minutes", "standard_minutes", "activities", "labour_cost", "consumables_cost",
            "charges")
CYCLE_COST_COLUMNS = (*CYCLE_KEYS, *MEASURES, "total_cost")
# Grouped on; the other keys follow from them (condition, cycle type and the cycle's provider from
# the cycle id; organization_id is the cycle's provider, else the facility) and are carried along.
LINE_KEYS = ("cycle_id", "patient_id", "facility_id", "phase", "role")

COST_SOURCES = ("recorded-minutes", "standard-times", "charges-only", "not-costed")
NOT_COSTED_REASONS = {
    "charges": "no activity minutes or consumables recorded; charges are shown beside costs, never used as costs",
    "no-minutes": "activities recorded without minutes, and their steps have no standard time in a process map",
    "no-rate": "minutes recorded, but their resources have no capacity cost rate (annual cost / practical capacity)",
    "nothing": "no activity, consumable or charge data linked to the cycle's encounters",
}


def _keyed(t: ir.Table, role: ir.Value) -> ir.Table:
    """The rows of ``t`` attributed to a cycle, with the line keys (``organization_id``: the cycle's
    provider, else the facility)."""
    t = t.filter(t.cycle_id.notnull())
    return t.mutate(role=role, organization_id=t.cycle_organization_id.fill_null(t.facility_id))


def _carried(t: ir.Table) -> dict[str, ir.Value]:
    return {"condition": t.condition.arbitrary(), "cycle_type": t.cycle_type.arbitrary(),
            "organization_id": t.organization_id.arbitrary()}


def cost_lines(acts: ir.Table, cons: ir.Table, chg: ir.Table) -> ir.Table:
    """Cost per cycle × phase × line (resource|consumables|charges) × role × facility (columns
    ``CYCLE_COST_COLUMNS``): each source aggregated once, then stacked."""
    zero, zint = ibis.literal(0.0), ibis.literal(0, type="int64")
    a = _keyed(acts, acts.role)
    la = a.group_by(*LINE_KEYS).aggregate(
        **_carried(a), line=ibis.literal("resource"), minutes=a.minutes.sum(),
        recorded_minutes=a.minutes.sum(where=a.minutes_source == "recorded").fill_null(0.0),
        standard_minutes=a.minutes.sum(where=a.minutes_source == "standard").fill_null(0.0),
        activities=a.count(), labour_cost=a.labour_cost.sum(), consumables_cost=zero, charges=zero)
    c = _keyed(cons, ibis.null("string"))
    lc = c.group_by(*LINE_KEYS).aggregate(
        **_carried(c), line=ibis.literal("consumables"), minutes=zero, recorded_minutes=zero,
        standard_minutes=zero, activities=zint, labour_cost=zero, consumables_cost=c.consumables_cost.sum(),
        charges=zero)
    h = _keyed(chg, ibis.null("string"))
    lh = h.group_by(*LINE_KEYS).aggregate(
        **_carried(h), line=ibis.literal("charges"), minutes=zero, recorded_minutes=zero,
        standard_minutes=zero, activities=zint, labour_cost=zero, consumables_cost=zero,
        charges=h.charges.sum())
    u = ibis.union(*(t.select(*CYCLE_COST_COLUMNS[:-1]) for t in (la, lc, lh)))
    return u.mutate(total_cost=u.labour_cost + u.consumables_cost)


def cycle_costs(lines: ir.Table) -> ir.Table:
    """The ``cycle_costs`` table: :func:`cost_lines`."""
    return lines.select(*CYCLE_COST_COLUMNS)


def _main_facility(lines: ir.Table) -> ir.Table:
    """Per cycle, the facility that supplied most of its minutes (ties: the smaller id), so a
    cycle without an attributed provider (a primary-care segment year) is credited deterministically."""
    r = lines.filter(lines.line == "resource")
    f = r.group_by(["cycle_id", "organization_id"]).aggregate(m=r.minutes.sum())
    w = ibis.window(group_by=f.cycle_id, order_by=[ibis.desc(f.m), f.organization_id])
    ranked = f.mutate(rank=ibis.row_number().over(w))
    return ranked.filter(ranked.rank == 0).select("cycle_id", facility="organization_id")


def cycle_cost_totals(lines: ir.Table, acts: ir.Table, cons: ir.Table, care_cycles: ir.Table) -> ir.Table:
    """One row per cycle (every stored care cycle, and every segment year with data): labour,
    consumables, total cost, charges, the recorded/standard share and where the cost came from.

    A cycle is costed when some of its minutes have a capacity cost rate or it used consumables;
    ``cost_source`` is then ``recorded-minutes`` (every minute recorded) or ``standard-times``
    (some minutes filled from the process map's time equations). Otherwise it is
    ``charges-only`` or ``not-costed``: its costs are null (never 0) and ``not_costed_reason``
    says why. Summed per cycle_id from ``lines`` (:func:`cost_lines`, as written in ``cycle_costs``);
    minutes with a rate and consumables used from the activity costs ``acts`` and consumables ``cons``.
    """
    zero, zint = ibis.literal(0.0), ibis.literal(0, type="int64")
    u = lines
    t = u.group_by("cycle_id").aggregate(
        patient_id=u.patient_id.arbitrary(), condition=u.condition.arbitrary(),
        cycle_type=u.cycle_type.arbitrary(), provider=u.organization_id.min(),
        minutes=u.minutes.sum(), recorded_minutes=u.recorded_minutes.sum(),
        standard_minutes=u.standard_minutes.sum(), activities=u.activities.sum(),
        labour_cost=u.labour_cost.sum(), consumables_cost=u.consumables_cost.sum(), charges=u.charges.sum())
    rated = acts.filter(acts.cycle_id.notnull() & acts.rate_per_minute.notnull())
    rated = rated.group_by(_rc=rated.cycle_id).aggregate(_rated=rated.minutes.sum())
    used = cons.filter(cons.cycle_id.notnull())
    used = used.group_by(_uc=used.cycle_id).aggregate(_used=used.count())
    t = t.left_join(rated, t.cycle_id == rated._rc).left_join(used, t.cycle_id == used._uc)
    t = t.mutate(rated_minutes=t._rated.fill_null(0.0), consumables=t._used.fill_null(0)).drop(
        "_rc", "_rated", "_uc", "_used")
    main = _main_facility(u)
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
