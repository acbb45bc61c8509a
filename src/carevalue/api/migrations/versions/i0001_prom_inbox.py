"""The PROM inbox (accepted QuestionnaireResponses by response id) and its drained batches: as
created before Alembic (IF NOT EXISTS, so an existing inbox is adopted as it is).

Revision ID: i0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "i0001"
down_revision = None
branch_labels = ("inbox",)
depends_on = None

SEQ = {"sqlite": "seq INTEGER PRIMARY KEY AUTOINCREMENT",
       "postgresql": "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}
DDL = [
    """CREATE TABLE IF NOT EXISTS prom_inbox (
  {seq},
  response_id TEXT NOT NULL UNIQUE, body_sha256 TEXT NOT NULL, body TEXT NOT NULL,
  patient_id TEXT NOT NULL, instrument TEXT NOT NULL, questionnaire TEXT, authored_ts TEXT,
  scores TEXT NOT NULL, received_ts TEXT NOT NULL, batch TEXT, drained_ts TEXT
)""",
    "CREATE INDEX IF NOT EXISTS prom_inbox_waiting ON prom_inbox (batch, seq)",
    "CREATE INDEX IF NOT EXISTS prom_inbox_patient ON prom_inbox (patient_id)",
    """CREATE TABLE IF NOT EXISTS prom_batches (
  batch TEXT PRIMARY KEY, source TEXT NOT NULL, responses INTEGER NOT NULL, stored INTEGER NOT NULL,
  quarantined INTEGER NOT NULL, reasons TEXT NOT NULL, drained_ts TEXT NOT NULL
)""",
]


def upgrade() -> None:
    seq = SEQ[op.get_bind().dialect.name]
    for stmt in DDL:
        op.execute(stmt.replace("{seq}", seq))


def downgrade() -> None:
    op.drop_table("prom_batches")
    op.drop_table("prom_inbox")
