# Sourced by .ci/schemathesis.sh, .ci/sdk.sh and .ci/browser.sh: the demo gateway on free
# loopback ports. Needs $BIN (the binary), $PY (a python3) and $work (a scratch directory); defines
#   pinned_venv DIR PACKAGE VERSION SECONDS   DIR holds PACKAGE==VERSION (installed only when not)
#   stop_on_exit           on exit or a signal: stop $child_pid (a test run in the background, so
#                          a signal stops it at once) and the gateway, remove $work
#   alive PID              whether a process runs (a child that exited stays a zombie)
#   stop_gateway           SIGTERM (it drains), SIGKILL past 12 s
#   demo_config NAME       PROXY ADMIN TENANT ECHO (held free until exit) and $work/gateway.yaml: the repository's
#                          gateway.yaml with every 127.0.0.1:8080/9090/8081/8082 moved (listen,
#                          public_url and the issuers follow the proxy port)
#   start_gateway NAME [VAR=VALUE…]   start it with the demo's default secrets and wait for /readyz
gateway_pid=""
child_pid=""
port_holder_pid=""

pinned_venv() {
  local dir=$1 package=$2 version=$3 seconds=$4 installed
  installed=$("$dir/bin/python" -c 'import sys; from importlib.metadata import version; print(version(sys.argv[1]))' \
    "$package" 2>/dev/null || true)
  [ "$installed" = "$version" ] && return 0
  echo "installing $package $version into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir"
  timeout "$seconds" "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --timeout 30 "$package==$version"
}

stop_on_exit() {
  trap 'stop_all' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

stop_all() {
  if [ -n "$child_pid" ]; then
    kill -TERM "$child_pid" 2>/dev/null || true
    wait "$child_pid" 2>/dev/null || true
  fi
  stop_gateway
  if [ -n "$port_holder_pid" ]; then
    kill -TERM "$port_holder_pid" 2>/dev/null || true
    wait "$port_holder_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

alive() {
  local state
  state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

stop_gateway() {
  if [ -n "$gateway_pid" ]; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      alive "$gateway_pid" || break
      sleep 0.2
    done
    kill -KILL "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  gateway_pid=""
}

demo_config() {
  local name=$1
  # Four free ports on 127.0.0.1, held until the script ends by a process that keeps a socket
  # bound to each (SO_REUSEADDR, never listening): nobody else is given them, and the gateway,
  # which sets SO_REUSEADDR too, binds them beside it. No bind-drop-rebind race.
  "$PY" "$(dirname "${BASH_SOURCE[0]}")/hold_ports.py" 4 "$work/ports" &
  port_holder_pid=$!
  for _ in $(seq 1 50); do
    [ -s "$work/ports" ] && break
    sleep 0.1
  done
  read -r PROXY ADMIN TENANT ECHO <"$work/ports"
  sed -E \
    -e "s/127\.0\.0\.1:8080\b/127.0.0.1:$PROXY/g" \
    -e "s/127\.0\.0\.1:9090\b/127.0.0.1:$ADMIN/g" \
    -e "s/127\.0\.0\.1:8081\b/127.0.0.1:$TENANT/g" \
    -e "s/127\.0\.0\.1:8082\b/127.0.0.1:$ECHO/g" \
    gateway.yaml >"$work/gateway.yaml"
  for port in "$PROXY" "$ADMIN" "$TENANT" "$ECHO"; do
    grep -q "127.0.0.1:$port\b" "$work/gateway.yaml" || { echo "$name: port $port not set in the config copy" >&2; exit 2; }
  done
  if grep -Eq '127\.0\.0\.1:(8080|9090|8081|8082)\b' "$work/gateway.yaml"; then
    echo "$name: a default port is left in the config copy" >&2
    exit 2
  fi
}

start_gateway() {
  local name=$1
  shift
  echo "starting $BIN: proxy 127.0.0.1:$PROXY, admin 127.0.0.1:$ADMIN, tenant 127.0.0.1:$TENANT, echo 127.0.0.1:$ECHO"
  # The demo's secrets are gateway.yaml's defaults (the checks use them), whatever this shell has.
  env -u MOBILE_SECRET -u WEBSITE_SECRET -u SERVICE_SECRET -u SERVICE_CLIENT_SECRET -u ADMIN_SECRET \
    "$@" RUST_LOG=warn "$BIN" --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
  gateway_pid=$!
  # Ready: /readyz is 200 once the tenant's signing keys are loaded.
  for _ in $(seq 1 100); do
    if ! alive "$gateway_pid"; then
      echo "$name: the gateway exited at start:" >&2
      tail -n 30 "$work/gateway.log" >&2
      exit 1
    fi
    if "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$ADMIN/readyz" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "$name: the gateway was not ready within 20 s" >&2
  tail -n 30 "$work/gateway.log" >&2
  exit 1
}
