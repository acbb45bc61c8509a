"""The dashboard's network page: volume against the minimum-volume standards, the units below one,
scenario projections with their intervals, IPU scores with the evidence per attribute, and a map of
the sites (plotly's tile-free map style; plotly.js is the packaged copy). ``.json`` is its twin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from carevalue.queries import network as q
from carevalue.report.network import site_map_figure
from carevalue.web import deps
from carevalue.workspace import Workspace

WS = Depends(deps.get_workspace)
WHO = Depends(deps.get_principal)


def network(ws: Workspace, condition: str | None = None) -> dict[str, Any]:
    """Every row the network page shows, for one condition (default: the first with a standard check)."""
    checks = ws.ask(q.standard_checks)
    conditions = sorted({str(r["condition"]) for r in checks})
    cond = condition or (conditions[0] if conditions else None)
    rows = [r for r in checks if r["condition"] == cond]
    year = max((int(r["year"]) for r in rows), default=None)
    scen = ws.ask(q.scenarios, condition=cond) if cond else []
    outcomes = {s["scenario"]: ws.ask(q.scenario_outcomes, scenario=s["scenario"])
                for s in scen if s.get("kind") == "consolidation"}
    coords = ws.ask(q.coordinates)
    return {"condition": cond, "conditions": conditions, "year": year,
            "checks": [r for r in rows if int(r["year"]) == year],
            "below": [r for r in rows if r.get("meets") is False],
            "scenarios": scen, "scenario_outcomes": outcomes,
            "ipu_scores": ws.ask(q.ipu_scores, condition=cond),
            "ipu_evidence": ws.ask(q.ipu_assessment, condition=cond),
            "sites": ws.ask(q.site_map, condition=cond) if cond else [],
            "coordinates": coords}


def map_figure(data: dict[str, Any]) -> str | None:
    """The sites and home areas as plotly JSON (None without coordinates)."""
    areas = [r for r in data["coordinates"] if r["kind"] == "postal-area"]
    if not data["sites"] and not areas:
        return None
    return str(site_map_figure(data["sites"], areas).to_json())


def register(router: APIRouter, answer: Callable[..., dict[str, Any]], html: Callable[..., HTMLResponse]) -> None:
    """Add the page and its twin to the dashboard's router (with its error handling and rendering)."""

    @router.get("/network.json", name="network_json")
    def network_json(request: Request, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
        cond = request.query_params.get("condition") or None
        return JSONResponse(answer(ws, lambda: network(ws, cond)))

    @router.get("/network", name="network", response_class=HTMLResponse)
    def network_page(request: Request, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
        cond = request.query_params.get("condition") or None
        data = answer(ws, lambda: network(ws, cond))
        return html(request, "network.html.j2", data, who, map_fig=map_figure(data))
