"""The rota in the database: shifts supervisors edit on the web (seeded from [[shifts]]), and skills.

Revision ID: 0007
Revises: 0006
Create Date: 2025-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create rota_shifts and agent_skills."""
    op.create_table(
        "rota_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rota_shifts"),
        sa.UniqueConstraint("name", name="uq_rota_shifts_name"),
    )
    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("agent_id", name="pk_agent_skills"),
    )


def downgrade() -> None:
    """Drop rota_shifts and agent_skills."""
    op.drop_table("agent_skills")
    op.drop_table("rota_shifts")
