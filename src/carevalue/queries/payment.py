"""Read-only payment queries: revenue and margin per provider under each payment model, from the
payment ledger. Cells describing fewer than 11 patients are suppressed."""

from __future__ import annotations

from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.engine.privacy import suppress_small_cells

MODELS = ("ffs", "bundle", "tb", "capitation", "episode")
NEEDS = ("payment_ledger",)


def provider_comparison(con: BaseBackend, library: Library, condition: str | None = None,
                        bundle_eligible_only: bool = True) -> list[dict[str, Any]]:
    """Per provider (and condition): patients, cycles, cost, and revenue and margin per cycle under
    each model. With ``bundle_eligible_only`` the bundle conditions show eligible cycles only."""
    t = con.table("payment_ledger")
    if condition:
        t = t.filter(t.condition == condition)
    if bundle_eligible_only:
        t = t.filter(t.bundle_eligible.isnull() | t.bundle_eligible)
    aggs = {"patients": t.patient_id.nunique(), "cycles": t.count(), "cost": t.cost.sum(),
            "complication_rate": t.complication.mean()}
    for m in MODELS:
        aggs[f"{m}_revenue"] = t[f"{m}_paid"].sum()
    g = t.group_by("condition", "organization_id").aggregate(**aggs).order_by("condition", "organization_id")
    frame: pd.DataFrame = g.execute()
    for m in MODELS:
        frame[f"{m}_margin_per_cycle"] = (frame[f"{m}_revenue"] - frame["cost"]) / frame["cycles"]
    values = ["cycles", "cost", "complication_rate"] + [f"{m}_revenue" for m in MODELS] + \
             [f"{m}_margin_per_cycle" for m in MODELS]
    frame = suppress_small_cells(frame, "patients", values)
    return [{str(k): (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
            for r in frame.to_dict(orient="records")]


def bundle_prices(con: BaseBackend, library: Library) -> list[dict[str, Any]]:
    rows = con.table("bundle_prices").execute().to_dict(orient="records")
    return [{str(k): (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def episode_reconciliation(con: BaseBackend, library: Library) -> list[dict[str, Any]]:
    frame = con.table("episode_reconciliation").execute()
    frame = frame.rename(columns={"episodes": "patients"})
    frame = suppress_small_cells(frame, "patients", ["target", "spending", "raw", "quality_adjusted", "reconciliation"])
    return [{str(k): (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
            for r in frame.to_dict(orient="records")]
