"""kafkaconsumer: the MongoDB sink of the `trades` topic, the shared runtime over shared.stores.mongo.

`python -m kafkaconsumer` (or `tradestore consume mongo`) runs it.
"""

from shared.consumer import serve
from shared.logs import configure_logging
from shared.settings import load_settings
from shared.stores import open_writer


def main() -> int:
    """Consume TRADES_TOPIC into MONGO_DB.MONGO_COLLECTION until SIGINT/SIGTERM."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return serve(settings, open_writer(settings, "mongo"))
