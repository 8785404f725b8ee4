#!/usr/bin/env bash
# End-to-end load test: Switchboard against nats-server (Debian's package) on this machine, measured by the same
# generator (bench/Switchboard.LoadTest) over raw sockets. Both brokers run as separate processes, so their CPU time
# and RSS are read from /proc alone. Writes the table as markdown to stdout and to docs/loadtest-results.md.
#
#   bench/run-loadtest.sh                         # defaults: every scenario, 3 runs x 3 s each (about 5 minutes)
#   bench/run-loadtest.sh --runs 1 --duration 1   # any Switchboard.LoadTest 'run' option is passed through
#   bench/run-loadtest.sh --memory --scenarios S1,S2,S3,S4,S5,S6   # plus the memory report (issue 16 item 1): each
#                                                 # broker's RSS idle right after start, after the scenarios + 30 s idle,
#                                                 # and per idle connection of 2,000 opened, closed, 2,000 opened again
#   bench/run-loadtest.sh --tls --scenarios S1,S4 # plus the same scenarios over TLS: a second nats-server and a second
#                                                 # Switchboard broker with a self-signed certificate made by openssl
#                                                 # for this run (the generator pins it), measured after the plain ones
#   bench/run-loadtest.sh --clients --runs 3      # plus a second table, "BusClient vs NATS.Net" (issue 16 item 3): the same
#                                                 # brokers driven by the real .NET clients through the client versions of
#                                                 # S1-S4, S6-S8 (those of --scenarios), with the clients' bytes per message
#   bench/run-loadtest.sh --gateways --runs 3     # plus the gateways (issue 16 item 5), on a second `switchboard serve` with
#                                                 # its JSON-lines and HTTP ports on: S1 over JSON lines beside nats-server's
#                                                 # text protocol; S1 over WebSocket (/ws) beside the same broker's TCP; S9,
#                                                 # 1 publisher to 1,000 SSE streams beside 1,000 binary and 1,000 NATS
#                                                 # subscribers (window 100 messages, under an SSE stream's 1,024 queue)
#
# SB_SERVER=cli|loadtest chooses how the Switchboard broker is started: 'cli' is `switchboard serve` (src/Switchboard.Cli,
# used by default when it is committed and builds), 'loadtest' is the generator's own bare BrokerHost (`serve`).
# RESULTS=path changes the output file (default docs/loadtest-results.md).
set -euo pipefail

MEMORY=0
TLS=0
CLIENTS=0
GATEWAYS=0
while [[ ${1:-} == --memory || ${1:-} == --tls || ${1:-} == --clients || ${1:-} == --gateways ]]; do
    [[ $1 == --memory ]] && MEMORY=1
    [[ $1 == --tls ]] && TLS=1
    [[ $1 == --clients ]] && CLIENTS=1
    [[ $1 == --gateways ]] && GATEWAYS=1
    shift
done

# The options given without --scenarios (runs, duration, ...), and the scenarios asked for (default S1-S8, as the load tool): the client
# and gateway tables pick their own scenarios.
COMMON=()
ASKED=S1,S2,S3,S4,S5,S6,S7,S8
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
    if [[ ${ARGS[i]} == --scenarios ]]; then
        ASKED=${ARGS[i + 1]:-}
        i=$((i + 1))
    else
        COMMON+=("${ARGS[i]}")
    fi
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS=${RESULTS:-docs/loadtest-results.md}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "run-loadtest: $*" >&2; }

# S5 opens 2000 connections to each broker: both brokers and the generator inherit this limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if ! command -v nats-server >/dev/null 2>&1; then
    log "installing nats-server (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y nats-server >&2; }
fi

log "building (Release)"
dotnet build bench/Switchboard.LoadTest -c Release -nologo -v quiet >&2
LOADTEST=(dotnet "$ROOT/bench/Switchboard.LoadTest/bin/Release/net10.0/Switchboard.LoadTest.dll")

SB_SERVER=${SB_SERVER:-auto}
if [[ $SB_SERVER == auto ]]; then
    SB_SERVER=loadtest
    if git ls-files --error-unmatch src/Switchboard.Cli/Switchboard.Cli.csproj >/dev/null 2>&1 \
        && dotnet build src/Switchboard.Cli -c Release -nologo -v quiet >&2; then
        SB_SERVER=cli
    fi
elif [[ $SB_SERVER == cli ]]; then
    dotnet build src/Switchboard.Cli -c Release -nologo -v quiet >&2
fi
if [[ $SB_SERVER == cli ]]; then
    SB_COMMAND=(dotnet "$ROOT/src/Switchboard.Cli/bin/Release/net10.0/Switchboard.Cli.dll" serve)
    # Only the binary protocol, like nats-server's one client port: turn off the gateways this CLI version has
    # (their default ports could also be taken by another broker on this machine).
    SERVE_HELP=$("${SB_COMMAND[@]}" --help 2>&1 || true)
    for gateway in --jsonl-port --http-port; do
        if grep -q -- "$gateway" <<<"$SERVE_HELP"; then
            SB_COMMAND+=("$gateway" off)
        fi
    done
    # S5 opens 200 + runs x 2,000 connections from 127.0.0.1, more than the default per-address limit (10,000) with
    # --runs 5: lift both connection limits to nats-server's default max_connections (64K, no per-address limit).
    for limit in --max-connections-per-address --max-connections; do
        if grep -q -- "$limit" <<<"$SERVE_HELP"; then
            SB_COMMAND+=("$limit" 65536)
        fi
    done
    SB_HOW="switchboard serve (src/Switchboard.Cli, Release)${SB_COMMAND[3]:+ with ${SB_COMMAND[*]:3}}"
else
    SB_COMMAND=("${LOADTEST[@]}" serve)
    SB_HOW="Switchboard.LoadTest serve (BrokerHost with default BrokerOptions but MaxConnections and MaxConnectionsPerAddress 65536, like nats-server's default max_connections, Release)"
fi

wait_port() { # port pid name
    for _ in $(seq 1 300); do
        kill -0 "$2" 2>/dev/null || { log "$3 exited before listening"; return 1; }
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    log "$3 is not listening on 127.0.0.1:$1 after 30 s"
    return 1
}

NATS_PORT=$("${LOADTEST[@]}" free-port)
nats-server -a 127.0.0.1 -p "$NATS_PORT" >"$WORK/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
SB_PORT=$("${LOADTEST[@]}" free-port)
"${SB_COMMAND[@]}" --port "$SB_PORT" >"$WORK/switchboard.log" 2>&1 &
SB_PID=$!
PIDS+=("$SB_PID")
wait_port "$NATS_PORT" "$NATS_PID" nats-server || { cat "$WORK/nats.log" >&2; exit 1; }
wait_port "$SB_PORT" "$SB_PID" Switchboard || { cat "$WORK/switchboard.log" >&2; exit 1; }
log "nats-server PID $NATS_PID on 127.0.0.1:$NATS_PORT; Switchboard PID $SB_PID on 127.0.0.1:$SB_PORT"

if [[ $TLS == 1 ]]; then
    command -v openssl >/dev/null 2>&1 || { log "installing openssl"; DEBIAN_FRONTEND=noninteractive apt-get install -y openssl >&2; }
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
    NATS_TLS_PORT=$("${LOADTEST[@]}" free-port)
    nats-server -a 127.0.0.1 -p "$NATS_TLS_PORT" --tls --tlscert "$WORK/tls.crt" --tlskey "$WORK/tls.key" >"$WORK/nats-tls.log" 2>&1 &
    NATS_TLS_PID=$!
    PIDS+=("$NATS_TLS_PID")
    SB_TLS_PORT=$("${LOADTEST[@]}" free-port)
    "${SB_COMMAND[@]}" --port "$SB_TLS_PORT" --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" >"$WORK/switchboard-tls.log" 2>&1 &
    SB_TLS_PID=$!
    PIDS+=("$SB_TLS_PID")
    wait_port "$NATS_TLS_PORT" "$NATS_TLS_PID" "nats-server (TLS)" || { cat "$WORK/nats-tls.log" >&2; exit 1; }
    wait_port "$SB_TLS_PORT" "$SB_TLS_PID" "Switchboard (TLS)" || { cat "$WORK/switchboard-tls.log" >&2; exit 1; }
    log "TLS: nats-server PID $NATS_TLS_PID on 127.0.0.1:$NATS_TLS_PORT; Switchboard PID $SB_TLS_PID on 127.0.0.1:$SB_TLS_PORT"
fi

if [[ $GATEWAYS == 1 ]]; then
    if [[ $SB_SERVER != cli ]]; then
        log "--gateways needs switchboard serve (src/Switchboard.Cli): the gateways are not measured"
        GATEWAYS=0
    else
        # A broker of its own with both gateways on (the first keeps only the binary port, like nats-server), as many
        # SSE clients from 127.0.0.1 as S9 opens, and the same connection limits.
        GW_PORT=$("${LOADTEST[@]}" free-port)
        GW_JSONL=$("${LOADTEST[@]}" free-port)
        GW_HTTP=$("${LOADTEST[@]}" free-port)
        dotnet "$ROOT/src/Switchboard.Cli/bin/Release/net10.0/Switchboard.Cli.dll" serve --port "$GW_PORT" --jsonl-port "$GW_JSONL" --http-port "$GW_HTTP" \
            --sse-max-clients 4000 --sse-max-clients-per-address 4000 --max-connections-per-address 65536 --max-connections 65536 >"$WORK/gateways.log" 2>&1 &
        GW_PID=$!
        PIDS+=("$GW_PID")
        wait_port "$GW_HTTP" "$GW_PID" "Switchboard (gateways)" || { cat "$WORK/gateways.log" >&2; exit 1; }
        wait_port "$GW_JSONL" "$GW_PID" "Switchboard (gateways)" || { cat "$WORK/gateways.log" >&2; exit 1; }
        log "gateways: Switchboard PID $GW_PID on 127.0.0.1:$GW_PORT, JSON lines :$GW_JSONL, HTTP :$GW_HTTP"
    fi
fi

rss_mib() { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }
# (a) idle right after start: both brokers are listening; give a starting runtime a moment to finish its startup work.
if [[ $MEMORY == 1 ]]; then
    sleep 2
    SB_RSS_START=$(rss_mib "$SB_PID")
    NATS_RSS_START=$(rss_mib "$NATS_PID")
fi

NATS_VERSION=$(nats-server --version 2>&1 | head -1)
DOTNET_VERSION=$(dotnet --version)
COMMIT=$(git rev-parse --short HEAD)
DIRTY=$(git status --porcelain -- src | wc -l)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

"${LOADTEST[@]}" run \
    --switchboard "$SB_PORT:$SB_PID" --switchboard-label "commit $COMMIT$([[ $DIRTY != 0 ]] && echo " + $DIRTY uncommitted change(s) under src/"), $SB_HOW, .NET SDK $DOTNET_VERSION" \
    --nats "$NATS_PORT:$NATS_PID" --nats-label "$NATS_VERSION (Debian package), defaults" \
    --clk-tck "$(getconf CLK_TCK)" \
    "$@" >"$WORK/table.md" || RUN_STATUS=$?

if [[ $TLS == 1 ]]; then
    "${LOADTEST[@]}" run \
        --switchboard "$SB_TLS_PORT:$SB_TLS_PID" --switchboard-label "the same broker build with --tls-cert/--tls-key (sbs://)" \
        --nats "$NATS_TLS_PORT:$NATS_TLS_PID" --nats-label "$NATS_VERSION with --tls --tlscert --tlskey" \
        --clk-tck "$(getconf CLK_TCK)" --tls "$WORK/tls.crt" \
        "$@" >"$WORK/tls.md" || RUN_STATUS=$?
    {
        echo
        echo "## The same scenarios over TLS (\`--tls\`)"
        echo
        echo "Both brokers again, each a second process with a self-signed RSA 2048 certificate made by openssl for this run (TLS 1.3 as negotiated by .NET's SslStream in the generator, which pins the certificate); NATS connections upgrade after the server's plaintext INFO, as nats-server expects."
        echo
        cat "$WORK/tls.md"
    } >>"$WORK/table.md"
fi

if [[ $MEMORY == 1 ]]; then
    log "memory: 30 s idle after the scenarios"
    sleep 30
    SB_RSS_IDLE=$(rss_mib "$SB_PID")
    NATS_RSS_IDLE=$(rss_mib "$NATS_PID")
    "${LOADTEST[@]}" memory --switchboard "$SB_PORT:$SB_PID" --nats "$NATS_PORT:$NATS_PID" >"$WORK/memory.md" || RUN_STATUS=$?
    {
        echo
        echo "Memory (\`--memory\`; VmRSS from /proc/PID/status; targets for Switchboard: (a) ≤ 60 MB, (b) ≤ 100 MB, (c) batch 2 no more than batch 1):"
        echo
        echo "| broker | (a) idle, 2 s after start | (b) after the scenarios ($(grep -o -- '--scenarios [^ ]*' <<<"$*" || echo all)) + 30 s idle |"
        echo "|---|---:|---:|"
        echo "| Switchboard | $SB_RSS_START | $SB_RSS_IDLE |"
        echo "| nats-server | $NATS_RSS_START | $NATS_RSS_IDLE |"
        echo
        echo "(c) Idle connections: a batch of 2,000 opened (handshake done, keep-alive pings only), all closed, a second batch of 2,000 opened; the RSS cost per connection of each batch:"
        echo
        cat "$WORK/memory.md"
    } >>"$WORK/table.md"
fi

# After the memory report, so that its "after the scenarios" reading is of the raw scenarios alone.
if [[ $CLIENTS == 1 ]]; then
    CLIENT_SCENARIOS=$(tr ',' '\n' <<<"$ASKED" | grep -xE 'S[1234678]' | paste -sd, -)
    if [[ -n $CLIENT_SCENARIOS ]]; then
        "${LOADTEST[@]}" run --clients \
            --switchboard "$SB_PORT:$SB_PID" --switchboard-label "the same broker as above, driven by BusClient (src/Switchboard, this commit)" \
            --nats "$NATS_PORT:$NATS_PID" --nats-label "the same nats-server as above, driven by NATS.Net 3.3.2" \
            --clk-tck "$(getconf CLK_TCK)" --scenarios "$CLIENT_SCENARIOS" \
            "${COMMON[@]}" >"$WORK/clients.md" || RUN_STATUS=$?
        {
            echo
            echo "## BusClient vs NATS.Net (\`--clients\`)"
            echo
            echo "The same two brokers, now driven by each one's real .NET client in this generator process (issue 16 item 3; target: BusClient ≥ 2× NATS.Net on S1–S3 and S6, p50 and p99 below it)."
            echo
            cat "$WORK/clients.md"
        } >>"$WORK/table.md"
    fi
fi

if [[ $GATEWAYS == 1 ]]; then
    gateway_table() { # title, then the run's own options
        local title=$1
        shift
        "${LOADTEST[@]}" run --clk-tck "$(getconf CLK_TCK)" "$@" "${COMMON[@]}" >"$WORK/gateway.md" || RUN_STATUS=$?
        { echo; echo "### $title"; echo; cat "$WORK/gateway.md"; } >>"$WORK/gateways.md"
    }
    : >"$WORK/gateways.md"
    GW_LABEL="switchboard serve with --jsonl-port and --http-port on (a broker process of its own)"
    gateway_table "JSON-lines gateway vs nats-server's text protocol, both by raw client (S1)" --scenarios S1 \
        --switchboard-jsonl "$GW_JSONL:$GW_PID" --switchboard-label "$GW_LABEL" --nats "$NATS_PORT:$NATS_PID" --nats-label "$NATS_VERSION, text protocol"
    gateway_table "WebSocket (/ws) vs TCP, the binary protocol on one broker (S1)" --scenarios S1 \
        --switchboard-ws "$GW_HTTP:$GW_PID" --switchboard "$GW_PORT:$GW_PID" --switchboard-label "$GW_LABEL"
    gateway_table "SSE fan-out: 1 publisher to 1,000 SSE streams, beside 1,000 binary and 1,000 NATS subscribers (S9)" --scenarios S9 --window 100 \
        --switchboard-sse "$GW_HTTP:$GW_PID" --switchboard "$GW_PORT:$GW_PID" --switchboard-label "$GW_LABEL" --nats "$NATS_PORT:$NATS_PID" --nats-label "$NATS_VERSION"
    {
        echo
        echo "## Gateways (\`--gateways\`)"
        echo
        echo "Issue 16 item 5: each gateway beside its baseline in the same run; the ratio is the first column over the second."
        cat "$WORK/gateways.md"
    } >>"$WORK/table.md"
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# Did either broker log a problem (slow consumer, error)?
SB_LOG=$(grep -ciE 'warn|fail|error|slow' "$WORK/switchboard.log" || true)
NATS_LOG=$(grep -ciE '\[(WRN|ERR)\]|slow consumer' "$WORK/nats.log" || true)

{
    echo "# Load test: Switchboard against nats-server"
    echo
    echo "Generated by \`bench/run-loadtest.sh\` on $STARTED; do not edit by hand."
    echo
    echo "- Command: \`bench/run-loadtest.sh$([[ $MEMORY == 1 ]] && echo " --memory")$([[ $TLS == 1 ]] && echo " --tls")$([[ $CLIENTS == 1 ]] && echo " --clients")$([[ $GATEWAYS == 1 ]] && echo " --gateways")${*:+ $*}\`"
    echo "- Machine: $(nproc) CPU(s), $(lscpu | grep 'Model name' | sed 's/Model name:[[:space:]]*//'), $(uname -sr); load average $LOAD_BEFORE before, $LOAD_AFTER after (the generator and both brokers share these CPUs)"
    echo "- Switchboard: $SB_HOW; commit $COMMIT$([[ $DIRTY != 0 ]] && echo " with $DIRTY uncommitted change(s) under src/"); .NET SDK $DOTNET_VERSION"
    echo "- nats-server: $NATS_VERSION (Debian package), started as \`nats-server -a 127.0.0.1 -p PORT\`"
    echo "- Generator: bench/Switchboard.LoadTest, one code path for both brokers (raw sockets, pre-encoded publications in batches of up to 64 KiB per send, TCP_NODELAY, one receive thread per connection, the same end-to-end window); Switchboard publishes channel event \`#bench\` from a declared sender and listens with LISTEN(any sender, \`#bench\`); NATS uses subject \`bench\`"
    echo "- Broker log lines that look like warnings or errors: Switchboard $SB_LOG, nats-server $NATS_LOG"
    echo
    cat "$WORK/table.md"
} >"$WORK/report.md"

cat "$WORK/report.md"
if [[ -s "$WORK/table.md" ]]; then
    mkdir -p "$(dirname "$RESULTS")"
    cp "$WORK/report.md" "$RESULTS"
    log "wrote $RESULTS"
else
    # A usage error (an unknown option) measures nothing: keep the results file that is there.
    log "the generator measured nothing (exit ${RUN_STATUS:-0}); $RESULTS left as it was"
fi
exit "${RUN_STATUS:-0}"
