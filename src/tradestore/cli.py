"""`tradestore`: one command, a subcommand per job. Each subcommand lives in tradestore.commands.<name>."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Module names under tradestore.commands; each exposes register(subparsers) that sets `func`.
COMMANDS = [
    "up",
    "api",
    "contract",
    "consume",
    "migrate",
    "expire",
    "reconcile",
    "dlq",
    "regress",
    "bench",
    "fuzz",
    "chaos",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradestore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tradestore.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except Exception as exc:
        if not _is_unreachable(exc):
            raise
        from shared.redact import redact_url

        print(
            f"tradestore {args.command}: a service is unreachable: {redact_url(str(exc))[:500]}",
            file=sys.stderr,
        )
        return 2
    return code


def _is_unreachable(exc: Exception) -> bool:
    """Connection failures of MongoDB, SQL or Kafka: a clear one-line error instead of a traceback."""
    from confluent_kafka import KafkaException
    from pymongo.errors import ConnectionFailure
    from sqlalchemy.exc import OperationalError

    from shared.errors import StoreUnavailable

    return isinstance(exc, ConnectionFailure | OperationalError | StoreUnavailable | KafkaException)


if __name__ == "__main__":
    sys.exit(main())
