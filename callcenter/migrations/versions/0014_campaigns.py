"""Sampled satisfaction campaigns (issue 14, part 4): ``campaigns``.

A campaign's tasks are ``callback_tasks`` of kind ``satisfaction_sample`` in the outbound list
``campaigns.list_id`` names; nothing else changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``campaigns``."""
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("period_from", TS, nullable=False),
        sa.Column("period_to", TS, nullable=False),
        sa.Column("per_department", sa.Integer(), nullable=True),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.ForeignKeyConstraint(["list_id"], ["outbound_lists.id"], ondelete="SET NULL",
                                name="fk_campaigns_list_id_outbound_lists"),
    )


def downgrade() -> None:
    """Drop ``campaigns``."""
    op.drop_table("campaigns")
