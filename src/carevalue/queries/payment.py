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

MODELS = ("ffs", "bundle", "tb", "capitation", "episode")
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
            "bundle_prices": bundle_prices(con, library, prices=mem["bundle_prices"]),
            "episode_reconciliation": episode_reconciliation(con, library,
                                                             reconciliation=mem["episode_reconciliation"])}
