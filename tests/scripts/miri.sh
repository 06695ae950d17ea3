#!/usr/bin/env bash
# Runs the library's unit tests under miri, on the host (little-endian x86_64)
# and on a big-endian target (s390x).
#
#   bash tests/scripts/miri.sh
#
# The crate's one module with `unsafe` (src/simd.rs: AVX2 UTF-8 validation and
# masking) runs here with AVX2 on: miri has no CPUID, so run-time detection says
# "no" under it, and the x86_64 build turns the feature on at compile time
# instead (`-C target-feature=+avx2`, which miri's AVX2 intrinsics support). On
# s390x the portable paths run. Elsewhere the crate has no `unsafe`, but the
# masking code (ws/mask.rs) XORs whole
# words built with `u64::from_ne_bytes`: correct on either byte order only
# because the key is widened in memory order too. miri interprets the tests on
# s390x with its real byte order, so a byte-order slip shows up there without
# big-endian hardware. miri needs no target std: `miri setup` builds one from
# rust-src, offline. (The unit tests always build with `std`: the crate's
# dev-dependency on itself turns it on.)
#
# Needs a nightly toolchain; the miri and rust-src components are added when
# missing. MIRI_TOOLCHAIN picks another nightly; MIRI_TARGETS the targets.
set -euo pipefail
cd "$(dirname "$0")/../.."

toolchain="${MIRI_TOOLCHAIN:-nightly}"
targets="${MIRI_TARGETS:-x86_64-unknown-linux-gnu s390x-unknown-linux-gnu}"

if ! cargo "+$toolchain" miri --version >/dev/null 2>&1; then
  rustup component add --toolchain "$toolchain" miri rust-src
fi

for target in $targets; do
  cargo "+$toolchain" miri setup --target "$target"
done

# The targets run side by side (each in a target directory of its own, so
# that neither waits for the other's build lock): miri is single-threaded.
logs="$(mktemp -d "${TMPDIR:-/tmp}/sockwire-miri.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
pids=()
for target in $targets; do
  (
    t0=$SECONDS
    export CARGO_TARGET_DIR="$PWD/target/miri-$target"
    case "$target" in
      x86_64-*) export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2" ;;
    esac
    if cargo "+$toolchain" miri test --lib --target "$target"; then
      echo "--- miri: $target ok in $((SECONDS - t0)) s"
    else
      echo "--- miri: $target FAILED after $((SECONDS - t0)) s"
      exit 1
    fi
  ) >"$logs/$target.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for target in $targets; do
  echo "--- miri: unit tests on $target"
  grep -v '^ *\(Compiling\|Checking\|Blocking\)' "$logs/$target.log"
done
exit "$status"
