"""`tradestore dlq list|show|redrive`: what was dead-lettered and why, and sending it through again.

Thin: parses arguments, calls shared.operations.dlq (the console uses the same functions), prints.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.errors import PublishUnavailable
from shared.logs import configure_logging
from shared.operations.dlq import (
    DlqFilter,
    Redrive,
    find_dead_letter,
    parse_position,
    plan_redrive,
    read_dead_letters,
    redrive,
    trade_id_of,
)
from shared.operations.reading import BrokerUnavailable, KafkaRecord
from shared.settings import Settings, load_settings


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("dlq", help="list, show and redrive dead-lettered records")
    dlq = p.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = dlq.add_parser(
        "list", help="dead letters as a table (partition:offset, key, reason, sink, time)"
    )
    _filters(listing)
    listing.set_defaults(func=run_list)
    show = dlq.add_parser("show", help="one dead letter's headers and value")
    show.add_argument("position", type=parse_position, metavar="PARTITION:OFFSET")
    show.set_defaults(func=run_show)
    again = dlq.add_parser("redrive", help="republish selected dead letters to the trades topic")
    _filters(again)
    again.add_argument(
        "positions", nargs="*", type=parse_position, metavar="PARTITION:OFFSET", help="only these records"
    )
    again.add_argument("--all", action="store_true", help="every dead letter matching the filters")
    again.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    again.set_defaults(func=run_redrive)


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", help="dlq.reason, e.g. lower_version, schema_invalid, store_rejected")
    p.add_argument("--sink", help="dlq.sink, e.g. mongo or sql")
    p.add_argument("--trade-id", help="records of this trade_id")


def _selection(args: argparse.Namespace) -> DlqFilter:
    positions = getattr(args, "positions", None)
    return DlqFilter(
        reason=args.reason,
        sink=args.sink,
        trade_id=args.trade_id,
        positions=frozenset(positions) if positions else None,
    )


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", "replace")


def table(letters: list[KafkaRecord], title: str) -> Table:
    out = Table(title=title)
    for column in ("partition:offset", "key", "reason", "sink", "time"):
        out.add_column(column, overflow="fold")
    for letter in letters:
        when = letter.time.isoformat(timespec="seconds") if letter.time else "-"
        reason, sink = letter.header("dlq.reason") or "-", letter.header("dlq.sink") or "-"
        out.add_row(letter.position, _text(letter.key), reason, sink, when)
    return out


def run_list(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        letters = read_dead_letters(settings, _selection(args))
    except BrokerUnavailable as exc:
        print(f"tradestore dlq: {exc}", file=sys.stderr)
        return 2
    Console().print(table(letters, f"{settings.trades_dlq_topic}: {len(letters)} dead letter(s)"))
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        letter = find_dead_letter(_settings(), args.position)
    except BrokerUnavailable as exc:
        print(f"tradestore dlq show: {exc}", file=sys.stderr)
        return 2
    if letter is None:
        print(f"tradestore dlq show: no dead letter at {args.position}", file=sys.stderr)
        return 1
    print(f"{letter.topic} {letter.position}  time {letter.time.isoformat() if letter.time else '-'}")
    print(f"key: {_text(letter.key)}")
    print(f"trade_id: {trade_id_of(letter) or '-'}")
    print("headers:")
    for name, value in letter.headers:
        print(f"  {name}: {_text(value)}")
    print("value:")
    print(_text(letter.value))
    return 0


def describe(plan: Redrive) -> str:
    headers = " ".join(f"{k}={_text(v)}" for k, v in plan.headers)
    return f"{plan.origin.position} -> {plan.topic} key={_text(plan.key)} {headers}"


def run_redrive(args: argparse.Namespace) -> int:
    selection = _selection(args)
    if selection == DlqFilter() and not args.all:
        print(
            "tradestore dlq redrive: name records (PARTITION:OFFSET or filters) or pass --all",
            file=sys.stderr,
        )
        return 2
    settings = _settings()
    try:
        plans = plan_redrive(read_dead_letters(settings, selection), settings.trades_topic)
    except BrokerUnavailable as exc:
        print(f"tradestore dlq redrive: {exc}", file=sys.stderr)
        return 2
    verb = "would send" if args.dry_run else "sending"
    print(f"{verb} {len(plans)} record(s) to {settings.trades_topic}")
    for plan in plans:
        print(describe(plan))
    if args.dry_run or not plans:
        return 0
    from shared.kafka import TradeProducer

    producer = TradeProducer(settings)
    try:
        done = redrive(plans, producer, timeout_s=settings.kafka_publish_timeout_s * 2)
    except PublishUnavailable as exc:
        print(f"tradestore dlq redrive: not every record was acknowledged: {exc}", file=sys.stderr)
        return 1
    finally:
        producer.close()
    for sent in done:
        print(f"{sent.origin} -> {settings.trades_topic} {sent.partition}:{sent.offset} acknowledged")
    return 0
