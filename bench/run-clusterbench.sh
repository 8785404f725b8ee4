#!/usr/bin/env bash
# Cluster benchmark (issue 13): one local redis-server and two `switchboard serve --cluster` processes on free ports,
# measured by bench/Switchboard.ClusterBench in one run: raw Redis PUBLISH/SUBSCRIBE (the baseline), bus 1->1 on one
# node and across nodes, request p50/p99 on one node and across nodes, and last the time from SIGKILL of node B to
# #disconnect on node A. Every process started here is killed by its PID on exit; the whole run is bounded in time.
#
#   bench/run-clusterbench.sh                  # 3 s per throughput figure, 5000 requests per latency figure
#   bench/run-clusterbench.sh --seconds 5      # options are passed to Switchboard.ClusterBench
# Node a's switchboard_cluster_* counters from /metrics are printed to stderr at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "run-clusterbench: $*" >&2; }

command -v redis-server >/dev/null 2>&1 || {
    log "installing redis-server (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2; }
}

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 12000)) # below the ephemeral range, where client sockets bind
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# wait_line FILE PREFIX PID NAME: prints the first line of FILE starting with PREFIX, within 30 s.
wait_line() {
    for _ in $(seq 1 300); do
        local line
        line=$(grep -m1 "^$2" "$1" 2>/dev/null || true)
        [[ -n $line ]] && { echo "$line"; return 0; }
        kill -0 "$3" 2>/dev/null || { log "$4 exited"; cat "$1" >&2; return 1; }
        sleep 0.1
    done
    log "$4 did not print '$2' in 30 s"; cat "$1" >&2; return 1
}

log "building (Release)"
dotnet build src/Switchboard.Cli -c Release -nologo -v quiet >&2
dotnet build bench/Switchboard.ClusterBench -c Release -nologo -v quiet >&2

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!; PIDS+=("$REDIS_PID")
wait_line "$WORK/redis.log" ".*Ready to accept connections" "$REDIS_PID" redis-server >/dev/null

start_node() { # start_node ID [HTTP_PORT]: sets NODE_PID and NODE_ADDRESS
    dotnet "$ROOT/src/Switchboard.Cli/bin/Release/net10.0/Switchboard.Cli.dll" serve --port 0 --jsonl-port off \
        --http-port "${2:-off}" --cluster "redis://127.0.0.1:$REDIS_PORT" --cluster-name clusterbench --node-id "$1" \
        >"$WORK/$1.log" 2>&1 &
    NODE_PID=$!; PIDS+=("$NODE_PID")
    NODE_ADDRESS=$(wait_line "$WORK/$1.log" "listening: sb://" "$NODE_PID" "node $1")
    NODE_ADDRESS=${NODE_ADDRESS#listening: }
    wait_line "$WORK/$1.log" "cluster: " "$NODE_PID" "node $1" >&2
}
HTTP_PORT=$(free_port)
start_node a "$HTTP_PORT"; A_ADDRESS=$NODE_ADDRESS
start_node b; B_ADDRESS=$NODE_ADDRESS; B_PID=$NODE_PID
log "redis-server PID $REDIS_PID on 127.0.0.1:$REDIS_PORT; node a $A_ADDRESS; node b PID $B_PID $B_ADDRESS"

timeout 300 dotnet "$ROOT/bench/Switchboard.ClusterBench/bin/Release/net10.0/Switchboard.ClusterBench.dll" \
    --a "$A_ADDRESS" --b "$B_ADDRESS" --redis "127.0.0.1:$REDIS_PORT" --kill-pid "$B_PID" --kill-address "$B_ADDRESS" "$@"
# Node a's cluster counters after the run (lost messages, batches, publishes): why a figure is what it is.
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null | grep '^switchboard_cluster' >&2 || log "no /metrics from node a"
