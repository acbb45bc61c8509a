"""What one API process holds: the Workspace, the user store, the audit log and the sign-in limits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from fastapi import Request

from carevalue.api.audit import AuditLog
from carevalue.api.problems import ApiProblem
from carevalue.api.prom_intake import PromInbox
from carevalue.api.users import UserStore
from carevalue.pipeline.runs import RunStore
from carevalue.queries.base import QueryError
from carevalue.workspace import MissingTable, Workspace, WorkspaceError

T = TypeVar("T")


@dataclass
class ApiState:
    workspace: Workspace
    users: UserStore
    audit: AuditLog
    prom_inbox: PromInbox
    signin_limit: int = 5  # failed sign-ins per name or address ...
    signin_window: timedelta = timedelta(minutes=15)  # ... within this window, before a 429
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _run_id: str | None = None

    @contextmanager
    def reading(self) -> Iterator[Workspace]:
        """The workspace for one request: one request at a time on its connection, and a reader
        reopened when a newer run has been published since the last request."""
        with self._lock:
            ws = self.workspace
            if ws.store is not None:
                current = RunStore(ws.store).current_id()
                if current != self._run_id:
                    ws.close()
                    self._run_id = current
            yield ws


def get_state(request: Request) -> ApiState:
    """The state of the app serving ``request``."""
    state: ApiState = request.app.state.carevalue
    return state


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def ask(request: Request, fn: Callable[[Workspace], T]) -> T:
    """Run ``fn`` on the workspace, turning what a person must fix into a problem details answer:
    a table no run has built yet (409, naming the command), a question that cannot be answered as
    asked (400, or 404 for an unknown patient), a store that cannot be opened (503)."""
    try:
        with get_state(request).reading() as ws:
            return fn(ws)
    except MissingTable as e:
        raise ApiProblem(409, str(e), title="Not built yet") from None
    except QueryError as e:
        raise ApiProblem(404 if str(e).startswith("no patient") else 400, str(e)) from None
    except WorkspaceError as e:
        raise ApiProblem(503, str(e)) from None
