"""TDABC costs read out: cost per cycle by provider and phase, waterfalls, capacity, opportunities.

Every row that describes patients carries ``patients`` (distinct patients of the costed cycles)
and goes through the privacy module; money carries the costing policy's ``currency``.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.definitions.process_map import PHASES
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.names import with_facility
from carevalue.queries.privacy import is_small, scrub_text, suppress

Rows = list[dict[str, Any]]
PHASE_KEYS: tuple[str, ...] = (*PHASES, "unassigned")


def currency(library: Library) -> str:
    """The currency of every cost: the ``currency`` of the default costing policy."""
    policies = library.kind("costing_policies")
    policy = policies.get("default") or next(iter(policies.values()), None)
    return str(getattr(policy, "currency", None) or "USD")


def _conditions(con: BaseBackend) -> list[str]:
    t = con.table("cycle_cost_totals")
    return [str(c) for c in t.select("condition").distinct().order_by("condition").execute()["condition"]]


def _check_condition(con: BaseBackend, condition: str | None) -> None:
    if condition and condition not in (known := _conditions(con)):
        raise QueryError(f"no costed cycles for condition {condition!r}; costed: {', '.join(known) or 'none'}")


@needs("cycle_cost_totals", "cycle_costs")
def provider_costs(con: BaseBackend, library: Library, condition: str | None = None) -> Rows:
    """Mean cost per costed cycle by condition and provider (``cycles`` costed, ``cycles_not_costed``
    beside), a mean per phase, and charges beside it."""
    _check_condition(con, condition)
    rows = with_facility(_provider_costs(con, library, condition), con)
    return suppress(rows, ("patients",), group_by=["condition"], cells=("cycles_not_costed",))


def _provider_costs(con: BaseBackend, library: Library, condition: str | None) -> Rows:
    """The aggregation behind :func:`provider_costs`, before the privacy module (tests' arithmetic)."""
    tot, cc = con.table("cycle_cost_totals"), con.table("cycle_costs")
    if condition:
        tot, cc = tot.filter(tot.condition == condition), cc.filter(cc.condition == condition)
    head = tot.group_by("condition", "cycle_type", "organization_id").aggregate(
        patients=tot.patient_id.nunique(), cycles=tot.total_cost.count(),
        cycles_not_costed=tot.total_cost.isnull().sum(), cost_per_cycle=tot.total_cost.mean(),
        labour_per_cycle=tot.labour_cost.mean(), consumables_per_cycle=tot.consumables_cost.mean(),
        charges_per_cycle=tot.charges.mean(),
        recorded_share=tot.recorded_minutes.sum() / tot.minutes.sum())
    costed = tot.filter(tot.total_cost.notnull())
    ph = cc.join(costed.select("cycle_id", cycle_org="organization_id"), "cycle_id")
    ph = ph.group_by("condition", org=ph.cycle_org, phase=ph.phase).aggregate(cost=ph.total_cost.sum())
    by = {(p["condition"], p["org"], p["phase"]): p["cost"] for p in rows_of(ph)}
    cur = currency(library)
    out = []
    for r in rows_of(head.order_by("condition", "cost_per_cycle", "organization_id")):
        n = r["cycles"]  # costed cycles; a provider with none is "not costed", never 0
        for phase in PHASE_KEYS:
            v = by.get((r["condition"], r["organization_id"], phase))
            if v is not None or phase != "unassigned":
                r[phase] = (v or 0.0) / n if n else None
        out.append({**r, "currency": cur})
    return out


@needs("cycle_cost_totals", "cycle_costs")
def phase_waterfall(con: BaseBackend, library: Library, condition: str,
                    organization_id: str | None = None) -> Rows:
    """Mean cost per cycle added by each phase in care-cycle order, then a ``total`` row."""
    _check_condition(con, condition)
    return suppress(_waterfall(con, library, condition, organization_id), ("patients",), values=[
        "start", "cost_per_cycle", "end", "labour_per_cycle", "consumables_per_cycle", "charges_per_cycle",
        "cycles"])


def _waterfall(con: BaseBackend, library: Library, condition: str, organization_id: str | None) -> Rows:
    """The aggregation behind :func:`phase_waterfall`, before the privacy module (tests' arithmetic)."""
    tot = con.table("cycle_cost_totals")
    tot = tot.filter((tot.condition == condition) & tot.total_cost.notnull())
    if organization_id:
        tot = tot.filter(tot.organization_id == organization_id)
    head = rows_of(tot.aggregate(cycles=tot.count(), patients=tot.patient_id.nunique()))[0]
    n, patients = int(head["cycles"] or 0), head["patients"]
    cc = con.table("cycle_costs")
    cc = cc.filter(cc.cycle_id.isin(tot.cycle_id))
    ph = {r["phase"]: r for r in rows_of(cc.group_by("phase").aggregate(
        labour=cc.labour_cost.sum(), consumables=cc.consumables_cost.sum(), charges=cc.charges.sum()))}
    cur, d = currency(library), max(n, 1)
    out: Rows = []
    running = 0.0
    for phase in PHASE_KEYS:
        if phase not in ph:
            continue
        p = ph[phase]
        step = ((p["labour"] or 0.0) + (p["consumables"] or 0.0)) / d
        out.append({"condition": condition, "phase": phase, "kind": "phase", "start": running,
                    "cost_per_cycle": step, "end": running + step,
                    "labour_per_cycle": (p["labour"] or 0.0) / d,
                    "consumables_per_cycle": (p["consumables"] or 0.0) / d,
                    "charges_per_cycle": (p["charges"] or 0.0) / d, "cycles": n, "patients": patients,
                    "currency": cur})
        running += step
    if out:
        out.append({"condition": condition, "phase": "total", "kind": "total", "start": 0.0,
                    "cost_per_cycle": running, "end": running,
                    "labour_per_cycle": sum(r["labour_per_cycle"] for r in out),
                    "consumables_per_cycle": sum(r["consumables_per_cycle"] for r in out),
                    "charges_per_cycle": sum(r["charges_per_cycle"] for r in out), "cycles": n,
                    "patients": patients, "currency": cur})
    return out


@needs("activity_costs")
def minutes_coverage(con: BaseBackend, library: Library) -> Rows:
    """Costed minutes and activities by source: recorded in the data, or filled from standard times."""
    a = con.table("activity_costs")
    t = a.group_by("minutes_source").aggregate(activities=a.count(), minutes=a.minutes.sum())
    t = t.mutate(minutes_share=t.minutes / t.minutes.sum().over(),
                 activity_share=t.activities / t.activities.sum().over())
    return rows_of(t.order_by("minutes_source"))


@needs("capacity_use")
def resource_utilisation(con: BaseBackend, library: Library, organization_id: str | None = None) -> Rows:
    """Used vs practical minutes and unused capacity cost per resource and year (resource facts)."""
    u = con.table("capacity_use")
    if organization_id:
        u = u.filter(u.organization_id == organization_id)
    t = u.select("resource_id", "name", "role", "organization_id", "year", "used_minutes",
                 "practical_capacity_minutes", "utilisation", "unused_capacity_cost", "over_capacity")
    cur = currency(library)
    return [{**r, "currency": cur} for r in rows_of(t.order_by("organization_id", "role", "resource_id", "year"))]


def _year(con: BaseBackend) -> int | None:
    """The last calendar year whose practical capacity is (nearly) complete and that has use."""
    u = con.table("capacity_use")
    years = [r for r in rows_of(u.group_by("year").aggregate(
        practical=u.practical_capacity_minutes.sum(), used=u.used_minutes.sum()).order_by("year"))
        if r["year"] is not None and (r["used"] or 0) > 0]
    if not years:
        return None
    top = max(r["practical"] or 0 for r in years)
    full = [r for r in years if (r["practical"] or 0) >= 0.9 * top] or years
    return int(full[-1]["year"])


@needs("capacity_use", "activity_costs", "capacity_cost_rates")
def capacity(con: BaseBackend, library: Library, year: int | None = None) -> Rows:
    """Used vs practical capacity per facility and role for one year (default: the last full year),
    with the distinct patients the used minutes served."""
    year = year if year is not None else _year(con)
    if year is None:
        return []
    u = con.table("capacity_use")
    u = u.filter(u.year == year)
    g = u.group_by("organization_id", "role").aggregate(
        resources=u.count(), used_minutes=u.used_minutes.sum(),
        practical_capacity_minutes=u.practical_capacity_minutes.sum(),
        capacity_cost=u.capacity_cost.sum(), unused_capacity_cost=u.unused_capacity_cost.sum())
    a = con.table("activity_costs")
    a = a.filter(a.start_ts.year() == year)
    r = con.table("capacity_cost_rates")
    pa = a.join(r, a.resource_id == r.resource_id).select(org=r.organization_id, rrole=r.role,
                                                          patient_id=a.patient_id)
    pa = pa.group_by("org", "rrole").aggregate(patients=pa.patient_id.nunique())
    g = g.left_join(pa, [g.organization_id == pa.org, g.role == pa.rrole]).select(
        g, patients=pa.patients.fill_null(0))
    g = g.mutate(utilisation=ibis.ifelse(g.practical_capacity_minutes > 0,
                                         g.used_minutes / g.practical_capacity_minutes,
                                         ibis.null("float64")))
    cur = currency(library)
    rows = [{"year": year, **x, "currency": cur} for x in rows_of(g.order_by("organization_id", "role"))]
    return suppress(with_facility(rows, con), ("patients",),
                    values=["used_minutes", "utilisation", "unused_capacity_cost"])


def _opportunity_patients(con: BaseBackend) -> dict[tuple[Any, Any], Any]:
    t = con.table("cycle_cost_totals")
    g = t.group_by("condition", "organization_id").aggregate(patients=t.patient_id.nunique())
    return {(r["condition"], r["organization_id"]): r["patients"] for r in rows_of(g)}


@needs("cost_opportunities", "cycle_cost_totals")
def opportunities(con: BaseBackend, library: Library, top: int = 10, kind: str | None = None) -> Rows:
    """The ``top`` cost-reduction opportunities by money at stake (of one ``kind`` if given).

    ``patients``: the opportunity's own count where costing stores one, else the patients of its
    provider and condition; null for resource-level rows (unused capacity describes no patient).
    """
    if top < 1:
        raise QueryError(f"top must be at least 1 (got {top})")
    o = con.table("cost_opportunities")
    if kind:
        known = [str(k) for k in o.select("kind").distinct().execute()["kind"]]
        if kind not in known:
            raise QueryError(f"no opportunities of kind {kind!r}; kinds: {', '.join(sorted(known)) or 'none'}")
        o = o.filter(o.kind == kind)
    o = o.filter(o.money_at_stake > 0).order_by(ibis.desc("money_at_stake"), "kind", "entity_id").limit(top)
    rows = rows_of(o)
    if rows and "patients" not in rows[0]:
        pts = _opportunity_patients(con)
        for r in rows:
            r["patients"] = pts.get((r.get("condition"), r.get("organization_id"))) if r.get("condition") else None
    cur = currency(library)
    rows = with_facility([{**r, "currency": cur, "explanation": scrub_text(r.get("explanation"))}
                          for r in rows], con)
    # an opportunity about patients (not a resource) that occurred 1..10 times describes a small cell
    few = [r.get("entity_type") != "resource" and is_small(r.get("count")) for r in rows]
    return suppress(rows, ("patients",), values=["count", "minutes", "money_at_stake", "explanation"],
                    extra_small=few)


@needs("cost_opportunities")
def opportunity_totals(con: BaseBackend, library: Library) -> Rows:
    """Money at stake and number of opportunities per kind."""
    o = con.table("cost_opportunities")
    t = o.group_by("kind").aggregate(opportunities=o.count(), money_at_stake=o.money_at_stake.sum())
    cur = currency(library)
    return [{**r, "currency": cur} for r in rows_of(t.order_by(ibis.desc("money_at_stake")))]
