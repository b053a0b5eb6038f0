#!/usr/bin/env bash
# Starts (or reuses) a throw-away PostgreSQL cluster for the tests and prints its connection URL on the
# last line of stdout, e.g. postgres://postgres@127.0.0.1:55432/moat_test
#
# - Installs Debian's postgresql package when no PostgreSQL server binaries are found (needs root + apt-get).
# - The cluster lives in /tmp/moat-pg-<port>; it listens on 127.0.0.1 only, with trust authentication for
#   loopback connections only (nothing else is allowed in pg_hba.conf). Never use it for real data.
# - Idempotent: a cluster already answering on the port is reused; the database is created when missing.
#   Concurrent callers (test files started in parallel) are serialised with a lock file.
# - Works without a tty and as root (CI): the server then runs as the `postgres` system user.
#
#   scripts/ensure-postgres.sh          start or reuse, print the URL   (port: MOAT_PG_PORT, default 55432)
#   scripts/ensure-postgres.sh stop     stop the cluster on that port and delete its directory
#   scripts/ensure-postgres.sh halt     stop the server at once, like a crash (pg_ctl -m immediate), keeping the
#                                       cluster; the next plain call starts it again (fault tests: a database restart)
set -euo pipefail

port="${MOAT_PG_PORT:-55432}"
db="${MOAT_PG_DATABASE:-moat_test}"
[[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "ensure-postgres: bad database name $db" >&2; exit 1; }
[[ "$port" =~ ^[0-9]+$ ]] || { echo "ensure-postgres: bad port $port" >&2; exit 1; }
base="/tmp/moat-pg-${port}"
data="${base}/data"
log="${base}/server.log"
lock="/tmp/moat-pg-${port}.lock"

say() { echo "ensure-postgres: $*" >&2; }

find_bindir() {
  local dir
  # Debian keeps server binaries (initdb, pg_ctl) out of PATH, one folder per major version: take the newest.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

bindir="$(find_bindir || true)"
if [ -z "$bindir" ]; then
  say "installing postgresql (apt-get)"
  bash "$(dirname "$0")/apt-install.sh" postgresql >&2 || { say "could not install postgresql"; exit 1; }
  bindir="$(find_bindir || true)"
  [ -n "$bindir" ] || { say "postgresql installed, but initdb/pg_ctl were not found under /usr/lib/postgresql"; exit 1; }
fi

# Root cannot run the server: use the postgres system user (the Debian package creates it).
if [ "$(id -u)" = "0" ]; then
  owner="postgres"
  id "$owner" >/dev/null 2>&1 || { say "user 'postgres' is missing (the postgresql package creates it)"; exit 1; }
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner="$(id -un)"
  as_owner() { "$@"; }
fi

if [ "${1:-}" = "stop" ]; then
  if [ -f "$data/PG_VERSION" ]; then as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2 || true; fi
  rm -rf "$base"
  exit 0
fi

if [ "${1:-}" = "halt" ]; then
  [ -f "$data/PG_VERSION" ] || { say "no cluster in $data"; exit 1; }
  as_owner "$bindir/pg_ctl" -D "$data" -m immediate -w stop >&2
  exit 0
fi

ready() { "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1; }

exec 9>"$lock"
flock -w 120 9 || { say "timed out waiting for $lock"; exit 1; }

if ! ready; then
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$base"
    mkdir -p "$base"
    chown "$owner" "$base"
    chmod 700 "$base"
    say "initdb in $data"
    # Trust on loopback only: a throw-away test cluster bound to 127.0.0.1. Local socket lives in $base.
    as_owner "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 9>&- \
      || { cat "$base/initdb.log" >&2; say "initdb failed"; exit 1; }
    {
      echo "local all all trust"
      echo "host all all 127.0.0.1/32 trust"
    } >"$data/pg_hba.conf"
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${base}'
max_connections = 200
EOF
  fi
  say "starting PostgreSQL on 127.0.0.1:${port}"
  # 9>&- : the server must not inherit the lock, or the next caller would wait for it forever.
  as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >&2 9>&- </dev/null \
    || { tail -n 30 "$log" >&2 || true; say "PostgreSQL did not start"; exit 1; }
fi

for _ in $(seq 1 100); do ready && break; sleep 0.1; done
ready || { say "PostgreSQL does not answer on 127.0.0.1:${port} (see $log)"; exit 1; }

psql_bin="$bindir/psql"; [ -x "$psql_bin" ] || psql_bin="psql"
exists="$("$psql_bin" -X -q -t -A -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "SELECT 1 FROM pg_database WHERE datname = '${db}'")"
if [ "$exists" != "1" ]; then
  "$psql_bin" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE \"${db}\"" >&2
fi
echo "postgres://postgres@127.0.0.1:${port}/${db}"
