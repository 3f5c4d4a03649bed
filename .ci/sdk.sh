#!/usr/bin/env bash
# A stock Auth0 SDK against the demo: tests/sdk/auth0_python.py drives the pinned `auth0-python`
# from PyPI through the gateway (password-realm login, the id_token through the SDK's own
# TokenVerifier, userinfo, refresh, a wrong password refused with 403 invalid_grant).
#
#   .ci/sdk.sh [BINARY]          BINARY defaults to target/debug/authgate
#
# It installs the pinned SDK into target/sdk-venv (once), starts BINARY with a copy of
# gateway.yaml on free loopback ports — every `127.0.0.1:8080` replaced, so the issuer and the
# public URL name the new proxy port as SDKs expect (https://<the domain they were given>/) —,
# runs the test, stops the gateway by its PID, and exits with the test's status.
# Bounded under 2 minutes: the install 60 s at most (once; about 10 s here), the start 20 s,
# the test 25 s (about 1 s here), the stop 12 s.
set -euo pipefail
cd "$(dirname "$0")/.."

AUTH0_PYTHON_VERSION=6.8.0
VENV=$PWD/target/sdk-venv
BIN=${1:-target/debug/authgate}
TEST=$PWD/tests/sdk/auth0_python.py

[ -x "$BIN" ] || { echo "sdk.sh: no executable gateway at $BIN (build it first)" >&2; exit 2; }

# --- (a) the pinned SDK, in a virtual environment of its own ------------------------------
# shellcheck source=demo-gateway.sh
. "$(dirname "$0")/demo-gateway.sh"
pinned_venv "$VENV" auth0-python "$AUTH0_PYTHON_VERSION" 60
PY="$VENV/bin/python"

# --- (b) the gateway on free loopback ports ----------------------------------------------
work=$(mktemp -d)
stop_on_exit

demo_config sdk.sh
# The issuer the SDK must find in the id_token: the demo's dev_tenant.issuer, on the new port.
ISSUER=$(sed -nE '/^dev_tenant:/,/^[^ #]/ s/^  issuer: *([^ #]+).*/\1/p' "$work/gateway.yaml")
[ -n "$ISSUER" ] || { echo "sdk.sh: gateway.yaml has no dev_tenant.issuer (SDKs need the gateway's address there)" >&2; exit 2; }

start_gateway sdk.sh

# --- (c) the SDK test --------------------------------------------------------------------
echo
status=0
# In the background, so that a signal to this script stops it at once (see stop_all in demo-gateway.sh).
timeout --kill-after=2 25 "$PY" "$TEST" --url "http://127.0.0.1:$PROXY" --issuer "$ISSUER" &
child_pid=$!
wait "$child_pid" || status=$?
child_pid=""
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "sdk.sh: the SDK test did not finish within 25 s" >&2
fi

# --- (d) stop the gateway; its warnings help explain a failure ----------------------------
stop_gateway
if [ "$status" -ne 0 ]; then
  echo >&2
  echo "the gateway's last log lines:" >&2
  tail -n 20 "$work/gateway.log" >&2
fi
exit "$status"
