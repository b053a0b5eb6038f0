#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, and nothing when it is already there:
# npm packages (better-sqlite3 compiles from source here, a few minutes) and the TypeScript build.
# Long steps say what they do, about how long they take, and show a heartbeat, so a quiet terminal
# never looks like a hang.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runs "$@" and prints the elapsed time every 20 s until it ends; its own output goes through unchanged.
with_heartbeat() {
  local label=$1; shift
  local start=$SECONDS
  ( while sleep 20; do echo "    … still ${label} ($((SECONDS - start)) s so far)"; done ) &
  local ticker=$!
  local status=0
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$status" -eq 0 ]; then echo "    ${label}: done in $((SECONDS - start)) s"
  else echo "    ${label}: failed (exit ${status}) after $((SECONDS - start)) s" >&2; fi
  return "$status"
}

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci): about 330 packages; better-sqlite3 compiles its native"
  echo "    SQLite binding from source and the TypeScript build runs after it. Usually 2-5 minutes on"
  echo "    a laptop (longer on a small VM); npm itself prints little until it is done."
  with_heartbeat "installing npm packages" npm ci --no-audit --no-fund
else
  echo "==> compiling TypeScript (tsc -b; a few seconds when nothing changed, up to a minute after a pull)"
  with_heartbeat "compiling TypeScript" npx tsc -b packages/moat packages/hub
fi
# A native binding that failed to build must stop everything here, not surface as a skipped test.
node -e "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get()" \
  || { echo "better-sqlite3's native binding does not load; run: npm rebuild better-sqlite3" >&2; exit 1; }
