"""What one API process holds: the Workspace, the user store, the audit log and the sign-in limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request

from carevalue.api.audit import AuditLog
from carevalue.api.users import UserStore
from carevalue.workspace import Workspace


@dataclass
class ApiState:
    workspace: Workspace
    users: UserStore
    audit: AuditLog
    signin_limit: int = 5  # failed sign-ins per name or address ...
    signin_window: timedelta = timedelta(minutes=15)  # ... within this window, before a 429


def get_state(request: Request) -> ApiState:
    """The state of the app serving ``request``."""
    state: ApiState = request.app.state.carevalue
    return state


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None
