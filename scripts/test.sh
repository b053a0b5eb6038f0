#!/usr/bin/env bash
# `npm test`: sets up everything the tests need on a fresh machine, then runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
if [ -f scripts/setup-browser.sh ]; then bash scripts/setup-browser.sh; fi
exec node scripts/test.mjs "$@"
