"""A hand-built store of the network tables (three knee providers, one below the Leapfrog minimum,
one with 5 cycles: a small cell) for the network report section and dashboard page tests."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from carevalue.model.network import BY_NAME

COND = "knee-osteoarthritis"
_IBIS = {"VARCHAR": "string", "BIGINT": "int64", "DOUBLE": "float64", "BOOLEAN": "boolean"}


def _put(con: ibis.BaseBackend, name: str, rows: list[dict[str, Any]]) -> None:
    decl = BY_NAME[name]
    schema = {c.name: _IBIS[c.type] for c in decl.columns}
    df = pd.DataFrame([{c: r.get(c) for c in schema} for r in rows], columns=list(schema))
    con.create_table(name, ibis.memtable(df.astype(object).where(df.notna(), None).to_dict("records"), schema=schema)
                     if rows else ibis.memtable(pd.DataFrame({k: pd.Series(dtype="object") for k in schema}), schema=schema),
                     overwrite=True)


def _check(unit: str, cycles: int, meets: bool) -> dict[str, Any]:
    return {"standard": "leapfrog-surgical-volume", "authority": "The Leapfrog Group", "threshold": "tkr-hospital",
            "procedure": "Total knee replacement surgery", "condition": COND, "level": "organization", "unit_id": unit,
            "organization_id": unit, "year": 2025, "cycles": cycles, "patients": cycles, "observed_months": 12,
            "annualised_cycles": float(cycles), "minimum": 50, "meets": meets, "basis": "calendar year",
            "shortfall": max(50 - cycles, 0), "prognosis": False, "source": "Leapfrog 2024"}


def build() -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    vols = {"org-big": 60, "org-mid": 30, "org-small": 5}
    _put(con, "network_volume", [{"condition": COND, "level": "organization", "unit_id": o, "organization_id": o,
                                  "year": 2025, "cycles": n, "patients": n, "observed_months": 12,
                                  "annualised_cycles": float(n)} for o, n in vols.items()]
         + [{"condition": COND, "level": "organization", "unit_id": "org-mid", "organization_id": "org-mid",
             "year": 2024, "cycles": 4, "patients": 4, "observed_months": 12, "annualised_cycles": 4.0}])
    # org-mid's two-year average (30 + 4) / 2 = 17 would reveal its 4 cycles of 2024
    _put(con, "network_standard_checks", [{**_check(o, n, n >= 50), "two_year_average": 17.0 if o == "org-mid" else None}
                                          for o, n in vols.items()])
    _put(con, "network_coordinates", [
        {"kind": "site", "unit_id": "org-big", "location_id": "loc-big", "latitude": 33.95, "longitude": -117.40,
         "source": "FHIR Location/loc-big.position"},
        {"kind": "site", "unit_id": "org-mid", "location_id": "loc-mid", "latitude": 34.10, "longitude": -117.35,
         "source": "FHIR Location/loc-mid.position"},
        {"kind": "site", "unit_id": "org-small", "latitude": 33.85, "longitude": -117.75, "source": "facts file"},
        {"kind": "postal-area", "unit_id": "92501", "latitude": 33.95, "longitude": -117.40, "source": "facts file"}])
    _put(con, "network_scenarios", [{
        "scenario": "consolidate-knee-org-mid", "kind": "consolidation", "condition": COND, "year": 2025,
        "from_units": "org-mid", "to_unit": "org-big", "moved_cycles": 30, "moved_minutes": 9000.0,
        "cycles_before": 95, "cycles_after": 95, "current_cost": 360000.0, "projected_cost": 300000.0,
        "projected_cost_low": 280000.0, "projected_cost_high": 320000.0, "cost_change": -60000.0,
        "outcomes_better": 1, "outcomes_worse": 0, "current_travel_km": 5.0, "projected_travel_km": 17.0,
        "status": "feasible", "message": "the moved cycles fit the receiver's unused practical capacity"}])
    _put(con, "network_scenario_outcomes", [{
        "scenario": "consolidate-knee-org-mid", "measure": "complications-90d", "time_point": "90 days",
        "statistic": "O/E events", "direction": "lower-better", "moved_cycles": 30, "current": 0.10,
        "projected": 0.05, "projected_low": 0.02, "projected_high": 0.09, "change": -0.05, "better": True,
        "status": "ok"}])
    _put(con, "network_affiliations", [])
    _put(con, "network_ipu_assessment", [
        {"condition": COND, "organization_id": o, "team_id": "team-knee" if o == "org-big" else None,
         "attribute_no": k, "attribute": f"attribute {k}", "score": s, "evidence": f"evidence {o} {k}",
         "basis": "store" if s else "none"}
        for o, s in (("org-big", 2), ("org-mid", 0)) for k in range(1, 11)])
    return con
