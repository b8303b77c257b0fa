#!/usr/bin/env bash
# Run a command beside a private, throwaway PostgreSQL server:
#
#   bash scripts/postgres.sh COMMAND [ARG...]
#
# The server is a new cluster (initdb) in a temporary folder, on a random free port of
# 127.0.0.1, with a random password; COMMAND runs with its admin URL in TRIPWIRE_TEST_PG, and
# the server is stopped and its folder removed when COMMAND ends (or this script is stopped).
# Nothing of the system's own PostgreSQL is touched: no existing cluster is started, no role's
# password changed. It uses the installed binaries (/usr/lib/postgresql/*/bin, or initdb on
# PATH); only when there are none, and only as root on Debian, does it install Debian's
# `postgresql` package, saying so first. initdb refuses to run as root, so as root the server
# runs as the `postgres` user (or `nobody`) in a folder that user owns.
# Exit 69 (before running COMMAND) when no server could be started; else COMMAND's status.
set -euo pipefail
log() { echo "postgres.sh: $*" >&2; }
[ $# -gt 0 ] || { log "usage: bash scripts/postgres.sh COMMAND [ARG...]"; exit 2; }

find_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$d" ] && command -v initdb >/dev/null 2>&1; then d=$(dirname "$(command -v initdb)"); fi
  echo "$d"
}
bindir=$(find_bindir)
if [ -z "$bindir" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "no PostgreSQL binaries found: installing Debian's postgresql package (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # policy-rc.d 101: the package's own cluster is not started by the install.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    log "adding /usr/sbin/policy-rc.d for the install (so it starts no service); removed after"
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  apt-get install -y -qq --no-install-recommends postgresql >&2 || status=$?
  if [ "${added_policy:-}" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "${status:-0}" = 0 ] || { log "apt-get install postgresql failed"; exit 69; }
  bindir=$(find_bindir)
fi
if [ -z "$bindir" ]; then log "no PostgreSQL binaries found (install postgresql)"; exit 69; fi

# Who runs the server: ourselves, or as root an unprivileged user.
as=()
if [ "$(id -u)" = 0 ]; then
  user=postgres
  getent passwd postgres >/dev/null || user=nobody
  as=(runuser -u "$user" --)
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/tripwire-pg.XXXXXX")
chmod 700 "$dir"
[ ${#as[@]} -eq 0 ] || chown "$user" "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

pg() { local tool=$1; shift; (cd "$dir" && "${as[@]}" "$bindir/$tool" "$@"); }
stop() {
  pg pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

printf '%s\n' "$password" > "$dir/pw"
[ ${#as[@]} -eq 0 ] || chown "$user" "$dir/pw"
log "starting a throwaway server in $dir on 127.0.0.1:$port (stopped and removed at exit)"
pg initdb -D "$dir/data" -U postgres --auth=scram-sha-256 \
  --pwfile="$dir/pw" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
  pg initdb -D "$dir/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$dir/pw" -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
  { log "initdb failed:"; cat "$dir/initdb.log" >&2; exit 69; }
pg pg_ctl -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
  start >/dev/null ||
  { log "the server did not start:"; cat "$dir/log" >&2; exit 69; }
export TRIPWIRE_TEST_PG="postgresql+psycopg://postgres:$password@127.0.0.1:$port/postgres"
status=0
"$@" || status=$?
exit "$status"
