"""The operational tables as the code expects them at the head revision (SQLAlchemy Core): the
target of ``alembic revision --autogenerate`` and what the tests compare a migrated database with.
The runtime itself queries through psycopg / sqlite3, not through these objects."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# ``seq``: INTEGER PRIMARY KEY AUTOINCREMENT in SQLite, an identity BIGINT in PostgreSQL.
_Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Flag = sa.Integer().with_variant(sa.SmallInteger(), "postgresql")

BRANCH_TABLES: dict[str, tuple[str, ...]] = {
    "users": ("users", "tokens", "signin_attempts"),
    "audit": ("audit",),
    "inbox": ("prom_inbox", "prom_batches"),
}

users = sa.Table(
    "users", metadata,
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("patient_id", sa.Text),
    sa.Column("ipu_ids", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_ts", sa.Text, nullable=False),
)
tokens = sa.Table(
    "tokens", metadata,
    sa.Column("token_sha256", sa.Text, primary_key=True),
    sa.Column("username", sa.Text, sa.ForeignKey("users.username"), nullable=False),
    sa.Column("issued_ts", sa.Text, nullable=False),
    sa.Column("expires_ts", sa.Text, nullable=False),
    sa.Index("tokens_expires", "expires_ts"),
)
signin_attempts = sa.Table(
    "signin_attempts", metadata,
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("remote", sa.Text),
    sa.Column("ok", _Flag, nullable=False),
    sa.Index("signin_recent", "username", "ts"),
    sa.Index("signin_remote", "remote", "ts"),
)
audit = sa.Table(
    "audit", metadata,
    sa.Column("seq", _Seq, sa.Identity(always=True), primary_key=True),
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("username", sa.Text),
    sa.Column("role", sa.Text),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("patient_id", sa.Text),
    sa.Column("remote", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("status", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Index("audit_patient", "patient_id", "seq"),
    sqlite_autoincrement=True,
)
prom_inbox = sa.Table(
    "prom_inbox", metadata,
    sa.Column("seq", _Seq, sa.Identity(always=True), primary_key=True),
    sa.Column("response_id", sa.Text, nullable=False, unique=True),
    sa.Column("body_sha256", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("patient_id", sa.Text, nullable=False),
    sa.Column("instrument", sa.Text, nullable=False),
    sa.Column("questionnaire", sa.Text),
    sa.Column("authored_ts", sa.Text),
    sa.Column("scores", sa.Text, nullable=False),
    sa.Column("received_ts", sa.Text, nullable=False),
    sa.Column("batch", sa.Text),
    sa.Column("drained_ts", sa.Text),
    sa.Index("prom_inbox_waiting", "batch", "seq"),
    sa.Index("prom_inbox_patient", "patient_id"),
    sqlite_autoincrement=True,
)
prom_batches = sa.Table(
    "prom_batches", metadata,
    sa.Column("batch", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("responses", sa.Integer, nullable=False),
    sa.Column("stored", sa.Integer, nullable=False),
    sa.Column("quarantined", sa.Integer, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("drained_ts", sa.Text, nullable=False),
)
