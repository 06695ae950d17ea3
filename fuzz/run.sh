#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20) and fails on any
# crash, hang or out-of-memory.
#
#   bash fuzz/run.sh            # CI: 20 s per target
#   bash fuzz/run.sh 600        # on demand: 10 minutes per target
#   FUZZ_TARGETS="ws_connection_server http_head" bash fuzz/run.sh 300
#
# The targets are every [[bin]] of fuzz/Cargo.toml (`cargo fuzz list`), the
# endpoint ones (eio_endpoint, sio_endpoint) included.
#
# Each target starts from a scratch copy of its committed seed corpus
# (fuzz/corpus/<target>), so runs never grow the committed corpus; set
# FUZZ_KEEP_CORPUS=1 to keep the scratch corpora (the path is printed). A crash
# leaves its input in fuzz/artifacts/<target>/ and the run's log in
# fuzz/target/fuzz-logs/<target>.log; replay it with
#   cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...
# or, with a trace of the operations of the connection targets,
#   SOCKWIRE_FUZZ_TRACE=1 cargo +nightly run --manifest-path fuzz/Cargo.toml \
#       --example repro -- TARGET FILE
#
# Needs the stable toolchain (to install cargo-fuzz, once) and a nightly one
# (for the sanitizer flags cargo-fuzz passes); FUZZ_TOOLCHAIN picks another
# nightly. Extra libFuzzer flags can be given in FUZZ_ARGS.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: the $toolchain toolchain is missing (rustup toolchain install $toolchain)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cargo "+$toolchain" fuzz build

targets="${FUZZ_TARGETS:-$(cargo "+$toolchain" fuzz list)}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/sockwire-fuzz.XXXXXX")"
if [ -z "${FUZZ_KEEP_CORPUS:-}" ]; then
  trap 'rm -rf "$scratch"' EXIT
else
  echo "scratch corpora in $scratch"
fi
mkdir -p target/fuzz-logs

# One target: its status line goes to $scratch/$t.status.
run_one() {
  local t=$1
  mkdir -p "$scratch/$t"
  if [ -d "corpus/$t" ]; then
    cp -R "corpus/$t/." "$scratch/$t/"
  fi
  local log="target/fuzz-logs/$t.log" status took execs cov t0=$SECONDS
  # -timeout: an input running 10 s is a hang; -rss_limit_mb: memory growth.
  # shellcheck disable=SC2086
  if cargo "+$toolchain" fuzz run "$t" "$scratch/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    tail -n 60 "$log"
  fi
  took=$((SECONDS - t0))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
  printf '%-22s %-6s %6s s  %12s execs  %s\n' "$t" "$status" "$took" "${execs:-?}" "$cov" \
    | tee "$scratch/$t.status"
}

# Targets run FUZZ_JOBS at a time (default: one per core); each libFuzzer
# process is single-threaded.
jobs_max="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
echo "--- ${seconds} s per target, $jobs_max at a time"
running=0
for t in $targets; do
  if [ "$running" -ge "$jobs_max" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait

failed=()
summary=()
for t in $targets; do
  line="$(cat "$scratch/$t.status" 2>/dev/null || printf '%-22s %-6s' "$t" FAILED)"
  summary+=("$line")
  case "$line" in *" ok "*) ;; *) failed+=("$t") ;; esac
done

echo
echo "target                 status    time          executions  coverage"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz/run.sh: failed: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/target/fuzz-logs/)" >&2
  exit 1
fi
