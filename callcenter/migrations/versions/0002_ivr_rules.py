"""IVR: the seasonal-message schedule, editable by supervisors.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the ivr_rules table."""
    op.create_table(
        "ivr_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ivr_rules"),
        sa.UniqueConstraint("name", name="uq_ivr_rules_name"),
    )


def downgrade() -> None:
    """Drop the ivr_rules table."""
    op.drop_table("ivr_rules")
