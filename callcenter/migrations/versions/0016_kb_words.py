"""Knowledge-base search by words: the word index, the supervisors' dictionary terms and synonyms (issue 17).

The word index holds each active entry's question, keywords and answer cut into words (by
``callcenter.kb.words``; words joined by spaces), written by the service, never by triggers:
- SQLite: an FTS5 table ``kb_fts_words`` (unicode61 tokenizer), ranked with ``bm25()``, and its
  vocabulary ``kb_fts_words_vocab`` (how many entries hold each word);
- PostgreSQL: a table ``kb_fts_words`` with a ``tsvector`` ('simple' configuration; question A,
  keywords B, answer C) computed from the same words, GIN-indexed, ranked with ``ts_rank_cd``.
The index starts empty; the controller fills it at start (``SearchIndex.ensure``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

TS = sa.DateTime(timezone=True)

SQLITE = (
    "CREATE VIRTUAL TABLE kb_fts_words USING fts5(question, keywords, answer, tokenize='unicode61')",
    "CREATE VIRTUAL TABLE kb_fts_words_vocab USING fts5vocab(kb_fts_words, 'row')",
    # ORDER BY rank: bm25 with question > keywords > answer, computed inside FTS5
    "INSERT INTO kb_fts_words(kb_fts_words, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0)')",
)
SQLITE_DOWN = ("DROP TABLE kb_fts_words_vocab", "DROP TABLE kb_fts_words")
POSTGRES = (
    ("CREATE TABLE kb_fts_words (entry_id integer PRIMARY KEY REFERENCES kb_entries(id) ON DELETE CASCADE, "
     "question text NOT NULL, keywords text NOT NULL, answer text NOT NULL, "
     "document tsvector GENERATED ALWAYS AS (setweight(to_tsvector('simple', question), 'A') || "
     "setweight(to_tsvector('simple', keywords), 'B') || setweight(to_tsvector('simple', answer), 'C')) STORED)"),
    "CREATE INDEX ix_kb_fts_words_document ON kb_fts_words USING gin (document)",
)
POSTGRES_DOWN = ("DROP TABLE kb_fts_words",)


def upgrade() -> None:
    """The dictionary terms, the synonym groups, the index state and the backend's word index."""
    op.create_table(
        "kb_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_terms"),
        sa.UniqueConstraint("word", name="uq_kb_terms_word"),
    )
    op.create_table(
        "kb_synonyms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_synonyms"),
    )
    op.create_table(
        "kb_search_state",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_kb_search_state"),
    )
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("kb_search_state")
    op.drop_table("kb_synonyms")
    op.drop_table("kb_terms")
