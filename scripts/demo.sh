#!/usr/bin/env bash
# Set everything up and run `tripwire demo` on the bundled public data (SQLite register).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tripwire demo "$@"
