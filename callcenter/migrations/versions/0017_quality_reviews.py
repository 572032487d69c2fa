"""Quality reviews of calls (issue 15): one review per ticket, its scores on the form and its total.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``quality_reviews``."""
    op.create_table(
        "quality_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column("form_version", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quality_reviews"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name="fk_quality_reviews_ticket_id_tickets"),
        sa.UniqueConstraint("ticket_id", name="uq_quality_reviews_ticket_id"),
    )
    op.create_index("ix_quality_reviews_agent_id", "quality_reviews", ["agent_id"])


def downgrade() -> None:
    """Drop ``quality_reviews``."""
    op.drop_index("ix_quality_reviews_agent_id", table_name="quality_reviews")
    op.drop_table("quality_reviews")
