"""The feedback ledger and its catalogue (issue 14, part 3).

``ledger_catalogue`` (department -> coded items), ``ledger_items`` (feedback to rectify: measure,
owner, deadline, status) and ``ledger_events`` (each item's history).  See
``callcenter.ledger.models``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the catalogue, the items and their events."""
    op.create_table(
        "ledger_catalogue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_catalogue"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="CASCADE",
                                name="fk_ledger_catalogue_department_id_departments"),
        sa.UniqueConstraint("department_id", "code", name="uq_ledger_catalogue_department_id_code"),
    )
    op.create_table(
        "ledger_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("catalogue_id", sa.Integer(), nullable=True),
        sa.Column("institution", sa.String(80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("deadline", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("struck_off_at", TS, nullable=True),
        sa.Column("verified_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_items"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="SET NULL",
                                name="fk_ledger_items_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="SET NULL",
                                name="fk_ledger_items_department_id_departments"),
        sa.ForeignKeyConstraint(["catalogue_id"], ["ledger_catalogue.id"], ondelete="SET NULL",
                                name="fk_ledger_items_catalogue_id_ledger_catalogue"),
        sa.UniqueConstraint("ticket_id", "source", name="uq_ledger_items_ticket_id_source"),
    )
    op.create_index("ix_ledger_items_status_department_id", "ledger_items", ["status", "department_id"])
    op.create_index("ix_ledger_items_created_at", "ledger_items", ["created_at"])
    op.create_table(
        "ledger_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("by", sa.String(64), nullable=True),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_events"),
        sa.ForeignKeyConstraint(["item_id"], ["ledger_items.id"], ondelete="CASCADE",
                                name="fk_ledger_events_item_id_ledger_items"),
    )
    op.create_index("ix_ledger_events_item_id_at", "ledger_events", ["item_id", "at"])


def downgrade() -> None:
    """Drop the ledger's tables."""
    op.drop_index("ix_ledger_events_item_id_at", table_name="ledger_events")
    op.drop_table("ledger_events")
    op.drop_index("ix_ledger_items_created_at", table_name="ledger_items")
    op.drop_index("ix_ledger_items_status_department_id", table_name="ledger_items")
    op.drop_table("ledger_items")
    op.drop_table("ledger_catalogue")
