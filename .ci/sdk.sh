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
installed=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("auth0-python"))' 2>/dev/null || true)
if [ "$installed" != "$AUTH0_PYTHON_VERSION" ]; then
  echo "installing auth0-python $AUTH0_PYTHON_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  timeout 60 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --timeout 20 \
    "auth0-python==$AUTH0_PYTHON_VERSION"
fi
PY="$VENV/bin/python"

# --- (b) the gateway on free loopback ports ----------------------------------------------
work=$(mktemp -d)
gateway_pid=""
test_pid=""
# Whether process $1 runs (a child that exited stays a zombie until waited for).
alive() {
  local state
  state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}
stop_gateway() {
  if [ -n "$gateway_pid" ]; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    # SIGTERM drains: idle, it exits at once; past 12 s (its grace period is 10 s), end it.
    for _ in $(seq 1 60); do
      alive "$gateway_pid" || break
      sleep 0.2
    done
    kill -KILL "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  gateway_pid=""
}
cleanup() {
  if [ -n "$test_pid" ]; then
    kill -TERM "$test_pid" 2>/dev/null || true
    wait "$test_pid" 2>/dev/null || true
  fi
  stop_gateway
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Four distinct free ports on 127.0.0.1 (held together while chosen, so they differ).
read -r PROXY ADMIN TENANT ECHO < <("$PY" - <<'EOF'
import socket
socks = []
for _ in range(4):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
EOF
)
# Every 127.0.0.1:8080 — listen, public_url, tenant.issuer, dev_tenant.issuer — becomes the
# new proxy port: the issuer must stay the address the SDK is given.
sed -E \
  -e "s/127\.0\.0\.1:8080\b/127.0.0.1:$PROXY/g" \
  -e "s/127\.0\.0\.1:9090\b/127.0.0.1:$ADMIN/g" \
  -e "s/127\.0\.0\.1:8081\b/127.0.0.1:$TENANT/g" \
  -e "s/127\.0\.0\.1:8082\b/127.0.0.1:$ECHO/g" \
  gateway.yaml >"$work/gateway.yaml"
for port in "$PROXY" "$ADMIN" "$TENANT" "$ECHO"; do
  grep -q "127.0.0.1:$port\b" "$work/gateway.yaml" || { echo "sdk.sh: port $port not set in the config copy" >&2; exit 2; }
done
if grep -Eq '127\.0\.0\.1:(8080|9090|8081|8082)\b' "$work/gateway.yaml"; then
  echo "sdk.sh: a default port is left in the config copy" >&2
  exit 2
fi
# The issuer the SDK must find in the id_token: the demo's dev_tenant.issuer, on the new port.
ISSUER=$(sed -nE '/^dev_tenant:/,/^[^ #]/ s/^  issuer: *([^ #]+).*/\1/p' "$work/gateway.yaml")
[ -n "$ISSUER" ] || { echo "sdk.sh: gateway.yaml has no dev_tenant.issuer (SDKs need the gateway's address there)" >&2; exit 2; }

echo "starting $BIN: proxy 127.0.0.1:$PROXY, admin 127.0.0.1:$ADMIN, tenant 127.0.0.1:$TENANT, echo 127.0.0.1:$ECHO"
# The demo's secrets are gateway.yaml's defaults (the test uses them), whatever this shell has.
env -u MOBILE_SECRET -u WEBSITE_SECRET -u SERVICE_SECRET -u SERVICE_CLIENT_SECRET \
  RUST_LOG=warn "$BIN" --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gateway_pid=$!

# Ready: /readyz is 200 once the tenant's signing keys are loaded.
ready=""
for _ in $(seq 1 100); do
  if ! alive "$gateway_pid"; then
    echo "sdk.sh: the gateway exited at start:" >&2
    tail -n 30 "$work/gateway.log" >&2
    exit 1
  fi
  if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$ADMIN/readyz" 2>/dev/null; then
    ready=yes
    break
  fi
  sleep 0.2
done
[ -n "$ready" ] || { echo "sdk.sh: the gateway was not ready within 20 s" >&2; tail -n 30 "$work/gateway.log" >&2; exit 1; }

# --- (c) the SDK test --------------------------------------------------------------------
echo
status=0
# In the background, so that a signal to this script stops it at once (see cleanup).
timeout --kill-after=2 25 "$PY" "$TEST" --url "http://127.0.0.1:$PROXY" --issuer "$ISSUER" &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""
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
