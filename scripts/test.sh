#!/usr/bin/env bash
# Set everything up and run the whole test suite, on SQLite and on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Browser tests drive Debian's chromium (never a downloaded browser); install it when we can.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y chromium >/dev/null 2>&1 \
    || { apt-get update >/dev/null 2>&1 && apt-get install -y chromium >/dev/null 2>&1; } \
    || echo "could not install chromium: browser tests will be skipped" >&2
fi
if [ -z "${TRIPWIRE_TEST_PG:-}" ]; then
  if url=$(bash scripts/postgres.sh); then
    export TRIPWIRE_TEST_PG="$url"
  else
    echo "PostgreSQL unavailable: its tests will be skipped (set TRIPWIRE_TEST_PG)" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
