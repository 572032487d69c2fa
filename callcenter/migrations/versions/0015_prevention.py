"""Answering before the question: knowledge-base lookups counted, hotline messages from entries (issue 14, part 6).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """The lookups of knowledge-base entries, and the hotline messages made from entries."""
    op.create_table(
        "kb_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["kb_entries.id"], name="fk_kb_views_entry_id_kb_entries",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_kb_views_ticket_id_tickets",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_views"),
    )
    op.create_index("ix_kb_views_at_entry_id", "kb_views", ["at", "entry_id"])
    op.create_table(
        "prevention_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_name", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["kb_entries.id"], name="fk_prevention_messages_entry_id_kb_entries",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_prevention_messages"),
        sa.UniqueConstraint("rule_name", name="uq_prevention_messages_rule_name"),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("prevention_messages")
    op.drop_index("ix_kb_views_at_entry_id", table_name="kb_views")
    op.drop_table("kb_views")
