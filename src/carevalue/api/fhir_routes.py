"""FHIR R4B out under /api/v1/fhir: Questionnaire, Measure, MeasureReport (summary and individual)
and a ``$export``-style NDJSON extract of measure results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from carevalue.api import patient_data
from carevalue.api.auth import AGGREGATE_ROLES, Principal, allow, get_principal, patient_access
from carevalue.api.problems import ApiProblem, responses
from carevalue.api.state import ask, get_state
from carevalue.interop.export import MEDIA_TYPE as NDJSON
from carevalue.interop.export import bundle, ndjson
from carevalue.interop.measure import measures
from carevalue.interop.measure_report import cost_summaries, patient_reports, provider_summaries
from carevalue.interop.questionnaire import questionnaire
from carevalue.workspace import Workspace

FHIR_JSON = "application/fhir+json"
router = APIRouter(prefix="/fhir", tags=["FHIR"])
Signed = Annotated[Principal, Depends(get_principal)]
Aggregates = Annotated[Principal, Depends(allow(*AGGREGATE_ROLES))]


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + request.scope.get("root_path", "") + "/api/v1/fhir"


def _bundle(request: Request, resources: list[dict[str, Any]], limit: int, offset: int) -> FhirResponse:
    nxt = (str(request.url.include_query_params(_offset=offset + limit, _count=limit))
           if offset + limit < len(resources) else None)
    return FhirResponse(bundle(resources[offset:offset + limit], _base(request), len(resources), nxt))


def questionnaires(request: Request) -> list[dict[str, Any]]:
    return [questionnaire(i) for _, i in sorted(get_state(request).workspace.library.instruments().items())]


def _measures(request: Request) -> list[dict[str, Any]]:
    return measures(get_state(request).workspace.library.conditions())


Count = Annotated[int, Query(alias="_count", ge=1, le=1000)]
Skip = Annotated[int, Query(alias="_offset", ge=0, le=10_000_000)]


@router.get("/Questionnaire", response_class=FhirResponse, responses=responses(401))
def questionnaire_list(request: Request, who: Signed, _count: Count = 100, _offset: Skip = 0) -> FhirResponse:
    """A Bundle of every PROM instrument's Questionnaire."""
    return _bundle(request, questionnaires(request), _count, _offset)


def _one(resources: list[dict[str, Any]], kind: str, rid: str) -> FhirResponse:
    for r in resources:
        if r["id"] == rid:
            return FhirResponse(r)
    raise ApiProblem(404, f"no {kind}/{rid}; GET /api/v1/fhir/{kind} lists them")


@router.get("/Questionnaire/{rid}", response_class=FhirResponse, responses=responses(401, 404))
def questionnaire_read(request: Request, who: Signed, rid: str) -> FhirResponse:
    return _one(questionnaires(request), "Questionnaire", rid)


@router.get("/Measure", response_class=FhirResponse, responses=responses(401))
def measure_list(request: Request, who: Signed, _count: Count = 100, _offset: Skip = 0) -> FhirResponse:
    """A Bundle of every outcome and cost Measure of the condition templates."""
    return _bundle(request, _measures(request), _count, _offset)


@router.get("/Measure/{rid}", response_class=FhirResponse, responses=responses(401, 404))
def measure_read(request: Request, who: Signed, rid: str) -> FhirResponse:
    return _one(_measures(request), "Measure", rid)


def summaries(ws: Workspace, condition: str | None) -> list[dict[str, Any]]:
    """Summary reports per provider: every outcome comparison and the cost per cycle (suppressed)."""
    from carevalue.queries.outcomes import all_comparisons

    lib = ws.library
    periods = ws.ask(patient_data.condition_periods)
    return [*provider_summaries(lib.conditions(), ws.ask(all_comparisons, condition=condition), periods),
            *cost_summaries(ws.costs(condition=condition), periods)]


def individual(ws: Workspace, patient: str) -> list[dict[str, Any]]:
    from carevalue.queries.costs import currency

    cur = currency(ws.library)
    costs = [{**c, "currency": cur} for c in ws.ask(patient_data.cycle_costs, patient=patient)]
    return patient_reports(ws.library.conditions(), patient, ws.cycles(patient),
                           ws.ask(patient_data.outcome_values, patient=patient), costs)


@router.get("/MeasureReport", response_class=FhirResponse, responses=responses(400, 401, 403, 404, 409))
def measure_reports(request: Request, who: Signed,
                    type: Annotated[Literal["summary", "individual"], Query(description="summary (per provider) or individual (per patient)")] = "summary",
                    condition: str | None = None,
                    patient: Annotated[str | None, Query(description="individual: the patient (a patient's own by default)")] = None,
                    _count: Count = 100, _offset: Skip = 0) -> FhirResponse:
    """Summary MeasureReports per provider (aggregate roles), or one patient's individual reports."""
    if type == "summary":
        allow(*AGGREGATE_ROLES)(request, who)
        return _bundle(request, ask(request, lambda ws: summaries(ws, condition)), _count, _offset)
    pid = patient or who.patient_id
    if not pid:
        raise ApiProblem(400, "individual reports are about one patient: give ?patient=...")
    patient_access(request, who, pid, "read measure reports")
    return _bundle(request, ask(request, lambda ws: individual(ws, pid)), _count, _offset)


@router.get("/$export", responses={200: {"content": {NDJSON: {}}}, **responses(400, 401, 403, 409)})
def export(request: Request, who: Aggregates,
           _type: Annotated[str, Query(description="Resource types, comma separated.")] = "MeasureReport,Measure"
           ) -> StreamingResponse:
    """Measure results as NDJSON (one resource per line): summary MeasureReports, then the Measures.

    Like the Bulk Data ``$export`` output files, but answered at once (no kick-off and polling)."""
    kinds = {k.strip() for k in _type.split(",") if k.strip()}
    unknown = kinds - {"MeasureReport", "Measure", "Questionnaire"}
    if unknown:
        raise ApiProblem(400, f"cannot export {', '.join(sorted(unknown))}; types: MeasureReport, Measure, Questionnaire")
    out: list[dict[str, Any]] = []
    if "MeasureReport" in kinds:
        out += ask(request, lambda ws: summaries(ws, None))
    if "Measure" in kinds:
        out += _measures(request)
    if "Questionnaire" in kinds:
        out += questionnaires(request)
    return StreamingResponse(ndjson(out), media_type=NDJSON)
