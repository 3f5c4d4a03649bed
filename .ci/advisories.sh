#!/usr/bin/env bash
# Check the dependencies against the RustSec advisory database, offline: CI cannot reach GitHub,
# so the snapshot in ../shared/advisory-db (see its SNAPSHOT.md) is opened where cargo-deny looks
# for the default database (a git repository under deny.toml's db-path). Without the snapshot
# (a checkout outside this workspace), say so and skip.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot=../shared/advisory-db
if [ ! -d "$snapshot/crates" ]; then
  echo "advisories: no snapshot at $snapshot; skipped (run 'cargo deny check advisories' where GitHub is reachable)"
  exit 0
fi
db=target/advisory-db/advisory-db-3157b0e258782691
rm -rf "$db"
mkdir -p "$db"
cp -r "$snapshot"/. "$db"/
git -C "$db" init -q
git -C "$db" -c user.name=ci -c user.email=ci@localhost add -A
git -C "$db" -c user.name=ci -c user.email=ci@localhost commit -qm snapshot
echo "advisories: offline, against the RustSec snapshot described in $snapshot/SNAPSHOT.md"
cargo deny --offline check advisories
