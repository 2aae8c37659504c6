#!/usr/bin/env bash
# Installs Debian's redis-server for the shared-state tests (test/proxy/sharedState.test.ts), like
# test/vscode-host/setup.sh installs Chromium. Idempotent: nothing happens when it is already there.
# The tests start their own server on a free port in a temp dir; the package's own service is
# stopped and kept from starting, so nothing listens on 6379 because of this script.
set -euo pipefail
REDIS=${REDIS_SERVER:-/usr/bin/redis-server}
if [ ! -x "$REDIS" ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "[redis setup] apt-get install redis-server"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101: the package's post-install does not start a system-wide server.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  log=$(mktemp)
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1 \
    || { tail -30 "$log" >&2; rm -f "$log"; echo "[redis setup] FAILED: apt-get install redis-server" >&2; exit 1; }
  rm -f "$log"
fi
echo "[redis setup] $("$REDIS" --version | head -1)"
