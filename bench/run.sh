#!/usr/bin/env bash
# The benchmark harness: authgate against the proxy users would otherwise run (nginx), on one
# machine, loopback only. Targets:
#   (a) the backend directly (nginx, one worker, a small static JSON file)
#   (b) nginx as a plain reverse proxy to it (one worker): the reference
#   (c) authgate, public route            (d) authgate, authenticated (RS256 Bearer, identity headers)
#   (e) authgate, the sid cookie          (f) POST /oauth/token through authgate vs straight to the dev tenant
#   (g) authgate, Bearer, backend limits per IP and per user, in memory
#   (h) the same with the shared store (a local redis-server): the cost of counting in Redis
# Every target is checked for a correct answer first. wrk: same threads, connections and
# duration for every target, a warm-up, ROUNDS rounds interleaved, the median reported.
# Usage: bench/run.sh [seconds_per_run] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-32}
rounds=${3:-3}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
if [ "${#need[@]}" -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cargo build --release --quiet

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/nginx-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
backend=$(free_port); proxy=$(free_port); tenant=$(free_port); gw=$(free_port); admin=$(free_port)
gwm=$(free_port); adminm=$(free_port); gwr=$(free_port); adminr=$(free_port); redis=$(free_port)

# --- nginx: the backend and the reference reverse proxy, one worker each ---------------------
chmod 755 "$work"
mkdir -p "$work/www"
echo '{"id":42,"name":"widget","price":9.5,"tags":["a","b"]}' > "$work/www/item.json"
nginx_conf() { # name body
  cat > "$work/nginx-$1.conf" <<NGINX
worker_processes 1;
daemon on;
pid $work/nginx-$1.pid;
error_log $work/nginx-$1.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-$1-tmp; proxy_temp_path $work/nginx-$1-tmp;
  fastcgi_temp_path $work/nginx-$1-tmp; uwsgi_temp_path $work/nginx-$1-tmp; scgi_temp_path $work/nginx-$1-tmp;
  $2
}
NGINX
  mkdir -p "$work/nginx-$1-tmp"
  "$NGINX" -c "$work/nginx-$1.conf" -e "$work/nginx-$1.err"
}
nginx_conf backend "server {
    listen 127.0.0.1:$backend;
    location = /whoami { default_type application/json; return 200 '{\"user\":\"\$http_x_user_id\"}'; }
    location / { root $work/www; default_type application/json; try_files /item.json =404; }
  }"
nginx_conf proxy "upstream backend { server 127.0.0.1:$backend; keepalive 64; }
  server {
    listen 127.0.0.1:$proxy;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }"

# --- the dev tenant (its own process, fast password hashing) and authgate (one worker) -------
sed -e "s/127.0.0.1:8080/127.0.0.1:$gw/; s/127.0.0.1:9090/127.0.0.1:$admin/" \
    -e "s|http://127.0.0.1:8081|http://127.0.0.1:$tenant|; s|http://127.0.0.1:8082|http://127.0.0.1:$backend|" \
    -e "s/embedded: true/embedded: false/; s/embedded_echo: true/embedded_echo: false/" \
    -e "s/^  audience: https:\/\/api.authgate.local/  audience: https:\/\/api.authgate.local\n  password_hash: fast/" \
    gateway.yaml > "$work/gateway.yaml"
export LOGIN_RATE=1000000/s LOGIN_BURST=1000000 LOGIN_ATTEMPTS_RATE=1000000/s LOGIN_ATTEMPTS_BURST=1000000
RUST_LOG=warn ./target/release/authgate dev-tenant --listen "127.0.0.1:$tenant" --config "$work/gateway.yaml" >/dev/null 2>&1 &
pids+=($!)
wait_port "$tenant"; wait_port "$backend"; wait_port "$proxy"
RUST_LOG=warn ./target/release/authgate --config "$work/gateway.yaml" >/dev/null 2>"$work/gateway.log" &
gwpid=$!; pids+=($gwpid)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break; sleep 0.05; done
# (g) and (h): backend limits on (rates far above the load), in memory and in a local Redis.
limits='  backend_per_ip: { rate: 100000000/s, burst: 100000000 }\n  backend_per_user: { rate: 100000000/s, burst: 100000000 }'
sed -e "s/^listen: 127.0.0.1:$gw/listen: 127.0.0.1:$gwm/; s/^admin_listen: 127.0.0.1:$admin/admin_listen: 127.0.0.1:$adminm/" -e "s|^  # backend_per_ip: .*|$limits|" \
    "$work/gateway.yaml" > "$work/gateway-memory.yaml"
sed -e "s/^listen: 127.0.0.1:$gwm/listen: 127.0.0.1:$gwr/; s/^admin_listen: 127.0.0.1:$adminm/admin_listen: 127.0.0.1:$adminr/" \
    -e "s|^session:|store:\n  redis: { urls: [\"redis://127.0.0.1:$redis/0\"] }\nsession:\n  encryption_key: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=|" \
    "$work/gateway-memory.yaml" > "$work/gateway-redis.yaml"
grep -q "backend_per_user" "$work/gateway-memory.yaml" && grep -q "^store:" "$work/gateway-redis.yaml"
redis-server --port "$redis" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null 2>&1 &
pids+=($!); wait_port "$redis"
for v in memory:$adminm redis:$adminr; do
  RUST_LOG=warn ./target/release/authgate --config "$work/gateway-${v%%:*}.yaml" >/dev/null 2>"$work/gateway-${v%%:*}.log" &
  pids+=($!)
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:${v#*:}/readyz" >/dev/null && break; sleep 0.05; done
done
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$gwpid/status"; }
idle_rss=$(rss)

# --- correct answers first: a fast wrong answer is never reported -----------------------------
token=$(curl -sf -X POST "http://127.0.0.1:$gw/oauth/token" -H 'secret: mobile-secret' \
  -d grant_type=password -d username=demo@example.com -d password=demo-password \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
cookie=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$gw/oauth/token" -H 'secret: website-secret' \
  -d grant_type=password -d username=demo@example.com -d password=demo-password | sed -n 's/^set-cookie: \(sid=[^;]*\).*/\1/ip')
sub=$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"=="))["sub"])' "$token")
check() { [ "$1" = "$2" ] || { echo "check failed: $3: got $1, expected $2" >&2; exit 1; }; }
check "$(curl -s "http://127.0.0.1:$backend/api/item")" "$(cat "$work/www/item.json")" "backend"
check "$(curl -s "http://127.0.0.1:$proxy/api/item")" "$(cat "$work/www/item.json")" "nginx proxy"
check "$(curl -s "http://127.0.0.1:$gw/public/item")" "$(cat "$work/www/item.json")" "authgate public"
check "$(curl -s "http://127.0.0.1:$gw/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate bearer"
check "$(curl -s "http://127.0.0.1:$gw/api/item" -H "cookie: $cookie")" "$(cat "$work/www/item.json")" "authgate cookie"
check "$(curl -s "http://127.0.0.1:$gw/whoami" -H "authorization: Bearer $token" -H 'x-user-id: forged')" "{\"user\":\"$sub\"}" "the backend sees the identity"
check "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/api/item" -H "authorization: Bearer ${token%?}x")" 401 "a wrong token is refused"
check "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/api/item")" 401 "no token is refused"
for g in $gwm $gwr; do
  check "$(curl -s "http://127.0.0.1:$g/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate with limits ($g)"
  curl -s -D - -o /dev/null "http://127.0.0.1:$g/api/item" -H "authorization: Bearer $token" | grep -qi '^x-ratelimit-remaining' \
    || { echo "check failed: no rate-limit headers from $g" >&2; exit 1; }
done
redis-cli -p "$redis" info commandstats | grep -Eq '^cmdstat_(evalsha|eval):calls=[1-9]' \
  || { echo "check failed: nothing counted in Redis" >&2; exit 1; }

cat > "$work/login-gw.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["secret"] = "mobile-secret"
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=demo%40example.com&password=demo-password&scope=openid%20offline_access"
LUA
cat > "$work/login-tenant.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=http%3A%2F%2Fauth0.com%2Foauth%2Fgrant-type%2Fpassword-realm&realm=Username-Password-Authentication&username=demo%40example.com&password=demo-password&client_id=mobile-app&client_secret=mobile-client-secret&scope=openid%20offline_access&audience=https%3A%2F%2Fapi.authgate.local"
LUA
check "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$tenant/oauth/token" -d client_id=mobile-app -d client_secret=mobile-client-secret -d grant_type=password -d username=demo@example.com -d password=demo-password)" 200 "dev tenant login"

# --- the runs ---------------------------------------------------------------------------------
declare -A url hdr script conn
add() { url[$1]=$2; hdr[$1]=${3:-}; script[$1]=${4:-}; conn[$1]=${5:-$conns}; }
add a_backend "http://127.0.0.1:$backend/api/item"
add b_nginx "http://127.0.0.1:$proxy/api/item"
add c_public "http://127.0.0.1:$gw/public/item"
add d_bearer "http://127.0.0.1:$gw/api/item" "authorization: Bearer $token"
add e_cookie "http://127.0.0.1:$gw/api/item" "cookie: $cookie"
add g_limits_memory "http://127.0.0.1:$gwm/api/item" "authorization: Bearer $token"
add h_limits_redis "http://127.0.0.1:$gwr/api/item" "authorization: Bearer $token"
add f_login_tenant "http://127.0.0.1:$tenant/oauth/token" "" login-tenant.lua 1
add f_login_gateway "http://127.0.0.1:$gw/oauth/token" "" login-gw.lua 1
order=(a_backend b_nginx c_public d_bearer e_cookie g_limits_memory h_limits_redis f_login_tenant f_login_gateway)
wrk_run() { # target duration -> "rps p50_ms p99_ms"
  local t=$1 args=(-t1 -c"${conn[$1]}" -d"$2" --latency)
  [ -n "${hdr[$t]}" ] && args+=(-H "${hdr[$t]}")
  [ -n "${script[$t]}" ] && args+=(-s "$work/${script[$t]}")
  wrk "${args[@]}" "${url[$t]}" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ {rps=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)} /Non-2xx/ {bad=$4}
    END {printf "%s %.3f %.3f %d\n", rps, p50, p99, bad}'
}
for t in "${order[@]}"; do wrk_run "$t" 2s >/dev/null; done   # warm-up
declare -A results
for r in $(seq "$rounds"); do
  for t in "${order[@]}"; do
    out=$(wrk_run "$t" "${secs}s")
    [ "$(awk '{print $4}' <<<"$out")" = 0 ] || { echo "$t answered non-2xx under load: $out" >&2; exit 1; }
    results[$t]+="$out"$'\n'
  done
done
loaded_rss=$(rss)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' <<<"${results[$1]}" | grep . | median; }
ref=$(col b_nginx 1)
echo "wrk -t1 -c$conns (logins: -c1), ${secs}s x $rounds rounds interleaved, median; $(nproc) cores shared by wrk, nginx and authgate (1 worker thread)"
printf '%-34s %12s %10s %10s %10s\n' target req/s p50_ms p99_ms vs_nginx
for t in "${order[@]}"; do
  printf '%-34s %12s %10s %10s %9.2fx\n' "$t" "$(col "$t" 1)" "$(col "$t" 2)" "$(col "$t" 3)" "$(awk -v x="$(col "$t" 1)" -v r="$ref" 'BEGIN {print x / r}')"
done
echo "limits counted in Redis vs in memory: $(awk -v r="$(col h_limits_redis 1)" -v m="$(col g_limits_memory 1)" 'BEGIN {printf "%.2f", r / m}')x the throughput"
echo "login: authgate adds $(awk -v g="$(col f_login_gateway 2)" -v t="$(col f_login_tenant 2)" 'BEGIN {printf "%.3f", g - t}') ms to the median (1 connection)"
echo "authgate resident memory: idle $idle_rss, after the load $loaded_rss"
