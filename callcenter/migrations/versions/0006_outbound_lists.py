"""Scheduled outbound lists: import batches, the attempt log, and list columns on callback tasks.

``callback_tasks`` gains ``list_id`` (the import a follow-up or reminder came from) and ``due_by``
(its deadline), and a unique index on (kind, dedupe_key) for list tasks, so importing the same
export twice creates nothing new.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``outbound_lists`` and ``outbound_attempts``; add the list columns to ``callback_tasks``."""
    op.create_table(
        "outbound_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=True),
        sa.Column("imported_at", TS, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_lists"),
    )
    with op.batch_alter_table("callback_tasks") as batch:
        batch.add_column(sa.Column("list_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("due_by", TS, nullable=True))
        batch.create_foreign_key("fk_callback_tasks_list_id_outbound_lists", "outbound_lists", ["list_id"], ["id"],
                                 ondelete="SET NULL")
    op.create_index("uq_callback_tasks_list_dedupe", "callback_tasks", ["kind", "dedupe_key"], unique=True,
                    sqlite_where=sa.text("list_id IS NOT NULL"), postgresql_where=sa.text("list_id IS NOT NULL"))
    op.create_table(
        "outbound_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("result", sa.String(24), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("call_ticket_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_attempts"),
        sa.ForeignKeyConstraint(["task_id"], ["callback_tasks.id"], ondelete="CASCADE",
                                name="fk_outbound_attempts_task_id_callback_tasks"),
        sa.ForeignKeyConstraint(["call_ticket_id"], ["tickets.id"], ondelete="SET NULL",
                                name="fk_outbound_attempts_call_ticket_id_tickets"),
    )
    op.create_index("ix_outbound_attempts_task_id", "outbound_attempts", ["task_id"])
    op.create_index("ix_outbound_attempts_started_at", "outbound_attempts", ["started_at"])


def downgrade() -> None:
    """Drop the attempt log, the list columns and the import batches."""
    op.drop_table("outbound_attempts")
    op.drop_index("uq_callback_tasks_list_dedupe", table_name="callback_tasks")
    with op.batch_alter_table("callback_tasks") as batch:
        batch.drop_constraint("fk_callback_tasks_list_id_outbound_lists", type_="foreignkey")
        batch.drop_column("due_by")
        batch.drop_column("list_id")
    op.drop_table("outbound_lists")
