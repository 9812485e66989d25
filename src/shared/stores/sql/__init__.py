"""The SQL store adapter (SQL Server, PostgreSQL, SQLite): SqlStore over one SQLAlchemy engine.

schema (the Table), statements (upserts), queries (reads, expiry), errors (classification), engine
(timeouts), migrate + migrations/ (Alembic).
"""

from shared.stores.sql.store import SqlStore

__all__ = ["SqlStore"]
