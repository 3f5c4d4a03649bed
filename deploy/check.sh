#!/usr/bin/env bash
# Validate deploy/: the Kubernetes manifests against the Kubernetes schemas, and the
# ConfigMap's gateway.yaml with `authgate check`, its ${VAR}s taken from the Secret.
# Usage: deploy/check.sh [path/to/authgate]
set -euo pipefail
cd "$(dirname "$0")/.."
authgate=${1:-target/debug/authgate}

command -v kubernetes-validate >/dev/null 2>&1 || python3 -m pip install -q kubernetes-validate
kubernetes-validate --strict --quiet deploy/kubernetes/{configmap,secret,deployment,service}.yaml
echo "manifests: valid"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import shlex, sys, yaml
work = sys.argv[1]
config = yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))["data"]["gateway.yaml"]
open(f"{work}/gateway.yaml", "w").write(config)
secrets = yaml.safe_load(open("deploy/kubernetes/secret.yaml"))["stringData"]
open(f"{work}/env", "w").write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in secrets.items()))
PY
# shellcheck disable=SC1091
(source "$work/env" && "$authgate" check --config "$work/gateway.yaml")
