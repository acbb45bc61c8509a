"""The audit log's per-patient index in the SQLite file too (PostgreSQL had it from a0001): an
admin reading one patient's entries no longer scans the whole log, and both dialects have one schema.

Revision ID: a0002
Revises: a0001
"""

from __future__ import annotations

from alembic import op

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("audit_patient", "audit", ["patient_id", "seq"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("audit_patient", table_name="audit")
