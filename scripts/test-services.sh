#!/usr/bin/env bash
# The tests need a PostgreSQL: DATABASE_URL / TEST_DATABASE_URL, or the server binaries for a
# throwaway cluster. Install the binaries with apt when they are missing and we may.
set -euo pipefail

if [[ -n "${TEST_DATABASE_URL:-}${DATABASE_URL:-}" ]]; then
  exit 0
fi
if command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL for the test suite (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "note: no PostgreSQL found; the PostgreSQL tests will be skipped (and fail under CI)." >&2
echo "      install postgresql or set TEST_DATABASE_URL=postgresql://…" >&2
