"""What the dashboard's routes depend on: the workspace the app holds, and the signed-in user.

``get_principal`` is the API's (``carevalue.api.auth.get_principal``) when that package is
installed; until then a local fallback stands in, which the API app overrides through
``app.dependency_overrides[deps.get_principal]``. The fallback is a single local user: the
standalone dashboard binds to 127.0.0.1 only for that reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

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


def _fallback_principal(request: Request) -> Any:
    return LocalPrincipal()


get_principal: Callable[..., Any]
try:  # the API branch provides the real dependency
    from carevalue.api.auth import get_principal as _api_principal  # type: ignore[import-not-found]

    get_principal = _api_principal
    FALLBACK_PRINCIPAL = False
except ImportError:
    get_principal = _fallback_principal
    FALLBACK_PRINCIPAL = True
