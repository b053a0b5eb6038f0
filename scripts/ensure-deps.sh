#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, and nothing when it is already there:
# npm packages (better-sqlite3 compiles from source here, about a minute) and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
else
  npx tsc -b packages/moat packages/hub
fi
# A native binding that failed to build must stop everything here, not surface as a skipped test.
node -e "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get()" \
  || { echo "better-sqlite3's native binding does not load; run: npm rebuild better-sqlite3" >&2; exit 1; }
