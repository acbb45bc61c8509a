"""The standalone dashboard app: the router over one Workspace (the API mounts the same router)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from carevalue.api.audit import AuditLog
from carevalue.web import deps, pages
from carevalue.web.router import router
from carevalue.workspace import Workspace

LOCAL_HOST = "127.0.0.1"  # no sign-in of its own: the standalone dashboard is for this machine only


def create_dashboard_app(store: str | Path | Workspace, content: Sequence[str | Path] = (),
                         audit: str | Path | None = None, prepare: bool = False) -> FastAPI:
    """A FastAPI app serving the dashboard for ``store`` (a store path or an open Workspace).

    Patient-level pages are written to the audit log ``audit`` (default for a store path: the API's,
    ``<store>.ops/audit.sqlite``); without one (a Workspace and no ``audit``) they answer 403.
    ``prepare`` fits the "patients like you" models in a background thread at once
    (``pages.prepare``), so that the first person asked for does not wait for them.
    """
    ws = store if isinstance(store, Workspace) else Workspace.open(store, content)
    if audit is None and not isinstance(store, Workspace):
        from carevalue.api.app import ops_folder

        audit = ops_folder(store) / "audit.sqlite"
    app = FastAPI(title="carevalue dashboard", docs_url=None, redoc_url=None)
    app.state.workspace = ws
    app.state.local_principal = True
    app.state.audit = AuditLog(audit) if audit is not None else None
    app.dependency_overrides[deps.get_principal] = deps.local_principal
    app.include_router(router)
    if prepare:
        pages.start_preparing(ws)
    return app
