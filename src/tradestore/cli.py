"""`tradestore`: one command, a subcommand per job.

The product's subcommands live in tradestore.commands.<name>; other distributions add commands through
the entry-point group `tradestore.commands` (the dev tools: chaos, bench, fuzz), each naming a module
that exposes register(subparsers) like the built-in ones.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points

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
]
PLUGIN_GROUP = "tradestore.commands"
# Commands of the dev tools distribution (tools/): named here only to say how to get them.
TOOL_COMMANDS = ("chaos", "bench", "fuzz")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradestore", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tradestore.commands.{name}").register(sub)
    for plugin in plugins():
        plugin.load().register(sub)
    return parser


def plugins() -> list[EntryPoint]:
    """Commands other installed distributions register (a built-in name cannot be taken over)."""
    found = entry_points(group=PLUGIN_GROUP)
    return sorted((ep for ep in found if ep.name not in COMMANDS), key=lambda ep: ep.name)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TOOL_COMMANDS and argv[0] not in {ep.name for ep in plugins()}:
        print(
            f"tradestore {argv[0]}: a development tool, not part of the runtime distribution; "
            "install the tools with: pip install -e tools  (scripts/test does)",
            file=sys.stderr,
        )
        return 2
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
