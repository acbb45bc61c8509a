"""Read-only network queries: rows for the CLI, report and API. Cells describing fewer than 11
patients (or cycles) show '<11' and hide the numbers derived from them (carevalue.queries.privacy);
volumes get complementary suppression within each condition, level and year."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.model.network import BY_NAME
from carevalue.queries.base import needs, rows_of
from carevalue.queries.privacy import MARK, THRESHOLD, suppress

# Per table: the count columns that decide suppression and the columns derived from those patients.
MASK: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "network_volume": (("cycles", "patients"), ("annualised_cycles", "cycles_first_half", "cycles_second_half")),
    "network_volume_profile": (("total_cycles", "min_per_year", "max_per_year"), ("mean_per_year", "mean_per_week")),
    "network_standard_checks": (("cycles", "patients"), ("shortfall", "annualised_cycles", "two_year_average",
                                                          "prognosis_rolling_cycles")),
    "network_scenarios": (("moved_cycles",), ("moved_minutes", "current_cost", "projected_cost", "projected_cost_low",
                                              "projected_cost_high", "cost_change", "current_travel_km",
                                              "projected_travel_km")),
    "network_scenario_outcomes": (("moved_cycles",), ("current", "projected", "projected_low", "projected_high",
                                                      "change")),
    "network_affiliations": (("cycles",), ("current_cost", "projected_cost", "cost_change", "current_travel_km",
                                           "projected_travel_km")),
}

# Secondary counts shown as '<11' where 1..10 in a row that is otherwise shown.
CELLS: dict[str, tuple[str, ...]] = {
    "network_volume": ("cycles_first_half", "cycles_second_half"),
    "network_standard_checks": ("prognosis_rolling_cycles",),
    "network_scenarios": ("cycles_before", "cycles_after"),
}


def _round(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def safe_rows(name: str, df: pd.DataFrame, group_by: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Plain, suppressed rows of a frame shaped like the declared table ``name``."""
    rows = rows_of(df)
    if name in MASK:
        counts, values = MASK[name]
        rows = suppress(rows, counts, values=[*values, *counts], group_by=group_by, cells=CELLS.get(name, ()))
    return _round(rows)


def _read(con: BaseBackend, name: str, **eq: Any) -> pd.DataFrame:
    t = con.table(name)
    for col, val in eq.items():
        if val is not None:
            t = t.filter(t[col] == val)
    df = t.execute()
    return df[[c for c in BY_NAME[name].column_names if c in df.columns]]


@needs("network_volume")
def volume(con: BaseBackend, library: Library, condition: str | None = None, level: str = "organization",
           **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_volume", condition=condition, level=level).sort_values(["condition", "year", "unit_id"])
    return safe_rows("network_volume", df, group_by=["condition", "level", "year"])


@needs("network_volume_profile")
def volume_profile(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_volume_profile", condition=condition).sort_values(["condition", "level", "year"])
    return safe_rows("network_volume_profile", df)


@needs("network_standard_checks")
def standard_checks(con: BaseBackend, library: Library, condition: str | None = None, below_only: bool = False,
                    **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_standard_checks", condition=condition)
    if below_only:
        df = df[df["meets"] == False]  # noqa: E712
    df = df.drop(columns=["source"]).sort_values(["standard", "condition", "year", "unit_id"])
    rows = safe_rows("network_standard_checks", df)
    return _mask_small_previous_year(rows, con, condition)


def _mask_small_previous_year(rows: list[dict[str, Any]], con: BaseBackend, condition: str | None) -> list[dict[str, Any]]:
    """A two-year average reveals last year's count: hide it where that count is 1..10."""
    vol = _read(con, "network_volume", condition=condition)
    small = {(str(r["condition"]), str(r["level"]), str(r["unit_id"]), int(r["year"]) + 1)
             for r in vol.to_dict("records") if 0 < int(r["cycles"]) < THRESHOLD}
    for r in rows:
        if (str(r["condition"]), str(r["level"]), str(r["unit_id"]), int(r["year"])) in small \
                and r.get("two_year_average") is not None:
            r["two_year_average"] = MARK
    return rows


@needs("network_volume_value")
def volume_value(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return safe_rows("network_volume_value", _read(con, "network_volume_value", condition=condition))


@needs("network_scenarios")
def scenarios(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return safe_rows("network_scenarios", _read(con, "network_scenarios", condition=condition))


@needs("network_scenario_outcomes")
def scenario_outcomes(con: BaseBackend, library: Library, scenario: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return safe_rows("network_scenario_outcomes", _read(con, "network_scenario_outcomes", scenario=scenario))


@needs("network_affiliations")
def affiliations(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    return safe_rows("network_affiliations", _read(con, "network_affiliations", condition=condition))


@needs("network_ipu_assessment")
def ipu_assessment(con: BaseBackend, library: Library, condition: str | None = None,
                   organization_id: str | None = None, **_: Any) -> list[dict[str, Any]]:
    df = _read(con, "network_ipu_assessment", condition=condition, organization_id=organization_id)
    return safe_rows("network_ipu_assessment", df.sort_values(["condition", "organization_id", "attribute_no"]))


@needs("network_ipu_assessment")
def ipu_scores(con: BaseBackend, library: Library, condition: str | None = None, **_: Any) -> list[dict[str, Any]]:
    """Total score (0-20) per service."""
    df = _read(con, "network_ipu_assessment", condition=condition)
    g = df.groupby(["condition", "organization_id"], dropna=False).agg(
        team_id=("team_id", "first"), score=("score", "sum")).reset_index()
    return _round(rows_of(g.sort_values(["condition", "score"], ascending=[True, False])))


@needs("network_coordinates")
def coordinates(con: BaseBackend, library: Library, **_: Any) -> list[dict[str, Any]]:
    """Every coordinate the travel distances use (sites and home areas), with its source."""
    return _round(rows_of(_read(con, "network_coordinates").sort_values(["kind", "unit_id"])))


@needs("network_coordinates", "network_volume", "network_standard_checks")
def site_map(con: BaseBackend, library: Library, condition: str | None = None, year: int | None = None,
             **_: Any) -> list[dict[str, Any]]:
    """Per site with coordinates: its organization's cycles of the condition in the year (the latest
    when not given), the hospital or site thresholds it is below that year (clinician thresholds are
    not the site's), and where its position comes from.
    Cycles below 11 show '<11'."""
    sites = _read(con, "network_coordinates")
    sites = sites[sites["kind"] == "site"]
    vol = _read(con, "network_volume", condition=condition, level="organization")
    if vol.empty or sites.empty:
        return []
    yr = int(year if year is not None else vol["year"].max())
    vol = vol[vol["year"] == yr]
    chk = _read(con, "network_standard_checks", condition=condition)
    chk = chk[(chk["year"] == yr) & (chk["meets"] == False) & chk["level"].isin(["organization", "facility"])]  # noqa: E712
    below = {str(o): sorted(set(g["threshold"])) for o, g in chk.groupby("organization_id")}
    df = vol.merge(sites.rename(columns={"unit_id": "organization_id"}), on="organization_id", how="inner")
    df = df.assign(below=pd.Series([", ".join(below.get(str(o), [])) or None for o in df["organization_id"]],
                                   index=df.index, dtype=object))
    df = df[["condition", "year", "organization_id", "latitude", "longitude", "source", "cycles", "patients", "below"]]
    rows = suppress(rows_of(df.sort_values(["condition", "organization_id"])), ("cycles", "patients"),
                    values=["cycles", "patients"], group_by=["condition"])
    return _round(rows)
