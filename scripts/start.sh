#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs the hub, the demo shop in managed mode and its traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node --import tsx demo/start.ts "$@"
