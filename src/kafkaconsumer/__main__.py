"""`python -m kafkaconsumer`: the MongoDB sink."""

from kafkaconsumer import main

if __name__ == "__main__":
    raise SystemExit(main())
