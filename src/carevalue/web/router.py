"""The dashboard's routes: every page is HTML rendered from templates, and the same path with
``.json`` returns the rows the page shows. Routes depend on the Workspace (``deps.get_workspace``)
and on the signed-in user (``deps.get_principal``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from carevalue.queries.base import QueryError
from carevalue.web import deps, figures, network_pages, pages
from carevalue.workspace import MissingTable, Workspace

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True  # the templates end in .j2, which select_autoescape would not escape
router = APIRouter()


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.{digits}f}"
    return str(v)


def _pct(v: Any) -> str:
    return "—" if v is None or isinstance(v, str) else f"{100 * float(v):.1f}%"


templates.env.filters["fmt"] = _fmt
templates.env.filters["pct"] = _pct


def _answer(ws: Workspace, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a page's data function; a missing table or a bad id becomes a readable HTTP error."""
    try:
        with deps.QUERY_LOCK:
            return build()
    except MissingTable as exc:
        raise HTTPException(503, str(exc)) from exc
    except (QueryError, KeyError) as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from exc


def _html(request: Request, template: str, data: dict[str, Any], principal: Any, **extra: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {
        "data": data, "principal": principal, "fallback_principal": deps.is_local(request),
        "json_url": str(request.url.path) + ".json" + (f"?{request.url.query}" if request.url.query else ""),
        **extra})


WS = Depends(deps.get_workspace)
WHO = Depends(deps.get_principal)


# ------------------------------------------------------------------ static files (packaged)
@cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


@router.get("/static/plotly.min.js", name="plotly_js", include_in_schema=False)
def plotly_js() -> Response:
    """plotly.js from the installed plotly package (never a CDN)."""
    return Response(_plotly_js(), media_type="application/javascript",
                    headers={"Cache-Control": "max-age=86400"})


@router.get("/static/{name}", name="static", include_in_schema=False)
def static(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file():
        raise HTTPException(404, f"no static file {name}")
    return FileResponse(path)


# ------------------------------------------------------------------ pages
@router.get("/", include_in_schema=False)
def root(request: Request) -> RedirectResponse:
    return RedirectResponse(str(request.url_for("overview")))


@router.get("/overview.json", name="overview_json")
def overview_json(ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_answer(ws, lambda: pages.overview(ws)))


@router.get("/overview", name="overview", response_class=HTMLResponse)
def overview(request: Request, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
    return _html(request, "overview.html.j2", _answer(ws, lambda: pages.overview(ws)), who)


@router.get("/conditions/{condition}.json", name="condition_json")
def condition_json(condition: str, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_answer(ws, lambda: pages.condition(ws, condition)))


@router.get("/conditions/{condition}", name="condition", response_class=HTMLResponse)
def condition(request: Request, condition: str, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
    data = _answer(ws, lambda: pages.condition(ws, condition))
    return _html(request, "scorecard.html.j2", data, who, cost_fig=figures.cost_bars(data["costs"]),
                 phase_fig=figures.phase_stack(data["phases"]))


@router.get("/conditions/{condition}/providers/{provider}.json", name="provider_json")
def provider_json(condition: str, provider: str, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_answer(ws, lambda: pages.condition(ws, condition, provider)))


@router.get("/conditions/{condition}/providers/{provider}", name="provider", response_class=HTMLResponse)
def provider(request: Request, condition: str, provider: str, ws: Workspace = WS,
             who: Any = WHO) -> HTMLResponse:
    data = _answer(ws, lambda: pages.condition(ws, condition, provider))
    return _html(request, "scorecard.html.j2", data, who, cost_fig=None,
                 phase_fig=figures.phase_stack(data["phases"]))


def _comparison(ws: Workspace, condition: str, request: Request) -> dict[str, Any]:
    q = request.query_params
    level = 0.998 if q.get("level") in ("0.998", "99.8") else 0.95
    return _answer(ws, lambda: pages.comparison(ws, condition, q.get("measure") or None,
                                                q.get("time_point") or None, q.get("scale") or None, level))


@router.get("/conditions/{condition}/comparison.json", name="comparison_json")
def comparison_json(request: Request, condition: str, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_comparison(ws, condition, request))


@router.get("/conditions/{condition}/comparison", name="comparison", response_class=HTMLResponse)
def comparison(request: Request, condition: str, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
    data = _comparison(ws, condition, request)
    statistic = next((r.get("statistic") for r in data["rows"] if r.get("statistic")), None)
    return _html(request, "comparison.html.j2", data, who, forest_fig=figures.forest(data["rows"], statistic))


def _like_you(ws: Workspace, condition: str, request: Request) -> dict[str, Any]:
    person = {k: v for k, v in request.query_params.items()}
    return _answer(ws, lambda: pages.like_you(ws, condition, person))


@router.get("/conditions/{condition}/like-you.json", name="like_you_json")
def like_you_json(request: Request, condition: str, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_like_you(ws, condition, request))


@router.get("/conditions/{condition}/like-you", name="like_you", response_class=HTMLResponse)
def like_you(request: Request, condition: str, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
    return _html(request, "like_you.html.j2", _like_you(ws, condition, request), who)


@router.get("/segments/{segment}.json", name="segment_json")
def segment_json(segment: str, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_answer(ws, lambda: pages.segment(ws, segment)))


@router.get("/segments/{segment}", name="segment", response_class=HTMLResponse)
def segment(request: Request, segment: str, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
    return _html(request, "segment.html.j2", _answer(ws, lambda: pages.segment(ws, segment)), who)


network_pages.register(router, _answer, _html)
