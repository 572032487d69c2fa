"""The moment a call first rang an operator, on its ticket (the two-ring promise counts from it).

Each ring itself (operator, start, end, how it ended) is kept in the ticket's ``details["rings"]``.

Revision ID: 0010
Revises: 0009
Create Date: 2025-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add tickets.first_rang_at."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("first_rang_at", TS, nullable=True))


def downgrade() -> None:
    """Drop tickets.first_rang_at."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("first_rang_at")
