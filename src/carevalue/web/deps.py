"""What the dashboard's routes depend on: the workspace the app holds, the signed-in user, the
audited check before any patient-level page, and the same-origin check on every form post.

``get_principal`` wraps the API's (``carevalue.api.auth.get_principal``): a browser asking for an
HTML page without a valid session is sent to the sign-in page instead of a 401. The standalone
dashboard (``web.app.create_dashboard_app``) overrides it with a single local user, and binds to
127.0.0.1 only for that reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carevalue.api import auth
from carevalue.api.audit import AuditLog, Entry
from carevalue.api.problems import ApiProblem
from carevalue.api.state import remote
from carevalue.api.users import Role
from carevalue.workspace import Workspace

# One DuckDB connection is not safe to share between threads: the routes take turns on it.
QUERY_LOCK = threading.Lock()
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token.")


def get_workspace(request: Request) -> Workspace:
    """The Workspace the app was created with (``app.state.workspace``)."""
    ws = getattr(request.app.state, "workspace", None)
    if ws is None:
        raise HTTPException(503, "the dashboard has no workspace: start it with a store")
    return ws  # type: ignore[no-any-return]


def wants_html(request: Request) -> bool:
    """True for a page (not its ``.json`` twin, not a static file)."""
    path = request.url.path
    return not path.endswith(".json") and "/static/" not in path


def sign_in_url(request: Request) -> str:
    """The dashboard's sign-in page, asked to come back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return str(request.url_for("dashboard_sign_in")) + "?next=" + quote(here, safe="")


def get_principal(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Any:
    """The signed-in user (the API's principal); pages without a session redirect to sign-in."""
    try:
        return auth.get_principal(request, credentials)
    except ApiProblem as exc:
        if exc.status == 401 and wants_html(request):
            raise HTTPException(303, "sign in first", headers={"Location": sign_in_url(request)}) from None
        raise


@dataclass(frozen=True)
class LocalPrincipal:
    """The one local user of a dashboard that has no sign-in (bound to 127.0.0.1)."""

    name: str = "local"
    roles: tuple[str, ...] = field(default=("analyst",))


def local_principal(request: Request) -> Any:
    """The standalone dashboard's one local user (no sign-in; it binds to 127.0.0.1 only)."""
    return LocalPrincipal()


def is_local(request: Request) -> bool:
    """True when the app serving the request is the standalone dashboard (no sign-in)."""
    return bool(getattr(request.app.state, "local_principal", False))


def _local_audit(request: Request, action: str, patient_id: str | None, detail: str | None) -> None:
    log: AuditLog | None = getattr(request.app.state, "audit", None)
    if log is None:
        raise HTTPException(403, "patient-level pages are audited: start the dashboard with an audit log "
                                 "(create_dashboard_app(..., audit=PATH)) or use `carevalue serve` and sign in")
    log.append(Entry("local", "local", action, patient_id, remote(request), "allowed", 200, detail))


def patient_access(request: Request, who: Any, patient_id: str, action: str) -> None:
    """Allow and audit one patient's page, or audit the denial and answer 403 — the API's rule
    (``carevalue.api.auth.patient_access``): own record, a clinician's IPU patients, admins."""
    if is_local(request):
        _local_audit(request, action, patient_id, None)
        return
    try:
        auth.patient_access(request, who, patient_id, action)
    except ApiProblem as exc:
        raise HTTPException(exc.status, exc.detail) from None


def cycle_list_access(request: Request, who: Any, action: str, detail: str) -> list[str] | None:
    """Audit a list of patients' cycles and say whose: ``None`` for all (admins, the local user),
    a clinician's IPUs, and 403 for roles that see aggregates only (and for patients)."""
    if is_local(request):
        _local_audit(request, action, None, detail)
        return None
    role = getattr(who, "role", None)
    if role is Role.admin or role is Role.clinician:
        auth.audit(request, who, action, "allowed", status=200, detail=detail)
        return None if role is Role.admin else list(who.ipu_ids)
    why = (f"the {role.value if role else 'unknown'} role sees de-identified aggregates only"
           if role is not Role.patient else "a patient may see only their own record")
    auth.audit(request, who, action, "denied", status=403, detail=f"{detail}: {why}")
    raise HTTPException(403, why)


def same_origin(request: Request) -> None:
    """Refuse a form post whose Origin (or, without one, Referer) is not this server (CSRF)."""
    if request.method not in UNSAFE:
        return
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent or sent == "null":
        raise HTTPException(403, "a form post must come from this site's own pages (no Origin or Referer)")
    src, here = urlsplit(sent), urlsplit(str(request.base_url))
    if (src.scheme, src.netloc) != (here.scheme, here.netloc):
        raise HTTPException(403, f"a form post from {src.scheme}://{src.netloc} is refused: it must come from "
                                 f"this site ({here.scheme}://{here.netloc})")
