#!/usr/bin/env bash
# Installs the Debian packages the tests use, in one apt-get run, before any test starts:
# chromium (driven by playwright-core; no browser download), redis-server (shared rate limits) and
# postgresql (the hub's second store). Idempotent: installs only what is missing. The tests start
# their own throwaway servers on 127.0.0.1 (scripts/ensure-redis.sh, scripts/ensure-postgres.sh).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: chromium, redis-server, postgresql"
  exit 0
fi
echo "==> installing ${missing[*]} (apt-get; waits for other apt users instead of failing)"
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
