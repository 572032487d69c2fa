"""Operators' chosen states (logged out, available, paused with a reason), kept across restarts.

Revision ID: 0008
Revises: 0007
Create Date: 2025-01-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create agent_states."""
    op.create_table(
        "agent_states",
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("since", TS, nullable=False),
        sa.Column("by", sa.String(96), nullable=False),
        sa.PrimaryKeyConstraint("node", "agent_id", name="pk_agent_states"),
    )


def downgrade() -> None:
    """Drop agent_states."""
    op.drop_table("agent_states")
