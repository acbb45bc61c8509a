"""Read-only payment queries: revenue and margin per provider under each payment model, from the
payment ledger. Cells describing fewer than 11 patients are suppressed."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import needs, rows_of
from carevalue.queries.privacy import MARK, is_small, suppress

MODELS = ("ffs", "bundle", "tb", "capitation", "episode", "pac", "warranty_price")
SPLIT_MODELS = ("ffs", "bundle", "pac", "warranty_price")
NEEDS = ("payment_ledger",)


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


@needs("payment_ledger")
def provider_comparison(con: BaseBackend, library: Library, condition: str | None = None,
                        bundle_eligible_only: bool = True, ledger: ir.Table | None = None) -> list[dict[str, Any]]:
    """Per provider (and condition): patients, cycles, cost, and revenue and margin per cycle under
    each model. With ``bundle_eligible_only`` the bundle conditions show eligible cycles only."""
    t = ledger if ledger is not None else con.table("payment_ledger")
    if condition:
        t = t.filter(t.condition == condition)
    if bundle_eligible_only:
        t = t.filter(t.bundle_eligible.isnull() | t.bundle_eligible)
    aggs = {"patients": t.patient_id.nunique(), "cycles": t.count(), "cost": t.cost.sum(),
            "complication_rate": t.complication.mean(), "_events": t.complication.sum(),
            "_measured": t.complication.count()}
    for m in MODELS:
        aggs[f"{m}_revenue"] = t[f"{m}_paid"].sum()
    g = t.group_by("condition", "organization_id").aggregate(**aggs).order_by("condition", "organization_id")
    frame: pd.DataFrame = g.execute()
    for m in MODELS:
        frame[f"{m}_margin_per_cycle"] = (frame[f"{m}_revenue"] - frame["cost"]) / frame["cycles"]
    values = ["cycles", "cost", "complication_rate"] + [f"{m}_revenue" for m in MODELS] + \
             [f"{m}_margin_per_cycle" for m in MODELS]
    rows = []
    for r in suppress(rows_of(frame), ("patients",), values=values, group_by=["condition"]):
        # rate × cycles would give the complications away: hide a rate behind 1..10 events or non-events
        events, measured = r.pop("_events"), r.pop("_measured")
        if events is not None and measured and (is_small(events) or is_small(measured - events)):
            r["complication_rate"] = None
        rows.append(r)
    return _rounded(rows)


@needs("payment_ledger")
def complication_margins(con: BaseBackend, library: Library, ledger: ir.Table | None = None) -> list[dict[str, Any]]:
    """The incentive each model gives (F17): per bundle, the eligible cycles with and without a
    complication, their mean TDABC cost, and mean payment and margin per cycle under each model.
    Under fee-for-service a complication is paid again (readmission DRG, ED APC); under the bundle it is not."""
    t = ledger if ledger is not None else con.table("payment_ledger")
    t = t.filter(t.bundle_id.notnull() & t.complication.notnull())
    aggs = {"patients": t.patient_id.nunique(), "cycles": t.count(), "cost_per_cycle": t.cost.mean()}
    for m in MODELS:
        aggs[f"{m}_paid_per_cycle"] = t[f"{m}_paid"].mean()
        aggs[f"{m}_margin_per_cycle"] = (t[f"{m}_paid"] - t.cost).mean()
    g = t.group_by("bundle_id", "complication").aggregate(**aggs).order_by("bundle_id", "complication")
    values = ["cycles", "cost_per_cycle"] + [f"{m}_{k}_per_cycle" for m in MODELS for k in ("paid", "margin")]
    return _rounded(suppress(rows_of(g), ("patients",), values=values, group_by=["bundle_id"]))


@needs("payment_ledger")
def margin_split(con: BaseBackend, library: Library, ledger: ir.Table | None = None) -> list[dict[str, Any]]:
    """Per bundle, provider and model (FFS, bundle, PAC allowance, warranty price), per eligible
    cycle: revenue, cost and margin of the complication care (the cycle's encounters from day 1
    with a complication diagnosis or a revision) and of the rest of the cycle (index care). Under
    FFS complication care is paid its claims and facility payments; under a fixed price only what
    falls after the price's window (and, for the bundle, outside its warranty) is paid, at FFS — the
    price itself, allowance included, counts as index-care revenue. Does the marginal incentive
    reverse: complication care earns under FFS and costs under a price."""
    t = ledger if ledger is not None else con.table("payment_ledger")
    t = t.filter(t.bundle_id.notnull() & t.bundle_eligible.coalesce(False))
    comp_cost, comp_ffs = t.complication_care_cost.coalesce(0.0), t.complication_care_paid.coalesce(0.0)
    aggs: dict[str, Any] = {"patients": t.patient_id.nunique(), "cycles": t.count(), "cost": t.cost.mean(),
                            "complication_cost": comp_cost.mean(), "complication_ffs": comp_ffs.mean(),
                            "cycles_with_complication_care": (comp_cost > 0).cast("int64").sum()}
    for m in SPLIT_MODELS:
        aggs[f"{m}_paid"] = t[f"{m}_paid"].mean()
        if m != "ffs":
            aggs[f"{m}_comp_paid"] = t[f"{m}_complication_paid"].coalesce(0.0).mean()
    g: pd.DataFrame = t.group_by("bundle_id", "organization_id").aggregate(**aggs).order_by(
        "bundle_id", "organization_id").execute()
    rows = []
    for r in rows_of(g):
        for m in SPLIT_MODELS:
            comp_rev = r["complication_ffs"] if m == "ffs" else r[f"{m}_comp_paid"]
            paid = r[f"{m}_paid"]
            rows.append({"bundle_id": r["bundle_id"], "organization_id": r["organization_id"], "model": m,
                         "patients": r["patients"], "cycles": r["cycles"],
                         "cycles_with_complication_care": r["cycles_with_complication_care"],
                         "index_revenue": paid - comp_rev, "index_cost": r["cost"] - r["complication_cost"],
                         "index_margin": paid - comp_rev - (r["cost"] - r["complication_cost"]),
                         "complication_revenue": comp_rev, "complication_cost": r["complication_cost"],
                         "complication_margin": comp_rev - r["complication_cost"], "margin": paid - r["cost"]})
    values = ["cycles", "index_revenue", "index_cost", "index_margin", "complication_revenue", "complication_cost",
              "complication_margin", "margin"]
    # the values are means over the provider's eligible cycles (a cell of `patients`); the number of
    # cycles with complication care is a secondary count, shown <11 where 1..10
    return _rounded(suppress(rows, ("patients",), values=values, group_by=["bundle_id", "model"],
                             cells=["cycles_with_complication_care"]))


@needs("bundle_prices")
def bundle_prices(con: BaseBackend, library: Library, prices: ir.Table | None = None) -> list[dict[str, Any]]:
    """Proposed price per bundle; a price estimated from 1..10 cycles shows <11 and hides its amounts,
    and a count of 1..10 ineligible, excluded or carved-out cycles shows <11."""
    rows = _rounded(suppress(rows_of(prices if prices is not None else con.table("bundle_prices")), ("cycles",),
                             values=["expected_included_cost", "warranty_reserve", "proposed_price", "p10", "p50",
                                     "p90"]))
    for r in rows:
        for col in ("ineligible_cycles", "eligibility_excluded_cycles", "carved_out_cycles"):
            if is_small(r.get(col)):
                r[col] = MARK
    return rows


@needs("episode_reconciliation")
def episode_reconciliation(con: BaseBackend, library: Library,
                           reconciliation: ir.Table | None = None) -> list[dict[str, Any]]:
    t = reconciliation if reconciliation is not None else con.table("episode_reconciliation")
    rows = [{("patients" if k == "episodes" else k): v for k, v in r.items()} for r in rows_of(t)]
    return _rounded(suppress(rows, ("patients",), values=["target", "spending", "raw", "quality_adjusted",
                                                           "reconciliation"]))


@needs("cycle_cost_totals", "activity_costs", "cycle_events")
def what_if(con: BaseBackend, library: Library, options: Any = None, episode_model: str = "cms-team",
            condition: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The payment comparison re-simulated with other terms (margin, warranty, stop-loss, track ...),
    in memory: nothing is written to the store."""
    from carevalue.engine.payment.run import as_tables, simulate_store, tables

    mem = as_tables(tables(simulate_store(con, library, options, episode_model_id=episode_model)))
    return {"providers": provider_comparison(con, library, condition, ledger=mem["payment_ledger"]),
            "complication_margins": complication_margins(con, library, ledger=mem["payment_ledger"]),
            "margin_split": margin_split(con, library, ledger=mem["payment_ledger"]),
            "bundle_prices": bundle_prices(con, library, prices=mem["bundle_prices"]),
            "episode_reconciliation": episode_reconciliation(con, library,
                                                             reconciliation=mem["episode_reconciliation"])}
