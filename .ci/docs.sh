#!/usr/bin/env bash
# The documentation's commands, run as printed: every ```sh block of the pages below against
# the demo (a fresh gateway per page, on free loopback ports), compared with the output the page
# shows (.ci/docs_runner.py says how). A block marked `<!-- not run: WHY -->` is an
# illustration (a long-running command, a CI script of its own): counted, not run.
#
#   .ci/docs.sh [BINARY]          BINARY defaults to target/debug/authgate
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=$(realpath "${1:-target/debug/authgate}")
PY=python3
PAGES=(README.md docs/endpoints.md docs/browser-login.md docs/user-management.md docs/sessions.md
  docs/authorization.md docs/operating.md docs/testing.md)

[ -x "$BIN" ] || { echo "docs.sh: no executable gateway at $BIN (build it first)" >&2; exit 2; }
for page in README.md docs/*.md; do
  if grep -q '^```sh' "$page" && ! printf '%s\n' "${PAGES[@]}" | grep -qx "$page"; then
    echo "docs.sh: $page has sh blocks: add it to PAGES" >&2
    exit 2
  fi
done

# shellcheck source=demo-gateway.sh
. "$(dirname "$0")/demo-gateway.sh"
work=$(mktemp -d)
stop_on_exit
demo_config docs.sh
mkdir -p "$work/bin"
ln -s "$BIN" "$work/bin/authgate"

failed=0 ran=0 skipped=0
for page in "${PAGES[@]}"; do
  echo "== $page"
  start_gateway docs.sh
  dir="$work/run-$(basename "$page" .md)"
  mkdir -p "$dir"
  cp "$work/gateway.yaml" "$dir/gateway.yaml"
  status=0
  out=$(PATH="$work/bin:$PATH" "$PY" .ci/docs_runner.py "$page" "$PROXY" "$ADMIN" "$TENANT" "$ECHO" "$dir") || status=$?
  printf '%s\n' "$out" | grep -v '^COUNT '
  read -r _ r s <<<"$(printf '%s\n' "$out" | grep '^COUNT ' || echo 'COUNT 0 0')"
  ran=$((ran + r)) skipped=$((skipped + s))
  [ "$status" -eq 0 ] || failed=1
  stop_gateway
done
echo "docs.sh: $ran blocks run, $skipped marked not run, over ${#PAGES[@]} pages"
exit "$failed"
