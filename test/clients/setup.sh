#!/usr/bin/env bash
# Installs the real coding-assistant CLIs that test/clients/clients.test.ts drives through KeyRelay:
# Claude Code, Codex, the Continue CLI and the Cline CLI, at pinned versions, from the npm registry.
# They are big (native binaries) and only this test needs them, so they stay out of the project's
# package.json: each goes to its own prefix under <repo>/.vscode-test/clients (gitignored), like
# test/vscode-host/setup.sh does for code-server. Idempotent: a CLI already installed at its version
# (marker written after a complete install) is skipped. CLIENTS_DIR overrides the place.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOT=${CLIENTS_DIR:-$REPO/.vscode-test/clients}
CLIENTS=(
  "claude-code @anthropic-ai/claude-code@2.1.332"
  "codex @openai/codex@0.171.0"
  "continue @continuedev/cli@1.5.47"
  "cline cline@3.0.65"
)
mkdir -p "$ROOT"
t0=$(date +%s)
die() { echo "[clients setup] FAILED: $*" >&2; exit 1; }
for entry in "${CLIENTS[@]}"; do
  read -r name spec <<<"$entry"
  dir="$ROOT/$name"
  marker="$dir/.installed-${spec##*@}"
  if [ ! -f "$marker" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    # Its own package.json and --prefix: without them npm walks up to the repo's package.json.
    echo '{ "name": "keyrelay-client-under-test", "private": true }' >"$dir/package.json"
    # Under `npm test` the outer npm exports npm_* variables that would steer the inner one: start clean.
    (cd "$dir" && env $(env | sed -n 's/^\(npm_[^=]*\)=.*/-u \1/p') \
      npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$spec" \
      >"$dir/install.log" 2>&1) || { tail -30 "$dir/install.log" >&2; die "npm install $spec (log: $dir/install.log)"; }
    touch "$marker"
  fi
  echo "[clients setup] $spec: $(( $(date +%s) - t0 ))s"
done
echo "[clients setup] ready in $ROOT ($(du -sh "$ROOT" | cut -f1))"
