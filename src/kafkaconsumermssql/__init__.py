"""kafkaconsumermssql: the SQL sink of the `trades` topic, the shared runtime over shared.stores.sql.

SQL Server (dbo.trades in its own database) in compose; PostgreSQL or SQLite elsewhere. The store, its
schema and its Alembic migrations live in shared.stores.sql. `python -m kafkaconsumermssql` (or
`tradestore consume sql`) runs it.
"""

from shared.consumer import serve
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.stores import open_writer


def main() -> int:
    """Consume TRADES_TOPIC into the SQL table `trades` at SQL_URL until SIGINT/SIGTERM."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return serve(settings, open_writer(settings, "sql"))
