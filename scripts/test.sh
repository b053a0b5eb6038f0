#!/usr/bin/env bash
# `npm test`: sets up everything the tests need on a fresh machine, then runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/setup-system.sh
exec node scripts/test.mjs "$@"
