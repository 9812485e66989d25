# syntax=docker/dockerfile:1
# One image for every TradeStore service. The entrypoint is the `tradestore` command and the
# compose `command:` picks the service:
#   api            TradeData HTTP API on TRADEDATA_PORT (compose service `tradedata`)
#   consume mongo  MongoDB sink   (compose service `kafkaconsumer`)
#   consume sql    SQL sink       (compose service `kafkaconsumermssql`)
#   migrate        SQL DDL, idempotent (compose service `mssql-init`)
#   regress -n N   regression runner (compose profile `regression`)
#
# SQL Server is reached with mssql+pymssql: the pymssql wheel bundles FreeTDS, so the production
# image needs no ODBC driver, no apt repository and no compiler. pyodbc + ODBC Driver 18 live only in
# the `tests` target (the seed's E2E snippet connects with pyodbc), so production stays lean.
#
# Targets:  runtime (default, last stage)   docker build -t tradestore .
#           tests   (integration runner)    docker build --target tests -t tradestore-tests .
# Dependencies come from requirements/*.lock.txt (scripts/lock) with --require-hashes; the project
# itself is installed with --no-deps, so nothing unpinned reaches the image.
#
# Build inputs (docs/deployment.md):
#   --build-arg PYTHON_IMAGE=...   base image of every stage (default: the official Python image). Any
#                                  Debian bookworm image with python3 + venv works; scripts/compose-test
#                                  builds one with debootstrap when no registry can be reached.
#   --build-arg ODBC_DRIVER=...    `msodbcsql18` (default) installs Microsoft's ODBC Driver 18 into the
#                                  `tests` image for the seed's pyodbc test; empty skips Microsoft's apt
#                                  repository (unixodbc only: that test then reports SQL Server as absent).
#   deploy/compose/ca/ca.pem       optional extra CA bundle (PEM) that pip trusts while BUILDING, for
#                                  networks with a TLS-intercepting proxy; scripts/compose-test copies the
#                                  host's bundle there (TRADESTORE_BUILD_CA). It never reaches the runtime
#                                  image (only /opt/venv is copied out of the build stage).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---- build: a virtual environment in /opt/venv from the hashed lock, wheels only ----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY deploy/compose/ca/ /tmp/build-ca/
COPY requirements/runtime.lock.txt requirements/runtime.lock.txt
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && pip install --require-hashes --only-binary=:all: -r requirements/runtime.lock.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && pip install --no-deps . && rm -rf /src
# The services never install anything: drop pip and setuptools from the venv (smaller, fewer CVEs to scan).
RUN python -m pip uninstall --yes setuptools pip

# ---- tests: runtime + test lock + ODBC Driver 18, runs tests/integration against the stack ------------
FROM ${PYTHON_IMAGE} AS tests
ARG ODBC_DRIVER=msodbcsql18
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# unixodbc (Debian) lets pyodbc load; msodbcsql18 comes from Microsoft's Debian 12 repository (apt reads
# the ASCII-armoured key directly), skipped when ODBC_DRIVER is empty.
RUN if [ -n "${ODBC_DRIVER}" ]; then \
      python -c "import urllib.request as u; u.urlretrieve('https://packages.microsoft.com/keys/microsoft.asc', '/usr/share/keyrings/microsoft-prod.asc')" \
      && echo "deb [arch=amd64 signed-by=/usr/share/keyrings/microsoft-prod.asc] https://packages.microsoft.com/debian/12/prod bookworm main" \
           > /etc/apt/sources.list.d/mssql-release.list; \
    fi \
 && apt-get update \
 && ACCEPT_EULA=Y apt-get install -y --no-install-recommends unixodbc ${ODBC_DRIVER} \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
RUN python -m ensurepip --default-pip
COPY deploy/compose/ca/ /tmp/build-ca/
COPY requirements/test.lock.txt /tmp/test.lock.txt
# A recent pip first: older ones (Debian's 23.0) refuse the lock's `coverage[toml]` extra in hash mode.
RUN if [ -s /tmp/build-ca/ca.pem ]; then export PIP_CERT=/tmp/build-ca/ca.pem; fi \
 && pip install "pip==26.3" \
 && pip install --require-hashes --only-binary=:all: -r /tmp/test.lock.txt && rm -rf /tmp/test.lock.txt /tmp/build-ca
RUN groupadd --system --gid 10001 tradestore \
 && useradd --system --uid 10001 --gid tradestore --home-dir /app --create-home --shell /usr/sbin/nologin tradestore
WORKDIR /app
COPY --chown=tradestore:tradestore pyproject.toml ./
# The dev tools' modules (fault proxy, chaos schedule) that integration tests import: on pytest's pythonpath.
COPY --chown=tradestore:tradestore tools/src ./tools/src
COPY --chown=tradestore:tradestore tests ./tests
COPY --chown=tradestore:tradestore contracts ./contracts
USER 10001:10001
ENTRYPOINT ["pytest"]
CMD ["-q", "tests/integration"]

# ---- runtime (default target): no compiler, no pip cache, non-root ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    TRADESTORE_HOME=/var/lib/tradestore
# Debian security fixes newer than the base tag, and no pip/setuptools in the system Python either.
RUN apt-get update && apt-get upgrade -y && rm -rf /var/lib/apt/lists/* \
 && if python -m pip --version >/dev/null 2>&1; then python -m pip uninstall --yes pip setuptools wheel; fi
RUN groupadd --system --gid 10001 tradestore \
 && useradd --system --uid 10001 --gid tradestore --home-dir /var/lib/tradestore --create-home \
      --shell /usr/sbin/nologin tradestore
COPY --from=build /opt/venv /opt/venv
WORKDIR /var/lib/tradestore
USER 10001:10001
# 8001: TradeData (TRADEDATA_PORT); 9100: consumers' /health, /ready, /metrics (METRICS_PORT in compose).
EXPOSE 8001 9100
# Probes /health on METRICS_PORT when set (consumers), else TRADEDATA_PORT (API); stdlib only, no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request as u; p = os.environ.get('METRICS_PORT', '0'); p = p if p not in ('', '0') else os.environ.get('TRADEDATA_PORT', '8001'); sys.exit(0 if u.urlopen(f'http://127.0.0.1:{p}/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["tradestore"]
CMD ["api"]
