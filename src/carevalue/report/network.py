"""The network page: volume against each minimum-volume standard per provider, the units below a
standard, consolidation and phase-shift projections with their intervals, affiliations, the IPU
integration scores with the evidence per attribute, and a map of the sites (no tile server)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from carevalue.queries import network as q
from carevalue.queries.costs import currency
from carevalue.queries.names import with_facility
from carevalue.report.layout import (
    Block,
    Report,
    Rows,
    Section,
    count,
    frame_of,
    is_missing,
    missing_note,
    money,
    ratio,
)
from carevalue.workspace import Workspace

TITLE = "8 · Network: volume, minimum-volume standards, scenarios and IPUs"
TABLES = ("network_volume", "network_standard_checks", "network_scenarios", "network_scenario_outcomes",
          "network_ipu_assessment", "network_coordinates")
CHECK_COLS = ["standard", "threshold", "level", "unit_id", "facility", "year", "cycles", "observed_months",
              "annualised_cycles", "two_year_average", "minimum", "meets", "basis", "shortfall",
              "next_year_minimum", "permitted_next_year", "prognosis_rolling_cycles"]
CHECK_FORMATS = {"cycles": count, "observed_months": count, "annualised_cycles": ratio, "two_year_average": ratio,
                 "minimum": count, "next_year_minimum": count, "shortfall": count, "prognosis_rolling_cycles": count}
CHECK_HEADERS = {"unit_id": "unit", "organization_id": "organization", "observed_months": "months in the data",
                 "annualised_cycles": "annualised (estimate)",
                 "two_year_average": "two-year average",
                 "next_year_minimum": "minimum next year", "permitted_next_year": "permitted next year (prognosis)",
                 "prognosis_rolling_cycles": "Jul–Jun half years (prognosis)"}


def _interval(lo: Any, hi: Any, fmt: Any = money) -> str:
    return "" if is_missing(lo) or is_missing(hi) else f"{fmt(lo)} to {fmt(hi)}"


def volume_figure(rows: Rows, condition: str, year: int) -> go.Figure:
    """Cycles per organization against each organization-level minimum in force (shown rows only)."""
    df = frame_of(rows)
    fig = go.Figure()
    if not df.empty:
        units = sorted(set(df["unit_id"]))
        first = df.drop_duplicates("unit_id").set_index("unit_id")
        labels = [str(first.loc[u, "facility"]) if "facility" in first.columns else u for u in units]
        fig.add_trace(go.Bar(x=labels, y=[int(first.loc[u, "cycles"]) for u in units], name="cycles",
                             marker_color=["#c44e52" if (df[df.unit_id == u]["meets"] == False).any()  # noqa: E712
                                           else "#4c72b0" for u in units]))
        for t in df[["threshold", "minimum"]].drop_duplicates().to_dict("records"):
            fig.add_hline(y=float(t["minimum"]), line_dash="dash", line_color="#555",
                          annotation_text=f"{t['threshold']}: {int(t['minimum'])}", annotation_position="top left")
    fig.update_layout(template="plotly_white", height=340, margin={"l": 60, "r": 20, "t": 50, "b": 60},
                      title=f"{condition}, {year}: cycles per organization vs the minimum (red: below)",
                      yaxis_title="care cycles in the year", xaxis={"automargin": True})
    return fig


def site_map_figure(sites: Rows, areas: Rows) -> go.Figure:
    """Sites (sized by cycles, red when below a standard) and home-area centroids on a plotly map
    with the tile-free 'white-bg' style and markers only: nothing is fetched from a server."""
    shown = [r for r in sites if not r.get("suppressed")]
    hidden = [r for r in sites if r.get("suppressed")]
    fig = go.Figure()
    if areas:
        fig.add_trace(go.Scattermap(lat=[r["latitude"] for r in areas], lon=[r["longitude"] for r in areas],
                                    mode="markers", name="home areas (centroids)",
                                    marker={"size": 7, "color": "#aaaaaa"},
                                    hovertext=[f"postal area {r['unit_id']} ({r['source']})" for r in areas]))
    for label, rows, colour in (("at or above every standard", [r for r in shown if not r.get("below")], "#4c72b0"),
                                ("below a standard", [r for r in shown if r.get("below")], "#c44e52"),
                                ("fewer than 11 cycles", hidden, "#999999")):
        if rows:
            fig.add_trace(go.Scattermap(
                lat=[r["latitude"] for r in rows], lon=[r["longitude"] for r in rows], mode="markers", name=label,
                marker={"size": [8 + min(float(r["cycles"]) ** 0.5 * 2, 30) if isinstance(r.get("cycles"), int | float)
                                 else 9 for r in rows], "color": colour},
                hovertext=[f"{r['organization_id']}: {r['cycles']} cycles ({r['year']})"
                           + (f", below {r['below']}" if r.get("below") else "") + f"; position: {r['source']}"
                           for r in rows]))
    pts = [*sites, *areas]
    centre = ({"lat": sum(float(r["latitude"]) for r in pts) / len(pts),
               "lon": sum(float(r["longitude"]) for r in pts) / len(pts)} if pts else {"lat": 0.0, "lon": 0.0})
    fig.update_layout(map={"style": "white-bg", "center": centre, "zoom": 8}, height=460,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, title="Sites and patients' home areas",
                      legend={"orientation": "h", "y": -0.02})
    return fig


def _standards_blocks(ws: Workspace, rep: Report) -> list[Block]:
    checks = with_facility(ws.ask(q.standard_checks), ws.con)
    out = [Block("How to read", (
        "Each provider's care cycles of a year against every minimum-volume threshold in force (content/"
        "standards, each with its source). Each scheme is compared on the period it states: G-BA on the "
        "calendar year per site, with its prognosis rule (a site below the minimum in a calendar year may "
        "not perform the procedure the next) and the half years its prognosis reports; Leapfrog on the "
        "year's count or the two-year annual average. A year the store observes only in part is not judged "
        "below the minimum: its annualised volume (cycles × 12 ÷ observed months) is shown as an estimate. "
        "Rows describing fewer than 11 cycles show <11."))]
    if not checks:
        out.append(Block("Volume vs standard", "No condition template is counted by a standard's threshold."))
        return out
    for cond in sorted({str(r["condition"]) for r in checks}):
        rows = [r for r in checks if r["condition"] == cond]
        year = max(int(r["year"]) for r in rows)
        latest = [r for r in rows if int(r["year"]) == year]
        b = Block(f"{cond}: volume vs standard per provider, {year}")
        org = [r for r in latest if r["level"] == "organization"]
        if org:
            b.parts.append(rep.figure(f"network-volume-{cond}", volume_figure(org, cond, year)))
        b.parts.append(rep.table(f"network-checks-{cond}", latest, formats=CHECK_FORMATS, headers=CHECK_HEADERS,
                                 columns=CHECK_COLS))
        out.append(b)
    below = [r for r in checks if r.get("meets") is False]
    b = Block("Below the standard, by year", f"{len(below):,} unit-years below a threshold in force "
              "(organizations, sites and clinicians), every year of the data.")
    b.parts.append(rep.table("network-below", below, formats=CHECK_FORMATS, headers=CHECK_HEADERS,
                             columns=CHECK_COLS))
    out.append(b)
    return out


def _scenario_blocks(ws: Workspace, rep: Report, cur: str) -> list[Block]:
    sc = ws.ask(q.scenarios)
    rows = [{**r, "projected_cost_interval": _interval(r.get("projected_cost_low"), r.get("projected_cost_high"))}
            for r in sc]
    b = Block("Scenarios: consolidation and phase shifts", (
        "Consolidation moves a year's cycles from the sending providers to the receiving IPU: the moved "
        "patients keep their case mix and take the receiver's risk-adjusted performance (indirect "
        "standardisation, with the receiver's 95% interval); cost is the receiver's mean TDABC cost per "
        f"cycle × moved cycles, with the 95% interval of that mean, in {cur}; a scenario that would exceed "
        "the receiver's unused practical capacity is refused, naming the role. Phase shifts move routine "
        "phases at the same minutes to another facility's capacity cost rates; outcomes assumed unchanged. "
        "Total cycles are conserved (cycles before = after)."))
    b.parts.append(rep.table("network-scenarios", rows, formats={
        "moved_cycles": count, "moved_minutes": count, "cycles_before": count, "cycles_after": count,
        "current_cost": money, "projected_cost": money, "cost_change": money, "outcomes_better": count,
        "outcomes_worse": count, "current_travel_km": ratio, "projected_travel_km": ratio},
        headers={"current_cost": f"current cost ({cur})", "projected_cost": f"projected cost ({cur})",
                 "projected_cost_interval": "95% interval", "cost_change": f"change ({cur})"},
        columns=["scenario", "kind", "condition", "year", "from_units", "to_unit", "moved_cycles", "cycles_before",
                 "cycles_after", "current_cost", "projected_cost", "projected_cost_interval", "cost_change",
                 "outcomes_better", "outcomes_worse", "current_travel_km", "projected_travel_km", "status",
                 "message"]))
    out = [b]
    for s in [r for r in sc if r.get("kind") == "consolidation"]:
        outs = ws.ask(q.scenario_outcomes, scenario=s["scenario"])
        outs = [{**r, "interval": _interval(r.get("projected_low"), r.get("projected_high"), ratio)} for r in outs]
        ob = Block(f"{s['scenario']}: projected outcomes of the moved cycles",
                   "Event measures as rates per cycle (observed now, projected = expected × the receiver's "
                   "O/E); means as the mean (projected = expected + the receiver's O − E).")
        ob.parts.append(rep.table(f"network-outcomes-{s['scenario']}", outs, formats={
            "moved_cycles": count, "current": ratio, "projected": ratio, "change": ratio},
            headers={"interval": "95% interval"},
            columns=["measure", "time_point", "scale", "statistic", "direction", "moved_cycles", "current",
                     "projected", "interval", "change", "better", "status"]))
        out.append(ob)
    aff = ws.ask(q.affiliations) if not missing_note(ws, "network_affiliations") else []
    if aff:
        ab = Block("Affiliations (hub and spoke)", "For each community provider, the IPU with at least as good "
                   "risk-adjusted results (95% flags better minus worse) that fits the moved work in its capacity, "
                   f"nearest first; routine phases stay local. Costs in {cur}.")
        ab.parts.append(rep.table("network-affiliations", aff, formats={
            "cycles": count, "current_cost": money, "projected_cost": money, "cost_change": money,
            "current_travel_km": ratio, "projected_travel_km": ratio},
            columns=["condition", "year", "spoke", "hub", "spoke_net_flags", "hub_net_flags", "cycles",
                     "local_phases", "outcomes_better", "outcomes_worse", "current_cost", "projected_cost",
                     "cost_change", "current_travel_km", "projected_travel_km", "status"]))
        out.append(ab)
    return out


def _ipu_blocks(ws: Workspace, rep: Report) -> list[Block]:
    scores = with_facility(ws.ask(q.ipu_scores), ws.con)
    b = Block("IPU integration: scores per service", (
        "Porter's ten attributes of an integrated practice unit (seeds/000, “What is Integrated Care?”), each "
        "scored 0–2 from the store (standing team, clinicians' time on the condition, where phases happen, "
        "compared outcomes) or from the organisation's facts file; total out of 20. The evidence for every "
        "score is in the table below it."))
    b.parts.append(rep.table("network-ipu-scores", scores, formats={"score": count},
                             columns=["condition", "facility", "team_id", "score"]))
    ev = with_facility(ws.ask(q.ipu_assessment), ws.con)
    e = Block("IPU integration: evidence per attribute", "Basis: store, facts file, or none (scored 0).")
    e.parts.append(rep.table("network-ipu-evidence", ev, formats={"score": count},
                             columns=["condition", "facility", "attribute_no", "attribute", "score",
                                      "basis", "evidence"]))
    return [b, e]


def _map_block(ws: Workspace, rep: Report) -> Block:
    coords = ws.ask(q.coordinates)
    sites = ws.ask(q.site_map)
    areas = [r for r in coords if r["kind"] == "postal-area"]
    b = Block("Map: sites and home areas", (
        "Site positions from FHIR Location.position (an organization's site is the Location it manages), "
        "else the facts file; home-area centroids from the facts file. The map uses no tile server."))
    if sites or areas:
        b.parts.append(rep.figure("network-map", site_map_figure(sites, areas)))
    b.parts.append(rep.table("network-coordinates", coords, formats={"latitude": ratio, "longitude": ratio},
                             columns=["kind", "unit_id", "location_id", "latitude", "longitude", "source"])
                   if coords else "<p>No coordinates: travel distances are not computed.</p>")
    return b


def section(ws: Workspace, rep: Report) -> Section:
    """The network section, or a note naming the command that builds its tables."""
    sec = Section("network", TITLE)
    if note := missing_note(ws, *TABLES):
        return Section(sec.id, sec.title, False, note)
    cur = currency(ws.library)
    sec.blocks += _standards_blocks(ws, rep)
    sec.blocks += _scenario_blocks(ws, rep, cur)
    sec.blocks += _ipu_blocks(ws, rep)
    sec.blocks.append(_map_block(ws, rep))
    unverified = [f"{s.id}: {', '.join(s.unverified)}" for s in ws.library.kind("standards").values() if s.unverified]
    if unverified:
        sec.blocks.append(Block("Not verified", "Thresholds the content could not verify against their source: "
                                + "; ".join(unverified) + " (docs/network.md)."))
    return sec
