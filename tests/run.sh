#!/usr/bin/env bash
# The whole test suite: the README's test command, and what CI runs (.ci/run).
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh fast       # skip the long steps (fuzzing, miri)
#
# It installs what the tests need, idempotently: the thumbv7em target, the Node
# and Python peers (tests/scripts/setup-peers.sh), cargo-fuzz. Every step runs;
# the summary lists each one and the script fails if any did.
set -uo pipefail
cd "$(dirname "$0")/.."

mode="${1:-all}"
passed=0
failed=0
failures=()

step() {
  local name="$1"
  shift
  echo
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

export CARGO_TERM_COLOR=never

step "toolchain: thumbv7em-none-eabihf target" rustup target add thumbv7em-none-eabihf
step "peers: Node (ws, engine.io, socket.io, @socket.io/redis-adapter, playwright-core), Python (kosoku, websockets, python-socketio, uvicorn), chromium, redis-server" bash tests/scripts/setup-peers.sh
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy --all-targets -D warnings" cargo clippy --all-targets -- -D warnings
step "cargo clippy (no features, defmt) -D warnings" \
  bash -c 'cargo clippy --lib -- -D warnings && cargo clippy --lib --features defmt -- -D warnings'
step "cargo test (unit, integration, interop, doc tests)" cargo test
step "cargo doc -D warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features std
step "thumbv7em build: no features" cargo build --lib --target thumbv7em-none-eabihf
step "thumbv7em build: defmt" cargo build --lib --target thumbv7em-none-eabihf --features defmt
step "Autobahn (kosoku) in both roles" bash tests/scripts/autobahn.sh
if [ -f tests/footprint/run.sh ]; then
  step "embedded footprint and defmt link check" bash tests/footprint/run.sh
fi
step "Cortex-M4 in QEMU (tests/qemu/run.sh)" bash tests/qemu/run.sh
if [ "$mode" != fast ]; then
  if [ -f fuzz/run.sh ]; then
    step "fuzz: every target, 20 s each" bash fuzz/run.sh 20
  fi
  if [ -f tests/scripts/miri.sh ]; then
    step "miri (little and big endian)" bash tests/scripts/miri.sh
  fi
fi

echo
if [ "$failed" -ne 0 ]; then
  printf 'failed step: %s\n' "${failures[@]}"
fi
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
