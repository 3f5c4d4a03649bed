#!/usr/bin/env bash
# The software bill of materials of the release build: CycloneDX 1.5 JSON, made by
# cargo-cyclonedx (pinned, installed once) from Cargo.lock for the image's target, without
# build-time and dev dependencies, written to target/sbom/authgate.cdx.json (the dev-tenant
# crate's beside it). Checked: it parses, names this version of authgate, and lists what the
# binary is built from (pingora, tokio, jsonwebtoken, …) and nothing the tests alone use.
#
#   .ci/sbom.sh            (docs/deploying.md, "Software bill of materials")
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.5.9
cargo cyclonedx --version 2>/dev/null | grep -q " $VERSION\$" || cargo install --locked --quiet "cargo-cyclonedx@$VERSION"
out=target/sbom
mkdir -p "$out"
cargo cyclonedx --format json --spec-version 1.5 --no-build-deps --target x86_64-unknown-linux-gnu -q
mv authgate.cdx.json "$out/authgate.cdx.json"
mv crates/dev/authgate-dev.cdx.json "$out/authgate-dev.cdx.json"
python3 - "$out/authgate.cdx.json" <<'PY'
import json, re, sys
bom = json.load(open(sys.argv[1]))
version = re.search(r'^version = "([^"]+)"', open("Cargo.toml").read(), re.M).group(1)
component = bom["metadata"]["component"]
assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5", "not CycloneDX 1.5"
assert (component["name"], component["version"]) == ("authgate", version), component
names = {c["name"] for c in bom["components"]}
missing = {"pingora", "tokio", "jsonwebtoken", "reqwest", "redis", "rustls", "opentelemetry"} - names
assert not missing, f"the SBOM misses {missing}"
dev_only = {"criterion", "proptest", "tempfile", "rcgen"} & names
assert not dev_only, f"the SBOM lists test-only crates {dev_only}"
print(f"sbom: {sys.argv[1]}: CycloneDX 1.5, authgate {version}, {len(bom['components'])} components")
PY
