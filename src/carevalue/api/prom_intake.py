"""The PROM inbox: accepted QuestionnaireResponses wait in the operational database (PostgreSQL, or
SQLite by default) and reach the analytic store through ingest, in batches, by :meth:`PromInbox.drain`.

A submission is one short transaction (a row keyed by the response id, with its audit entry when
both live in PostgreSQL), so it costs milliseconds; the drain writes each batch to one fsync'd
NDJSON file and ingests it like any FHIR file (stored or quarantined with a reason: nothing bypasses
ingest, and the store-wide plausibility check runs once per batch, not per answer). A batch claimed
but not marked drained (a crash) is written again and re-ingested by the next drain: ingest replaces
what a source stored before, so every accepted response is stored exactly once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from carevalue.api.opsdb import Connection, OpsDB, SqliteOps
from carevalue.workspace import Workspace

Outcome = Literal["new", "same", "conflict"]


def canonical_sha256(qr: dict[str, Any]) -> str:
    """What makes two submissions the same: the resource without its server-side id and meta."""
    body = orjson.dumps({k: v for k, v in qr.items() if k not in ("id", "meta")}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class BatchReport:
    """One drained batch: its file, how many responses, stored and quarantined (with reasons)."""

    batch: str
    source: str
    responses: int
    stored: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "source": self.source, "responses": self.responses,
                "stored": self.stored, "quarantined": self.quarantined, "reasons": self.reasons}


class DrainBusy(RuntimeError):
    """Another drain (or the store's writer) holds the store."""


class StoreBusy(RuntimeError):
    """The store is being written (a drain); asked not to wait."""


@contextlib.contextmanager
def store_lock(store: Path | None, exclusive: bool, block: bool = True) -> Iterator[None]:
    """A lock beside the DuckDB store: readers of several processes share it, a drain takes it alone
    (DuckDB lets one process write a file only while no other process has it open)."""
    if store is None:
        yield
        return
    with open(Path(str(store) + ".lock"), "a") as fh:
        try:
            fcntl.flock(fh, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if block else fcntl.LOCK_NB))
        except BlockingIOError:
            raise StoreBusy("the store is being written (a drain)") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class PromInbox:
    """Accepted responses by response id, waiting for (or done with) a drain into the analytic store."""

    def __init__(self, db: OpsDB | str | Path, folder: str | Path) -> None:
        self.db: OpsDB = SqliteOps(db) if isinstance(db, str | Path) else db
        self.db.ensure("inbox")
        self.folder = Path(folder)  # batch files, and the drain's lock
        self.folder.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ receipt
    def put(self, con: Connection, response_id: str, qr: dict[str, Any], *, patient_id: str,
            instrument: str, scores: dict[str, Any]) -> Outcome:
        """Keep ``qr`` under ``response_id`` inside the caller's transaction: new, the same as kept
        before (nothing written), or a conflict (other answers under the same identifier)."""
        sha = canonical_sha256(qr)
        body = orjson.dumps({**qr, "id": response_id}).decode()
        got = con.execute(
            "INSERT INTO prom_inbox (response_id, body_sha256, body, patient_id, instrument, questionnaire,"
            " authored_ts, scores, received_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (response_id) DO NOTHING RETURNING seq",
            (response_id, sha, body, patient_id, instrument, qr.get("questionnaire"), qr.get("authored"),
             orjson.dumps(scores).decode(), _now())).fetchone()
        if got is not None:
            return "new"
        before = con.execute("SELECT body_sha256 FROM prom_inbox WHERE response_id = ?", (response_id,)).fetchone()
        return "same" if before is not None and before[0] == sha else "conflict"

    def put_new_audited(self, response_id: str, qr: dict[str, Any], *, patient_id: str, instrument: str,
                        scores: dict[str, Any], audit: tuple[Any, ...]) -> bool:
        """PostgreSQL, audit log in the same database: keep a new ``qr`` and its audit entry (the
        audit table's columns after ``seq``) in one statement, so one round trip and one implicit
        transaction. False when the identifier was kept before: then nothing was written, and the
        caller tells a resubmission from a conflict with :meth:`put` (which audits it in turn)."""
        sha = canonical_sha256(qr)
        body = orjson.dumps({**qr, "id": response_id}).decode()
        with self.db.single() as con:
            got = con.execute(
                "WITH kept AS (INSERT INTO prom_inbox (response_id, body_sha256, body, patient_id, instrument,"
                " questionnaire, authored_ts, scores, received_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (response_id) DO NOTHING RETURNING seq),"
                " audited AS (INSERT INTO audit (ts, username, role, action, patient_id, remote, outcome, status, detail)"
                " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? FROM kept)"
                " SELECT count(*) FROM kept",
                (response_id, sha, body, patient_id, instrument, qr.get("questionnaire"), qr.get("authored"),
                 orjson.dumps(scores).decode(), _now(), *audit)).fetchone()
        return bool(got[0])

    def get(self, response_id: str) -> dict[str, Any] | None:
        with self.db.connect() as con:
            r = con.execute("SELECT seq, response_id, patient_id, instrument, batch, drained_ts, body FROM prom_inbox "
                            "WHERE response_id = ?", (response_id,)).fetchone()
        return None if r is None else dict(r)

    def waiting(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        """Responses not drained yet (optionally one patient's): id, questionnaire, authored."""
        sql, args = "SELECT response_id, questionnaire, authored_ts FROM prom_inbox WHERE drained_ts IS NULL", []
        if patient_id is not None:
            sql, args = sql + " AND patient_id = ?", [patient_id]
        with self.db.connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY seq", args).fetchall()]

    def counts(self) -> dict[str, int]:
        """Responses accepted, drained and waiting."""
        with self.db.connect() as con:
            r = con.execute("SELECT count(*), count(drained_ts) FROM prom_inbox").fetchone()
        return {"accepted": int(r[0]), "drained": int(r[1]), "waiting": int(r[0]) - int(r[1])}

    # ------------------------------------------------------------------ drain
    @contextlib.contextmanager
    def _drain_lock(self, wait: float) -> Iterator[None]:
        with open(self.folder / "drain.lock", "a") as fh:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        raise DrainBusy("another drain is running") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _claim(self, limit: int, upto: int | None = None) -> str | None:
        """Mark up to ``limit`` waiting responses, oldest first (those kept by sequence number
        ``upto``), as one new batch."""
        batch = f"b{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self.db.connect() as con:
            n = con.execute("UPDATE prom_inbox SET batch = ? WHERE seq IN (SELECT seq FROM prom_inbox "
                            "WHERE batch IS NULL AND seq <= ? ORDER BY seq LIMIT ?) RETURNING seq",
                            (batch, 2**62 if upto is None else upto, limit)).fetchall()
        return batch if n else None

    def _last_seq(self) -> int:
        with self.db.single() as con:
            return int(con.execute("SELECT coalesce(max(seq), 0) FROM prom_inbox").fetchone()[0])

    def _open_batches(self) -> list[str]:
        with self.db.connect() as con:
            rows = con.execute("SELECT batch, min(seq) FROM prom_inbox WHERE batch IS NOT NULL AND drained_ts IS NULL "
                               "GROUP BY batch ORDER BY 2").fetchall()
        return [r[0] for r in rows]

    def batch_path(self, batch: str) -> Path:
        return self.folder / f"{batch}.ndjson"

    def _write(self, batch: str) -> tuple[Path, int]:
        """The batch's responses as one NDJSON file, written whole (fsync'd, then renamed)."""
        with self.db.connect() as con:
            rows = con.execute("SELECT body FROM prom_inbox WHERE batch = ? ORDER BY seq", (batch,)).fetchall()
        path = self.batch_path(batch)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            for r in rows:
                fh.write(str(r[0]).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dfd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return path, len(rows)

    def _ingest(self, ws: Workspace, batch: str) -> BatchReport:
        path, n = self._write(batch)
        with store_lock(ws.store, exclusive=True):  # batch by batch: readers get their turn in between
            (f,) = ws.ingest([path]).files
        rep = BatchReport(batch, f.source, n, f.stored, f.quarantined, dict(f.reasons))
        with self.db.connect() as con:
            con.execute("UPDATE prom_inbox SET drained_ts = ? WHERE batch = ?", (_now(), batch))
            con.execute("INSERT INTO prom_batches VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (batch) DO NOTHING",
                        (batch, rep.source, n, rep.stored, rep.quarantined, orjson.dumps(rep.reasons).decode(), _now()))
        return rep

    def drain(self, ws: Workspace, batch_size: int = 5000, wait: float = 0.0,
              max_batches: int | None = None) -> list[BatchReport]:
        """Ingest every response waiting when it starts into ``ws``'s store, ``batch_size`` per file;
        first any batch a crashed drain left claimed. One drain at a time (``DrainBusy`` after
        ``wait`` seconds). It takes the store's lock batch by batch, and what arrives meanwhile
        waits for the next drain: under a steady stream of answers a drain still ends, and readers
        of the store (the workers' patient roster) are never locked out for longer than one batch."""
        out: list[BatchReport] = []
        with self._drain_lock(wait):
            out += [self._ingest(ws, b) for b in self._open_batches()]
            upto = self._last_seq()
            while max_batches is None or len(out) < max_batches:
                batch = self._claim(batch_size, upto)
                if batch is None:
                    break
                out.append(self._ingest(ws, batch))
        return out

    def batches(self) -> list[dict[str, Any]]:
        """Every drained batch, oldest first."""
        with self.db.connect() as con:
            rows = con.execute("SELECT * FROM prom_batches ORDER BY drained_ts").fetchall()
        return [dict(r) | {"reasons": orjson.loads(r["reasons"])} for r in rows]


def drain_forever(inbox: PromInbox, ws: Workspace, every: float, batch_size: int = 5000) -> None:
    """Drain every ``every`` seconds while responses wait, until SIGTERM or SIGINT (a drain process
    beside the API's workers, so ingest never competes with requests in their processes)."""
    import logging
    import signal
    import threading

    log = logging.getLogger("carevalue.api")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(every):
        try:
            if inbox.counts()["waiting"]:
                for b in inbox.drain(ws, batch_size=batch_size, wait=every):
                    log.info("drained %s: %d responses, %d quarantined", b.batch, b.responses, b.quarantined)
        except DrainBusy:
            continue
        except Exception:  # the rows stay waiting; the next round tries again
            log.exception("PROM drain failed; the responses stay in the inbox")
