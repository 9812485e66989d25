"""`python bench/run.py [--quick] [--compare]`: the same as `tradestore bench` (kept for the bench/ habit)."""

from __future__ import annotations

import sys

from tradestore.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
