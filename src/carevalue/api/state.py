"""What one API process holds: the Workspace, the user store, the audit log, the PROM inbox and the
sign-in limits; how requests take turns on the store; and the drain of the inbox into it."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from fastapi import Request

from carevalue.api.audit import AuditLog
from carevalue.api.problems import ApiProblem
from carevalue.api.prom_intake import BatchReport, DrainBusy, PromInbox, StoreBusy, store_lock
from carevalue.api.users import UserStore
from carevalue.pipeline.runs import RunStore
from carevalue.queries.base import QueryError
from carevalue.workspace import MissingTable, Workspace, WorkspaceError

T = TypeVar("T")
ROSTER_RECHECK = 1.0  # seconds a known patient id is trusted before the store is looked at again
log = logging.getLogger("carevalue.api")


@dataclass
class ApiState:
    workspace: Workspace
    users: UserStore
    audit: AuditLog
    prom_inbox: PromInbox
    signin_limit: int = 5  # failed sign-ins per name or address ...
    signin_window: timedelta = timedelta(minutes=15)  # ... within this window, before a 429
    # Several worker processes on one store (the PostgreSQL deployment): each request opens the
    # store and closes it again, under a shared lock the drain takes exclusively.
    shared: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _run_id: str | None = None
    _roster: frozenset[str] = frozenset()
    _roster_key: tuple[object, ...] | None = None
    _roster_checked: float = 0.0
    _roster_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def audit_with_inbox(self) -> bool:
        """True when the audit log and the inbox are one database (one transaction for both)."""
        return self.audit.db is self.prom_inbox.db

    def _store_lock(self, exclusive: bool, block: bool = True) -> contextlib.AbstractContextManager[None]:
        return store_lock(self.workspace.store if self.shared else None, exclusive, block)

    @contextmanager
    def _turn(self, block: bool) -> Iterator[None]:
        if not self._lock.acquire(blocking=block):
            raise StoreBusy("another request holds the store")
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def reading(self, block: bool = True) -> Iterator[Workspace]:
        """The workspace for one request: one request at a time on its connection, and a reader
        reopened when a newer run has been published since the last request (shared: every time).
        ``block=False`` raises :class:`StoreBusy` rather than wait for a drain."""
        with self._turn(block), self._store_lock(exclusive=False, block=block):
            ws = self.workspace
            if ws.store is not None:
                current = RunStore(ws.store).current_id()
                if current != self._run_id:
                    ws.close()
                    self._run_id = current
            try:
                yield ws
            finally:
                if self.shared:
                    ws.close()

    def _store_key(self) -> tuple[object, ...]:
        store = self.workspace.store
        if store is None:
            return ()
        stats = []
        for p in (store, Path(str(store) + ".wal")):
            with contextlib.suppress(OSError):
                s = p.stat()
                stats.append((s.st_mtime_ns, s.st_size))
        return (RunStore(store).current_id(), *stats)

    def has_patient(self, patient_id: str) -> bool:
        """Whether the store holds the patient (the ids are cached until the store changes; whether
        it changed is looked at once a second at most, or at once for an id not known yet)."""
        now = time.monotonic()
        if patient_id in self._roster and now - self._roster_checked < ROSTER_RECHECK:
            return True
        self._roster_checked = now
        key = self._store_key()
        if key != self._roster_key:
            self.load_roster(key)
        return patient_id in self._roster

    def load_roster(self, key: tuple[object, ...] | None = None) -> None:
        """Read the store's patient ids: one thread at a time, and once per change of the store
        (threads that waited find them read). Only the first read waits for a drain writing the
        store; after it, while a drain writes, the ids read before answer."""
        if not self._roster_lock.acquire(blocking=self._roster_key is None):
            return  # another thread is reading them
        try:
            key = self._store_key() if key is None else key
            if key == self._roster_key:
                return  # read meanwhile by the thread this one waited for
            with self.reading(block=self._roster_key is None) as ws:
                ids = (frozenset(str(v) for v in ws.con.table("patients").patient_id.execute())
                       if "patients" in ws.tables() else frozenset())
            self._roster, self._roster_key = ids, key
        except StoreBusy:
            pass
        finally:
            self._roster_lock.release()

    def drain(self, batch_size: int = 5000, wait: float = 0.0) -> list[BatchReport]:
        """Move the waiting PROM responses into the analytic store through ingest (batched)."""
        with self._lock:
            try:
                return self.prom_inbox.drain(self.workspace, batch_size=batch_size, wait=wait)
            finally:
                self._run_id = None

    def start_draining(self, every: float) -> threading.Thread:
        """Drain in the background every ``every`` seconds while responses are waiting."""

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    if self.prom_inbox.counts()["waiting"]:
                        for b in self.drain():
                            log.info("drained %s: %d responses, %d quarantined", b.batch, b.responses, b.quarantined)
                except DrainBusy:
                    continue
                except Exception:  # keep draining later; the rows stay waiting
                    log.exception("PROM drain failed; the responses stay in the inbox")

        t = threading.Thread(target=loop, name="prom-drain", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self._stop.set()


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
