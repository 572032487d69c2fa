"""Call recordings: one row per recorded call leg (linked to its ticket) and the listen log.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``recordings`` and ``recording_listens``."""
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id", ondelete="SET NULL",
                                                         name="fk_recordings_ticket_id_tickets"), nullable=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("duration_seconds", sa.Float, nullable=True),
        sa.Column("size_bytes", sa.Integer, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("repaired", sa.Boolean, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("flag_reason", sa.String(255), nullable=False),
        sa.Column("pauses", sa.JSON, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
    )
    op.create_index("ix_recordings_ticket_id", "recordings", ["ticket_id"])
    op.create_index("ix_recordings_uniqueid", "recordings", ["uniqueid"])
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])
    op.create_table(
        "recording_listens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("recording_id", sa.Integer, sa.ForeignKey("recordings.id", ondelete="CASCADE",
                                                            name="fk_recording_listens_recording_id_recordings"),
                  nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recording_listens"),
    )
    op.create_index("ix_recording_listens_recording_id", "recording_listens", ["recording_id"])


def downgrade() -> None:
    """Drop both tables (the audio files stay on disk)."""
    op.drop_table("recording_listens")
    op.drop_table("recordings")
