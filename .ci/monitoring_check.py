#!/usr/bin/env python3
"""Drive some traffic through the demo gateway, wait for Prometheus to scrape it, then evaluate
every expression of deploy/monitoring/rules.yml and dashboard.json through Prometheus' HTTP
API. Exits 1 on an expression Prometheus cannot evaluate or one that names an authgate metric
the gateway does not have.

    monitoring_check.py PROMETHEUS_PORT PROXY_PORT      (run by .ci/monitoring.sh)
"""

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

prom, proxy = sys.argv[1], sys.argv[2]
PROM = f"http://127.0.0.1:{prom}"
GW = f"http://127.0.0.1:{proxy}"


def call(method, url, data=None, headers=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def traffic():
    login = {"grant_type": "password", "username": "demo@example.com", "password": "demo-password"}
    status, body = call("POST", f"{GW}/oauth/token", login, {"secret": "mobile-secret"})
    assert status == 200, (status, body)
    tokens = json.loads(body)
    bearer = {"authorization": f"Bearer {tokens['accessToken']}"}
    for _ in range(5):
        call("GET", f"{GW}/api/me", headers=bearer)
    call("GET", f"{GW}/reports/q3", headers=bearer)  # 403: a rule's refusal
    call("GET", f"{GW}/api/me")  # 401
    call("POST", f"{GW}/oauth/token", dict(login, password="wrong"), {"secret": "mobile-secret"})
    call("POST", f"{GW}/oauth/token", login, {"secret": "website-secret"})
    refresh = json.dumps({"refresh_token": tokens["refreshToken"]}).encode()
    req = urllib.request.Request(f"{GW}/oauth/refreshtoken", data=refresh, method="POST",
                                 headers=dict(bearer, secret="mobile-secret", **{"content-type": "application/json"}))
    try:
        urllib.request.urlopen(req, timeout=10).read()
    except urllib.error.HTTPError:
        pass


def query(expr):
    status, body = call("GET", f"{PROM}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"status": "error", "error": body[:200].decode(errors="replace")}


def wait_for_scrapes():
    deadline = time.time() + 60
    while time.time() < deadline:
        status, answer = query('count_over_time(up{job="authgate"}[1m])')
        result = answer.get("data", {}).get("result", []) if status == 200 else []
        if result and float(result[0]["value"][1]) >= 5:
            return
        traffic_light()
        time.sleep(1)
    sys.exit("monitoring_check.py: Prometheus did not scrape the gateway within 60 s")


def traffic_light():
    call("GET", f"{GW}/public/x")


def expressions():
    """(where, expression) of every rule (as Prometheus loaded them) and dashboard target."""
    out = []
    status, body = call("GET", f"{PROM}/api/v1/rules")
    groups = json.loads(body)["data"]["groups"] if status == 200 else []
    for group in groups:
        for rule in group["rules"]:
            out.append((f"rules.yml {rule['name']}", rule["query"]))
    if len(out) < 15:
        sys.exit(f"monitoring_check.py: Prometheus loaded {len(out)} rules of deploy/monitoring/rules.yml")
    dashboard = json.load(open("deploy/monitoring/dashboard.json"))
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((f"dashboard.json {panel['title']!r} {target['refId']}", target["expr"].replace("$__rate_interval", "1m")))
    return out


def known_metrics():
    names = set()
    for line in open("docs/operating.md", encoding="utf-8"):
        m = re.match(r"\| `(authgate_[a-z_]+)`", line)
        if m:
            names.add(m.group(1))
    return names


def main():
    # Two rounds of traffic a few scrapes apart, so rates have two points.
    traffic()
    wait_for_scrapes()
    traffic()
    time.sleep(3)
    known = known_metrics()
    failures, empty = [], []
    exprs = expressions()
    for where, expr in exprs:
        for name in re.findall(r"\b(authgate_[a-z_]+)", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in known and base not in known:
                failures.append(f"{where}: names {name}, which the gateway does not export")
        status, answer = query(expr)
        if status != 200 or answer.get("status") != "success":
            failures.append(f"{where}: Prometheus could not evaluate it: {answer.get('error')}")
        elif not answer["data"]["result"]:
            empty.append(where)
    print(f"monitoring: {len(exprs)} expressions evaluated, {len(exprs) - len(empty) - len(failures)} with data")
    for where in empty:
        print(f"  no data yet (nothing of the kind happened in the run): {where}")
    for f in failures:
        print(f"  FAILED {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
