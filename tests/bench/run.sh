#!/usr/bin/env bash
# sockwire beside the fastest Rust WebSocket crates, in one command:
#
#   bash tests/bench/run.sh            # short run (the default; a few minutes on 2 cores)
#   bash tests/bench/run.sh --full     # longer measurement, steadier numbers
#   options: --only criterion|load     run one half
#            --filter REGEX            criterion benchmarks to run (e.g. 'decode/')
#
# Prints the sockwire / peer / ratio table (ratio > 1: sockwire is better) and writes
# target/bench/summary.json (rows: bench, unit, sockwire, peer, peer_value, ratio),
# target/bench/summary.md (the table with the machine) and the raw load results.
# The load tests use 127.0.0.1 only; every loop in them is bounded in time.
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
[ "$ONLY" = load ] || cargo bench --bench ws --no-run --quiet
BIN="$HERE/target/release"

run_criterion() {
    echo "== criterion: masking, decode, encode, handshake, deflate/inflate ($MODE)"
    rm -rf "$HERE/target/criterion"
    # shellcheck disable=SC2086
    $PIN_CLIENT cargo bench --quiet --bench ws -- ${FILTER:+"$FILTER"} 2>&1 \
        | grep -E '^[a-z].*/|time:|thrpt:' || true
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
trap stop_server EXIT

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

START=$(date +%s)
case "$ONLY" in
    "") run_criterion; run_load ;;
    criterion) run_criterion ;;
    load) run_load ;;
    *) echo "--only criterion|load" >&2; exit 2 ;;
esac

echo "== summary"
LOAD_ARG=()
[ -f "$OUT/load.jsonl" ] && [ "$ONLY" != criterion ] && LOAD_ARG=(--load "$OUT/load.jsonl")
CRIT_ARG=()
[ "$ONLY" != load ] && CRIT_ARG=(--criterion "$HERE/target/criterion")
[ "$ONLY" != load ] && [ -f "$OUT/sizes.jsonl" ] && CRIT_ARG+=(--sizes "$OUT/sizes.jsonl")
"$BIN/report" "${CRIT_ARG[@]}" "${LOAD_ARG[@]}" --out "$OUT"
echo "(took $(( $(date +%s) - START )) s)"
