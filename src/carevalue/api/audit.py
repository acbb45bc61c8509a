"""The append-only audit log: every read of patient-level data and every write, allowed or denied.

It is its own SQLite file beside the store, or a table of the deployment's PostgreSQL database
(then a PROM submission and its audit entry commit in one transaction). The application only
ever inserts; triggers make the database refuse an UPDATE, DELETE (or TRUNCATE) from anyone, the
app included, and no API route changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carevalue.api.opsdb import Connection, OpsDB, SqliteOps

INSERT = ("INSERT INTO audit (ts, username, role, action, patient_id, remote, outcome, status, detail)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

COLUMNS = ("seq", "ts", "username", "role", "action", "patient_id", "remote", "outcome", "status", "detail")


@dataclass(frozen=True)
class Entry:
    """One audited event: who (username, role), what (action), which patient, from where, outcome."""

    username: str | None
    role: str | None
    action: str
    patient_id: str | None
    remote: str | None
    outcome: str  # allowed, denied, rejected, error
    status: int | None = None
    detail: str | None = None


class AuditLog:
    """Insert-only access to the audit table (a SQLite file given by path, or the PostgreSQL database)."""

    def __init__(self, db: str | Path | OpsDB) -> None:
        self.db: OpsDB = SqliteOps(db) if isinstance(db, str | Path) else db
        self.db.ensure("audit")

    def append(self, e: Entry) -> None:
        with self.db.connect() as con:
            self.append_in(con, e)

    @staticmethod
    def values(e: Entry) -> tuple[Any, ...]:
        """The entry as the audit table's columns after ``seq``, stamped now."""
        return (datetime.now(UTC).isoformat(), e.username, e.role, e.action, e.patient_id,
                e.remote, e.outcome, e.status, e.detail)

    @staticmethod
    def append_in(con: Connection, e: Entry) -> None:
        """Append inside a transaction already open on the same database (commits with it)."""
        con.execute(INSERT, AuditLog.values(e))

    def _where(self, patient_id: str | None, username: str | None, after: int) -> tuple[str, list[Any]]:
        sql, args = " WHERE seq > ?", list[Any]([after])
        if patient_id is not None:
            sql += " AND patient_id = ?"
            args.append(patient_id)
        if username is not None:
            sql += " AND username = ?"
            args.append(username)
        return sql, args

    def entries(self, *, patient_id: str | None = None, username: str | None = None,
                after: int = 0, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Entries in order, optionally for one patient or user, after sequence number ``after``."""
        where, args = self._where(patient_id, username, after)
        with self.db.connect() as con:
            return [dict(r) for r in con.execute(f"SELECT * FROM audit{where} ORDER BY seq LIMIT ? OFFSET ?",
                                                 [*args, limit, offset]).fetchall()]

    def count(self, *, patient_id: str | None = None, username: str | None = None, after: int = 0) -> int:
        where, args = self._where(patient_id, username, after)
        with self.db.connect() as con:
            return int(con.execute(f"SELECT count(*) FROM audit{where}", args).fetchone()[0])
