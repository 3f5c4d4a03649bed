#!/usr/bin/env bash
# The browser login in a real browser: headless Debian chromium driven by playwright-core
# (pinned in tests/browser/package-lock.json; no browser download), through the demo gateway.
#
#   .ci/browser.sh [BINARY]          BINARY defaults to target/debug/authgate
#
# Installs chromium (apt-get) and the npm packages (npm ci) when missing, starts BINARY with a
# copy of gateway.yaml on free loopback ports, runs tests/browser/login.mjs, stops the gateway
# by its PID. Screenshots of each step go to a temporary folder, printed at the end
# (kept; set SCREENSHOTS=DIR to choose it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/authgate}
PY=python3
[ -x "$BIN" ] || { echo "browser.sh: no executable gateway at $BIN (build it first)" >&2; exit 2; }

node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
  echo "browser.sh: Node.js 20 or later is needed (playwright-core 1.65); found: $(node --version 2>/dev/null || echo none)" >&2
  exit 2
fi
if ! [ -x /usr/bin/chromium ]; then
  echo "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
if ! [ -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
shots=${SCREENSHOTS:-$(mktemp -d -t authgate-browser-XXXXXX)}
mkdir -p "$shots"
# shellcheck source=demo-gateway.sh
. "$(dirname "$0")/demo-gateway.sh"
stop_on_exit

demo_config browser.sh
start_gateway browser.sh
echo "== the browser login (screenshots in $shots)"
status=0
timeout --kill-after=5 180 node tests/browser/login.mjs "http://127.0.0.1:$PROXY" "http://127.0.0.1:$TENANT" "$shots" || status=$?
if [ "$status" -ne 0 ]; then
  echo "browser.sh: the browser test failed ($status); the gateway's log:" >&2
  tail -n 40 "$work/gateway.log" >&2
fi
exit "$status"
