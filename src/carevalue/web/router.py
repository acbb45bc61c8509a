"""The dashboard's routes: every page is HTML rendered from templates, and the same path with
``.json`` returns the rows the page shows. Routes depend on the Workspace (``deps.get_workspace``)
and on the signed-in user (``deps.get_principal``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from carevalue.api.problems import ApiProblem
from carevalue.queries.base import QueryError
from carevalue.web import deps, figures, network_pages, pages
from carevalue.workspace import MissingTable, Workspace

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True  # the templates end in .j2, which select_autoescape would not escape
# Every form post must come from the dashboard's own pages (see deps.same_origin and docs/dashboard.md).
router = APIRouter(dependencies=[Depends(deps.same_origin)])


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


def _money(v: Any) -> str:
    """An amount of money: whole units with thousands separators (cost, charges, payments)."""
    return "—" if v is None or isinstance(v, str | bool) else f"{float(v):,.0f}"


templates.env.filters["fmt"] = _fmt
templates.env.filters["money"] = _money
templates.env.filters["whole"] = _money  # minutes and other whole amounts print the same way
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


def _who(principal: Any) -> str | None:
    """The name to show for the signed-in user (the API's principal has ``user``, the local ``name``)."""
    if principal is None:
        return None
    name = getattr(principal, "user", None) or getattr(principal, "name", None) or str(principal)
    role = getattr(principal, "role", None)
    return f"{name} ({getattr(role, 'value', role)})" if role is not None else str(name)


def _html(request: Request, template: str, data: dict[str, Any], principal: Any, status_code: int = 200,
          **extra: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {
        "data": data, "principal": principal, "who": _who(principal), "fallback_principal": deps.is_local(request),
        "json_url": str(request.url.path) + ".json" + (f"?{request.url.query}" if request.url.query else ""),
        **extra}, status_code=status_code)


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


# ------------------------------------------------------------------ patient level (audited)
def _provider_cycles(request: Request, ws: Workspace, who: Any, condition: str, provider: str) -> dict[str, Any]:
    ipus = deps.cycle_list_access(request, who, "list cycles", f"{condition}/{provider}")
    return _answer(ws, lambda: pages.provider_cycles(ws, condition, provider, ipus))


@router.get("/conditions/{condition}/providers/{provider}/cycles.json", name="provider_cycles_json")
def provider_cycles_json(request: Request, condition: str, provider: str, ws: Workspace = WS,
                         who: Any = WHO) -> JSONResponse:
    return JSONResponse(_provider_cycles(request, ws, who, condition, provider))


@router.get("/conditions/{condition}/providers/{provider}/cycles", name="provider_cycles",
            response_class=HTMLResponse)
def provider_cycles(request: Request, condition: str, provider: str, ws: Workspace = WS,
                    who: Any = WHO) -> HTMLResponse:
    return _html(request, "cycles.html.j2", _provider_cycles(request, ws, who, condition, provider), who)


def _timeline(request: Request, ws: Workspace, who: Any, patient_id: str) -> dict[str, Any]:
    deps.patient_access(request, who, patient_id, "read timeline")  # before the query lock: it reads too
    return _answer(ws, lambda: pages.timeline(ws, patient_id))


@router.get("/patients/{patient_id}.json", name="timeline_json")
def timeline_json(request: Request, patient_id: str, ws: Workspace = WS, who: Any = WHO) -> JSONResponse:
    return JSONResponse(_timeline(request, ws, who, patient_id))


@router.get("/patients/{patient_id}", name="timeline", response_class=HTMLResponse)
def timeline(request: Request, patient_id: str, ws: Workspace = WS, who: Any = WHO) -> HTMLResponse:
    data = _timeline(request, ws, who, patient_id)
    return _html(request, "timeline.html.j2", data, who, timeline_fig=figures.timeline(data["cycles"]))


# ------------------------------------------------------------------ sign-in
def _safe_next(request: Request, target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return str(request.url_for("overview").path)


@router.get("/sign-in", name="dashboard_sign_in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _html(request, "sign_in.html.j2", {"next": _safe_next(request, next), "error": None}, None,
                 json_url=None)


@router.post("/sign-in", name="dashboard_sign_in_post", response_class=HTMLResponse)
async def sign_in_post(request: Request) -> Response:
    """The sign-in form: the API's own sign-in (rate limit, audit, HttpOnly SameSite=Strict cookie)."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    target = _safe_next(request, form.get("next"))
    if deps.is_local(request):
        return RedirectResponse(target, 303)
    from carevalue.api import signin

    done = RedirectResponse(target, 303)
    try:
        body = signin.SignIn(username=form.get("username", ""), password=form.get("password", ""), cookie=True)
        await run_in_threadpool(signin.sign_in, body, request, done)
    except ValidationError:
        return _html(request, "sign_in.html.j2", {"next": target, "error": "enter your name and password"},
                     None, status_code=422, json_url=None)
    except ApiProblem as exc:
        return _html(request, "sign_in.html.j2", {"next": target, "error": exc.detail}, None,
                     status_code=exc.status, json_url=None)
    return done


@router.post("/sign-out", name="dashboard_sign_out")
def sign_out(request: Request, who: Any = WHO) -> Response:
    """End the session (the API's sign-out) and go back to the sign-in page."""
    done = RedirectResponse(str(request.url_for("dashboard_sign_in").path), 303)
    if not deps.is_local(request):
        from carevalue.api import signin

        signin.sign_out(request, who)
        done.delete_cookie(signin.COOKIE)
    return done

network_pages.register(router, _answer, _html)
