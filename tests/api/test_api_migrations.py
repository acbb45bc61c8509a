"""Alembic migrations of the operational store: a fresh database upgraded to head has exactly the
tables the code declares (SQLite files and PostgreSQL), the audit triggers come from a migration,
downgrade and upgrade round-trip, and a database made before Alembic is adopted with its rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_accounts import PASSWORD

from carevalue.api import schema_migrations as m
from carevalue.api.audit import AuditLog, Entry
from carevalue.api.migrations.tables import BRANCH_TABLES, metadata
from carevalue.api.opsdb import OpsDB, SqliteOps, integrity_errors, open_ops
from carevalue.api.prom_intake import PromInbox
from carevalue.api.users import UserStore

FILES = {"users": "users", "audit": "audit", "inbox": "prom-inbox"}  # branch -> SQLite file name
HEADS = {"users": "u0002", "audit": "a0002", "inbox": "i0001"}


def differences(target: str | Path, branch: str) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the declared tables of a branch."""
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    tables = set(BRANCH_TABLES[branch])
    engine = sa.create_engine(m.sqlalchemy_url(target), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as con:
            ctx = MigrationContext.configure(con, opts={"include_object": lambda obj, name, kind, *_: (
                name if kind == "table" else obj.table.name) in tables})
            diff = compare_metadata(ctx, metadata)
            sqlite = con.dialect.name == "sqlite"
    finally:
        engine.dispose()
    flat = [d for group in diff for d in (group if isinstance(group, list) else [group])]
    # SQLite lets a non-INTEGER PRIMARY KEY hold NULL unless declared NOT NULL (a legacy quirk of
    # SQLite itself); the app never writes one, and reflection reports it as nullable.
    return [d for d in flat if not (sqlite and d[0] == "modify_nullable" and d[3] in _text_keys())]


def _text_keys() -> set[str]:
    return {c.name for t in metadata.tables.values() for c in t.primary_key.columns if c.name != "seq"}


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str | Path]]:
    """Where a branch lives: its own SQLite file, or (every branch) one fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield lambda branch: tmp_path / f"{FILES[branch]}.sqlite"
    else:
        url = request.getfixturevalue("fresh_database")
        yield lambda branch: url


def _ops(where: str | Path, tmp_path: Path, name: str) -> OpsDB:
    return SqliteOps(where) if isinstance(where, Path) else open_ops(str(where), tmp_path, name)


def _open_all(target: Callable[[str], str | Path], tmp_path: Path) -> tuple[UserStore, AuditLog, PromInbox]:
    return (UserStore(_ops(target("users"), tmp_path, "users")), AuditLog(_ops(target("audit"), tmp_path, "audit")),
            PromInbox(_ops(target("inbox"), tmp_path, "prom-inbox"), tmp_path / "batches"))


def test_fresh_database_at_head_has_the_declared_tables(target, tmp_path) -> None:
    users, audit, _ = _open_all(target, tmp_path)
    for branch in m.BRANCHES:
        assert HEADS[branch] == m.head(branch)
        assert HEADS[branch] in m.current(target(branch))
        assert differences(target(branch), branch) == []
    # the triggers of migration a0001: the log refuses changes
    audit.append(Entry("ada", "admin", "test", None, None, "allowed"))
    with pytest.raises(integrity_errors(), match="append-only"), audit.db.connect() as con:
        con.execute("DELETE FROM audit")
    assert audit.count() == 1
    users.add("ada", PASSWORD, "admin")
    assert users.get("ada") is not None


def test_downgrade_and_upgrade_round_trip(target, tmp_path) -> None:
    _open_all(target, tmp_path)
    m.downgrade(target("users"), "users", "-1")  # u0002 -> u0001: the tokens' expiry index goes
    assert m.current(target("users")) & {"u0001", "u0002"} == {"u0001"}
    assert [d[0] for d in differences(target("users"), "users")] == ["add_index"]
    for branch in m.BRANCHES:
        m.downgrade(target(branch), branch)
        assert not [r for r in m.current(target(branch)) if r[0] == HEADS[branch][0]]  # u…, a…, i…
        missing = sorted((d[0], d[1].name) for d in differences(target(branch), branch))
        assert missing == sorted([("add_table", t) for t in BRANCH_TABLES[branch]]
                                 + [("add_index", i.name) for t in BRANCH_TABLES[branch] for i in metadata.tables[t].indexes])
    users, audit, _ = _open_all(target, tmp_path)  # opening the stores upgrades them again
    for branch in m.BRANCHES:
        assert differences(target(branch), branch) == []
    audit.append(Entry("ada", "admin", "test", None, None, "allowed"))
    with pytest.raises(integrity_errors(), match="append-only"), audit.db.connect() as con:
        con.execute("UPDATE audit SET outcome = 'denied'")


# What carevalue created before Alembic (commit 13f4cc8, users.py / audit.py / prom_intake.py).
_BEFORE_USERS = """
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
  patient_id TEXT, ipu_ids TEXT NOT NULL DEFAULT '[]', created_ts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  token_sha256 TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
  issued_ts TEXT NOT NULL, expires_ts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_attempts (
  ts TEXT NOT NULL, username TEXT NOT NULL, remote TEXT, ok INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS signin_recent ON signin_attempts (username, ts);
CREATE INDEX IF NOT EXISTS signin_remote ON signin_attempts (remote, ts);
"""
_BEFORE_AUDIT = {"sqlite": """
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL, username TEXT, role TEXT, action TEXT NOT NULL, patient_id TEXT,
  remote TEXT, outcome TEXT NOT NULL, status INTEGER, detail TEXT
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
""", "postgresql": """
CREATE TABLE IF NOT EXISTS audit (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts TEXT NOT NULL, username TEXT, role TEXT, action TEXT NOT NULL, patient_id TEXT,
  remote TEXT, outcome TEXT NOT NULL, status INTEGER, detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_patient ON audit (patient_id, seq);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""}
_BEFORE_INBOX = """
CREATE TABLE IF NOT EXISTS prom_inbox (
  seq {seq},
  response_id TEXT NOT NULL UNIQUE, body_sha256 TEXT NOT NULL, body TEXT NOT NULL,
  patient_id TEXT NOT NULL, instrument TEXT NOT NULL, questionnaire TEXT, authored_ts TEXT,
  scores TEXT NOT NULL, received_ts TEXT NOT NULL, batch TEXT, drained_ts TEXT
);
CREATE INDEX IF NOT EXISTS prom_inbox_waiting ON prom_inbox (batch, seq);
CREATE INDEX IF NOT EXISTS prom_inbox_patient ON prom_inbox (patient_id);
CREATE TABLE IF NOT EXISTS prom_batches (
  batch TEXT PRIMARY KEY, source TEXT NOT NULL, responses INTEGER NOT NULL, stored INTEGER NOT NULL,
  quarantined INTEGER NOT NULL, reasons TEXT NOT NULL, drained_ts TEXT NOT NULL
);
"""
_ROWS = [
    "INSERT INTO users VALUES ('old-admin', 'argon2-hash-from-before', 'admin', NULL, '[]', '2026-01-01T00:00:00')",
    "INSERT INTO tokens VALUES ('abc', 'old-admin', '2026-01-01T00:00:00', '2099-01-01T00:00:00')",
    "INSERT INTO audit (ts, username, role, action, outcome) VALUES ('2026-01-01', 'old-admin', 'admin', 'old', 'allowed')",
    "INSERT INTO prom_inbox (response_id, body_sha256, body, patient_id, instrument, scores, received_ts)"
    " VALUES ('prom-old', 'x', '{}', 'pt1', 'phq-9', '{}', '2026-01-01')",
]


def _create_before(target: Callable[[str], str | Path]) -> None:
    where = target("users")
    if isinstance(where, Path):
        for branch, ddl in (("users", _BEFORE_USERS), ("audit", _BEFORE_AUDIT["sqlite"]),
                            ("inbox", _BEFORE_INBOX.replace("{seq}", "INTEGER PRIMARY KEY AUTOINCREMENT"))):
            with sqlite3.connect(target(branch)) as con:
                con.executescript(ddl)
                con.executescript(";".join(s for s in _ROWS if _table(s) in BRANCH_TABLES[branch]))
        return
    import psycopg

    with psycopg.connect(str(where), autocommit=True) as pg:
        pg.execute(_BEFORE_USERS.replace("ok INTEGER", "ok SMALLINT").encode())
        pg.execute(_BEFORE_AUDIT["postgresql"].encode())
        pg.execute(_BEFORE_INBOX.replace("{seq}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY").encode())
        for s in _ROWS:
            pg.execute(s.encode())


def _table(insert: str) -> str:
    return insert.split()[2]


def test_a_database_from_before_alembic_is_adopted_with_its_rows(target, tmp_path) -> None:
    _create_before(target)
    for branch in m.BRANCHES:
        assert m.current(target(branch)) == set()
    users, audit, inbox = _open_all(target, tmp_path)
    for branch in m.BRANCHES:
        assert HEADS[branch] in m.current(target(branch))
        assert differences(target(branch), branch) == []
    assert [u.username for u in users.list()] == ["old-admin"]
    with users.db.connect() as con:
        assert con.execute("SELECT username FROM tokens WHERE token_sha256 = 'abc'").fetchone()[0] == "old-admin"
    assert [e["action"] for e in audit.entries()] == ["old"]
    assert inbox.get("prom-old") is not None and inbox.counts()["waiting"] == 1
    audit.append(Entry("ada", "admin", "new", None, None, "allowed"))
    assert [e["action"] for e in audit.entries()] == ["old", "new"]
    with pytest.raises(integrity_errors(), match="append-only"), audit.db.connect() as con:
        con.execute("DELETE FROM audit")
