"""`tradestore fuzz`: schemathesis against TradeData's /openapi.json, in-process (FUZZ_EXAMPLES, default 500).

By default the producer is a fake that acknowledges everything; `--broker HOST:PORT` (or `embedded`)
publishes to a real broker instead, on a fresh `fuzz-<uuid>` topic. Needs the test extras.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

FULL_RUN_EXAMPLES = 500


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("fuzz", help="fuzz the TradeData API from its OpenAPI schema")
    p.add_argument("--examples", type=int, help="examples per operation (FUZZ_EXAMPLES, default 500)")
    p.add_argument("--auth", action="store_true", help="run with API keys on (checks auth is enforced)")
    p.add_argument("--broker", help="publish to this Kafka bootstrap, or 'embedded' to start one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared.kafka import TradeProducer, ensure_topics
    from shared.settings import Settings
    from tradedata.app import create_app
    from tradestore_tools.faults.fuzz import AckingProducer, EmptyReader, examples_from_env, fuzz_app

    examples = args.examples or examples_from_env(FULL_RUN_EXAMPLES)
    # The ignored-auth check replays every case without a key: one refusal log line each, by design.
    logging.getLogger("tradedata.auth").setLevel(logging.ERROR)
    key = uuid.uuid4().hex
    auth: dict[str, Any] = (
        {"tradedata_api_keys": key} if args.auth else {}  # reads are protected by default
    )
    with ExitStack() as stack:
        producer: Any = AckingProducer()
        settings = Settings(tradestore_env="test", **auth)
        if args.broker:
            bootstrap = args.broker if args.broker != "embedded" else _embedded(stack)
            topic = f"fuzz-{uuid.uuid4().hex[:12]}"
            settings = Settings(
                tradestore_env="test", kafka_bootstrap_servers=bootstrap, trades_topic=topic, **auth
            )
            ensure_topics(settings, [topic])
            producer = TradeProducer(settings)
            stack.callback(producer.close)
        app = create_app(settings, producer=producer, clock=date.today, reader=EmptyReader())
        report = fuzz_app(app, examples, headers={"X-API-Key": key} if args.auth else None)
    print(report.summary())
    return 1 if report.failures or report.server_errors else 0


def _embedded(stack: ExitStack) -> str:
    from tradestore.local.kafka import EmbeddedBroker
    from tradestore.local.process import free_port

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tradestore-fuzz-")))
    broker = EmbeddedBroker("127.0.0.1", free_port(), workdir)
    broker.start()
    stack.callback(broker.stop)
    return broker.bootstrap
