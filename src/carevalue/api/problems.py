"""Errors as RFC 9457 problem details (``application/problem+json``): type, title, status, detail, instance.

``type`` stays ``about:blank`` (the RFC's default, whose ``title`` is the HTTP status phrase) unless a
problem has a page of its own; field-level errors travel in the ``errors`` extension member.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    """One field that is wrong: where (a dotted path or FHIR linkId) and why."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field("about:blank", description="URI of the problem type; about:blank means see status.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(None, description="What went wrong in this occurrence, for a person.")
    instance: str | None = Field(None, description="The request path this occurrence is about.")
    errors: list[FieldError] | None = Field(None, description="Field-level errors (extension member).")


class ApiProblem(Exception):
    """Raise to answer with a problem details document."""

    def __init__(self, status: int, detail: str | None = None, *, title: str | None = None,
                 errors: list[FieldError] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_response(request: Request, status: int, detail: str | None = None, *, title: str | None = None,
                     errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type="about:blank", title=title or HTTPStatus(status).phrase, status=status, detail=detail,
                   instance=request.url.path, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE,
                        headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    """Make every error the app raises a problem details document."""

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, title=exc.title, errors=exc.errors,
                                headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase else None
        return problem_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(field=_loc(e.get("loc", ())), message=str(e.get("msg", ""))) for e in exc.errors()]
        return problem_response(request, 422, "the request has invalid fields", errors=errors)


# Documented on every route that can fail, so OpenAPI names the problem media type.
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "description": HTTPStatus(s).phrase,
                "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in statuses}
