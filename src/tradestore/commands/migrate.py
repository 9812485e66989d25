"""`tradestore migrate`: upgrade the SQL schema to the newest Alembic revision, or print that SQL offline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.errors import StoreRejected, StoreUnavailable
from shared.logs import configure_logging
from shared.settings import load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("migrate", help="upgrade the SQL schema to head (idempotent)")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the database (default 60)"
    )
    p.add_argument(
        "--print-ddl",
        metavar="DIALECT",
        choices=["mssql", "postgresql", "sqlite"],
        help="print the migration SQL for mssql, postgresql or sqlite and exit (no database needed)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared.stores.sql.migrate import head_revision, migrate, offline_sql

    settings = load_settings()
    if args.print_ddl:
        print(offline_sql(args.print_ddl, settings.sql_mssql_database))
        return 0

    from shared.stores.sql.engine import SqlLimits, make_engine

    configure_logging(settings.log_level, settings.log_format)
    limits = SqlLimits.from_settings(settings)
    engine = make_engine(settings.sql_url_value, limits)
    where = engine.url.render_as_string(hide_password=True)
    try:
        applied = migrate(engine, timeout_s=args.timeout, dedicated=limits.mssql_database)
    except (StoreUnavailable, StoreRejected) as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if applied:
        print(f"migrate: upgraded {where} to revision {head_revision()} (applied {', '.join(applied)})")
    else:
        print(f"migrate: up to date at {where} (revision {head_revision()})")
    return 0
