#!/usr/bin/env python3
"""Helpers for deploy/check.sh: what the kustomizations list, and what the schemas cannot check.

  check-manifests.py files DIR            the manifest files the kustomization in DIR lists
                                          (bases followed), one a line; fails on a missing
                                          file or a remote resource
  check-manifests.py unused ROOT DIR...   fails when a manifest under ROOT is in none of the
                                          kustomizations DIR...
  check-manifests.py plain DIR            fails when the kustomization in DIR (or a base) uses
                                          more than `resources` and `labels`, i.e. when its
                                          files alone are not what it renders
  check-manifests.py invariants native|legacy FILE...
                                          the pod's wiring, across the manifests in FILE...
                                          (a rendered kustomization, or the files it lists)

The invariants: the sidecar is a native sidecar (an init container with restartPolicy Always
and a startupProbe) or a plain container as the variant says; its ports are gateway.yaml's
`listen` and `admin_listen`; the probes hit the admin port; the Service targets the proxy port
only, by number where the sidecar is an init container; the NetworkPolicy admits the proxy
port, and the admin port only from selected pods, and nothing else; the PodDisruptionBudget
selects the pods and lets one go at a time; the config file and the Secret the sidecar reads
are the ones shipped; the grace periods fit.
"""
import os
import sys

import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
PLAIN_KEYS = {"apiVersion", "kind", "resources", "labels"}


def kustomization(directory):
    for name in KUSTOMIZATION_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path) as f:
                return path, yaml.safe_load(f) or {}
    sys.exit(f"{directory}: no kustomization.yaml")


def walk(directory, plain=False, seen=None):
    """The manifest files a kustomization lists, and the other files it uses (patches)."""
    seen = set() if seen is None else seen
    path, k = kustomization(directory)
    if plain and set(k) - PLAIN_KEYS:
        sys.exit(f"{path}: uses {', '.join(sorted(set(k) - PLAIN_KEYS))}: its files alone are "
                 "not what it renders; install kubectl or kustomize to check it")
    manifests, others = [], [path]
    for entry in (k.get("resources") or []) + (k.get("components") or []):
        if "://" in entry or entry.startswith("git@"):
            sys.exit(f"{path}: remote resource {entry}: not checked here")
        target = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(target):
            if target not in seen:
                seen.add(target)
                m, o = walk(target, plain, seen)
                manifests += m
                others += o
        elif os.path.isfile(target):
            manifests.append(target)
        else:
            sys.exit(f"{path}: lists {entry}, which does not exist")
    for patch in k.get("patches") or []:
        if isinstance(patch, dict) and "path" in patch:
            others.append(os.path.normpath(os.path.join(directory, patch["path"])))
    return manifests, others


def unused(root, directories):
    used = set()
    for d in directories:
        manifests, others = walk(d)
        used.update(os.path.normpath(p) for p in manifests + others)
    stray = []
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.normpath(os.path.join(base, name))
            if name.endswith((".yaml", ".yml")) and path not in used:
                stray.append(path)
    if stray:
        sys.exit("in no kustomization (so never checked, nor applied): " + ", ".join(sorted(stray)))


def port_of(address):
    return int(str(address).rsplit(":", 1)[1])


def invariants(variant, files):
    errors = []

    def need(condition, message):
        if not condition:
            errors.append(message)
        return condition

    docs = []
    for name in files:
        with open(name) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    for kind in ("Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget", "ConfigMap", "Secret"):
        if len(kinds.get(kind, [])) != 1:
            sys.exit(f"{variant}: expected one {kind}, found {len(kinds.get(kind, []))}")
    (dep,), (svc,), (netpol,), (pdb,) = (kinds[k] for k in ("Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"))
    (configmap,), (secret,) = kinds["ConfigMap"], kinds["Secret"]

    gateway = yaml.safe_load(configmap["data"]["gateway.yaml"])
    proxy, admin = port_of(gateway["listen"]), port_of(gateway["admin_listen"])

    pod = dep["spec"]["template"]
    labels = pod["metadata"].get("labels") or {}
    spec = pod["spec"]
    inits, containers = spec.get("initContainers") or [], spec["containers"]

    def selects(selector):
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    need(selects(dep["spec"]["selector"].get("matchLabels")), "Deployment: its selector does not match its pods")

    sidecar = [c for c in inits if c["name"] == "authgate"]
    plain = [c for c in containers if c["name"] == "authgate"]
    if variant == "native":
        if not need(len(sidecar) == 1 and not plain, "native: authgate must be an init container, and only that"):
            return errors
        gate = sidecar[0]
        need(gate.get("restartPolicy") == "Always", "native: authgate needs restartPolicy: Always (else it is a plain init container that never ends)")
        need("startupProbe" in gate, "native: authgate needs a startupProbe (the application starts once it passes)")
    else:
        if not need(len(plain) == 1 and not sidecar, "legacy: authgate must be a plain container"):
            return errors
        gate = plain[0]
    need(any(c["name"] != "authgate" for c in containers), f"{variant}: no application container")

    named = {p["name"]: p["containerPort"] for p in gate.get("ports") or [] if "name" in p}
    numbers = {p["containerPort"] for p in gate.get("ports") or []}
    need({proxy, admin} <= numbers, f"{variant}: authgate declares ports {sorted(numbers)}, gateway.yaml listens on {proxy} and {admin}")

    def resolve(port):
        return named.get(port) if isinstance(port, str) else port

    for probe, path in (("startupProbe", "/readyz"), ("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        if probe in gate:
            get = gate[probe].get("httpGet") or {}
            need(get.get("path") == path and resolve(get.get("port")) == admin,
                 f"{variant}: authgate {probe} should be GET {path} on the admin port {admin}, is {get}")
        else:
            need(probe == "startupProbe", f"{variant}: authgate has no {probe}")

    # The Service: the proxy port only; by number when the sidecar is an init container.
    need(selects(svc["spec"].get("selector")), "Service: its selector does not match the pods")
    for p in svc["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        if isinstance(target, str):
            if variant == "native":
                errors.append(f"Service: targetPort {target!r} is a name: a Service does not resolve names declared on init containers before Kubernetes 1.32")
                continue
            target = next((q["containerPort"] for c in containers for q in c.get("ports") or [] if q.get("name") == target), None)
        need(target != admin, f"Service: exposes the admin port {admin}")
        need(target == proxy, f"Service: port {p['port']} targets {target}, not the proxy port {proxy}")

    # The NetworkPolicy: the proxy port from anywhere, the admin port from selected pods only.
    spec_np = netpol["spec"]
    need(selects(spec_np.get("podSelector", {}).get("matchLabels")), "NetworkPolicy: its podSelector does not match the pods")
    need("Ingress" in (spec_np.get("policyTypes") or []), "NetworkPolicy: policyTypes lacks Ingress")
    opened = set()
    for rule in spec_np.get("ingress") or []:
        if not need(rule.get("ports"), "NetworkPolicy: an ingress rule without ports admits every port"):
            continue
        for p in rule["ports"]:
            port = p.get("port")
            if not need(isinstance(port, int) and "endPort" not in p, f"NetworkPolicy: port {port!r} should be one number (names on init containers are not resolved by every network plugin)"):
                continue
            opened.add(port)
            if port == admin:
                sources = rule.get("from") or []
                need(sources and all("podSelector" in s and "namespaceSelector" in s for s in sources),
                     f"NetworkPolicy: the admin port {admin} must be admitted from selected pods only (a namespaceSelector and a podSelector in one `from` entry)")
            else:
                need(port == proxy, f"NetworkPolicy: admits port {port}, which is not the proxy port {proxy}")
    need(proxy in opened, f"NetworkPolicy: does not admit the proxy port {proxy}")

    # The PodDisruptionBudget: these pods, one at a time.
    replicas = dep["spec"].get("replicas", 1)
    need(selects(pdb["spec"].get("selector", {}).get("matchLabels")), "PodDisruptionBudget: its selector does not match the pods")
    low, high = pdb["spec"].get("minAvailable"), pdb["spec"].get("maxUnavailable")
    if isinstance(low, int):
        need(1 <= low < replicas, f"PodDisruptionBudget: minAvailable {low} with {replicas} replicas either protects nothing or blocks every drain")
    if isinstance(high, int):
        need(1 <= high < replicas, f"PodDisruptionBudget: maxUnavailable {high} with {replicas} replicas either blocks every drain or protects nothing")

    # The configuration file and the Secret the sidecar reads are the shipped ones.
    args = gate.get("args") or []
    if need("--config" in args[:-1], f"{variant}: authgate's args do not name --config"):
        config = args[args.index("--config") + 1]
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = [m for m in gate.get("volumeMounts") or [] if os.path.dirname(config) == m["mountPath"].rstrip("/")]
        source = volumes.get(mounts[0]["name"], {}).get("configMap", {}).get("name") if mounts else None
        need(source == configmap["metadata"]["name"] and os.path.basename(config) in configmap["data"],
             f"{variant}: --config {config} is not the ConfigMap {configmap['metadata']['name']}'s gateway.yaml mounted")
    refs = [e["secretRef"]["name"] for e in gate.get("envFrom") or [] if "secretRef" in e]
    need(secret["metadata"]["name"] in refs, f"{variant}: authgate does not read the Secret {secret['metadata']['name']}")

    grace = spec.get("terminationGracePeriodSeconds", 30)
    need(gateway.get("grace_period_seconds", 10) < grace, f"{variant}: grace_period_seconds must stay below terminationGracePeriodSeconds ({grace})")
    annotations = pod["metadata"].get("annotations") or {}
    if "prometheus.io/port" in annotations:
        need(int(annotations["prometheus.io/port"]) == admin, f"{variant}: prometheus.io/port is not the admin port {admin}")

    security = gate.get("securityContext") or {}
    need(security.get("runAsNonRoot") and security.get("readOnlyRootFilesystem") and security.get("allowPrivilegeEscalation") is False,
         f"{variant}: authgate must run as non-root, read-only, without privilege escalation")
    return errors


def main(argv):
    if len(argv) == 3 and argv[1] == "files":
        print("\n".join(walk(argv[2])[0]))
    elif len(argv) == 3 and argv[1] == "plain":
        walk(argv[2], plain=True)
    elif len(argv) >= 4 and argv[1] == "unused":
        unused(argv[2], argv[3:])
    elif len(argv) >= 4 and argv[1] == "invariants" and argv[2] in ("native", "legacy"):
        errors = invariants(argv[2], argv[3:])
        if errors:
            sys.exit("\n".join(e if e.startswith(argv[2] + ":") else f"{argv[2]}: {e}" for e in errors))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
