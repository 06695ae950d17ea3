#!/usr/bin/env bash
# Footprint report for sockwire on a Cortex-M4F (thumbv7em-none-eabihf).
#
#   tests/footprint/run.sh           the build checks, then the report: build the
#                                    images, print the table, write it to
#                                    target/footprint/summary.txt
#   tests/footprint/run.sh --check   only the build checks: the library for the
#                                    target with no features and with `defmt`, and
#                                    the defmt link check image (bin defmt_link)
#   tests/footprint/run.sh --report  only the report
#
# Images: every `src/bin/<name>.rs` is one `#![no_std] #![no_main]` image, built
# with opt-level "z", fat LTO, one codegen unit and panic = "abort". To measure a
# new role (Engine.IO, Socket.IO, ...), add `src/bin/<role>.rs` and, if it has a
# baseline to compare with, a line to COMPARE below; nothing else changes. An
# image that needs a sockwire feature is built in a cargo run of its own
# (FEATURE_IMAGES), so the others are measured without it.
#
# Stack: the images cannot run (their input is opaque), so the stack need per
# image is the image's own state on the stack (`export_state!`) plus the
# deepest call into the same role measured on a Cortex-M4 by tests/qemu/run.sh
# (STACK_MAP), read from its last output, target/qemu/output.txt. Run
# `bash tests/qemu/run.sh` first for current figures; without that output the
# column says so and nothing fails.
#
# Needs: rustup (it adds the target and the llvm-tools component if missing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET=thumbv7em-none-eabihf
OUT="$ROOT/target/footprint"
# The images build in their own target directory; the main crate's commands
# (library checks, host test) keep the caller's, to share its build cache.
CALLER_TARGET_DIR="${CARGO_TARGET_DIR:-}"
export CARGO_TARGET_DIR="$OUT/cargo"
# Share the two cores politely with whatever else is building.
NICE=(nice -n 10)

# Images that are build checks, not measured.
CHECK_IMAGES=(defmt_link)
# Images built with a feature of the footprint crate (each in its own cargo
# run): "image feature".
FEATURE_IMAGES=("ws_client_deflate deflate")
# "image baseline": print both and the ratio image / baseline.
COMPARE=("ws_client ews_client")
# "image baseline": print the flash and RAM difference image - baseline.
DELTA=("ws_client_deflate ws_client")
# "image scenario role": the QEMU scenario (tests/qemu) whose calls into `role`
# (client | server) run the image's code; "-" when none does.
STACK_MAP=(
    "ws_client ws_pair client"
    "ws_server ws_pair server"
    "sio_client sio_pair client"
    "sio_server sio_broadcast server"
    "ws_client_deflate ws_deflate client"
    "ews_client - -"
)
# Where an image and its scenario differ, said with the numbers.
declare -A STACK_NOTE=(
    [ws_client]="QEMU streams with begin_frame + send_payload through 64 B reads and 32 B writes; the image sends whole messages (send_text) with 256 B buffers (in its state)"
    [ws_server]="as ws_client; the QEMU server also parses the request from several reads"
    [sio_client]="QEMU's clients hold 1024 B queues, 2 namespaces; the image 512 B, 1 namespace (in its state); same calls (handshake, join, emit, acks, binary, heartbeat)"
    [sio_server]="QEMU's endpoint is Fixed<4, 4, 1024> with 4 WebSocket sessions (handle_input, accept, emit, broadcast, poll_transmit measured); the image is Fixed<2, 2, 512> and also runs handle_timeout and poll_event, which QEMU does not measure, and polling, which QEMU does not exercise; the deepest call is handle_input on the request that opens a session (the figure with only handle_input measured is the same)"
    [ws_client_deflate]="QEMU's ws_deflate (an image built with the feature) has the same storage (512 B windows, 256-entry hash, DeflateConfig::small(9)) as the image; QEMU reads 61 B at a time and inflates into 64 B (the image: 256 B each, in its state) and compresses 1,620-byte messages (the image: 37 bytes, its write buffer sized for 64)"
    [ews_client]="not sockwire; no QEMU scenario"
)
QEMU_OUT="$ROOT/target/qemu/output.txt"
QEMU_DEFLATE_OUT="$ROOT/target/qemu/output-deflate.txt"
QEMU_COMMIT="$ROOT/target/qemu/commit.txt"
# "type-prefix max-bytes": a size aim for state machine types, checked and printed.
STATE_AIMS=("ws::Connection 64")
# The host test that finds the smallest buffers empirically (in the main crate).
MINBUF_TEST=ws_min_buffers

mode=all
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --report) mode=report ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--check | --report]" >&2; exit 2 ;;
esac

say() { echo "footprint: $*" >&2; }

# ---- tools -------------------------------------------------------------------
cd "$HERE"
if ! rustup target list --installed | grep -qx "$TARGET"; then
    say "adding target $TARGET"
    rustup target add "$TARGET" >&2
fi
SYSROOT="$(rustc --print sysroot)"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
LLVM_BIN="$SYSROOT/lib/rustlib/$HOST/bin"
if [ ! -x "$LLVM_BIN/llvm-readobj" ] || [ ! -x "$LLVM_BIN/llvm-nm" ]; then
    say "adding rustup component llvm-tools"
    rustup component add llvm-tools >&2
fi
READOBJ="$LLVM_BIN/llvm-readobj"
NM="$LLVM_BIN/llvm-nm"

build() { # build <cargo args...>
    "${NICE[@]}" cargo build --release --target "$TARGET" "$@" >&2
}
image_path() { echo "$CARGO_TARGET_DIR/$TARGET/release/$1"; }
root_cargo() { # cargo in the main crate, with the caller's target directory
    (
        cd "$ROOT"
        if [ -n "$CALLER_TARGET_DIR" ]; then export CARGO_TARGET_DIR="$CALLER_TARGET_DIR"; else unset CARGO_TARGET_DIR; fi
        "${NICE[@]}" cargo "$@"
    )
}

# ---- build checks ------------------------------------------------------------
DEFMT_RESULT=
defmt_check() {
    say "library for $TARGET, no features"
    root_cargo build --lib --target "$TARGET" >&2
    say "library for $TARGET, feature defmt"
    root_cargo build --lib --target "$TARGET" --features defmt >&2
    say "defmt link check image"
    build --features defmt --bin defmt_link
    local elf; elf="$(image_path defmt_link)"
    # The interned format strings live in the non-allocated .defmt section, one
    # symbol each; sockwire's derived/implemented Format entries must be there.
    local entries
    entries="$("$NM" "$elf" | grep -c '"package":"sockwire"' || true)"
    DEFMT_RESULT="defmt link check: OK, $entries sockwire Format entries in .defmt (bin defmt_link)"
    if [ "$entries" -lt 1 ]; then
        say "FAIL: no sockwire defmt::Format entries in $elf"
        exit 1
    fi
    # The three logged types: ws::Event, ws::Error, ws::Config.
    local want
    for want in 'Data {{ kind' 'ReservedBits|' 'Config {{ max_frame_size'; do
        if ! "$NM" "$elf" | grep '"package":"sockwire"' | grep -qF "$want"; then
            say "FAIL: no defmt format entry containing '$want' in $elf"
            exit 1
        fi
    done
    say "defmt link check OK: $entries sockwire format entries in .defmt"
}

if [ "$mode" != report ]; then
    defmt_check
fi
if [ "$mode" = check ]; then
    exit 0
fi

# ---- measured images ---------------------------------------------------------
IMAGES=()
for f in src/bin/*.rs; do
    name="$(basename "$f" .rs)"
    skip=
    for c in "${CHECK_IMAGES[@]}"; do [ "$name" = "$c" ] && skip=1; done
    for fi in "${FEATURE_IMAGES[@]}"; do [ "$name" = "${fi%% *}" ] && skip=1; done
    [ -z "$skip" ] && IMAGES+=("$name")
done
say "building ${IMAGES[*]}"
bin_args=()
for i in "${IMAGES[@]}"; do bin_args+=(--bin "$i"); done
build "${bin_args[@]}"
for fi in "${FEATURE_IMAGES[@]}"; do
    read -r name feature <<<"$fi"
    say "building $name (feature $feature)"
    build --features "$feature" --bin "$name"
    IMAGES+=("$name")
done

# Plain POSIX awk (Debian's default is mawk): hex -> number.
AWK_HEX='function hex(s,  i, n) { n = 0; s = tolower(s)
    for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return n }'

# flash = text + rodata (+ the load image of .data); RAM = data + bss.
# Read from the section headers: allocated sections only, by type and flags.
sizes() { # sizes <elf> -> "flash ram text rodata data bss"
    "$READOBJ" --elf-output-style=GNU -S "$1" | sed -n 's/^ *\[ *[0-9]*\] //p' | awk "$AWK_HEX"'
        { name=$1; type=$2; size=hex($5); flg=$7 }
        flg !~ /A/ { next }
        type == "NOBITS"            { bss += size; next }
        flg ~ /W/                   { data += size; next }
        flg ~ /X/                   { text += size; next }
                                    { rodata += size }
        END { printf "%d %d %d %d %d %d\n", text+rodata+data, data+bss, text, rodata, data, bss }'
}

# Smallest buffers: found by driving a client/server pair on the host.
say "host test tests/$MINBUF_TEST.rs"
minbuf_log="$(mktemp)"
if ! root_cargo test --test "$MINBUF_TEST" -- --nocapture --test-threads 1 >"$minbuf_log" 2>&1; then
    cat "$minbuf_log" >&2
    say "FAIL: tests/$MINBUF_TEST.rs"
    exit 1
fi
# (libtest prints "test report ... " before the first line: match anywhere)
MINBUF="$(sed -n 's/^.*MINBUF //p' "$minbuf_log")"
# key=value numbers: read client_write server_write request response
declare -A MB
read -r -a kvs < <(sed -n 's/^.*MINBUFVAL //p' "$minbuf_log")
for kv in "${kvs[@]}"; do MB[${kv%%=*}]=${kv#*=}; done
rm -f "$minbuf_log"

declare -A FLASH RAM
table="$(mktemp)"
{
    rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    dirty="$(git -C "$ROOT" status --porcelain -- src Cargo.toml 2>/dev/null | head -c1)"
    echo "sockwire footprint (commit $rev${dirty:+ + uncommitted changes}), $TARGET, opt-level \"z\", fat LTO, codegen-units 1, panic abort"
    echo "($(rustc --version); flash = text + rodata (+ .data load image), RAM = static .data + .bss;"
    echo " buffers and state live on the stack in these images, see size_of below)"
    echo
    printf '%-18s %8s %8s %8s %8s %6s %6s\n' image flash RAM text rodata data bss
    for i in "${IMAGES[@]}"; do
        read -r flash ram text rodata data bss < <(sizes "$(image_path "$i")")
        FLASH[$i]=$flash
        RAM[$i]=$ram
        printf '%-18s %8d %8d %8d %8d %6d %6d\n' "$i" "$flash" "$ram" "$text" "$rodata" "$data" "$bss"
    done
    echo
    for pair in "${COMPARE[@]}"; do
        read -r a b <<<"$pair"
        if [ -n "${FLASH[$a]:-}" ] && [ -n "${FLASH[$b]:-}" ]; then
            awk -v a="$a" -v b="$b" -v fa="${FLASH[$a]}" -v fb="${FLASH[$b]}" \
                'BEGIN { printf "flash ratio %s / %s: %d / %d = %.2f (aim: <= 1.00, %s)\n",
                         a, b, fa, fb, fa / fb, fa <= fb ? "met" : "missed" }'
        fi
    done
    for pair in "${DELTA[@]}"; do
        read -r a b <<<"$pair"
        if [ -n "${FLASH[$a]:-}" ] && [ -n "${FLASH[$b]:-}" ]; then
            echo "$a - $b: flash +$((FLASH[$a] - FLASH[$b])) B, static RAM +$((RAM[$a] - RAM[$b])) B (the same scenario with the feature on and used)"
        fi
    done
    echo
    # size_of / align_of as the images' target sees them: absolute symbols
    # __sizeof_<name> / __alignof_<name> exported by `export_size!` (zero bytes).
    echo "size_of on $TARGET (bytes, align):"
    types="$(for i in "${IMAGES[@]}"; do "$NM" "$(image_path "$i")"; done | awk "$AWK_HEX"'
        $3 ~ /^__sizeof_/  { n=substr($3, 10); size[n]=hex($1) }
        $3 ~ /^__alignof_/ { n=substr($3, 11); align[n]=hex($1) }
        END { for (n in size) {
            t = n; gsub(/__/, "::", t)                       # ws__Connection -> ws::Connection
            if (match(t, /_[a-z]+$/)) t = substr(t, 1, RSTART - 1) " (" substr(t, RSTART + 1) ")"
            printf "  %-44s %5d  (align %d)\n", t, size[n], align[n] } }' | sort)"
    echo "$types"
    for aim in "${STATE_AIMS[@]}"; do
        read -r prefix max <<<"$aim"
        echo "$types" | awk -v p="$prefix" -v max="$max" '
            index($1, p) == 1 { n++; if ($(NF-2) > max) over = over " " $0 }
            END { if (n) printf "  aim: %s <= %d B: %s\n", p, max, over == "" ? "met" : "missed" }'
    done
    echo
    echo "smallest buffers (verified on the host by tests/$MINBUF_TEST.rs):"
    while IFS= read -r line; do echo "  $line"; done <<<"$MINBUF"
    echo
    # Per-role RAM for one connection with the smallest buffers; the head buffer
    # is needed only during the opening handshake and can be reused afterwards.
    conn_size() { echo "$types" | awk -v t="ws::Connection ($1)" 'index($0, t) { print $(NF-2) }'; }
    cc="$(conn_size client)"; sc="$(conn_size server)"
    head=$(( MB[request] > MB[response] ? MB[request] : MB[response] ))
    echo "RAM per connection with the smallest buffers (state + read + write):"
    echo "  client: $cc + ${MB[read]} + ${MB[client_write]} = $((cc + MB[read] + MB[client_write])) B"
    echo "  server: $sc + ${MB[read]} + ${MB[server_write]} = $((sc + MB[read] + MB[server_write])) B"
    echo "  plus, during the opening handshake only, one buffer for a whole HTTP head:"
    echo "  >= $head B here (request ${MB[request]} B, response ${MB[response]} B; a peer's request"
    echo "  with more headers needs more, up to the handshake's limit, 8 KiB by default)"
    echo
    # Stack need per image: its state on the stack (__stackstate_<image>) plus
    # the deepest call into the same role on the core (tests/qemu; the
    # ws_deflate scenario runs in the image built with the feature).
    declare -A STATE
    for i in "${IMAGES[@]}"; do
        v="$("$NM" "$(image_path "$i")" | awk "$AWK_HEX"' $3 == "__stackstate_'"$i"'" { print hex($1) }')"
        [ -n "$v" ] && STATE[$i]=$v
    done
    qemu_rev=
    if [ -f "$QEMU_OUT" ] && grep -Eq '^[0-9]+ passed, 0 failed$' "$QEMU_OUT"; then
        qemu_rev="$(cat "$QEMU_COMMIT" 2>/dev/null || echo "unknown commit")"
        echo "stack need per image = its state on the stack (protocol state + buffers, size_of) + the deepest"
        echo "call into the same role measured on a Cortex-M4 in QEMU (tests/qemu/run.sh, commit $qemu_rev;"
        echo "a call = a sockwire call + the test application's handling of its result; excludes the"
        echo "firmware's own frames, interrupts and TCP stack):"
    else
        echo "stack need per image: no passing QEMU run in ${QEMU_OUT#"$ROOT"/} (run bash tests/qemu/run.sh first);"
        echo "state on the stack only:"
    fi
    printf '  %-18s %-24s %7s %13s %11s\n' image "QEMU scenario (role)" state "deepest call" "stack need"
    for entry in "${STACK_MAP[@]}"; do
        read -r i scenario role <<<"$entry"
        st="${STATE[$i]:-}"
        depth=
        if [ -n "$qemu_rev" ] && [ "$scenario" != - ]; then
            depth="$(sed -n "s/^call depth $scenario: client \([0-9]*\) bytes, server \([0-9]*\) bytes\$/\1 \2/p" "$QEMU_OUT" "$QEMU_DEFLATE_OUT" 2>/dev/null || true)"
            if [ -n "$depth" ]; then
                read -r dc ds <<<"$depth"
                depth=$([ "$role" = client ] && echo "$dc" || echo "$ds")
            fi
        fi
        where="$([ "$scenario" = - ] && echo "none" || echo "$scenario ($role)")"
        need=-
        [ -n "$st" ] && [ -n "$depth" ] && need="$((st + depth)) B"
        printf '  %-18s %-24s %7s %13s %11s\n' "$i" "$where" "${st:+$st B}" "${depth:+$depth B}" "$need"
    done
    for entry in "${STACK_MAP[@]}"; do
        read -r i _ <<<"$entry"
        [ -n "${STACK_NOTE[$i]:-}" ] && echo "  $i: ${STACK_NOTE[$i]}" | fold -s -w 100 | sed '2,$s/^/      /'
    done
    if [ -n "${DEFMT_RESULT:-}" ]; then
        echo
        echo "$DEFMT_RESULT"
    fi
} | tee "$table"

mkdir -p "$OUT"
cp "$table" "$OUT/summary.txt"
rm -f "$table"
say "written to ${OUT#"$ROOT"/}/summary.txt"
