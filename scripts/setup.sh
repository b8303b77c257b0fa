#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install tripwire into it. `setup.sh test` adds the test and
# Inspect extras. Safe to run again: an existing .venv is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  py=""
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      py="$cand"; break
    fi
  done
  if [ -z "$py" ]; then
    echo "tripwire needs Python >= 3.11 (python3.11 or newer on PATH)" >&2; exit 2
  fi
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
fi
spec="."
if [ "$extras" = "test" ]; then spec=".[test,inspect,s3]"; fi
.venv/bin/python -m pip install -q -e "$spec" 2>&1 | grep -vE '^(WARNING: Location|\s*$)' || true
.venv/bin/python -c 'import tripwire' || { echo "tripwire failed to install" >&2; exit 2; }
