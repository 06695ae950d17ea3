#!/usr/bin/env bash
# Installs the real WebSocket peers the interop tests and the Autobahn run use:
#   - <repo>/.venv: a Python venv with tests/peers/requirements.txt
#     (kosoku for the Autobahn cases, websockets and python-socketio for the
#     Python peers, uvicorn to serve python-socketio's ASGI app)
#   - tests/peers/node_modules: `npm ci` from tests/peers/package-lock.json
#     (ws, engine.io, engine.io-client, socket.io, socket.io-client for the
#     Node peers; playwright-core to drive the browser)
#   - Debian's chromium (/usr/bin/chromium) for the browser test
#     (tests/peers/browser_sio.mjs), installed with apt-get when missing;
#     Playwright never downloads a browser.
#   - Debian's redis-server (/usr/bin/redis-server) for the Redis adapter
#     tests (each starts its own on 127.0.0.1), installed with apt-get when
#     missing.
# Idempotent: each part keeps a stamp holding the hash of its inputs (the
# pinned files and the interpreter version) and is skipped while that matches
# and every peer module imports, so a second run takes about a second. Needs
# python3 (>= 3.11) with the venv module, node (>= 20, for playwright-core)
# and npm, and root (for apt-get) when chromium is not installed yet; exits
# non-zero naming what is missing. Reaches only PyPI, the npm registry and
# Debian's package archive. Environment: PYTHON (default python3) picks the
# interpreter the venv is made from.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="$ROOT/tests/peers"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
PY_MODULES=(websockets kosoku socketio engineio requests websocket uvicorn)
NODE_MODULES=(ws engine.io engine.io-client socket.io socket.io-client playwright-core @socket.io/redis-adapter redis)
# The browser tests/peers/browser_sio.mjs launches (Debian package chromium).
CHROMIUM=/usr/bin/chromium
py_imports="import $(IFS=,; echo "${PY_MODULES[*]}")"
node_imports="$(printf "import '%s'; " "${NODE_MODULES[@]}")"

die() {
  echo "setup-peers: ERROR: $*" >&2
  exit 1
}
say() { echo "setup-peers: $*"; }

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---- tools ----
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python >= 3.11 (with venv)"
command -v node >/dev/null 2>&1 || die "node not found: install Node.js >= 20"
command -v npm >/dev/null 2>&1 || die "npm not found: install npm"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
  die "$PYTHON is $("$PYTHON" --version 2>&1); websockets 17 needs Python >= 3.11"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "node is $(node --version); the peers need Node.js >= 20 (playwright-core 1.65)"

# apt_install PACKAGE BINARY WHY: installs Debian's PACKAGE with apt-get
# unless the executable BINARY exists; WHY says what needs it.
apt_install() {
  local pkg="$1" bin="$2" why="$3"
  if [[ -x "$bin" ]]; then
    say "$pkg present ($bin)"
    return
  fi
  say "installing Debian's $pkg with apt-get"
  [[ "$(id -u)" == 0 ]] ||
    die "$pkg is not installed and this is not root: run 'apt-get update && apt-get install -y --no-install-recommends $pkg' as root"
  command -v apt-get >/dev/null 2>&1 || die "$pkg is not installed and apt-get is missing: install Debian's $pkg package ($bin)"
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg") ||
    die "apt-get install $pkg failed (see above): $why"
  [[ -x "$bin" ]] || die "apt-get installed $pkg but $bin is missing"
  say "$pkg ready: $("$bin" --version 2>/dev/null || echo "($bin --version failed)")"
}

# ---- Chromium (Debian's; never a browser downloaded by Playwright) ----
apt_install chromium "$CHROMIUM" "the browser test needs Debian's chromium at $CHROMIUM"

# ---- redis-server (Debian's; each Redis adapter test starts its own on
# 127.0.0.1 on a free port, and stops it) ----
apt_install redis-server /usr/bin/redis-server "the Redis adapter tests need it"

# ---- Python venv ----
py_key="$(hash_of "$PEERS/requirements.txt")-$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
py_stamp="$VENV/.sockwire-peers-stamp"
if [[ -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_key" && -x "$VENV/bin/python" && -x "$VENV/bin/kosoku" ]] &&
  "$VENV/bin/python" -c "$py_imports" >/dev/null 2>&1; then
  say "python venv up to date ($VENV)"
else
  say "creating python venv in $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$PEERS/requirements.txt" ||
    die "pip install -r tests/peers/requirements.txt failed"
  for m in "${PY_MODULES[@]}"; do
    "$VENV/bin/python" -c "import $m" || die "the venv cannot import $m after pip install"
  done
  [[ -x "$VENV/bin/kosoku" ]] || die "$VENV/bin/kosoku missing after pip install"
  echo "$py_key" >"$py_stamp"
  say "python venv ready: $("$VENV/bin/python" -m pip freeze --disable-pip-version-check | tr '\n' ' ')"
fi

# ---- Node modules ----
node_key="$(hash_of "$PEERS/package.json" "$PEERS/package-lock.json")-$(node --version)"
node_stamp="$PEERS/node_modules/.sockwire-peers-stamp"
if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_key" ]] &&
  (cd "$PEERS" && node --input-type=module -e "$node_imports") >/dev/null 2>&1; then
  say "node modules up to date ($PEERS/node_modules)"
else
  say "npm ci in $PEERS"
  (cd "$PEERS" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/peers failed"
  for m in "${NODE_MODULES[@]}"; do
    (cd "$PEERS" && node --input-type=module -e "import '$m';") || die "node cannot import $m after npm ci"
  done
  echo "$node_key" >"$node_stamp"
  say "node modules ready: $(cd "$PEERS" && node -p \
    "process.argv.slice(1).map((m) => m + ' ' + require('./node_modules/' + m + '/package.json').version).join(', ')" \
    "${NODE_MODULES[@]}")"
fi
