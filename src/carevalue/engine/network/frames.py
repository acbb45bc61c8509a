"""Small aggregated frames the scenario, affiliation and volume-value logic works on, read from the
engine's tables with Ibis (aggregated on the backend; only per-provider and per-role rows reach
pandas)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from carevalue.engine.network.volume import index_events


@dataclass
class NetworkFrames:
    """Per (condition, organization, year) cycles; per-provider outcomes and costs; per-role minutes
    and capacity. ``moved_cost`` holds each (condition, organization, year)'s total cost."""

    cycles: pd.DataFrame          # condition, organization_id, year, cycles, total_cost
    outcomes: pd.DataFrame        # outcome_comparison rows with status ok
    costs: pd.DataFrame           # condition, organization_id, n, mean_cost, sd_cost
    process: pd.DataFrame         # condition, cycle_organization_id, facility_id, role, phase, year, minutes, labour_cost
    capacity: pd.DataFrame        # organization_id, role, year, unused_minutes, practical_capacity_minutes, used_minutes
    rates: pd.DataFrame           # organization_id, role, rate_per_minute (capacity-weighted)
    homes: pd.DataFrame           # condition, organization_id, year, postal_code, cycles


def index_table(con: BaseBackend) -> ir.Table:
    return index_events(con.table("care_cycles"), con.table("procedures"), con.table("conditions"),
                        con.table("encounters"))


def load_frames(con: BaseBackend, index: ir.Table | None = None) -> NetworkFrames:
    """Aggregate the engine tables into the frames the network logic needs. ``index``: the
    :func:`index_table`, when the caller has it (e.g. cached) already."""
    idx = index if index is not None else index_table(con)
    tot = con.table("cycle_cost_totals").select(_tc="cycle_id", total_cost="total_cost")
    pt = con.table("patients").select(_pp="patient_id", postal_code="postal_code", _known=ibis.literal(True))
    j = idx.left_join(tot, idx.cycle_id == tot._tc)
    j = j.left_join(pt, j.patient_id == pt._pp)
    # one query for both: cycles and cost per home area (patients not in `patients` kept apart)
    keys = ["condition", "organization_id", "year", "postal_code", "_known"]
    by_home = j.group_by(keys).aggregate(cycles=j.count(), total_cost=j.total_cost.sum()).execute()
    cyc = by_home.groupby(keys[:3], as_index=False, dropna=False, sort=False).agg(
        cycles=("cycles", "sum"), total_cost=("total_cost", "sum"))
    known = by_home[by_home._known.fillna(False).astype(bool)]
    homes = known[[*keys[:4], "cycles"]].reset_index(drop=True)
    oc = con.table("outcome_comparison")
    oc = oc.filter((oc.status == "ok") & oc.organization_id.notnull()).select(
        "condition", "measure", "time_point", "scale", "statistic", "organization_id", "n", "observed",
        "expected", "oe", "ci_low", "ci_high", "flag_95").execute()
    ct = con.table("cycle_cost_totals")
    costs = ct.group_by(["condition", "organization_id"]).aggregate(
        n=ct.count(), mean_cost=ct.total_cost.mean(), sd_cost=ct.total_cost.std()).execute()
    a = con.table("activity_costs")
    a = a.filter(a.cycle_id.notnull())
    proc = a.group_by(["condition", "cycle_organization_id", "facility_id", "role", "phase",
                       a.start_ts.year().cast("int64").name("year")]).aggregate(
        minutes=a.minutes.sum(), labour_cost=a.labour_cost.sum()).execute()
    cu = con.table("capacity_use")
    cap = cu.group_by(["organization_id", "role", "year"]).aggregate(
        unused_minutes=cu.unused_minutes.sum(), used_minutes=cu.used_minutes.sum(),
        practical_capacity_minutes=cu.practical_capacity_minutes.sum()).execute()
    r = con.table("capacity_cost_rates")
    rates = r.group_by(["organization_id", "role"]).aggregate(
        cost=r.annual_cost.sum(), cap=r.practical_capacity_minutes.sum()).execute()
    rates["rate_per_minute"] = rates["cost"] / rates["cap"].where(rates["cap"] > 0)
    return NetworkFrames(cyc, oc, costs, proc, cap, rates[["organization_id", "role", "rate_per_minute"]],
                         homes)
