"""kafkaconsumermssql: the SQL sink of the `trades` topic, the shared consumer runtime over shared.stores.sql.

It runs as `tradestore consume sql` (SQL Server dbo.trades in compose; PostgreSQL or SQLite elsewhere);
the store itself, its schema and migrations live in shared.stores.sql.
"""
