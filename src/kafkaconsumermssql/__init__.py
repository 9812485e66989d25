"""kafkaconsumermssql: the SQL sink of the `trades` topic (SQL Server dbo.trades; PostgreSQL, SQLite)."""
