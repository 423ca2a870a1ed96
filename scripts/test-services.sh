#!/usr/bin/env bash
# What the tests need beside Python: a PostgreSQL (DATABASE_URL / TEST_DATABASE_URL, or the
# server binaries for a throwaway cluster) and sipp (Debian's sip-tester), the SIP driver's
# callee. Missing ones are installed with apt when we may. Without sipp the SIP tests fail
# (they never skip), each saying why; the rest of the suite still runs.
set -euo pipefail

need_pg=1
if [[ -n "${TEST_DATABASE_URL:-}${DATABASE_URL:-}" ]] \
  || command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  need_pg=0
fi
need_sipp=1
if command -v sipp >/dev/null 2>&1; then
  need_sipp=0
fi

packages=()
[[ $need_pg -eq 1 ]] && packages+=(postgresql)
[[ $need_sipp -eq 1 ]] && packages+=(sip-tester)
if [[ ${#packages[@]} -gt 0 ]] && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing for the test suite: apt-get install ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
  && [[ -z "${TEST_DATABASE_URL:-}${DATABASE_URL:-}" ]]; then
  echo "note: no PostgreSQL found; the PostgreSQL tests will be skipped (and fail under CI)." >&2
  echo "      install postgresql or set TEST_DATABASE_URL=postgresql://…" >&2
fi
if ! command -v sipp >/dev/null 2>&1; then
  echo "WARNING: sipp not found and not installable here; the SIP driver's tests will FAIL." >&2
  echo "         install Debian's sip-tester (apt-get install sip-tester) or put sipp on PATH." >&2
fi
