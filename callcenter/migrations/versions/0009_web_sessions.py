"""Web sessions kept on the server: logging out deletes the row, so the old cookie stops working.

Revision ID: 0009
Revises: 0008
Create Date: 2025-01-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create web_sessions."""
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE",
                                                       name="fk_web_sessions_user_id_users"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_seen_at", "web_sessions", ["seen_at"])


def downgrade() -> None:
    """Drop web_sessions."""
    op.drop_index("ix_web_sessions_seen_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
