"""Time limits by kind of ticket and the overdue ladder (issue 14, part 2).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """work_orders.due_at (the time limit's deadline), ladder_level and ladder_at (the overdue ladder).

    Existing tickets get no deadline (NULL): their limit is computed when they next change.
    """
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("due_at", TS, nullable=True))
        batch.add_column(sa.Column("ladder_level", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("ladder_at", TS, nullable=True))
        batch.create_index("ix_work_orders_due_at", ["due_at"])


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_index("ix_work_orders_due_at")
        batch.drop_column("ladder_at")
        batch.drop_column("ladder_level")
        batch.drop_column("due_at")
