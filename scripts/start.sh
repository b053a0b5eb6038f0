#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs the hub, the demo shop in managed mode and its traffic.
# `npm start -- --fresh` starts over with empty demo data; `npm start -- --help` lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
echo "==> starting the demo (hub, shop and traffic)"
exec node --import tsx demo/start.ts "$@"
