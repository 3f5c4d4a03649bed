#!/usr/bin/env bash
# Memory of the rate-limit state: authgate's resident memory at idle, after N distinct client
# IPs (sent through a trusted proxy's X-Forwarded-For, one new IP per request, on a public
# route limited per IP), and after the idle keys were swept (every 30 s).
# Loopback only; starts the release binary on free ports and stops it by PID.
# Usage: bench/limits-memory.sh [distinct_keys]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}

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
    -e "s|trusted_proxies: \[\]|trusted_proxies: [127.0.0.1/32]|" \
    -e "s|# backend_per_ip: .*|backend_per_ip: { rate: 10/s, burst: 20 }|" \
    gateway.yaml > "$work/gateway.yaml"
grep -q "trusted_proxies: \[127.0.0.1/32\]" "$work/gateway.yaml" && grep -q "^  backend_per_ip" "$work/gateway.yaml"
RUST_LOG=warn ./target/release/authgate --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.log" &
pid=$!; pids+=($pid)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.1; done
kill -0 "$pid" || { cat "$work/gateway.log"; exit 1; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status"; }
sleep 1
echo "idle:                      $(rss)"

# Each wrk thread walks its own range of IPv4 addresses: every request is a new client key.
cat > "$work/ips.lua" <<'LUA'
local counter = 0
local base = 0
local threads = 0
-- Thread k walks from k * 2^24 + offset, where offset (the first argument) is what earlier
-- runs sent, so no address repeats across threads or runs.
function setup(thread) thread:set("base", threads * 16777216); threads = threads + 1 end
function init(args) base = base + tonumber(args[1] or "0") end
function request()
  counter = counter + 1
  local n = base + counter
  local ip = string.format("%d.%d.%d.%d", 11 + math.floor(n / 16777216) % 200, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", "/public/x", { ["X-Forwarded-For"] = ip })
end
LUA
sent=0
while [ "$sent" -lt "$keys" ]; do
  out=$(wrk -t2 -c32 -d10s -s "$work/ips.lua" "http://127.0.0.1:$gw/" -- "$sent" 2>&1)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  sent=$((sent + n))
  echo "  sent $sent requests ($(rss))"
done
echo "after the load:            $(rss)"
sleep 35
echo "after the sweep (35 s):    $(rss)"
