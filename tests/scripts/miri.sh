#!/usr/bin/env bash
# Runs the library's unit tests under miri, on the host (little-endian x86_64)
# and on a big-endian target (s390x).
#
#   bash tests/scripts/miri.sh
#
# The crate forbids `unsafe`, but the masking code (ws/mask.rs) XORs whole
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

for target in $targets; do
  echo "--- miri: unit tests on $target"
  t0=$SECONDS
  cargo "+$toolchain" miri test --lib --target "$target"
  echo "--- miri: $target ok in $((SECONDS - t0)) s"
done
