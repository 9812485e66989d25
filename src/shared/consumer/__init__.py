"""The consumer runtime both sinks share: `ConsumerRuntime(settings, open_writer(settings, kind)).run()`.

pipeline.py is one batch (decode, plan, write, dead-letter, store offsets); runtime.py the loop around it.
"""

from shared.consumer.runtime import ConsumerRuntime
from shared.consumer.service import serve
from shared.kafka.config import consumer_config

__all__ = ["ConsumerRuntime", "consumer_config", "serve"]
