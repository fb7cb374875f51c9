#!/usr/bin/env bash
# Finds or starts a PostgreSQL server for the tests and the demo, and prints its URL.
#   1. $DATABASE_URL when set;
#   2. else a server already answering on 127.0.0.1:${PGPORT_PRIVATE:-55432} (ours, from an
#      earlier run) or on 127.0.0.1:5432 that accepts postgres without a password;
#   3. else a private cluster in .pgdata/ (git-ignored) of this checkout, installing
#      Debian's postgresql package first when no server binaries are on the machine.
# Everything but the URL goes to stderr, so `DATABASE_URL=$(scripts/pg-ensure.sh)` works.
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then echo "$DATABASE_URL"; exit 0; fi

top=$(cd "$(dirname "$0")/.." && pwd)
port=${PGPORT_PRIVATE:-55432}
private_url="postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable"
log() { echo "pg-ensure: $*" >&2; }

answers() { # url
  command -v psql >/dev/null 2>&1 || return 1
  PGCONNECT_TIMEOUT=2 psql "$1" -XAtqc 'select 1' >/dev/null 2>&1
}

if answers "$private_url"; then echo "$private_url"; exit 0; fi
if answers "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; then
  echo "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"; exit 0
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "no PostgreSQL server binaries found; install Debian's 'postgresql' package (as root: apt-get install -y postgresql) or set DATABASE_URL"
    exit 1
  fi
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

base="$top/.pgdata"
data="$base/data"
run="$base/run"
mkdir -p "$base" "$run"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres system user.
  chown postgres:postgres "$base" "$run"
  as_pg=(runuser -u postgres --)
fi

if [ ! -s "$data/PG_VERSION" ]; then
  log "creating a private cluster in $data"
  rm -rf "$data"
  "${as_pg[@]}" "$bindir/initdb" -D "$data" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 \
    || { cat "$base/initdb.log" >&2; exit 1; }
fi

if ! "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  log "starting the private cluster on 127.0.0.1:$port"
  # Durability settings stay at their defaults: the benchmarks measure the hub with them on.
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start \
    -o "-k $run -p $port -c listen_addresses=127.0.0.1 -c max_connections=300" >&2 \
    || { tail -n 30 "$base/server.log" >&2; exit 1; }
fi

for _ in $(seq 1 50); do
  if answers "$private_url"; then echo "$private_url"; exit 0; fi
  sleep 0.2
done
log "the private cluster did not answer on port $port (see $base/server.log)"
exit 1
