"""What the dashboard's routes depend on: the workspace the app holds, and the signed-in user.

``get_principal`` is the API's (``carevalue.api.auth.get_principal``); the standalone dashboard
(``web.app.create_dashboard_app``) overrides it with a single local user, and binds to 127.0.0.1
only for that reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

from carevalue.api.auth import get_principal as get_principal
from carevalue.workspace import Workspace

# One DuckDB connection is not safe to share between threads: the routes take turns on it.
QUERY_LOCK = threading.Lock()


def get_workspace(request: Request) -> Workspace:
    """The Workspace the app was created with (``app.state.workspace``)."""
    ws = getattr(request.app.state, "workspace", None)
    if ws is None:
        raise HTTPException(503, "the dashboard has no workspace: start it with a store")
    return ws  # type: ignore[no-any-return]


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
