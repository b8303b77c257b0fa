#!/usr/bin/env bash
# Set everything up and run the whole test suite, on SQLite and on PostgreSQL.
#
# Changes to the system are said before they are made, and there are few: the virtualenv in
# .venv; Debian's postgresql package only if no PostgreSQL binaries are installed (root only);
# Debian's chromium for the browser tests only when TRIPWIRE_INSTALL_BROWSER=1 (root only).
# PostgreSQL tests use TRIPWIRE_TEST_PG when set, else a private throwaway server started by
# scripts/postgres.sh (a temporary cluster on a random port, stopped at exit); the system's
# own PostgreSQL clusters and roles are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "test.sh: $*" >&2; }
[ -x .venv/bin/python ] || say "creating the virtualenv .venv (python -m venv) and installing tripwire[test,inspect,s3] into it"
bash scripts/setup.sh test
if [ "${TRIPWIRE_INSTALL_BROWSER:-}" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "TRIPWIRE_INSTALL_BROWSER=1: installing Debian's chromium (apt-get install chromium)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >&2 ||
      { apt-get update -q >&2 && apt-get install -y -q chromium >&2; } ||
      say "could not install chromium: browser tests will be skipped"
  else
    say "TRIPWIRE_INSTALL_BROWSER=1 but not root on Debian: install chromium yourself"
  fi
elif [ ! -x /usr/bin/chromium ]; then
  say "no /usr/bin/chromium: browser tests will be skipped (TRIPWIRE_INSTALL_BROWSER=1 installs Debian's chromium as root)"
fi
if [ -n "${TRIPWIRE_TEST_PG:-}" ]; then
  exec .venv/bin/python -m pytest "$@"
fi
status=0
bash scripts/postgres.sh .venv/bin/python -m pytest "$@" || status=$?
if [ "$status" = 69 ]; then  # no server could be started (postgres.sh said why)
  say "PostgreSQL unavailable: its tests will be skipped (or set TRIPWIRE_TEST_PG)"
  exec .venv/bin/python -m pytest "$@"
fi
exit "$status"
