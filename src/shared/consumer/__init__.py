"""The consumer runtime both sinks share: `ConsumerRuntime(settings, sink).run()`."""

from shared.consumer.runtime import ConsumerRuntime, consumer_config

__all__ = ["ConsumerRuntime", "consumer_config"]
