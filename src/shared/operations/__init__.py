"""Operator tools shared by the `tradestore` CLI and the API console: dead letters and consumer lag."""
