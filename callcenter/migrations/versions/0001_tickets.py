"""Tickets: one row per call, keyed by node and Asterisk uniqueid.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the tickets table and its indexes."""
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("caller_number", sa.String(32), nullable=False),
        sa.Column("caller_number_raw", sa.String(255), nullable=False),
        sa.Column("caller_name", sa.String(80), nullable=False),
        sa.Column("caller_name_raw", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("call_status", sa.String(16), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("hangup_by", sa.String(8), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("node", "uniqueid", name="uq_tickets_node_uniqueid"),
    )
    op.create_index("ix_tickets_arrived_at", "tickets", ["arrived_at"])
    op.create_index("ix_tickets_caller_number", "tickets", ["caller_number"])


def downgrade() -> None:
    """Drop the tickets table."""
    op.drop_index("ix_tickets_caller_number", table_name="tickets")
    op.drop_index("ix_tickets_arrived_at", table_name="tickets")
    op.drop_table("tickets")
