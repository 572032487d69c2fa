"""Department desks: specialists' accounts bound to departments (issue 14, part 1).

``user_departments`` binds a ``specialist`` account to its departments (a head sees what is
overdue up to them); ``users.may_hear_recordings`` is a supervisor's grant; ``kb_entries.author``
keeps who wrote an answer promoted from a desk reply.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add user_departments, users.may_hear_recordings and kb_entries.author."""
    op.create_table(
        "user_departments",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE",
                                                       name="fk_user_departments_user_id_users"), nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("departments.id", ondelete="CASCADE",
                                                             name="fk_user_departments_department_id_departments"),
                  nullable=False),
        sa.Column("is_head", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("user_id", "department_id", name="pk_user_departments"),
    )
    op.create_index("ix_user_departments_department_id", "user_departments", ["department_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("may_hear_recordings", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("kb_entries") as batch:
        batch.add_column(sa.Column("author", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    """Drop them again."""
    # Not a batch: on SQLite that copies kb_entries, which the search view and triggers of 0004 name.
    op.execute("ALTER TABLE kb_entries DROP COLUMN author")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("may_hear_recordings")
    op.drop_index("ix_user_departments_department_id", table_name="user_departments")
    op.drop_table("user_departments")
