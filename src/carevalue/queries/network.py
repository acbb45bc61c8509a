"""Read-only network queries: rows for the CLI, report and API, with cells describing fewer than 11
patients (or cycles) shown as '<11' and the numbers derived from them hidden."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.engine.privacy import suppress_small_cells
from carevalue.model.network import BY_NAME, COUNTS

# Per table: the count column that decides suppression and the columns derived from those patients.
_MASK: dict[str, tuple[str, tuple[str, ...]]] = {
    "network_volume": ("cycles", ("patients",)),
    "network_standard_checks": ("cycles", ("patients", "shortfall")),
    "network_scenarios": ("moved_cycles", ("moved_minutes", "current_cost", "projected_cost", "projected_cost_low", "projected_cost_high",
                                           "cost_change", "current_travel_km", "projected_travel_km")),
    "network_scenario_outcomes": ("moved_cycles", ("current", "projected", "projected_low", "projected_high", "change")),
    "network_affiliations": ("cycles", ("current_cost", "projected_cost", "cost_change", "current_travel_km",
                                        "projected_travel_km")),
}


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    def clean(v: Any) -> Any:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if hasattr(v, "item"):
            v = v.item()
        return round(v, 4) if isinstance(v, float) else v
    return [{str(k): clean(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


def _read(con: BaseBackend, name: str, **eq: Any) -> pd.DataFrame:
    if name not in con.list_tables():
        raise LookupError(f"the store has no {name} table: run `carevalue network run --store ...` first")
    t = con.table(name)
    for col, val in eq.items():
        if val is not None:
            t = t.filter(t[col] == val)
    df = t.execute()
    decl = BY_NAME[name]
    df = df[[c for c in decl.column_names if c in df.columns]]
    if name in _MASK:
        count, derived = _MASK[name]
        df = suppress_small_cells(df, count, [c for c in (*derived, *COUNTS.get(name, ())) if c != count])
    return df


def volume(con: BaseBackend, library: Library, condition: str | None = None, level: str = "organization",
           **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_volume", condition=condition, level=level)
    return _rows(df.sort_values(["condition", "year", "unit_id"]))


def volume_profile(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_volume_profile", condition=condition)
    return _rows(df.sort_values(["condition", "level", "year"]))


def standard_checks(con: BaseBackend, library: Library, condition: str | None = None, below_only: bool = False,
                    **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_standard_checks", condition=condition)
    if below_only:
        df = df[df["meets"] == False]  # noqa: E712
    return _rows(df.drop(columns=["source"]).sort_values(["standard", "condition", "year", "unit_id"]))


def volume_value(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return _rows(_read(con, "network_volume_value", condition=condition))


def scenarios(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return _rows(_read(con, "network_scenarios", condition=condition))


def scenario_outcomes(con: BaseBackend, library: Library, scenario: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return _rows(_read(con, "network_scenario_outcomes", scenario=scenario))


def affiliations(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return _rows(_read(con, "network_affiliations", condition=condition))


def ipu_assessment(con: BaseBackend, library: Library, condition: str | None = None,
                   organization_id: str | None = None, **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_ipu_assessment", condition=condition, organization_id=organization_id)
    return _rows(df.sort_values(["condition", "organization_id", "attribute_no"]))


def ipu_scores(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    """Total score (0-20) per service."""
    df = _read(con, "network_ipu_assessment", condition=condition)
    g = df.groupby(["condition", "organization_id"], dropna=False).agg(
        team_id=("team_id", "first"), score=("score", "sum")).reset_index()
    return _rows(g.sort_values(["condition", "score"], ascending=[True, False]))
