#!/usr/bin/env bash
# Starts a throw-away Redis Cluster for the shared rate-limit tests: three redis-server masters (no
# replicas) on 127.0.0.1, on free ports, without persistence, every slot assigned, and prints their
# ports on the last line of stdout ("P1 P2 P3"). Installs Debian's redis-server (and redis-tools, which
# holds redis-cli) through scripts/apt-install.sh when missing. Exits non-zero with a message on stderr,
# stopping whatever it started, when no cluster can be had.
#   scripts/ensure-redis-cluster.sh          start one, print its three ports (files in /tmp/moat-redis-cluster-<P1>)
#   scripts/ensure-redis-cluster.sh stop P1  stop the three nodes of the cluster whose first port is P1, delete its files
# Everything listens on, announces and is reached at 127.0.0.1 only (client and cluster-bus ports alike).
# Slow machines: every wait is a bounded polling loop (no sleep that assumes a speed); the whole start
# gives up after MOAT_REDIS_CLUSTER_WAIT_S seconds (default 60).
set -euo pipefail

say() { echo "ensure-redis-cluster: $*" >&2; }

# Whether PID is still the redis-server of 127.0.0.1:PORT (its process title; a pid is reused once its
# process is gone, and an exited one awaiting its parent has no title).
is_node() {
  local title
  title="$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true)"
  [[ "$title" == *"redis-server 127.0.0.1:$2 "* ]]
}

# Stops the nodes of one cluster directory (only processes that are redis-server on one of its own
# ports, as its pidfiles say), waits for them to exit (bounded) and deletes the directory.
stop_cluster() {
  local dir=$1 pidfile pid port node nodes=() deadline=$((SECONDS + 20))
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/redis-*.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    port="${pidfile##*/redis-}"; port="${port%.pid}"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    is_node "$pid" "$port" || continue
    kill "$pid" 2>/dev/null || true
    nodes+=("$pid:$port")
  done
  for node in ${nodes[@]+"${nodes[@]}"}; do
    while is_node "${node%%:*}" "${node##*:}"; do
      if [ "$SECONDS" -ge "$deadline" ]; then kill -9 "${node%%:*}" 2>/dev/null || true; break; fi
      sleep 0.1
    done
    # Exited: wait (bounded) for its parent, init, to reap it too, so no entry is left in the process list.
    while kill -0 "${node%%:*}" 2>/dev/null && [ "$SECONDS" -lt $((deadline + 5)) ]; do sleep 0.1; done
  done
  rm -rf "$dir"
}

if [ "${1:-}" = "stop" ]; then
  id="${2:?usage: ensure-redis-cluster.sh stop P1}"
  [[ "$id" =~ ^[0-9]+$ ]] || { say "bad port $id"; exit 2; }
  stop_cluster "/tmp/moat-redis-cluster-${id}"
  exit 0
fi
[ $# -eq 0 ] || { say "usage: ensure-redis-cluster.sh [stop P1]"; exit 2; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  say "installing redis-server and redis-tools (apt-get; waits for other apt users)"
  bash "$(dirname "$0")/apt-install.sh" redis-server redis-tools >&2 || exit 1
fi
# --cluster-port (the bus port, otherwise port + 10000, which may be past 65535) is Redis 7.0+.
major="$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')"
if [ -z "$major" ] || [ "$major" -lt 7 ]; then
  say "needs redis-server 7.0 or later (found: $(redis-server --version))"
  exit 1
fi

wait_s="${MOAT_REDIS_CLUSTER_WAIT_S:-60}"
[[ "$wait_s" =~ ^[0-9]+$ ]] || { say "bad MOAT_REDIS_CLUSTER_WAIT_S $wait_s"; exit 2; }

# One redis-cli command against 127.0.0.1:PORT, never waiting longer than 10 s.
cli() { local port=$1; shift; timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }

# One attempt; non-zero when a step fails (a port taken meanwhile, say): the caller then cleans up.
try_start() {
  local deadline=$((SECONDS + wait_s)) ports p i
  # Six free ports (three clients, three cluster buses) from the kernel, held together so they differ.
  ports="$(node -e "
    const net = require('net'); const servers = []; let left = 6;
    for (let i = 0; i < 6; i++) {
      const s = net.createServer(); servers.push(s);
      s.listen(0, '127.0.0.1', () => { if (--left === 0) { console.log(servers.map((x) => x.address().port).join(' ')); servers.forEach((x) => x.close()); } });
    }")"
  read -r -a all <<<"$ports"
  [ "${#all[@]}" -eq 6 ] || { say "could not get free ports"; return 1; }
  nodes=("${all[0]}" "${all[1]}" "${all[2]}")
  dir="/tmp/moat-redis-cluster-${nodes[0]}"
  stop_cluster "$dir" # leftovers of a run that was killed before its stop
  mkdir -p "$dir"
  for i in 0 1 2; do
    p="${nodes[$i]}"
    redis-server --bind 127.0.0.1 --port "$p" --protected-mode yes \
      --cluster-enabled yes --cluster-config-file "$dir/nodes-${p}.conf" --cluster-port "${all[$((i + 3))]}" \
      --cluster-announce-ip 127.0.0.1 --dir "$dir" --save '' --appendonly no \
      --daemonize yes --pidfile "$dir/redis-${p}.pid" --logfile "$dir/redis-${p}.log" >&2 \
      || { say "redis-server did not start on 127.0.0.1:${p}"; return 1; }
  done
  for p in "${nodes[@]}"; do
    until [ "$(cli "$p" ping || true)" = PONG ]; do
      # Daemonized, redis-server exits 0 before it binds: a port taken meanwhile shows in its log only.
      if grep -qs 'Failed listening\|aborting' "$dir/redis-${p}.log"; then say "redis-server could not listen on 127.0.0.1:${p}"; return 1; fi
      if [ "$SECONDS" -ge "$deadline" ]; then say "redis-server does not answer on 127.0.0.1:${p}"; return 1; fi
      sleep 0.1
    done
  done
  # Assigns the slots, introduces the nodes to each other and waits for them to agree (its own loop,
  # bounded here by what is left of the deadline).
  local left=$((deadline - SECONDS)); [ "$left" -gt 5 ] || left=5
  timeout "$left" redis-cli --cluster create "127.0.0.1:${nodes[0]}" "127.0.0.1:${nodes[1]}" "127.0.0.1:${nodes[2]}" \
    --cluster-replicas 0 --cluster-yes >&2 </dev/null \
    || { say "redis-cli --cluster create failed"; return 1; }
  # Every node must see the whole cluster: all three nodes known and every slot served.
  for p in "${nodes[@]}"; do
    until info="$(cli "$p" cluster info)" && grep -q '^cluster_state:ok' <<<"$info" \
      && grep -q '^cluster_known_nodes:3\s*$' <<<"$info" && grep -q '^cluster_slots_ok:16384\s*$' <<<"$info"; do
      if [ "$SECONDS" -ge "$deadline" ]; then say "127.0.0.1:${p} never reported cluster_state:ok"; return 1; fi
      sleep 0.2
    done
  done
}

for attempt in 1 2 3; do
  nodes=(); dir=""
  if try_start; then
    echo "${nodes[*]}"
    exit 0
  fi
  for log in "$dir"/redis-*.log; do [ -f "$log" ] && { say "--- ${log##*/}"; tail -n 20 "$log" >&2; }; done
  [ -n "$dir" ] && stop_cluster "$dir"
  say "attempt ${attempt} failed"
done
say "could not start a Redis Cluster"
exit 1
