"""`tradestore migrate`: create the SQL `trades` table if missing (compose's mssql-init), or print its DDL."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.errors import StoreUnavailable
from shared.logs import configure_logging
from shared.settings import load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("migrate", help="apply the SQL schema (idempotent)")
    p.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the database (default 60)"
    )
    p.add_argument(
        "--print-ddl",
        metavar="DIALECT",
        choices=["mssql", "postgresql", "sqlite"],
        help="print the DDL for mssql, postgresql or sqlite and exit (no database needed)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kafkaconsumermssql.schema import ddl_statements, dialect_named

    if args.print_ddl:
        print("\n\n".join(ddl_statements(dialect_named(args.print_ddl))))
        return 0

    from kafkaconsumermssql.engine import make_engine
    from kafkaconsumermssql.migrations import migrate
    from shared.redact import redact_url

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.sql_url_value)
    try:
        created = migrate(engine, timeout_s=args.timeout)
    except StoreUnavailable as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    where = redact_url(settings.sql_url_value)
    print(
        f"migrate: created {', '.join(created)} at {where}" if created else f"migrate: up to date at {where}"
    )
    return 0
