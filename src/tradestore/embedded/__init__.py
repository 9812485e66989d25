"""Embedded services for `tradestore up` and the tests: each a child process on a local port."""

from tradestore.embedded.process import ManagedProcess, free_port, wait_for_port

__all__ = ["ManagedProcess", "free_port", "wait_for_port"]
