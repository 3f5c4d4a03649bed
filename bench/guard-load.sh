#!/usr/bin/env bash
# Load run: an authenticated request (RS256 Bearer, identity headers injected) and a public
# request through authgate, versus the same request straight to the backend, with wrk.
# Loopback only; starts the release binary with the demo config on free ports, stops it by PID.
# Usage: bench/guard-load.sh [seconds] [connections]
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
sed -e "s/127.0.0.1:8080/127.0.0.1:$gw/; s/127.0.0.1:9090/127.0.0.1:$admin/" \
    -e "s/127.0.0.1:8081/127.0.0.1:$tenant/; s/127.0.0.1:8082/127.0.0.1:$backend/" \
    gateway.yaml > "$work/gateway.yaml"
RUST_LOG=warn ./target/release/authgate --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.1; done

token=$(curl -sf -X POST "http://127.0.0.1:$gw/oauth/token" -H 'secret: mobile-secret' \
  -d grant_type=password -d username=demo@example.com -d password=demo-password \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')

# Correct answers first: a fast wrong answer is never reported.
curl -s "http://127.0.0.1:$gw/api/me" -H "authorization: Bearer $token" | grep -q '"x-user-email":"demo@example.com"'
test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/api/me" -H "authorization: Bearer ${token}x")" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/public/x")" = 200

run() { # name url [header]
  local args=(-t1 -c"$conns" --latency)
  [ -n "${3:-}" ] && args+=(-H "$3")
  wrk "${args[@]}" -d2s "$2" >/dev/null   # warm-up
  local out; out=$(wrk "${args[@]}" -d"${secs}s" "$2")
  printf '%-40s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $4}' <<<"$out" | grep . || echo 0)"
}
echo "wrk: 1 thread, $conns connections, ${secs}s per run after a 2s warm-up, $(nproc) cores shared by all"
run "backend directly" "http://127.0.0.1:$backend/api/me" "authorization: Bearer $token"
run "authgate, authenticated (Bearer RS256)" "http://127.0.0.1:$gw/api/me" "authorization: Bearer $token"
run "authgate, public route" "http://127.0.0.1:$gw/public/x"
echo "authgate RSS after the load: $(awk '/VmRSS/ {print $2, $3}' "/proc/${pids[0]}/status")"
