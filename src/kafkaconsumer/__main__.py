"""`python -m kafkaconsumer`: the MongoDB sink."""

from kafkaconsumer import main

raise SystemExit(main())
