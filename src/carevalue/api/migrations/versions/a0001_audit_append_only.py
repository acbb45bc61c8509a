"""The audit log and the triggers that make it append-only (UPDATE, DELETE and, in PostgreSQL,
TRUNCATE raise 'the audit log is append-only'): as created before Alembic (IF NOT EXISTS / OR
REPLACE, so an existing log is adopted as it is).

Revision ID: a0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "a0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None

SQLITE = [
    """CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL, username TEXT, role TEXT, action TEXT NOT NULL, patient_id TEXT,
  remote TEXT, outcome TEXT NOT NULL, status INTEGER, detail TEXT
)""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
POSTGRES = [
    """CREATE TABLE IF NOT EXISTS audit (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts TEXT NOT NULL, username TEXT, role TEXT, action TEXT NOT NULL, patient_id TEXT,
  remote TEXT, outcome TEXT NOT NULL, status INTEGER, detail TEXT
)""",
    "CREATE INDEX IF NOT EXISTS audit_patient ON audit (patient_id, seq)",
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$""",
    """CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
]


def upgrade() -> None:
    for stmt in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(stmt)


def downgrade() -> None:
    # Dropping the table takes its triggers with it (the only way a migration removes entries).
    op.drop_table("audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
