"""The standalone dashboard app: the router over one Workspace (the API mounts the same router)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from carevalue.web import deps
from carevalue.web.router import router
from carevalue.workspace import Workspace

LOCAL_HOST = "127.0.0.1"  # no sign-in of its own: the standalone dashboard is for this machine only


def create_dashboard_app(store: str | Path | Workspace, content: Sequence[str | Path] = ()) -> FastAPI:
    """A FastAPI app serving the dashboard for ``store`` (a store path or an open Workspace)."""
    ws = store if isinstance(store, Workspace) else Workspace.open(store, content)
    app = FastAPI(title="carevalue dashboard", docs_url=None, redoc_url=None)
    app.state.workspace = ws
    app.state.local_principal = True
    app.dependency_overrides[deps.get_principal] = deps.local_principal
    app.include_router(router)
    return app
