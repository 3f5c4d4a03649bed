#!/usr/bin/env bash
# Validate deploy/: every manifest variant against the Kubernetes schemas and against the pod's
# wiring, and the ConfigMap's gateway.yaml with `authgate check`, its ${VAR}s taken from the
# Secret.
# Usage: deploy/check.sh [path/to/authgate]
#
# The variants are the kustomizations: deploy/kubernetes (authgate as a native sidecar, checked
# against the schemas of Kubernetes 1.29, where native sidecars are on by default, to the newest
# that kubernetes-validate knows) and deploy/kubernetes/legacy (two plain containers, from 1.25,
# the oldest it knows). For each: the files it lists (its base's included), and what it renders when `kustomize` or `kubectl` is on the PATH (DEPLOY_CHECK_RENDER=off skips
# that, as on a machine without them; then a kustomization may use only `resources` and
# `labels`, so that its files are what it renders). A manifest that no kustomization lists
# fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
authgate=${1:-target/debug/authgate}

command -v kubernetes-validate >/dev/null 2>&1 || python3 -m pip install -q kubernetes-validate

variants=(
  # kustomization        name    oldest Kubernetes it is for
  "deploy/kubernetes        native  1.29.0"
  "deploy/kubernetes/legacy legacy  1.25.0"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# kubernetes-validate, strict (unknown fields are errors), against every Kubernetes version from
# the given one to the newest it knows (sets $known to that range). A resource it has no schema
# for is only a warning there; here it fails.
validate() {
  local oldest=$1 out status=0 versions=()
  shift
  mapfile -t versions < <(python3 -c 'import sys; from packaging.version import Version as V; import kubernetes_validate.utils as u
print("\n".join(v for v in sorted(set(u.all_versions()), key=V) if V(v) >= V(sys.argv[1])))' "$oldest" 2>/dev/null || true)
  if [ "${#versions[@]}" -gt 0 ]; then
    out=$(kubernetes-validate --strict --quiet "${versions[@]/#/--kubernetes-version=}" "$@" 2>&1) || status=$?
    known="${versions[0]}–${versions[-1]}"
  else  # kubernetes-validate is not this python3's: the oldest version and its default, the newest
    out=$(kubernetes-validate --strict --quiet -k "$oldest" "$@" 2>&1 && kubernetes-validate --strict --quiet "$@" 2>&1) || status=$?
    known="$oldest and the newest kubernetes-validate knows"
  fi
  if [ "$status" -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

render=()
if [ "${DEPLOY_CHECK_RENDER:-auto}" != off ]; then
  if command -v kustomize >/dev/null 2>&1; then
    render=(kustomize build)
  elif command -v kubectl >/dev/null 2>&1; then
    render=(kubectl kustomize)
  fi
fi

dirs=()
for variant in "${variants[@]}"; do
  read -r dir name version <<<"$variant"
  dirs+=("$dir")
  list=$(python3 deploy/check-manifests.py files "$dir")
  mapfile -t files <<<"$list"
  validate "$version" "${files[@]}"
  if [ "${#render[@]}" -gt 0 ]; then
    "${render[@]}" "$dir" >"$work/$name.yaml"
    validate "$version" "$work/$name.yaml"
    python3 deploy/check-manifests.py invariants "$name" "$work/$name.yaml"
    echo "manifests ($name, $dir): ${#files[@]} files and their rendering (${render[*]}) valid for Kubernetes $known; wiring checked"
  else
    python3 deploy/check-manifests.py plain "$dir"
    python3 deploy/check-manifests.py invariants "$name" "${files[@]}"
    echo "manifests ($name, $dir): ${#files[@]} files valid for Kubernetes $known; wiring checked (not rendered: no kustomize or kubectl)"
  fi
done
python3 deploy/check-manifests.py unused deploy/kubernetes "${dirs[@]}"

python3 - "$work" <<'PY'
import shlex, sys, yaml
work = sys.argv[1]
config = yaml.safe_load(open("deploy/kubernetes/base/configmap.yaml"))["data"]["gateway.yaml"]
open(f"{work}/gateway.yaml", "w").write(config)
secrets = yaml.safe_load(open("deploy/kubernetes/base/secret.yaml"))["stringData"]
open(f"{work}/env", "w").write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in secrets.items()))
PY
# shellcheck disable=SC1091
(source "$work/env" && "$authgate" check --config "$work/gateway.yaml")
