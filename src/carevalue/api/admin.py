"""Administration: the run registry, the audit log (read-only, admins only) and user accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from carevalue.api.auth import Principal, allow, audit
from carevalue.api.models import AuditRow, Page, RunRow
from carevalue.api.paging import Limit, Offset, page
from carevalue.api.problems import ApiProblem, responses
from carevalue.api.state import get_state
from carevalue.api.users import Role, UserError

router = APIRouter(tags=["administration"])
Admin = Annotated[Principal, Depends(allow(Role.admin))]


@router.get("/runs", response_model=Page[RunRow], response_model_exclude_unset=True, responses=responses(401, 403, 422))
def runs(request: Request, who: Annotated[Principal, Depends(allow(Role.admin, Role.analyst))],
         status: str | None = None, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """Every run on the store, oldest first: stages, definitions hash, times, status."""
    rows = [r for r in get_state(request).workspace.runs() if status is None or r["status"] == status]
    return page(request, rows, limit, offset)


@router.get("/audit", response_model=Page[AuditRow], response_model_exclude_unset=True, responses=responses(401, 403, 422))
def audit_log(request: Request, who: Admin,
              patient_id: Annotated[str | None, Query(description="Only entries about this patient.")] = None,
              username: str | None = None,
              after: Annotated[int, Query(ge=0, description="Entries after this sequence number.")] = 0,
              limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """The audit log, oldest first. It cannot be changed through the API (or at all: the file refuses)."""
    log = get_state(request).audit
    rows = log.entries(patient_id=patient_id, username=username, after=after, offset=offset, limit=limit)
    total = log.count(patient_id=patient_id, username=username, after=after)
    body = page(request, [None] * total, limit, offset)
    return {**body, "items": rows}


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=12, max_length=1000)
    role: Role
    patient_id: str | None = None
    ipu_ids: list[str] = Field(default_factory=list)


class UserOut(BaseModel):
    username: str
    role: Role
    patient_id: str | None
    ipu_ids: list[str]


@router.post("/users", response_model=UserOut, response_model_exclude_unset=True, status_code=201, responses=responses(400, 401, 403, 422))
def add_user(request: Request, who: Admin, body: NewUser) -> UserOut:
    """Create a user (admins only); the write is audited."""
    try:
        u = get_state(request).users.add(body.username, body.password, body.role, body.patient_id, body.ipu_ids)
    except UserError as e:
        audit(request, who, f"add user {body.username}", "rejected", status=400, detail=str(e))
        raise ApiProblem(400, str(e)) from None
    audit(request, who, f"add user {u.username} ({u.role.value})", "allowed", patient_id=u.patient_id, status=201)
    return UserOut(username=u.username, role=u.role, patient_id=u.patient_id, ipu_ids=list(u.ipu_ids))
