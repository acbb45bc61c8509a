"""The API application: ``create_app(store, content)`` serves one Workspace under ``/api/v1``.

Users, tokens, the audit log and the PROM inbox live in the operational database, never in the
analytic store: SQLite files in the folder ``<store>.ops/`` beside the store by default, or one
PostgreSQL database (``database=`` / ``CAREVALUE_DATABASE_URL``) shared by several worker
processes. The dashboard router, when installed, is mounted at ``/dashboard`` and gets the
signed-in user from :func:`carevalue.api.auth.get_principal`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI

from carevalue.api import admin, aggregates, extracts, fhir_routes, problems, proms, records, signin
from carevalue.api.audit import AuditLog
from carevalue.api.opsdb import database_url, open_ops
from carevalue.api.prom_intake import PromInbox
from carevalue.api.state import ApiState
from carevalue.api.users import UserStore
from carevalue.workspace import Workspace, WorkspaceError

VERSION = "v1"
PREFIX = f"/api/{VERSION}"


def ops_folder(store: str | Path) -> Path:
    """Where a store's operational files (users, audit log) live by default."""
    p = Path(store)
    return p.with_name(p.name + ".ops")


def create_app(store: str | Path, content: Sequence[str | Path] = (), *, ops: str | Path | None = None,
               database: str | None = None, token_ttl: timedelta = timedelta(hours=8), signin_limit: int = 5,
               signin_window: timedelta = timedelta(minutes=15), dashboard: bool = True,
               drain_every: float | None = None, prepare: bool = False) -> FastAPI:
    """An app over the store at ``store`` (opened read-only per run) with its definitions ``content``.

    ``database``: a ``postgresql://`` URL for the operational data (default ``CAREVALUE_DATABASE_URL``;
    without one, SQLite files in ``ops``). ``drain_every``: seconds between background drains of
    the PROM inbox into the store while the app runs (None: only ``carevalue proms drain``).
    ``prepare``: fit the dashboard's "patients like you" models in the background at start
    (``web.pages.prepare``), so the first person asked for does not wait for them."""
    folder = Path(ops) if ops is not None else ops_folder(store)
    url = database_url(database)
    state = ApiState(Workspace.open(store, content),
                     UserStore(open_ops(url, folder, "users"), token_ttl),
                     AuditLog(open_ops(url, folder, "audit")),
                     PromInbox(open_ops(url, folder, "prom-inbox"), folder / "prom-batches"),
                     signin_limit, signin_window, shared=url is not None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the definitions and the patient ids before the first request: a worker's first
        # requests do not each load them, nor queue for them behind a drain writing the store
        state.workspace.library.instruments()
        with contextlib.suppress(WorkspaceError):
            state.load_roster()
        if drain_every:
            state.start_draining(drain_every)
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="carevalue API", version=VERSION, lifespan=lifespan,
                  description="Outcomes that matter ÷ the cost of the full care cycle: definitions, care "
                              "cycles, outcomes, costs, value and payment of one carevalue store. Sign in "
                              "at POST /api/v1/auth/token. Errors are RFC 9457 problem details.")
    app.state.carevalue = state
    problems.install(app)
    v1 = APIRouter(prefix=PREFIX)
    for module in (signin, aggregates, extracts, records, proms, admin, fhir_routes):
        v1.include_router(module.router)
    app.include_router(v1)
    if dashboard:
        _mount_dashboard(app, state, prepare)
    return app


def _mount_dashboard(app: FastAPI, state: ApiState, prepare: bool = False) -> None:
    """The web dashboard at /dashboard, on the same workspace and behind the same sign-in."""
    from carevalue.web import deps
    from carevalue.web.pages import start_preparing
    from carevalue.web.router import router

    app.state.workspace = state.workspace
    state._lock = deps.QUERY_LOCK  # one connection: API and dashboard requests take turns on it
    # HTML pages and their .json twins: the dashboard's, not part of the REST API's OpenAPI.
    app.include_router(router, prefix="/dashboard", include_in_schema=False)
    if prepare:
        start_preparing(state.workspace)
