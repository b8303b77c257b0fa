#!/usr/bin/env bash
# Set everything up and run the whole test suite, on SQLite and on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ -z "${TRIPWIRE_TEST_PG:-}" ]; then
  if url=$(bash scripts/postgres.sh); then
    export TRIPWIRE_TEST_PG="$url"
  else
    echo "PostgreSQL unavailable: its tests will be skipped (set TRIPWIRE_TEST_PG)" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
