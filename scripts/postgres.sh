#!/usr/bin/env bash
# Make a PostgreSQL server available for the tests and print its admin URL on stdout.
# Root on Debian: installs Debian's `postgresql` package if missing and starts its cluster.
# Otherwise: starts a private server from the installed binaries in .pgtest/ (port 54329).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "postgres: $*" >&2; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
if [ -z "$bindir" ]; then log "no PostgreSQL binaries found"; exit 1; fi
ver=$(basename "$(dirname "$bindir")")
if [ "$(id -u)" = 0 ]; then
  if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
    pg_createcluster "$ver" main >&2
  fi
  pg_ctlcluster "$ver" main start >&2 2>/dev/null || true
  port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
  for _ in $(seq 1 30); do
    su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break; sleep 1
  done
  su postgres -c "psql -p $port -qc \"ALTER USER postgres PASSWORD 'tripwire'\"" >/dev/null
  echo "postgresql+psycopg://postgres:tripwire@127.0.0.1:$port/postgres"
else
  data=.pgtest/data; port=54329
  if [ ! -d "$data" ]; then
    mkdir -p .pgtest && "$bindir/initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  "$bindir/pg_ctl" -D "$data" -o "-p $port -k $(pwd)/.pgtest -c listen_addresses=127.0.0.1" \
    -l .pgtest/log -w status >/dev/null 2>&1 ||
  "$bindir/pg_ctl" -D "$data" -o "-p $port -k $(pwd)/.pgtest -c listen_addresses=127.0.0.1" \
    -l .pgtest/log -w start >&2
  echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
fi
