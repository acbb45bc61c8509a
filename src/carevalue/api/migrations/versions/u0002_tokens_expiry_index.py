"""An index on tokens' expiry: every sign-in deletes the expired tokens first, which without it
reads the whole table.

Revision ID: u0002
Revises: u0001
"""

from __future__ import annotations

from alembic import op

revision = "u0002"
down_revision = "u0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("tokens_expires", "tokens", ["expires_ts"])


def downgrade() -> None:
    op.drop_index("tokens_expires", table_name="tokens")
