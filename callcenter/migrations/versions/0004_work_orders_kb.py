"""Work orders: lifecycle, contact history, callback tasks, departments, specialists; knowledge base.

The knowledge base's search index depends on the backend:
- SQLite: an external-content FTS5 table ``kb_fts`` with the trigram tokenizer (substring search
  in Chinese text), kept in step with ``kb_entries`` by triggers, and its vocabulary ``kb_fts_terms``
  (two-character words are found through the trigrams that start with them);
- PostgreSQL: the pg_trgm extension and a GIN trigram index over question, keywords and answer
  (``ILIKE '%...%'`` uses it).

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)

# The FTS table indexes each column with a newline appended (through the view ``kb_fts_source``),
# so every occurrence of a two-character word is the start of some trigram: a 2-character query
# becomes an OR of the trigrams that start with it, found in the vocabulary table ``kb_fts_terms``.
SQLITE_FTS = (
    "CREATE VIEW kb_fts_source AS SELECT id, question || char(10) AS question, answer || char(10) AS answer, "
    "keywords || char(10) AS keywords FROM kb_entries",
    "CREATE VIRTUAL TABLE kb_fts USING fts5("
    "question, answer, keywords, content='kb_fts_source', content_rowid='id', tokenize='trigram')",
    "CREATE VIRTUAL TABLE kb_fts_terms USING fts5vocab(kb_fts, 'row')",
    "CREATE TRIGGER kb_entries_fts_insert AFTER INSERT ON kb_entries BEGIN "
    "INSERT INTO kb_fts(rowid, question, answer, keywords) "
    "VALUES (new.id, new.question || char(10), new.answer || char(10), new.keywords || char(10)); "
    "END",
    "CREATE TRIGGER kb_entries_fts_delete AFTER DELETE ON kb_entries BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, question, answer, keywords) "
    "VALUES ('delete', old.id, old.question || char(10), old.answer || char(10), old.keywords || char(10)); "
    "END",
    "CREATE TRIGGER kb_entries_fts_update AFTER UPDATE OF question, answer, keywords ON kb_entries BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, question, answer, keywords) "
    "VALUES ('delete', old.id, old.question || char(10), old.answer || char(10), old.keywords || char(10)); "
    "INSERT INTO kb_fts(rowid, question, answer, keywords) "
    "VALUES (new.id, new.question || char(10), new.answer || char(10), new.keywords || char(10)); "
    "END",
)
PG_TRGM = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_kb_entries_trgm ON kb_entries USING gin "
    "((question || ' ' || keywords || ' ' || answer) gin_trgm_ops)",
)


def upgrade() -> None:
    """Create the tables, then the backend's search index."""
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("office_phone", sa.String(32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_departments"),
        sa.UniqueConstraint("name", name="uq_departments_name"),
    )
    op.create_table(
        "specialists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(64), nullable=False),
        sa.Column("mobile", sa.String(32), nullable=False),
        sa.Column("duty", sa.JSON(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_specialists"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="CASCADE",
                                name="fk_specialists_department_id_departments"),
    )
    op.create_index("ix_specialists_department_id", "specialists", ["department_id"])
    op.create_table(
        "work_orders",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("promised_reply_at", TS, nullable=True),
        sa.Column("callback_by", TS, nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("close_reason", sa.String(16), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("revisits", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("external_ref", sa.String(64), nullable=True),
        sa.Column("assigned_agent", sa.String(64), nullable=True),
        sa.Column("overdue_alerted_at", TS, nullable=True),
        sa.Column("solved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_work_orders"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name="fk_work_orders_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["parent_id"], ["tickets.id"], ondelete="SET NULL",
                                name="fk_work_orders_parent_id_tickets"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="SET NULL",
                                name="fk_work_orders_department_id_departments"),
    )
    op.create_index("ix_work_orders_status", "work_orders", ["status"])
    op.create_index("ix_work_orders_promised_reply_at", "work_orders", ["promised_reply_at"])
    op.create_index("ix_work_orders_parent_id", "work_orders", ["parent_id"])
    op.create_index("ix_work_orders_external_ref", "work_orders", ["external_ref"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("reached", sa.String(80), nullable=True),
        sa.Column("call_ticket_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name="fk_contacts_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["call_ticket_id"], ["tickets.id"], ondelete="SET NULL",
                                name="fk_contacts_call_ticket_id_tickets"),
    )
    op.create_index("ix_contacts_ticket_id_at", "contacts", ["ticket_id", "at"])
    op.create_index("ix_contacts_call_ticket_id", "contacts", ["call_ticket_id"])
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("result", sa.String(32), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callback_tasks"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name="fk_callback_tasks_ticket_id_tickets"),
        sa.UniqueConstraint("ticket_id", "kind", "dedupe_key", name="uq_callback_tasks_ticket_id_kind_dedupe_key"),
    )
    op.create_index("ix_callback_tasks_state_not_before", "callback_tasks", ["state", "not_before"])
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_entries"),
    )
    op.create_index("ix_kb_entries_category", "kb_entries", ["category"])
    op.create_table(
        "kb_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kb_revisions"),
        sa.ForeignKeyConstraint(["entry_id"], ["kb_entries.id"], ondelete="CASCADE",
                                name="fk_kb_revisions_entry_id_kb_entries"),
    )
    op.create_index("ix_kb_revisions_entry_id", "kb_revisions", ["entry_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        for statement in PG_TRGM:
            op.execute(statement)


def downgrade() -> None:
    """Drop the search index, then the tables (children first)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("kb_entries_fts_insert", "kb_entries_fts_delete", "kb_entries_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS kb_fts_terms")
        op.execute("DROP TABLE IF EXISTS kb_fts")
        op.execute("DROP VIEW IF EXISTS kb_fts_source")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_kb_entries_trgm")
    for table in ("kb_revisions", "kb_entries", "callback_tasks", "contacts", "work_orders", "specialists",
                  "departments"):
        op.drop_table(table)
