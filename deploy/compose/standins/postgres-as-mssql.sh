#!/bin/sh
# PostgreSQL in place of SQL Server: user `sa` with MSSQL_SA_PASSWORD, databases `master` and `tempdb`,
# port 1433, data in the mssql-data volume (/var/opt/mssql). Stand-in only (deploy/compose/standin-mssql.yml).
set -eu
: "${MSSQL_SA_PASSWORD:?set MSSQL_SA_PASSWORD}"
BIN=/usr/lib/postgresql/15/bin
PGDATA=/var/opt/mssql/pgdata
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres /var/opt/mssql /var/run/postgresql
chmod 0700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$MSSQL_SA_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  runuser -u postgres -- "$BIN/initdb" -D "$PGDATA" -U sa --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-host=scram-sha-256 --auth-local=trust >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  for db in master tempdb; do
    echo "CREATE DATABASE $db" | runuser -u postgres -- "$BIN/postgres" --single -D "$PGDATA" postgres >/dev/null
  done
fi
exec runuser -u postgres -- "$BIN/postgres" -D "$PGDATA" -p 1433 -c listen_addresses='*' \
  -c shared_buffers=64MB -c max_connections=200 -c fsync=off
