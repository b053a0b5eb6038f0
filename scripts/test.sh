#!/usr/bin/env bash
# `npm test`: sets up everything the tests need on a fresh machine, then runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/setup-system.sh
# Node.js 22 and 24 for the runtime tests (about 100 MB from the npm registry, once).
bash scripts/ensure-node-runtimes.sh
exec node scripts/test.mjs "$@"
