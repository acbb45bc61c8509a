"""Who is asking: a :class:`Principal` from a bearer token (or the dashboard's session cookie).

``get_principal`` is the one dependency every route (the API's and the dashboard's) uses to learn
the signed-in user; ``allow(...)`` narrows a route to roles; ``patient_access`` decides and audits
whether a principal may see one patient's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carevalue.api.audit import Entry
from carevalue.api.problems import ApiProblem
from carevalue.api.state import get_state, remote
from carevalue.api.users import Role

COOKIE = "carevalue_session"
AGGREGATE_ROLES = (Role.admin, Role.analyst, Role.clinician, Role.payer, Role.employer)

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")


@dataclass(frozen=True)
class Principal:
    """The signed-in user: name, role, the patient they are (patients) and their IPUs (clinicians)."""

    user: str
    role: Role
    patient_id: str | None = None
    ipu_ids: tuple[str, ...] = ()


def token_of(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return request.cookies.get(COOKIE)


def get_principal(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The principal of a valid, unexpired token; otherwise a 401 problem."""
    token = token_of(request, credentials)
    user = get_state(request).users.resolve(token) if token else None
    if user is None:
        raise ApiProblem(401, "sign in first: POST /api/v1/auth/token gives a token; send it as "
                         "'Authorization: Bearer TOKEN' (it expires)" if not token else
                         "the token is unknown or has expired: sign in again",
                         headers={"WWW-Authenticate": "Bearer"})
    return Principal(user.username, user.role, user.patient_id, user.ipu_ids)


def audit(request: Request, who: Principal | None, action: str, outcome: str, *,
          patient_id: str | None = None, status: int | None = None, detail: str | None = None) -> None:
    """Append one entry to the audit log."""
    get_state(request).audit.append(Entry(who.user if who else None, who.role.value if who else None,
                                          action, patient_id, remote(request), outcome, status, detail))


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency letting only ``roles`` through (403 otherwise)."""

    def check(request: Request, who: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if who.role not in roles:
            raise ApiProblem(403, f"the {who.role.value} role may not use this resource "
                             f"(it is for: {', '.join(r.value for r in roles)})")
        return who

    return check


def _patient_ipus(request: Request, patient_id: str) -> set[str]:
    with get_state(request).reading() as ws:
        if "care_cycles" not in ws.tables():
            return set()
        c = ws.con.table("care_cycles")
        frame = (c.filter((c.patient_id == patient_id) & c.ipu_id.notnull()).select("ipu_id")
                 .distinct().execute())
    return {str(v) for v in frame["ipu_id"]}


def patient_access(request: Request, who: Principal, patient_id: str, action: str,
                   audit_allowed: bool = True) -> None:
    """Allow (and audit) a read or write of one patient's data, or audit the denial and raise 403.

    A patient reaches only their own record; a clinician the patients with a cycle in one of their
    IPUs; an admin anyone; analysts, payers and employers no one (they see aggregates).
    ``audit_allowed=False``: the caller audits the allowed action itself (a write, with its outcome).
    """
    if who.role is Role.admin or (who.role is Role.patient and who.patient_id == patient_id):
        ok, why = True, None
    elif who.role is Role.clinician:
        ok = bool(set(who.ipu_ids) & _patient_ipus(request, patient_id))
        why = None if ok else "the patient has no care cycle in your IPUs"
    elif who.role is Role.patient:
        ok, why = False, "a patient may see only their own record"
    else:
        ok, why = False, f"the {who.role.value} role sees de-identified aggregates only"
    if not ok:
        audit(request, who, action, "denied", patient_id=patient_id, status=403, detail=why)
        raise ApiProblem(403, why)
    if audit_allowed:
        audit(request, who, action, "allowed", patient_id=patient_id, status=200)
