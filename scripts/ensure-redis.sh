#!/usr/bin/env bash
# Starts a throw-away redis-server for the lookup benchmark (the Wafris v1 design) on 127.0.0.1, on a
# free port, without persistence, and prints that port on the last line of stdout. Installs Debian's
# redis-server first when it is missing (the bench machine runs as root). Exits non-zero with a message
# on stderr when Redis cannot be had; the bench then skips that row.
#   scripts/ensure-redis.sh            start one, print its port (pidfile /tmp/moat-bench-redis-<port>.pid)
#   scripts/ensure-redis.sh stop PORT  stop the one started on PORT
set -euo pipefail

if [ "${1:-}" = "stop" ]; then
  port="${2:?usage: ensure-redis.sh stop PORT}"
  pidfile="/tmp/moat-bench-redis-${port}.pid"
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
  rm -f "/tmp/moat-bench-redis-${port}.log"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "==> installing redis-server (apt-get)" >&2
  bash "$(dirname "$0")/apt-install.sh" redis-server >&2 || exit 1
fi

# A free port: ask the kernel via Node (always present here), so two benches never collide.
port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
pidfile="/tmp/moat-bench-redis-${port}.pid"
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
  --pidfile "$pidfile" --logfile "/tmp/moat-bench-redis-${port}.log" --protected-mode yes >&2

# Wait (bounded: 5 s) until it answers.
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
    echo "$port"
    exit 0
  fi
  sleep 0.1
done
echo "redis-server did not answer on 127.0.0.1:${port} (see /tmp/moat-bench-redis-${port}.log)" >&2
[ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
exit 1
