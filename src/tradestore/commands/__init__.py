"""Subcommands of `tradestore`; thin: parse arguments, call one function, return an exit code."""
