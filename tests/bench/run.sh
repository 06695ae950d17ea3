#!/usr/bin/env bash
# sockwire beside the fastest Rust WebSocket crates, in one command:
#
#   bash tests/bench/run.sh            # short run (the default; a few minutes on 2 cores)
#   bash tests/bench/run.sh --full     # longer measurement, steadier numbers
#   options: --only criterion|load|sio|recovery|cluster run one part (sio: the Socket.IO
#            servers below; recovery: the delivery check of connection state recovery;
#            cluster: broadcasts across two nodes joined through Redis)
#            --filter REGEX            criterion benchmarks to run (e.g. 'decode/')
#
# Prints the sockwire / peer / ratio table (ratio > 1: sockwire is better) and writes
# target/bench/summary.json (rows: bench, unit, sockwire, peer, peer_value, ratio),
# target/bench/summary.md (the table with the machine) and the raw load results.
# The load tests use 127.0.0.1 only; every loop in them is bounded in time.
#
# The Socket.IO part (`src/bin/sio_fleet.rs`: a fleet of Socket.IO clients over
# WebSocket in one thread, speaking the protocol as socket.io-client's WebSocket
# transport does; SIO_FLEET=node uses `sio_fleet.mjs` instead, real socket.io-client
# 4.8 clients in one Node process, which cannot answer 1,000 clients' pings every
# 300 ms on a loaded 2-core machine) runs 1,000 clients against the std runner
# (examples/sio_server.rs), the tokio server (examples/tokio_server.rs), Node
# socket.io 4.8 (tests/peers/sio_server.mjs) and socketioxide, all at pingInterval
# 300 ms / pingTimeout 200 ms: server CPU over 10 s with no client, connect rate,
# server CPU over 10 idle seconds and RSS with the 1,000 clients connected, round
# trips for 5 s, ack round trips for 5 s; then 10,000 clients held 10 s on each
# server but the std runner (4,096 connections at most: RSS per connection, CPU; zero
# errors required). The server has one core, the clients the
# other. Then the broadcast fan-out (`src/bin/sio_fanout.rs`: 1,000 clients and one
# sender in one thread; `broadcast` -> `broadcast-back` to `/`, then to one of 10
# rooms) against the same three servers: deliveries/s, per server CPU-s, refused and
# missing deliveries, the fleet's own CPU; there also against `socketioxide` 0.18 over
# hyper on one thread (`src/bin/sio_socketioxide.rs`, its default 128-packet buffer).
# Rows `sio/...`, the peers `socket.io` and `socketioxide`.
# The recovery part (`src/bin/sio_recovery.rs`, on tests/common/delivery.rs): 1,000
# clients behind a chaos proxy that cuts every connection 2 to 5 s after it opened (a
# third of the cuts silent on the server side, new connections held up to 0.5 s)
# while a sender has the server broadcast 300 numbered events to their room, one
# every 50 ms; per client received, missing, duplicated, out of order. socket.io-client
# 4.8 clients (one Node process), then sockwire clients (examples/sio_client.rs's
# command line, a thread each), against the std runner with --recovery (which also
# reports its recovery log at its peak and its peak RSS), Node socket.io 4.8 with
# connectionStateRecovery and without; pingInterval 1000 ms / pingTimeout 1000 ms
# (1,000 Node clients in one process cannot keep the 300 ms of the test server).
# Not pinned: server, proxy and clients share both cores (pinned to one core each,
# the Node server could not keep up with 1,000 clients reconnecting every 2 s).
# Rows `sio/recovery/...`, peers `socket.io` and `socket.io without recovery`.
# The cluster part (`src/bin/sio_fanout.rs` with two ports): a redis-server of its own
# on a free 127.0.0.1 port (missing: an error), then the broadcast fan-out to `/` for
# 5 s with 1,000 clients on one node alone (no Redis: the baseline), then on each of
# two nodes joined through that Redis (the runners' `--redis`, Node socket.io 4.8 with
# @socket.io/redis-adapter 8), the sender on the first node: std runner + std runner,
# std runner + socket.io, socket.io + std runner (the sender on the Node node), and the
# same with the tokio server. Every client of both nodes counts its deliveries: per
# node missing and duplicated. Both servers on the last core, the client fleet and
# Redis on the first. Rows `sio/cluster/...`: the `sockwire` column with a sockwire
# node as the other node, the `socket.io` column with a Node one.
# Needs tests/peers/node_modules (bash tests/scripts/setup-peers.sh).
SIO_FLEET=${SIO_FLEET:-rust}
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT="$ROOT/target/bench"
MODE=quick
ONLY=""
FILTER=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) MODE=quick ;;
        --full) MODE=full ;;
        --only) ONLY="$2"; shift ;;
        --filter) FILTER="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$MODE" = quick ]; then
    WARMUP=1; DURATION=3; IDLE_CONNS=10000
    export BENCH_QUICK=1
else
    WARMUP=2; DURATION=10; IDLE_CONNS=10000
fi

# Everything measured runs on one core (the last one), the server and the load
# generator together. Echo round trips between two cores are bound by cross-core
# wake-up latency, not by CPU: on a 2-vCPU VM that caps every server alike with both
# cores mostly idle. On one core the pair is CPU-bound, so msg/s is the inverse of
# (server + load generator) CPU per message and msg/CPU-s isolates the server. The
# other core is left to whatever else runs on the machine.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    CORE=$(( $(nproc) - 1 ))
    PIN_SERVER="taskset -c $CORE"; PIN_CLIENT="taskset -c $CORE"
else
    PIN_SERVER=""; PIN_CLIENT=""
fi

cd "$HERE"
mkdir -p "$OUT"
echo "== building (release)"
cargo build --release --bins --quiet
{ [ "$ONLY" = "" ] || [ "$ONLY" = sio ] || [ "$ONLY" = recovery ] || [ "$ONLY" = cluster ]; } && (cd "$ROOT" && cargo build --release --quiet --example sio_server --example tokio_server)
{ [ "$ONLY" = "" ] || [ "$ONLY" = criterion ]; } && cargo bench --bench ws --bench sio --no-run --quiet
BIN="$HERE/target/release"

run_criterion() {
    echo "== criterion: masking, decode, encode, handshake, deflate/inflate, Socket.IO codecs ($MODE)"
    rm -rf "$HERE/target/criterion"
    local b
    for b in ws sio; do
        # shellcheck disable=SC2086
        $PIN_CLIENT cargo bench --quiet --bench "$b" -- ${FILTER:+"$FILTER"} 2>&1 \
            | grep -E '^[a-z].*/|time:|thrpt:' || true
    done
    # permessage-deflate: compressed sizes beside zlib levels 1 and 6.
    "$BIN/deflate_sizes" >"$OUT/sizes.jsonl"
}

SERVERS=(sockwire tungstenite fastwebsockets)
label() {
    case "$1" in
        tungstenite) echo tokio-tungstenite ;;
        *) echo "$1" ;;
    esac
}

SERVER_PID=""
start_server() { # name port
    local log="$OUT/server-$1-$2.log"
    # shellcheck disable=SC2086
    $PIN_SERVER "$BIN/echo_$1" --port "$2" >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        grep -q "listening" "$log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server $1 did not start; see $log" >&2
    return 1
}
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
CLUSTER_PIDS=()
stop_cluster() {
    local p
    for p in "${CLUSTER_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
}
trap 'stop_server; stop_cluster' EXIT

run_load() {
    echo "== load: echo round trips and idle connections"
    : >"$OUT/load.jsonl"
    # A fresh port for every server process, so no earlier socket is in the way.
    local port=$((20000 + RANDOM % 20000))
    local s
    # The two scenarios of the issue (text), and the large one again as binary,
    # which shows what UTF-8 validation costs each server.
    for scenario in "100 20" "500 16384" "500 16384 --binary"; do
        set -- $scenario
        for s in "${SERVERS[@]}"; do
            port=$((port + 1))
            start_server "$s" "$port"
            # shellcheck disable=SC2086
            $PIN_CLIENT "$BIN/loadgen" echo --port "$port" --server-pid "$SERVER_PID" \
                --conns "$1" --size "$2" ${3:-} --warmup "$WARMUP" --duration "$DURATION" \
                --label "$(label "$s")" | tee -a "$OUT/load.jsonl" || echo "   ($s: loadgen failed)" >&2
            stop_server
        done
    done
    for s in "${SERVERS[@]}"; do
        port=$((port + 1))
        # A fresh process, so its peak memory is the idle connections' alone.
        start_server "$s" "$port"
        # shellcheck disable=SC2086
        $PIN_CLIENT "$BIN/loadgen" idle --port "$port" --server-pid "$SERVER_PID" \
            --conns "$IDLE_CONNS" --settle 1 --label "$(label "$s")" | tee -a "$OUT/load.jsonl" || echo "   ($s: loadgen failed)" >&2
        stop_server
    done
}

# Socket.IO servers: the server on the last core, the client fleet on the first.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SIO_PIN_SERVER="taskset -c $(( $(nproc) - 1 ))"; SIO_PIN_CLIENT="taskset -c 0"
else
    SIO_PIN_SERVER=""; SIO_PIN_CLIENT=""
fi
SIO_CONNS=${SIO_CONNS:-1000}
SIO_MANY=${SIO_MANY:-10000}
start_sio() { # name log [args...]
    local name=$1 log=$2; shift 2
    local cmd
    case "$name" in
        sockwire-std) cmd=("$ROOT/target/release/examples/sio_server" 127.0.0.1:0) ;;
        sockwire-tokio) cmd=("$ROOT/target/release/examples/tokio_server" 127.0.0.1:0) ;;
        socketioxide) cmd=("$BIN/sio_socketioxide" 127.0.0.1:0) ;;
        *) cmd=(node "$ROOT/tests/peers/sio_server.mjs" 0) ;;
    esac
    # Emptied first: the server's own redirection comes after this shell looks, and a
    # previous run's log of the same name would give its port.
    : >"$log"
    # shellcheck disable=SC2086
    $SIO_PIN_SERVER "${cmd[@]}" "$@" >"$log" 2>"$log.err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        # (|| true: a failed sed would end the script)
        SIO_PORT=$(sed -n 's/^LISTENING \([0-9]*\)$/\1/p' "$log" 2>/dev/null || true)
        [ -n "$SIO_PORT" ] && return 0
        sleep 0.05
    done
    echo "server $name did not start; see $log.err" >&2
    return 1
}
sio_fleet() { # args after --url/--port
    # shellcheck disable=SC2086
    if [ "$SIO_FLEET" = node ]; then
        $SIO_PIN_CLIENT node --max-old-space-size=4096 "$HERE/sio_fleet.mjs" --url "http://127.0.0.1:$SIO_PORT" "$@"
    else
        $SIO_PIN_CLIENT "$BIN/sio_fleet" --port "$SIO_PORT" "$@"
    fi
}
run_sio() {
    echo "== Socket.IO: $SIO_CONNS clients over WebSocket ($SIO_FLEET fleet) against the std runner, the tokio server, Node socket.io 4.8 and socketioxide 0.18"
    : >"$OUT/sio.jsonl"
    # 10,000 clients need 10,000 descriptors on each side.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    local s
    # Connect rate, idle CPU and RSS, `message` round trips, then `message-with-ack`
    # ack round trips (--ack-secs; the Node fleet has no ack phase).
    for s in sockwire-std sockwire-tokio socket.io socketioxide; do
        start_sio "$s" "$OUT/sio-server-$s.log" --ping-interval 300 --ping-timeout 200
        # shellcheck disable=SC2086
        sio_fleet --server-pid "$SERVER_PID" --label "$s" --conns "$SIO_CONNS" --empty-idle 10 --rt-secs 5 --ack-secs 5 --idle 10 \
            | tee -a "$OUT/sio.jsonl" || echo "   ($s: sio_fleet reported errors)" >&2
        stop_server
    done
    # Broadcast fan-out: 1,000 clients in "/" (then split over 10 rooms, a room per
    # event), one sender emitting 100-byte events as fast as the server takes them
    # (sio_fanout: 16 unacked at most, 64 deliveries per client on their way at most),
    # every client counting deliveries and checking their sequence. At socket.io's
    # default ping settings: this measures throughput, not who misses a 200 ms pong
    # under a flood (a client closed by the server is still an error).
    local rooms
    for rooms in 1 10; do
        for s in sockwire-std sockwire-tokio socket.io socketioxide; do
            echo "== Socket.IO: broadcast fan-out to $SIO_CONNS clients in $rooms room(s), $s"
            start_sio "$s" "$OUT/sio-server-fanout-$rooms-$s.log" --ping-interval 25000 --ping-timeout 20000
            # shellcheck disable=SC2086
            SIO_FLEET_PING=25000/20000 $SIO_PIN_CLIENT "$BIN/sio_fanout" --port "$SIO_PORT" --server-pid "$SERVER_PID" \
                --label "$s" --conns "$SIO_CONNS" --rooms "$rooms" --secs 5 --size 100 \
                | tee -a "$OUT/sio.jsonl" || echo "   ($s: sio_fanout reported errors)" >&2
            stop_server
        done
    done
    # A burst: 500 broadcasts to the 1,000 clients at once, with no window (socketioxide's
    # default buffer of 128 packets per socket refuses most of it): refused, missing.
    for s in sockwire-std sockwire-tokio socket.io socketioxide; do
        echo "== Socket.IO: a burst of 500 broadcasts to $SIO_CONNS clients, $s"
        start_sio "$s" "$OUT/sio-server-burst-$s.log" --ping-interval 25000 --ping-timeout 20000
        # shellcheck disable=SC2086
        SIO_FLEET_PING=25000/20000 $SIO_PIN_CLIENT "$BIN/sio_fanout" --port "$SIO_PORT" --server-pid "$SERVER_PID" \
            --label "$s" --conns "$SIO_CONNS" --burst 500 --size 100 \
            | tee -a "$OUT/sio.jsonl" || echo "   ($s: sio_fanout reported errors)" >&2
        stop_server
    done
    # 10,000 idle clients (rows sio/idle10k/...: RSS per connection, server CPU over
    # the 10 s held) on every server, at the test-server settings, then at socket.io's
    # defaults (25 s / 20 s). Not the std runner: it runs a reader and a writer
    # thread per connection and holds at most `runner::Options::max_connections`
    # (4,096 by default; see its docs for why).
    echo "   (std runner left out of the $SIO_MANY-client runs: two threads per connection, 4,096 connections at most by default)" >&2
    local many=(sockwire-tokio socket.io socketioxide)
    local ping
    for ping in "300 200" "25000 20000"; do
    set -- $ping
    for s in "${many[@]}"; do
    echo "== Socket.IO: $SIO_MANY clients held on $s, pingInterval $1 ms, pingTimeout $2 ms"
    start_sio "$s" "$OUT/sio-server-many-$1-$s.log" --ping-interval "$1" --ping-timeout "$2"
    SIO_FLEET_PING="$1/$2" sio_fleet --server-pid "$SERVER_PID" --label "$s" --conns "$SIO_MANY" --empty-idle 0 --rt-secs 0 --hold 10 \
        | tee -a "$OUT/sio.jsonl" || echo "   ($SIO_MANY clients on $s: sio_fleet reported errors)" >&2
    stop_server
    done
    done
}

RECOVERY_CONNS=1000
run_recovery() {
    echo "== Socket.IO connection state recovery: $RECOVERY_CONNS clients behind a chaos proxy"
    : >"$OUT/recovery.jsonl"
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    local kind s SIO_PIN_SERVER=""
    for kind in node sockwire; do
        for s in sockwire-std socket.io socket.io-plain; do
            local label=$s extra=(--recovery) stats=0
            case "$s" in
                sockwire-std) label=sockwire; stats=1 ;;
                socket.io-plain) label="socket.io without recovery"; extra=() ;;
            esac
            echo "== recovery: $kind clients, $label"
            start_sio "$s" "$OUT/recovery-server-$kind-$s.log" --ping-interval 1000 --ping-timeout 1000 "${extra[@]}"
            # shellcheck disable=SC2086
            "$BIN/sio_recovery" --port "$SIO_PORT" --server-pid "$SERVER_PID" --label "$label" \
                --clients "$kind" --conns "$RECOVERY_CONNS" --events 300 --interval 50 --settle 6000 --stats "$stats" \
                | tee -a "$OUT/recovery.jsonl" || echo "   ($s: sio_recovery failed)" >&2
            stop_server
        done
    done
}

CLUSTER_CONNS=${CLUSTER_CONNS:-1000}
run_cluster() {
    echo "== Socket.IO cluster: broadcasts to $CLUSTER_CONNS clients on each of two nodes joined through Redis"
    : >"$OUT/cluster.jsonl"
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        echo "redis-server (and redis-cli) missing: bash tests/scripts/setup-peers.sh installs them" >&2
        exit 1
    fi
    # A free port: nothing answers on it.
    local rport
    while :; do
        rport=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null || break
    done
    # shellcheck disable=SC2086
    $SIO_PIN_CLIENT redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
        --loglevel warning >"$OUT/cluster-redis.log" 2>&1 &
    local redis_pid=$!
    CLUSTER_PIDS+=("$redis_pid")
    local i
    for i in $(seq 1 100); do
        redis-cli -p "$rport" ping >/dev/null 2>&1 && break
        [ "$i" = 100 ] && { echo "redis-server did not start; see $OUT/cluster-redis.log" >&2; exit 1; }
        sleep 0.1
    done
    # One node alone (no Redis: the baseline), then two nodes, the sender's first.
    local set n
    for set in sockwire-std sockwire-tokio sockwire-std,sockwire-std sockwire-std,socket.io socket.io,sockwire-std \
        sockwire-tokio,sockwire-tokio sockwire-tokio,socket.io socket.io,sockwire-tokio; do
        local nodes=() ports=() pids=() redis=()
        IFS=, read -ra nodes <<<"$set"
        echo "== cluster: ${nodes[*]} (the sender on the first)"
        for n in "${nodes[@]}"; do
            if [ "${#nodes[@]}" -gt 1 ]; then
                redis=(--redis "$([ "$n" = socket.io ] && echo "$rport" || echo "127.0.0.1:$rport")")
            fi
            start_sio "$n" "$OUT/cluster-server-$set-${#ports[@]}.log" --ping-interval 25000 --ping-timeout 20000 "${redis[@]}"
            ports+=("$SIO_PORT"); pids+=("$SERVER_PID"); CLUSTER_PIDS+=("$SERVER_PID"); SERVER_PID=""
        done
        # Every node subscribed to the broadcasts' channel before the clients come.
        for i in $(seq 1 100); do
            [ "${#nodes[@]}" = 1 ] || [ "$(redis-cli -p "$rport" client list | grep -c 'psub=[1-9]')" -ge 2 ] && break
            [ "$i" = 100 ] && echo "   ($set: not both nodes subscribed to Redis within 10 s)" >&2
            sleep 0.1
        done
        # shellcheck disable=SC2086
        SIO_FLEET_PING=25000/20000 $SIO_PIN_CLIENT "$BIN/sio_fanout" --port "$(IFS=,; echo "${ports[*]}")" \
            --server-pid "$(IFS=,; echo "${pids[*]}")" --label "$set" --nodes "$set" --redis-pid "$redis_pid" \
            --conns "$CLUSTER_CONNS" --rooms 1 --secs 5 --size 100 \
            | tee -a "$OUT/cluster.jsonl" || echo "   ($set: sio_fanout reported errors)" >&2
        for n in "${ports[@]}"; do
            [ -n "$(ss -ltnH "sport = :$n" 2>/dev/null)" ] || echo "   ($set: nothing listening on port $n at the end of its run)" >&2
        done
        for n in "${pids[@]}"; do
            kill -0 "$n" 2>/dev/null || echo "   ($set: the server of pid $n had exited before the end of its run)" >&2
            kill "$n" 2>/dev/null || true
            wait "$n" 2>/dev/null || true
        done
        CLUSTER_PIDS=("$redis_pid")
    done
    stop_cluster
}

START=$(date +%s)
case "$ONLY" in
    "") run_criterion; run_load; run_sio; run_recovery; run_cluster ;;
    criterion) run_criterion ;;
    load) run_load ;;
    sio) run_sio ;;
    recovery) run_recovery ;;
    cluster) run_cluster ;;
    *) echo "--only criterion|load|sio|recovery|cluster" >&2; exit 2 ;;
esac

echo "== summary"
LOAD_ARG=()
[ -f "$OUT/load.jsonl" ] && { [ "$ONLY" = "" ] || [ "$ONLY" = load ]; } && LOAD_ARG=(--load "$OUT/load.jsonl")
[ -f "$OUT/sio.jsonl" ] && { [ "$ONLY" = "" ] || [ "$ONLY" = sio ]; } && LOAD_ARG+=(--load "$OUT/sio.jsonl")
[ -f "$OUT/recovery.jsonl" ] && { [ "$ONLY" = "" ] || [ "$ONLY" = recovery ]; } && LOAD_ARG+=(--load "$OUT/recovery.jsonl")
[ -f "$OUT/cluster.jsonl" ] && { [ "$ONLY" = "" ] || [ "$ONLY" = cluster ]; } && LOAD_ARG+=(--load "$OUT/cluster.jsonl")
CRIT_ARG=()
if [ "$ONLY" = "" ] || [ "$ONLY" = criterion ]; then
    CRIT_ARG=(--criterion "$HERE/target/criterion")
    [ -f "$OUT/sizes.jsonl" ] && CRIT_ARG+=(--sizes "$OUT/sizes.jsonl")
fi
"$BIN/report" "${CRIT_ARG[@]}" "${LOAD_ARG[@]}" --out "$OUT"
echo "(took $(( $(date +%s) - START )) s)"
