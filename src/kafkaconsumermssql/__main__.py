"""`python -m kafkaconsumermssql`: the SQL sink."""

from kafkaconsumermssql import main

if __name__ == "__main__":
    raise SystemExit(main())
