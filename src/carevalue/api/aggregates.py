"""De-identified aggregates (costs, outcomes, value, payment) and definitions: the CLI's queries,
paginated and filtered, with small cells suppressed by ``carevalue.queries.privacy``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from carevalue.api.auth import AGGREGATE_ROLES, Principal, allow, get_principal
from carevalue.api.models import CostRow, DefinitionRef, OutcomeRow, Page, PaymentRow, ValueRow
from carevalue.api.paging import Limit, Offset, matching, page
from carevalue.api.problems import ApiProblem, responses
from carevalue.api.state import ask, get_state

router = APIRouter(tags=["aggregates"])
Aggregates = Annotated[Principal, Depends(allow(*AGGREGATE_ROLES))]
Condition = Annotated[str | None, Query(description="Condition template id, e.g. hip-osteoarthritis.")]
Provider = Annotated[str | None, Query(description="Provider (organizations.organization_id).")]
ERRORS = responses(400, 401, 403, 409, 422)


@router.get("/costs", response_model=Page[CostRow], response_model_exclude_unset=True, responses=ERRORS)  # type: ignore[valid-type]
def costs(request: Request, who: Aggregates, condition: Condition = None, organization_id: Provider = None,
          limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Mean TDABC cost per cycle by condition and provider, per phase, with charges beside it."""
    rows = ask(request, lambda ws: ws.costs(condition=condition))
    return page(request, matching(rows, organization_id=organization_id), limit, offset)


@router.get("/outcomes", response_model=Page[OutcomeRow], response_model_exclude_unset=True, responses=ERRORS)  # type: ignore[valid-type]
def outcomes(request: Request, who: Aggregates, condition: Condition = None,
             measure: Annotated[str | None, Query(description="Outcome measure id (needs condition).")] = None,
             time_point: Annotated[str | None, Query(description="Time point label, e.g. 90d.")] = None,
             organization_id: Provider = None, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Risk-adjusted comparison of providers per measure and time point (with measure status rows)."""
    from carevalue.queries.outcomes import all_comparisons

    if measure is not None and condition is None:
        raise ApiProblem(400, "a measure belongs to a condition: give condition too")
    if measure is not None and condition is not None:
        rows = ask(request, lambda ws: ws.outcomes(condition, measure, time_point))
    else:
        rows = matching(ask(request, lambda ws: ws.ask(all_comparisons, condition=condition)),
                        time_point=time_point)
    return page(request, matching(rows, organization_id=organization_id), limit, offset)


@router.get("/value", response_model=Page[ValueRow], response_model_exclude_unset=True, responses=ERRORS)  # type: ignore[valid-type]
def value(request: Request, who: Aggregates, condition: Condition = None, organization_id: Provider = None,
          measure: str | None = None, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Per provider, condition and measure: the risk-adjusted outcome beside the cost per cycle."""
    rows = ask(request, lambda ws: ws.value(condition=condition))
    return page(request, matching(rows, organization_id=organization_id, measure=measure), limit, offset)


@router.get("/payment", response_model=Page[PaymentRow], response_model_exclude_unset=True, responses=ERRORS)  # type: ignore[valid-type]
def payment(request: Request, who: Aggregates, condition: Condition = None, organization_id: Provider = None,
            bundle_eligible_only: bool = True, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Revenue and margin per cycle of each provider under each payment model."""
    from carevalue.queries.payment import provider_comparison

    rows = ask(request, lambda ws: ws.ask(provider_comparison, condition=condition,
                                          bundle_eligible_only=bundle_eligible_only))
    return page(request, matching(rows, organization_id=organization_id), limit, offset)


@router.get("/definitions", response_model=Page[DefinitionRef], response_model_exclude_unset=True, tags=["definitions"],
            responses=responses(401, 422))
def definitions(request: Request, who: Annotated[Principal, Depends(get_principal)],
                kind: Annotated[str | None, Query(description="Kind (content folder), e.g. conditions.")] = None,
                limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Every definition in the library (packaged content plus the server's content folders)."""
    lib = get_state(request).workspace.library
    rows = [{"kind": k, "id": i, "title": getattr(d, "title", None) or getattr(d, "name", None)}
            for k, defs in sorted(lib.by_kind.items()) for i, d in sorted(defs.items())
            if kind is None or k == kind]
    return page(request, rows, limit, offset)


@router.get("/definitions/{kind}/{definition_id}", tags=["definitions"], responses=responses(401, 404))
def definition(request: Request, who: Annotated[Principal, Depends(get_principal)], kind: str,
               definition_id: str) -> dict[str, Any]:
    """One definition as validated (the YAML's content, defaults filled in)."""
    lib = get_state(request).workspace.library
    if definition_id not in lib.kind(kind):
        known = ", ".join(sorted(lib.by_kind)) if kind not in lib.by_kind else f"GET /api/v1/definitions?kind={kind}"
        raise ApiProblem(404, f"no {kind} definition {definition_id!r} (see {known})")
    out: dict[str, Any] = lib.get(kind, definition_id).model_dump(mode="json")
    return out
