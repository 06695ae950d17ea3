#!/usr/bin/env bash
# sockwire executing on a Cortex-M4: builds the test image (this directory, a
# `no_std` `no_main` program with no heap) for thumbv7em-none-eabihf and runs
# it in QEMU's `mps2-an386` machine with semihosting for output and the exit
# code. The image runs a WebSocket pair, an Engine.IO + Socket.IO pair and the
# protocol vectors, and prints `ok NAME` / `FAIL NAME: why` per check, the
# stack high-water mark per scenario, and `N passed, M failed`. A second image,
# built with sockwire's feature `deflate`, runs the permessage-deflate pair
# (scenario ws_deflate) the same way.
#
#   bash tests/qemu/run.sh
#
# Fails on a non-zero exit (a failed check: 1, a fault: 2, a panic: 3), a
# timeout, or a missing `N passed, 0 failed` line. First it checks that the
# failure paths work: an image built with `selftest-panic` and one with
# `selftest-fault` (a write to the MPU stack guard) must each exit non-zero
# with the handler's message.
#
# Installs what it needs, idempotently: `qemu-system-arm` (apt; one `apt-get
# update` if the package is unknown) and the rustup target. The output is also
# written to target/qemu/output.txt, the deflate image's (below) to
# target/qemu/output-deflate.txt, the commit to target/qemu/commit.txt;
# tests/footprint/run.sh reads the stack figures from there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET=thumbv7em-none-eabihf
OUT="$ROOT/target/qemu"
export CARGO_TARGET_DIR="$OUT/cargo"
IMAGE="$CARGO_TARGET_DIR/$TARGET/release/sockwire-qemu"
TIMEOUT=120
NICE=(nice -n 10)

say() { echo "qemu: $*" >&2; }

# ---- tools -------------------------------------------------------------------
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    SUDO=()
    [ "$(id -u)" -ne 0 ] && SUDO=(sudo)
    say "installing qemu-system-arm"
    if ! apt-cache show qemu-system-arm >/dev/null 2>&1; then
        "${SUDO[@]}" apt-get update -qq >&2
    fi
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq qemu-system-arm >&2
fi
if ! rustup target list --installed | grep -qx "$TARGET"; then
    say "adding target $TARGET"
    rustup target add "$TARGET" >&2
fi

# ---- build and run -----------------------------------------------------------
cd "$HERE"
build() { "${NICE[@]}" cargo build --release --target "$TARGET" "$@" >&2; }
run_image() { # run_image <log>: the exit status of QEMU (124: timeout)
    local status=0
    timeout "$TIMEOUT" qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic \
        -semihosting-config enable=on,target=native -kernel "$IMAGE" >"$1" 2>&1 </dev/null || status=$?
    return "$status"
}
mkdir -p "$OUT"

# The failure paths: each self-test must end non-zero with its message.
for selftest in "selftest-panic:FAIL panic: " "selftest-fault:FAIL HardFault"; do
    feature="${selftest%%:*}"
    want="${selftest#*:}"
    build --features "$feature"
    status=0
    run_image "$OUT/$feature.txt" || status=$?
    if [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || ! grep -qF "$want" "$OUT/$feature.txt"; then
        cat "$OUT/$feature.txt" >&2
        say "FAIL: the $feature image should exit non-zero with '$want' (status $status)"
        exit 1
    fi
    say "$feature: exits $status with: $(grep -F "$want" "$OUT/$feature.txt" | head -1)"
done

# The commit the numbers belong to (tests/footprint/run.sh states it with them).
rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$ROOT" status --porcelain -- src Cargo.toml tests/qemu 2>/dev/null | head -c1)"
echo "$rev${dirty:+ + uncommitted changes}" >"$OUT/commit.txt"

# run_checked <log> <cargo args...>: builds the image, runs it, prints its
# output; exits on any failure.
run_checked() {
    local log="$1"
    shift
    build "$@"
    local status=0
    run_image "$log" || status=$?
    cat "$log"
    if [ "$status" -eq 124 ]; then
        say "FAIL: timed out after $TIMEOUT s"
        exit 1
    fi
    if [ "$status" -ne 0 ]; then
        say "FAIL: the image exited with status $status"
        exit 1
    fi
    if ! grep -Eq '^[0-9]+ passed, 0 failed$' "$log"; then
        say "FAIL: no 'N passed, 0 failed' line"
        exit 1
    fi
    if grep -q '^FAIL' "$log"; then
        say "FAIL: a check failed"
        exit 1
    fi
    say "ok: $(tail -n 1 "$log")"
}

# The image without features: every scenario but ws_deflate.
run_checked "$OUT/output.txt"
# With sockwire's permessage-deflate: the ws_deflate scenario only.
run_checked "$OUT/output-deflate.txt" --features deflate
