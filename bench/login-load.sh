#!/usr/bin/env bash
# Load run: POST /oauth/token through authgate versus straight to the dev tenant, with wrk.
# Loopback only; starts the release binary with the demo config on free ports, stops it by PID.
# Usage: bench/login-load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gw=$(free_port); admin=$(free_port); tenant=$(free_port); backend=$(free_port)

# The demo configuration on free ports, with the dev tenant's fast password-hash setting (so the
# run measures the gateway, not argon2).
sed -e "s/127.0.0.1:8080/127.0.0.1:$gw/; s/127.0.0.1:9090/127.0.0.1:$admin/" \
    -e "s/127.0.0.1:8081/127.0.0.1:$tenant/; s/127.0.0.1:8082/127.0.0.1:$backend/" \
    -e "s/^  audience: https:\/\/api.authgate.local/  audience: https:\/\/api.authgate.local\n  password_hash: fast/" \
    gateway.yaml > "$work/gateway.yaml"
# The run logs in as one user from one IP far beyond the demo's limits: lift them.
export LOGIN_RATE=1000000/s LOGIN_BURST=1000000 LOGIN_ATTEMPTS_RATE=1000000/s LOGIN_ATTEMPTS_BURST=1000000
RUST_LOG=warn ./target/release/authgate --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.1; done

cat > "$work/gateway.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["secret"] = "mobile-secret"
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=demo%40example.com&password=demo-password&scope=openid%20offline_access"
LUA
cat > "$work/tenant.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=http%3A%2F%2Fauth0.com%2Foauth%2Fgrant-type%2Fpassword-realm&realm=Username-Password-Authentication&username=demo%40example.com&password=demo-password&client_id=mobile-app&client_secret=mobile-client-secret&scope=openid%20offline_access&audience=https%3A%2F%2Fapi.authgate.local"
LUA

# Correct answers first: a fast wrong answer is never reported.
curl -sf -X POST "http://127.0.0.1:$gw/oauth/token" -H 'secret: mobile-secret' \
  -d grant_type=password -d username=demo@example.com -d password=demo-password | grep -q accessToken
curl -sf -X POST "http://127.0.0.1:$tenant/oauth/token" -d client_id=mobile-app -d client_secret=mobile-client-secret \
  -d grant_type=password -d username=demo@example.com -d password=demo-password | grep -q access_token

run() { # name url script connections
  wrk -t1 -c"$4" -d2s -s "$work/$3" "$2" >/dev/null   # warm-up
  local out; out=$(wrk -t1 -c"$4" -d"${secs}s" --latency -s "$work/$3" "$2")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  printf '%-32s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}
echo "wrk: 1 thread, ${secs}s per run after a 2s warm-up, $(nproc) cores shared by wrk, gateway and tenant"
for c in 1 "$conns"; do
  echo "-- $c connection(s)"
  run "dev tenant /oauth/token (direct)" "http://127.0.0.1:$tenant/oauth/token" tenant.lua "$c"
  run "authgate /oauth/token" "http://127.0.0.1:$gw/oauth/token" gateway.lua "$c"
done
echo "authgate RSS after the load: $(awk '/VmRSS/ {print $2, $3}' "/proc/${pids[0]}/status")"
