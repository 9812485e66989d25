"""Alembic migrations of the `trades` table (script_location = shared.stores.sql:migrations)."""
