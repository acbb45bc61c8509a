"""Capacity checks for scenarios: the minutes the moved work needs per facility and role against
the practical capacity left unused there in the scenario year (TDABC capacity_use)."""

from __future__ import annotations

import pandas as pd

CAPACITY_COLUMNS = ("organization_id", "role", "needed_minutes", "unused_minutes", "practical_capacity_minutes",
                    "utilisation_after", "exceeds")


def receiver_minutes_per_cycle(process: pd.DataFrame, condition: str, receiver: str,
                               receiver_cycles: int) -> pd.DataFrame:
    """The receiver's process for the condition: mean minutes per cycle by facility and role."""
    p = process[(process.condition == condition) & (process.cycle_organization_id == receiver)]
    g = p.groupby(["facility_id", "role"], as_index=False).agg(minutes=("minutes", "sum"))
    g["minutes_per_cycle"] = g["minutes"] / max(receiver_cycles, 1)
    return g.rename(columns={"facility_id": "organization_id"})[["organization_id", "role", "minutes_per_cycle"]]


def check_capacity(needed: pd.DataFrame, capacity: pd.DataFrame, year: int) -> pd.DataFrame:
    """``needed`` (organization_id, role, needed_minutes) against unused capacity in ``year``.

    A role the facility does not have at all counts as zero capacity, so the check refuses it.
    """
    cap = capacity[capacity.year == year][["organization_id", "role", "unused_minutes", "used_minutes",
                                            "practical_capacity_minutes"]]
    j = needed.merge(cap, on=["organization_id", "role"], how="left")
    for c in ("unused_minutes", "used_minutes", "practical_capacity_minutes"):
        j[c] = j[c].fillna(0.0)
    pc = j["practical_capacity_minutes"]
    j["utilisation_after"] = ((j["used_minutes"] + j["needed_minutes"]) / pc.where(pc > 0)).astype("float64")
    j["exceeds"] = j["needed_minutes"] > j["unused_minutes"] + 1e-9
    return j[list(CAPACITY_COLUMNS)].sort_values(["organization_id", "role"]).reset_index(drop=True)


def refusal(checks: pd.DataFrame) -> str | None:
    """Why a scenario is refused (the roles short of capacity), or None when it fits."""
    bad = checks[checks["exceeds"]]
    if bad.empty:
        return None
    parts = [f"{r.role} at {r.organization_id} needs {r.needed_minutes:,.0f} min, {r.unused_minutes:,.0f} unused"
             for r in bad.itertuples()]
    return "refused: practical capacity would be exceeded (" + "; ".join(parts) + ")"
