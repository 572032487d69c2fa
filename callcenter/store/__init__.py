"""The store: SQLAlchemy models and the database they live in (SQLite by default, PostgreSQL by URL)."""

from callcenter.store.db import database_state, head_revision, open_database, session_factory, upgrade
from callcenter.store.models import Base, Ticket

__all__ = ["Base", "Ticket", "database_state", "head_revision", "open_database", "session_factory", "upgrade"]
