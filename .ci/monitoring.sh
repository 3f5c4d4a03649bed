#!/usr/bin/env bash
# The monitoring files against the real thing: promtool checks deploy/monitoring/rules.yml and
# runs its unit tests (rules_test.yml); then a Prometheus (Debian's package) scrapes the demo
# gateway on free loopback ports while some traffic flows, and every expression of the rules
# and of the Grafana dashboard is evaluated through Prometheus' HTTP API. It fails on a rule
# file promtool refuses, a unit test that fails, an expression Prometheus cannot evaluate, or
# an expression naming an authgate metric the gateway does not have (docs/operating.md's table,
# which `metrics::tests` keeps equal to the code).
#
#   .ci/monitoring.sh [BINARY]          BINARY defaults to target/debug/authgate
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=$(realpath "${1:-target/debug/authgate}")
PY=python3
[ -x "$BIN" ] || { echo "monitoring.sh: no executable gateway at $BIN (build it first)" >&2; exit 2; }
command -v promtool >/dev/null && command -v prometheus >/dev/null \
  || { echo "monitoring.sh: promtool and prometheus are needed (apt-get install prometheus)" >&2; exit 2; }

echo "== promtool"
promtool check rules deploy/monitoring/rules.yml
(cd deploy/monitoring && promtool test rules rules_test.yml)

# shellcheck source=demo-gateway.sh
. "$(dirname "$0")/demo-gateway.sh"
work=$(mktemp -d)
prometheus_pid=""
stop_prometheus() {
  if [ -n "$prometheus_pid" ]; then
    kill -TERM "$prometheus_pid" 2>/dev/null || true
    wait "$prometheus_pid" 2>/dev/null || true
  fi
}
trap 'stop_prometheus; stop_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
demo_config monitoring.sh
start_gateway monitoring.sh

PROM=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [$PWD/deploy/monitoring/rules.yml]
scrape_configs:
  - job_name: authgate
    static_configs: [{ targets: ["127.0.0.1:$ADMIN"] }]
YAML
echo "== prometheus on 127.0.0.1:$PROM, scraping 127.0.0.1:$ADMIN"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$PROM" >"$work/prometheus.log" 2>&1 &
prometheus_pid=$!

"$PY" .ci/monitoring_check.py "$PROM" "$PROXY" || { tail -n 20 "$work/prometheus.log" >&2; exit 1; }
