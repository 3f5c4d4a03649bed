#!/usr/bin/env bash
# The benchmark harness: authgate against the proxies users would otherwise run (HAProxy and
# nginx), on one machine, loopback only. Targets:
#   (a) the backend directly (nginx, one worker, a small static JSON file)
#   (i) HAProxy as a plain reverse proxy to it (Debian's haproxy, nbthread 1): the reference
#   (b) nginx as a plain reverse proxy to it (one worker)
#   (c) authgate, public route            (d) authgate, authenticated (RS256 Bearer, identity headers)
#   (e) authgate, the sid cookie          (f) POST /oauth/token through authgate vs straight to the dev tenant
#   (j) HAProxy with its native jwt_verify: the checks authgate makes (bench/haproxy/jwt.cfg.in)
#   (g) authgate, Bearer, backend limits per IP and per user, in memory
#   (h) the same with the shared store (a local redis-server): the cost of counting in Redis
#   (n) authgate, Bearer, OpenTelemetry traces on, 1 % sampled  (o) the same, every request
#       sampled (spans to bench/otlp_sink.py over OTLP/HTTP): the cost of tracing against (d)
# authgate runs as users run it: the default log level (info), JSON lines as the Deployment
# writes them (AUTHGATE_LOG_FORMAT=text for text), the access line on, stdout and stderr
# appended to a file in the work directory as a log collector would read them, and /metrics
# scraped every 15 s. Every target is checked for a correct answer first. wrk:
# same threads, connections and duration for every target, a warm-up, ROUNDS rounds
# interleaved, the median reported; every ratio against HAProxy plain (and nginx).
# SCALE=1 adds the scale run (after the report): authgate's memory with SCALE_CONNECTIONS
# (10,000) idle keep-alive connections open (bench/hold_connections.py), against HAProxy's; and
# throughput and memory with SCALE_TOKENS (100,000) distinct valid tokens in rotation, the
# verified-token cache under churn (SCALE_CACHE_BYTES sets guard.token_cache_bytes), against
# HAProxy jwt on the same tokens.
# Usage: [SCALE=1] bench/run.sh [seconds_per_run] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-32}
rounds=${3:-3}
scale=${SCALE:-0}
ntok=${SCALE_TOKENS:-100000}
hold=${SCALE_CONNECTIONS:-10000}
if [ "$scale" = 1 ]; then
  # One descriptor per held connection in authgate, HAProxy and the client (each its own process).
  hard=$(ulimit -Hn); [ "$hard" = unlimited ] && hard=1048576
  ulimit -n "$hard" 2>/dev/null || true
  [ "$(ulimit -n)" -ge $((hold + 1000)) ] \
    || { echo "SCALE=1: the open-files limit ($hard) is below $((hold + 1000)): raise ulimit -Hn or set SCALE_CONNECTIONS" >&2; exit 1; }
fi
# authgate as users run it: RUST_LOG unset (info), JSON lines as the Deployment logs them.
unset RUST_LOG
export AUTHGATE_LOG_FORMAT=${AUTHGATE_LOG_FORMAT:-json}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v ss >/dev/null || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
haproxy_version=$("$HAPROXY" -v | awk 'NR == 1 {print $3}')
case $haproxy_version in 1.* | 2.[0-4] | 2.[0-4].* | 2.[0-4]-*) echo "HAProxy $haproxy_version: jwt_verify needs 2.5 or later" >&2; exit 1 ;; esac
# AUTHGATE_BIN=path runs that binary instead of building this tree (to compare two builds).
if [ -n "${AUTHGATE_BIN:-}" ]; then AUTHGATE=$AUTHGATE_BIN; else cargo build --release --quiet; AUTHGATE=./target/release/authgate; fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/nginx-*.pid "$work"/haproxy-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
# Nineteen distinct free ports, held until the run ends by a process with a socket bound to each
# (SO_REUSEADDR, never listening), as .ci/demo-gateway.sh holds the demo's: nobody else is given
# them, and nginx, HAProxy, redis and authgate (all SO_REUSEADDR) bind them beside it.
python3 .ci/hold_ports.py 19 "$work/ports" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/ports" ] && break; sleep 0.1; done
read -r backend proxy tenant gw admin gwm adminm gwr adminr redis hap hapj gws admins gwt1 admint1 gwt100 admint100 sink <"$work/ports"

# --- nginx: the backend and a plain reverse proxy to it, one worker each ----------------------
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

# --- HAProxy: the plain reference now, the JWT one once the tenant's key is known --------------
audience=https://api.authgate.local
issuer=""    # the tenant's, read from the configuration below
haproxy_conf() { # name port: bench/haproxy/<name>.cfg.in with this run's values, checked, started
  sed -e "s|@PORT@|$2|g; s|@BACKEND@|$backend|g; s|@MAXCONN@|$((hold + 2000))|g; s|@PIDFILE@|$work/haproxy-$1.pid|g" \
      -e "s|@PEM@|$work/tenant-key.pem|g; s|@ISSUER@|$issuer|g; s|@AUDIENCE@|$audience|g" \
      "bench/haproxy/$1.cfg.in" > "$work/haproxy-$1.cfg"
  ! grep -n '^[^#]*@[A-Z]*@' "$work/haproxy-$1.cfg" || { echo "haproxy-$1.cfg: a value is missing" >&2; exit 1; }
  "$HAPROXY" -c -f "$work/haproxy-$1.cfg" >/dev/null 2>>"$work/haproxy-$1.err" \
    && "$HAPROXY" -f "$work/haproxy-$1.cfg" 2>>"$work/haproxy-$1.err" \
    || { cat "$work/haproxy-$1.err" >&2; exit 1; }
}
haproxy_conf plain "$hap"

# --- the dev tenant (its own process, fast password hashing, quiet: it stands for the identity
# provider) and authgate (one worker, logging as users run it) ---------------------------------
sed -e "s/127.0.0.1:8080/127.0.0.1:$gw/; s/127.0.0.1:9090/127.0.0.1:$admin/" \
    -e "s|http://127.0.0.1:8081|http://127.0.0.1:$tenant|; s|http://127.0.0.1:8082|http://127.0.0.1:$backend|" \
    -e "s/embedded: true/embedded: false/; s/embedded_echo: true/embedded_echo: false/" \
    -e "s/^  audience: https:\/\/api.authgate.local/  audience: https:\/\/api.authgate.local\n  password_hash: fast/" \
    -e "s|^  rules:\$|  rules:\n    - { prefix: /ruled/, policy: authenticated, allow: [{ groups: [admins], scopes: [openid], claims: { email_verified: 'true' } }] }|" \
    gateway.yaml > "$work/gateway.yaml"
grep -q "prefix: /ruled/" "$work/gateway.yaml" || { echo "bench: the 3-condition rule was not added" >&2; exit 1; }
export LOGIN_RATE=1000000/s LOGIN_BURST=1000000 LOGIN_ATTEMPTS_RATE=1000000/s LOGIN_ATTEMPTS_BURST=1000000
RUST_LOG=warn "$AUTHGATE" dev-tenant --listen "127.0.0.1:$tenant" --config "$work/gateway.yaml" >/dev/null 2>&1 &
pids+=($!)
wait_port "$tenant"; wait_port "$backend"; wait_port "$proxy"; wait_port "$hap"
start_gw() { # name config admin_port -> $gw_pid; stdout and stderr appended to $work/authgate-<name>.log
  "$AUTHGATE" --config "$2" >>"$work/authgate-$1.log" 2>&1 &
  gw_pid=$!; pids+=($gw_pid)
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && return 0
    kill -0 "$gw_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "authgate ($1) did not become ready:" >&2; tail -n 20 "$work/authgate-$1.log" >&2; exit 1
}
start_gw main "$work/gateway.yaml" "$admin"; gwpid=$gw_pid
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
start_gw memory "$work/gateway-memory.yaml" "$adminm"
start_gw redis "$work/gateway-redis.yaml" "$adminr"
# (n) and (o): the main configuration with traces exported to a local OTLP sink.
python3 bench/otlp_sink.py "$sink" "$work/otlp-exports" &
sinkpid=$!; pids+=($sinkpid); wait_port "$sink"
for t in 1 100; do
  gp=gwt$t ap=admint$t
  sed -e "s/^listen: 127.0.0.1:$gw/listen: 127.0.0.1:${!gp}/; s/^admin_listen: 127.0.0.1:$admin/admin_listen: 127.0.0.1:${!ap}/" \
    "$work/gateway.yaml" > "$work/gateway-traced$t.yaml"
done
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 \
  start_gw traced1 "$work/gateway-traced1.yaml" "$admint1"
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink" OTEL_TRACES_SAMPLER=always_on \
  start_gw traced100 "$work/gateway-traced100.yaml" "$admint100"
# Metrics on, as a Prometheus would read them: every gateway's /metrics every 15 s.
( while sleep 15; do for a in $admin $adminm $adminr; do curl -s -o /dev/null "http://127.0.0.1:$a/metrics" || true; done; done ) &
pids+=($!)
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/${1:-$gwpid}/status"; }
hapid=$(cat "$work/haproxy-plain.pid")
idle_rss=$(rss); hap_idle_rss=$(rss "$hapid")

# --- correct answers first: a fast wrong answer is never reported -----------------------------
token=$(curl -sf -X POST "http://127.0.0.1:$gw/oauth/token" -H 'secret: mobile-secret' \
  -d grant_type=password -d username=demo@example.com -d password=demo-password \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
cookie=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$gw/oauth/token" -H 'secret: website-secret' \
  -d grant_type=password -d username=demo@example.com -d password=demo-password | sed -n 's/^set-cookie: \(sid=[^;]*\).*/\1/ip')
sub=$(python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"=="))["sub"])' "$token")
check() { [ "$1" = "$2" ] || { echo "check failed: $3: got $1, expected $2" >&2; exit 1; }; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
claim() { python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"=="))[sys.argv[2]])' "$1" "$2"; }

# (j): HAProxy's jwt_verify wants the key as a PEM file: the tenant's JWKS entry for the token's
# kid, as a SubjectPublicKeyInfo (standard library only).
issuer=$(sed -n 's/^  issuer: \([^ ]*\).*/\1/p' "$work/gateway.yaml" | head -n 1)   # tenant.issuer
check "$(claim "$token" iss)" "$issuer" "the token's issuer is the one authgate checks"
curl -sf "http://127.0.0.1:$tenant/.well-known/jwks.json" | python3 -c '
import base64, json, sys
def length(n): return bytes([n]) if n < 128 else bytes([0x80 | (n.bit_length() + 7) // 8]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
def tlv(tag, body): return bytes([tag]) + length(len(body)) + body
def integer(b): b = b.lstrip(b"\0"); return tlv(2, b"\0" + b if b[0] & 0x80 else b)
def u(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
kid = json.loads(u(sys.argv[1].split(".")[0]))["kid"]
keys = [k for k in json.load(sys.stdin)["keys"] if k.get("kid") == kid and k.get("kty") == "RSA"]
assert len(keys) == 1, "no RSA key with the token kid in the JWKS"
rsa = tlv(0x30, integer(u(keys[0]["n"])) + integer(u(keys[0]["e"])))
der = tlv(0x30, tlv(0x30, tlv(6, bytes.fromhex("2a864886f70d010101")) + b"\5\0") + tlv(3, b"\0" + rsa))
b = base64.b64encode(der).decode()
print("-----BEGIN PUBLIC KEY-----", *(b[i:i + 64] for i in range(0, len(b), 64)), "-----END PUBLIC KEY-----", sep="\n")
' "$token" > "$work/tenant-key.pem"
haproxy_conf jwt "$hapj"
wait_port "$hapj"
# Refused tokens that cost nothing to make: the signature changed (a bit of its middle byte),
# the header's alg changed (none, HS256; claims and signature kept), and a token the tenant
# signed for another audience. (An expired token needs the tenant's key or a day's wait: not
# made here; bench/haproxy/jwt.cfg.in's exp rule is the one to read.)
forge() { # token how: signature | <alg>
  python3 -c '
import base64, json, sys
tok, how = sys.argv[1:]
h, p, s = tok.split(".")
u = lambda x: base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
if how == "signature":
    sig = bytearray(u(s)); sig[len(sig) // 2] ^= 1; print(h, p, e(bytes(sig)), sep=".")
else:
    hdr = json.loads(u(h)); hdr["alg"] = how; print(e(json.dumps(hdr).encode()), p, "" if how == "none" else s, sep=".")
' "$1" "$2"
}
wrong_aud=$(curl -sf -X POST "http://127.0.0.1:$tenant/oauth/token" -d grant_type=password -d client_id=mobile-app \
  -d client_secret=mobile-client-secret -d username=demo@example.com -d password=demo-password -d audience=https://other.example \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
case $(claim "$wrong_aud" aud) in *"$audience"*) echo "check failed: the wrong-audience token has $audience" >&2; exit 1 ;; esac
check "$(curl -s "http://127.0.0.1:$backend/api/item")" "$(cat "$work/www/item.json")" "backend"
check "$(curl -s "http://127.0.0.1:$proxy/api/item")" "$(cat "$work/www/item.json")" "nginx proxy"
check "$(curl -s "http://127.0.0.1:$hap/api/item")" "$(cat "$work/www/item.json")" "HAProxy plain"
check "$(curl -s "http://127.0.0.1:$hapj/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "HAProxy jwt, bearer"
check "$(curl -s "http://127.0.0.1:$hapj/api/item" -H "cookie: $cookie")" "$(cat "$work/www/item.json")" "HAProxy jwt, cookie"
check "$(curl -s "http://127.0.0.1:$hapj/whoami" -H "authorization: Bearer $token" -H 'x-user-id: forged')" "{\"user\":\"$sub\"}" "HAProxy jwt: the backend sees the identity"
check "$(code "http://127.0.0.1:$hapj/api/item")" 401 "HAProxy jwt: no token is refused"
check "$(curl -s "http://127.0.0.1:$gw/public/item")" "$(cat "$work/www/item.json")" "authgate public"
check "$(curl -s "http://127.0.0.1:$gw/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate bearer"
check "$(curl -s "http://127.0.0.1:$gw/api/item" -H "cookie: $cookie")" "$(cat "$work/www/item.json")" "authgate cookie"
check "$(curl -s "http://127.0.0.1:$gwt1/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate bearer, traced 1 %"
check "$(curl -s "http://127.0.0.1:$gwt100/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate bearer, traced"
check "$(curl -s "http://127.0.0.1:$gw/ruled/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate bearer, a 3-condition allow rule"
check "$(code "http://127.0.0.1:$gw/ruled/item" -H "authorization: Bearer $wrong_aud")" 401 "authgate: the allow rule after the guard"
check "$(curl -s "http://127.0.0.1:$gw/whoami" -H "authorization: Bearer $token" -H 'x-user-id: forged')" "{\"user\":\"$sub\"}" "the backend sees the identity"
check "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/api/item" -H "authorization: Bearer ${token%?}x")" 401 "a wrong token is refused"
check "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw/api/item")" 401 "no token is refused"
for bad in "signature:$(forge "$token" signature)" "alg none:$(forge "$token" none)" "alg HS256:$(forge "$token" HS256)" "audience:$wrong_aud"; do
  for t in "authgate:$gw" "HAProxy jwt:$hapj"; do
    check "$(code "http://127.0.0.1:${t#*:}/api/item" -H "authorization: Bearer ${bad#*:}")" 401 "${t%%:*}: a wrong ${bad%%:*} is refused"
  done
done
# The access line and the metrics are on.
access_line='"target":"access"| access: '   # JSON or text
for _ in $(seq 40); do grep -E "$access_line" "$work/authgate-main.log" | grep -c /whoami >/dev/null && break; sleep 0.05; done
grep -E "$access_line" "$work/authgate-main.log" | grep -c /whoami >/dev/null || { echo "check failed: no access line in $work/authgate-main.log" >&2; exit 1; }
metrics_text=$(curl -s "http://127.0.0.1:$admin/metrics")   # read whole: grep -q would cut curl off (SIGPIPE under pipefail)
grep -q '^authgate_requests_total{' <<<"$metrics_text" || { echo "check failed: no request metrics" >&2; exit 1; }
for g in $gwm $gwr; do
  check "$(curl -s "http://127.0.0.1:$g/api/item" -H "authorization: Bearer $token")" "$(cat "$work/www/item.json")" "authgate with limits ($g)"
  curl -s -D - -o /dev/null "http://127.0.0.1:$g/api/item" -H "authorization: Bearer $token" | grep -ci '^x-ratelimit-remaining' >/dev/null \
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
add i_haproxy "http://127.0.0.1:$hap/api/item"
add j_haproxy_jwt "http://127.0.0.1:$hapj/api/item" "authorization: Bearer $token"
add c_public "http://127.0.0.1:$gw/public/item"
add d_bearer "http://127.0.0.1:$gw/api/item" "authorization: Bearer $token"
add e_cookie "http://127.0.0.1:$gw/api/item" "cookie: $cookie"
add m_bearer_allow "http://127.0.0.1:$gw/ruled/item" "authorization: Bearer $token"
add g_limits_memory "http://127.0.0.1:$gwm/api/item" "authorization: Bearer $token"
add n_bearer_traced_1pct "http://127.0.0.1:$gwt1/api/item" "authorization: Bearer $token"
add o_bearer_traced_all "http://127.0.0.1:$gwt100/api/item" "authorization: Bearer $token"
add h_limits_redis "http://127.0.0.1:$gwr/api/item" "authorization: Bearer $token"
add f_login_tenant "http://127.0.0.1:$tenant/oauth/token" "" login-tenant.lua 1
add f_login_gateway "http://127.0.0.1:$gw/oauth/token" "" login-gw.lua 1
order=(a_backend i_haproxy b_nginx c_public d_bearer m_bearer_allow n_bearer_traced_1pct o_bearer_traced_all e_cookie j_haproxy_jwt g_limits_memory h_limits_redis f_login_tenant f_login_gateway)
# ONLY="i_haproxy d_bearer" runs those targets alone (i_haproxy is always kept: the reference).
if [ -n "${ONLY:-}" ]; then
  kept=(i_haproxy)
  for t in "${order[@]}"; do [[ " $ONLY " == *" $t "* && $t != i_haproxy ]] && kept+=("$t"); done
  order=("${kept[@]}")
fi
wrk_run() { # target duration [script args...] -> "rps p50_ms p99_ms non2xx requests"
  local t=$1 args=(-t1 -c"${conn[$1]}" -d"$2" --latency)
  shift 2
  [ -n "${hdr[$t]}" ] && args+=(-H "${hdr[$t]}")
  [ -n "${script[$t]}" ] && args+=(-s "$work/${script[$t]}")
  wrk "${args[@]}" "${url[$t]}" ${1+--} "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ {rps=$2} $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)} /Non-2xx/ {bad=$4} / requests in / {n=$1}
    END {printf "%s %.3f %.3f %d %d\n", rps, p50, p99, bad, n}'
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
loaded_rss=$(rss); hap_loaded_rss=$(rss "$hapid")
# PROFILE=1: where authgate's time goes under the Bearer load (perf, software clock sampling),
# by shared object and by symbol, written to $PROFILE_OUT (default $work/profile.txt).
if [ "${PROFILE:-0}" = 1 ]; then
  command -v perf >/dev/null || { apt-get install -y -qq linux-perf >/dev/null; }
  perf record -q -e cpu-clock -F 999 -g -p "$gwpid" -o "$work/perf.data" -- sleep "$secs" >/dev/null 2>&1 &
  perfpid=$!
  wrk_run d_bearer "${secs}s" >/dev/null
  wait "$perfpid" || true
  out=${PROFILE_OUT:-$work/profile.txt}
  {
    echo "== authgate under wrk -c$conns, Bearer, ${secs}s: by shared object"
    perf report -i "$work/perf.data" --stdio --no-children --sort dso --percent-limit 0.5 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -15
    echo "== by symbol (self time, >= 0.7 %)"
    perf report -i "$work/perf.data" --stdio --no-children --sort sym --percent-limit 0.7 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -45
  } > "$out"
  echo "profile written to $out"
fi
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' <<<"${results[$1]:-}" | { grep . || true; } | median; }
ratio() { awk -v x="$1" -v r="$2" 'BEGIN {if (r + 0 == 0) printf "n/a"; else printf "%.2f", x / r}'; }
ref=$(col i_haproxy 1); nginx_ref=$(col b_nginx 1)
row() { # target: the medians and the ratios to HAProxy plain and to nginx
  printf '%-34s %12s %10s %10s %10sx %9sx\n' "$1" "$(col "$1" 1)" "$(col "$1" 2)" "$(col "$1" 3)" \
    "$(ratio "$(col "$1" 1)" "$ref")" "$(ratio "$(col "$1" 1)" "$nginx_ref")"
}
echo "wrk -t1 -c$conns (logins: -c1), ${secs}s x $rounds rounds interleaved, median; $(nproc) cores shared by wrk, the proxies (HAProxy $haproxy_version nbthread 1, nginx 1 worker) and authgate (1 worker thread)"
printf '%-34s %12s %10s %10s %11s %10s\n' target req/s p50_ms p99_ms vs_haproxy vs_nginx
for t in "${order[@]}"; do row "$t"; done
echo "authgate vs HAProxy jwt, Bearer (d/j): $(ratio "$(col d_bearer 1)" "$(col j_haproxy_jwt 1)")x the throughput"
echo "authgate Bearer on a route with a 3-condition allow vs none (m/d): $(ratio "$(col m_bearer_allow 1)" "$(col d_bearer 1)")x the throughput"
echo "traces on, Bearer: 1 % sampled vs off (n/d) $(ratio "$(col n_bearer_traced_1pct 1)" "$(col d_bearer 1)")x, every request sampled vs off (o/d) $(ratio "$(col o_bearer_traced_all 1)" "$(col d_bearer 1)")x the throughput; $(kill -TERM "$sinkpid" 2>/dev/null; sleep 0.5; cat "$work/otlp-exports" 2>/dev/null || echo '?') OTLP exports received"
echo "limits counted in Redis vs in memory: $(ratio "$(col h_limits_redis 1)" "$(col g_limits_memory 1)")x the throughput"
echo "login: authgate adds $(awk -v g="$(col f_login_gateway 2)" -v t="$(col f_login_tenant 2)" 'BEGIN {printf "%.3f", g - t}') ms to the median (1 connection)"
echo "resident memory: authgate idle $idle_rss, after the load $loaded_rss; HAProxy plain idle $hap_idle_rss, after the load $hap_loaded_rss"
echo "authgate's log (level info, $AUTHGATE_LOG_FORMAT, $work/authgate-main.log): $(grep -Ec "$access_line" "$work/authgate-main.log" || true) access lines, $(stat -c %s "$work/authgate-main.log" | awk '{printf "%.1f", $1 / 1048576}') MiB"
[ "$scale" = 1 ] || exit 0

# --- the scale run (SCALE=1) ------------------------------------------------------------------
# authgate for it: the main configuration on its own ports, room for the held connections, the
# token cache as SCALE_CACHE_BYTES says (else guard.token_cache_bytes' default, 16 MiB).
sed -e "s/^listen: 127.0.0.1:$gw/listen: 127.0.0.1:$gws/; s/^admin_listen: 127.0.0.1:$admin/admin_listen: 127.0.0.1:$admins/" \
    "$work/gateway.yaml" > "$work/gateway-scale.yaml"
printf 'connections:\n  max: %d\n  max_per_ip: %d\n' $((hold + 2000)) $((hold + 2000)) >> "$work/gateway-scale.yaml"
if [ -n "${SCALE_CACHE_BYTES:-}" ]; then sed -i "s/^guard:$/guard:\n  token_cache_bytes: $SCALE_CACHE_BYTES/" "$work/gateway-scale.yaml"; fi
"$AUTHGATE" check --config "$work/gateway-scale.yaml" >/dev/null
# A process stopped here leaves the cleanup list, so its PID is never signalled again.
stopped() { local keep=() p; kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=(${keep[@]+"${keep[@]}"}); }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
echo
echo "scale run: $hold idle keep-alive connections; $ntok distinct valid tokens in rotation"

# (1) Memory per idle keep-alive connection: the server warmed with 100 requests, then $hold
# connections opened, each answered once (200) and held idle while the RSS is read.
hold_connections() { # label pid port [curl/-H header]
  local label=$1 pid=$2 port=$3 before after open out hp
  shift 3
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/api/item" "$@"; done
  sleep 1; before=$(rss_kib "$pid")
  python3 bench/hold_connections.py "http://127.0.0.1:$port/api/item" "$hold" "$@" --hold 600 > "$work/hold-$label.out" 2>&1 &
  hp=$!; pids+=($hp)
  for _ in $(seq 1200); do grep -q '^open=' "$work/hold-$label.out" && break; kill -0 "$hp" 2>/dev/null || break; sleep 0.1; done
  sleep 1
  open=$(ss -Htn state established "( sport = :$port )" | wc -l); after=$(rss_kib "$pid")
  out=$(cat "$work/hold-$label.out")
  stopped "$hp"
  grep -q "^open=$hold ok=$hold failed=0 " <<<"$out" || { echo "scale: $label: not every connection answered 200 and stayed open: $out" >&2; exit 1; }
  printf '%-9s RSS %s -> %s with %d connections established: %.1f KiB a connection (opened in %s s)\n' "$label" \
    "$(mib "$before")" "$(mib "$after")" "$open" "$(awk -v a="$after" -v b="$before" -v n="$open" 'BEGIN {print (a - b) / (n > 0 ? n : 1)}')" \
    "$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")"
}
start_gw scale-connections "$work/gateway-scale.yaml" "$admins"
hold_connections authgate "$gw_pid" "$gws" -H "authorization: Bearer $token"
stopped "$gw_pid"
hold_connections haproxy "$hapid" "$hap"

# (2) The verified-token cache under churn. The tokens: logins straight at the dev tenant
# (password grant, scope without openid: one RS256 signature each), each access token kept.
cat > "$work/mint.lua" <<'LUA'
-- Log in at the dev tenant (the password grant, straight to the tenant; scope without openid,
-- so one RS256 signature per login) and append each access token to a file, one a line,
-- until the thread has the number asked. Arguments: the file, how many.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=password&username=demo%40example.com&password=demo-password&client_id=mobile-app&client_secret=mobile-client-secret&scope=email&audience=https%3A%2F%2Fapi.authgate.local"
local out, want, got = nil, 0, 0
function init(args)
  out = assert(io.open(args[1], "a"))
  out:setvbuf("line")
  want = tonumber(args[2])
end
function response(status, headers, body)
  local token = status == 200 and body:match('"access_token":"([^"]+)"')
  if token and got < want then
    out:write(token, "\n")
    got = got + 1
  end
  if got >= want then wrk.thread:stop() end
end
LUA
cat > "$work/rotate.lua" <<'LUA'
-- Every request carries the next of the N distinct tokens of a file (one a line, read once at
-- init), so the verified-token cache sees all of them in turn. Arguments: the file, and where
-- to start (the requests earlier runs sent: each run goes on where the last one stopped).
local requests, count, i = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    count = count + 1
    requests[count] = wrk.format(nil, nil, { Authorization = "Bearer " .. line })
  end
  assert(count > 0, "no tokens in " .. args[1])
  i = math.floor(tonumber(args[2] or "0")) % count
end
function request()
  i = i % count + 1
  return requests[i]
end
LUA
: > "$work/tokens.txt"
minting=$(date +%s%N)
# wrk sleeps its whole -d: the thread stops at the count, SIGINT ends the run.
wrk -t1 -c8 -d3600s -s "$work/mint.lua" "http://127.0.0.1:$tenant/oauth/token" -- "$work/tokens.txt" "$ntok" > "$work/mint.out" 2>&1 &
mp=$!; pids+=($mp)
while kill -0 "$mp" 2>/dev/null && [ "$(wc -l < "$work/tokens.txt")" -lt "$ntok" ]; do sleep 1; done
kill -INT "$mp" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$mp" 2>/dev/null || break; sleep 0.1; done
stopped "$mp"
minted=$(sort -u "$work/tokens.txt" | wc -l)
[ "$minted" -ge "$ntok" ] || { echo "scale: $minted distinct tokens minted, $ntok wanted:"; cat "$work/mint.out"; exit 1; } >&2
echo "minted $ntok distinct tokens in $(awk -v a="$minting" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}') s (logins at the dev tenant)"
first=$(head -n 1 "$work/tokens.txt")
start_gw scale-tokens "$work/gateway-scale.yaml" "$admins"; spid=$gw_pid
check "$(curl -s "http://127.0.0.1:$gws/api/item" -H "authorization: Bearer $first")" "$(cat "$work/www/item.json")" "scale: a minted token, authgate"
check "$(curl -s "http://127.0.0.1:$hapj/api/item" -H "authorization: Bearer $first")" "$(cat "$work/www/item.json")" "scale: a minted token, HAProxy jwt"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$gws/api/item" -H "authorization: Bearer $token"; done
sleep 1; churn_idle=$(rss_kib "$spid")
# Chunks of $secs s, authgate then HAProxy jwt on the same tokens, until every token went
# through authgate at least once and $rounds chunks ran.
add k_authgate_churn "http://127.0.0.1:$gws/api/item" "" rotate.lua
add l_haproxy_jwt_churn "http://127.0.0.1:$hapj/api/item" "" rotate.lua
sent=0; chunks=0
while [ "$chunks" -lt "$rounds" ] || [ "$sent" -lt "$ntok" ]; do
  for t in k_authgate_churn l_haproxy_jwt_churn; do
    out=$(wrk_run "$t" "${secs}s" "$work/tokens.txt" "$sent")
    [ "$(awk '{print $4}' <<<"$out")" = 0 ] || { echo "$t answered non-2xx under load: $out" >&2; exit 1; }
    results[$t]+="$out"$'\n'
    if [ "$t" = k_authgate_churn ]; then n=$(awk '{print $5}' <<<"$out"); fi
  done
  [ "$n" -gt 0 ] || { echo "k_authgate_churn: no request completed" >&2; exit 1; }
  sent=$((sent + n)); chunks=$((chunks + 1))
done
churn_rss=$(rss_kib "$spid")
echo "wrk -t1 -c$conns, ${secs}s x $chunks chunks (authgate and HAProxy jwt interleaved), median; ratios to the runs above"
printf '%-34s %12s %10s %10s %11s %10s\n' target req/s p50_ms p99_ms vs_haproxy vs_nginx
for t in k_authgate_churn l_haproxy_jwt_churn; do row "$t"; done
echo "authgate under churn vs one hot token (k/d): $(ratio "$(col k_authgate_churn 1)" "$(col d_bearer 1)")x; vs HAProxy jwt on the same tokens (k/l): $(ratio "$(col k_authgate_churn 1)" "$(col l_haproxy_jwt_churn 1)")x"
echo "authgate RSS: idle $(mib "$churn_idle"), after $sent requests over $ntok distinct tokens $(mib "$churn_rss") (token cache: ${SCALE_CACHE_BYTES:-the default} bytes)"
stopped "$spid"
