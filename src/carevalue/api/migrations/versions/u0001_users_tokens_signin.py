"""Users, sign-in tokens and sign-in attempts: the tables as created before Alembic (IF NOT EXISTS,
so a store made by that code is adopted as it is).

Revision ID: u0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "u0001"
down_revision = None
branch_labels = ("users",)
depends_on = None

DDL = """
CREATE TABLE IF NOT EXISTS users (
  username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
  patient_id TEXT, ipu_ids TEXT NOT NULL DEFAULT '[]', created_ts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
  token_sha256 TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username),
  issued_ts TEXT NOT NULL, expires_ts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_attempts (
  ts TEXT NOT NULL, username TEXT NOT NULL, remote TEXT, ok {ok} NOT NULL
);
CREATE INDEX IF NOT EXISTS signin_recent ON signin_attempts (username, ts);
CREATE INDEX IF NOT EXISTS signin_remote ON signin_attempts (remote, ts);
"""


def upgrade() -> None:
    ok = "SMALLINT" if op.get_bind().dialect.name == "postgresql" else "INTEGER"
    for stmt in DDL.replace("{ok}", ok).split(";"):
        if stmt.strip():
            op.execute(stmt)


def downgrade() -> None:
    for table in ("signin_attempts", "tokens", "users"):
        op.drop_table(table)
