#!/usr/bin/env bash
# Services the tests use beyond Python packages: PostgreSQL on 127.0.0.1 for the MLflow
# tracking-server test (tests/tracking_server).  Debian packages only; idempotent, and quick
# when PostgreSQL already answers.  The tests read the database URI from XAIBENCH_TEST_POSTGRES
# (default below) and skip when it is unreachable.
#
#   .ci/services.sh            # install if needed, start, create the role and database
set -euo pipefail

PGUSER_NAME=xaibench
PGPASS=xaibench
PGDB=xaibench
PGPORT=5432

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    echo "services.sh: need root (or passwordless sudo) for: $*" >&2; return 1; fi
}
as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sudo -n -u postgres sh -c "$*"; fi
}
can_login() {
  PGPASSWORD=$PGPASS PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER_NAME" -d "$PGDB" -tAc 'select 1' \
    >/dev/null 2>&1
}

if command -v psql >/dev/null && can_login; then
  echo "services.sh: PostgreSQL already running on 127.0.0.1:$PGPORT"
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null; then
  echo "services.sh: installing postgresql from Debian"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# The first cluster Debian created (e.g. "15 main"); create one if the package made none.
read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1) || true
if [ -z "${version:-}" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  cluster=main
  as_root pg_createcluster "$version" "$cluster" --port "$PGPORT"
fi
# Loopback only, on a known port: a drop-in read by Debian's postgresql.conf (include_dir 'conf.d').
printf "listen_addresses = '127.0.0.1'\nport = %s\n" "$PGPORT" \
  | as_root tee "/etc/postgresql/$version/$cluster/conf.d/xaibench.conf" >/dev/null
if ! pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
  as_root pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PGPORT"

# A password login over TCP (Debian's pg_hba allows scram-sha-256 from 127.0.0.1); CREATEDB lets
# each test run use a fresh database.
as_postgres "psql -v ON_ERROR_STOP=1 -q" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PGUSER_NAME') THEN
    CREATE ROLE $PGUSER_NAME LOGIN PASSWORD '$PGPASS' CREATEDB;
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PGDB OWNER $PGUSER_NAME' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PGDB')\gexec
SQL

can_login
echo "services.sh: PostgreSQL ready: postgresql://$PGUSER_NAME:$PGPASS@127.0.0.1:$PGPORT/$PGDB"
