#!/usr/bin/env python3
"""Hostile HTTP/1.1 input for authgate's proxy listener, over raw sockets.

Usage:  python3 tests/hostile/raw_socket.py --url http://127.0.0.1:8080 [--timeout 5]

Python 3 standard library only. Every case is sent on a fresh connection and must get a
4xx status line, or have the connection closed (EOF) or reset, within the timeout: a 2xx,
3xx or 5xx answer, a non-HTTP answer, or silence past the timeout is a failure. After every
case a plain `GET /public/ping` must still get `200` (the gateway keeps serving).

Targets are chosen so that a 4xx means the gateway refused the input itself:
  * malformed framing and headers go to /public/ping, a public route whose backend (the echo
    backend) answers 200: a 2xx there means the malformed request was accepted and proxied;
  * body-level cases go to POST /oauth/token, which the gateway reads in full itself (the
    echo backend answers without reading a body, so it would race a body-parse error);
  * cookie bombs and path-confusion cases go to /api/me, a protected route (default policy
    `authenticated`): any 2xx there without a token is an authorization bypass.

Absolute-form to another host (`GET http://evil.example/public/x`) is accepted as 4xx, or as
200 only if the echo backend reports that it received the origin-form path `/public/x` (the
gateway only ever proxies to its configured backend, so the foreign host is harmless then).

Output: one line per case, `ok   name: ...` or `FAIL name: ...` (a failure shows the bytes
sent), then `N passed, M failed`. Exit status 0 only if nothing failed. The whole run is
capped at --budget seconds (default 55): cases that do not fit are failed as skipped.
Only the loopback address given in --url is ever connected to.
"""

import argparse
import ipaddress
import json
import random
import selectors
import socket
import sys
import time
import urllib.parse

# ---------------------------------------------------------------------------------------------
# The exchange: send bytes (reading while sending, so an early answer is seen), then read the
# status line and headers, and optionally the body.
# ---------------------------------------------------------------------------------------------


class Outcome:
    """What came back: kind is 'status', 'closed', 'reset', 'timeout' or 'garbage'."""

    def __init__(self, kind, status=None, head=b"", body=b"", note=""):
        self.kind = kind
        self.status = status
        self.head = head
        self.body = body
        self.note = note

    def describe(self):
        if self.kind == "status":
            line = self.head.split(b"\r\n", 1)[0].decode("latin-1")
            return line[9:] if line.startswith("HTTP/1.") else line
        if self.kind == "timeout":
            return "no answer and connection still open after the timeout (hang)"
        if self.kind == "garbage":
            return "non-HTTP answer %r" % self.head[:80]
        return self.kind + (" (" + self.note + ")" if self.note else "")


def _parse_status(head):
    line = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) >= 2 and parts[0] in (b"HTTP/1.1", b"HTTP/1.0") and len(parts[1]) == 3 and parts[1].isdigit():
        return int(parts[1])
    return None


def _content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def exchange(addr, payload, timeout, want_body=False):
    """Send payload on a fresh connection and read one response (status line + headers)."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection(addr, timeout=timeout)
    except OSError as e:
        return Outcome("reset", note="connect failed: %s" % e)
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    view = memoryview(payload)
    sent = 0
    can_send = True
    buf = bytearray()
    eof = False
    reset = None
    try:
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while b"\r\n\r\n" not in buf and not eof and reset is None:
            sending = can_send and sent < len(view)
            sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if sending else 0))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for _key, ev in sel.select(remaining):
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = sock.recv(65536)
                    except (ConnectionResetError, ConnectionAbortedError) as e:
                        reset = e
                        break
                    except BlockingIOError:
                        chunk = None
                    if chunk == b"":
                        eof = True
                    elif chunk:
                        buf += chunk
                        if len(buf) > 1 << 20:
                            eof = True  # enough: nothing sane sends a 1 MB head
                if ev & selectors.EVENT_WRITE and sending:
                    try:
                        sent += sock.send(view[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                        can_send = False  # the peer stopped reading: see what it said
        head_end = buf.find(b"\r\n\r\n")
        if not buf:
            if reset is not None:
                return Outcome("reset", note="after %d of %d bytes sent" % (sent, len(payload)))
            if eof:
                return Outcome("closed", note="after %d of %d bytes sent" % (sent, len(payload)))
            return Outcome("timeout", note="%d of %d bytes sent" % (sent, len(payload)))
        head = bytes(buf[:head_end + 4]) if head_end >= 0 else bytes(buf)
        status = _parse_status(head)
        if status is None:
            return Outcome("garbage", head=head)
        body = bytes(buf[head_end + 4:]) if head_end >= 0 else b""
        if want_body and head_end >= 0 and not eof and reset is None:
            want = _content_length(head)
            sock.setblocking(True)
            body += _read_until(sock, deadline, want=None if want is None else want - len(body))
        return Outcome("status", status=status, head=head, body=body)
    finally:
        sel.close()
        sock.close()


def _read_until(sock, deadline, want, idle=0.5):
    """Read from a blocking socket until `want` bytes (None: until the peer closes, or after
    `idle` seconds of silence when given), the deadline, or 1 MiB."""
    data = b""
    while want is None or len(data) < want:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or len(data) > 1 << 20:
            break
        wait = remaining if want is not None or idle is None else min(remaining, idle)
        sock.settimeout(max(0.05, wait))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def second_answer(addr, payload, timeout):
    """For a failure report: what else came back on the same connection (a smuggled request's
    answer shows up as a second status line)."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection(addr, timeout=timeout)
    except OSError:
        return ""
    data = b""
    try:
        sock.sendall(payload)
        data = _read_until(sock, deadline, want=None, idle=None)
    except OSError:
        pass
    finally:
        sock.close()
    lines = [l.decode("latin-1") for l in data.split(b"\r\n") if _parse_status(l + b"\r\n")]
    return " / ".join(l[9:] for l in lines)


# ---------------------------------------------------------------------------------------------
# Cases.
# ---------------------------------------------------------------------------------------------


class Case:
    def __init__(self, name, payload, shown=None, target="malformed", want_body=True, accept=None):
        self.name = name
        self.payload = payload
        self.shown = shown  # a readable form of huge payloads
        self.target = target  # 'malformed' | 'protected'
        self.want_body = want_body
        self.accept = accept  # optional extra acceptance: fn(Outcome) -> note or None


def show_bytes(payload, limit=400):
    r = repr(payload)
    if len(r) > limit:
        r = r[:limit] + "...'"
    return "%s (%d bytes)" % (r, len(payload))


def build_cases(host):
    H = ("Host: %s\r\n" % host).encode()
    rng = random.Random(20240601)  # fixed: the same bytes every run

    def req(method, target, headers=b"", body=b"", version=b"HTTP/1.1", close=False):
        return (method + b" " + target + b" " + version + b"\r\n" + H + headers
                + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body)

    cases = []
    add = cases.append

    # --- Garbage -------------------------------------------------------------------------
    garbage = bytes(rng.randrange(256) for _ in range(512)) + b"\r\n\r\n"
    add(Case("garbage_bytes", garbage, shown="512 seeded random bytes + b'\\r\\n\\r\\n': " + show_bytes(garbage, 120)))
    binline = bytes(rng.randrange(256) for _ in range(200))
    p = binline + b"\r\n" + H + b"\r\n"
    add(Case("binary_request_line", p, shown="200 seeded random bytes + b'\\r\\n' + Host + b'\\r\\n': " + show_bytes(p, 120)))

    # --- Size limits ---------------------------------------------------------------------
    add(Case("oversized_request_line_100k", req(b"GET", b"/public/" + b"a" * 100_000),
             shown="b'GET /public/' + b'a'*100000 + b' HTTP/1.1\\r\\nHost: ...\\r\\n\\r\\n'"))
    add(Case("oversized_header_1mb", req(b"GET", b"/public/ping", b"X-Big: " + b"a" * (1 << 20) + b"\r\n"),
             shown="b'GET /public/ping HTTP/1.1\\r\\nHost: ...\\r\\nX-Big: ' + b'a'*1048576 + b'\\r\\n\\r\\n'"))
    many = b"".join(b"X-H-%d: v\r\n" % i for i in range(5000))
    add(Case("5000_headers", req(b"GET", b"/public/ping", many),
             shown="b'GET /public/ping HTTP/1.1\\r\\nHost: ...\\r\\n' + b'X-H-<i>: v\\r\\n' for i in 0..4999 + b'\\r\\n'"))

    # --- Framing / smuggling (public route: a 2xx means it was proxied) -------------------
    smuggled = b"0\r\n\r\nGET /api/me HTTP/1.1\r\n" + H + b"\r\n"
    add(Case("cl_and_te_chunked", req(b"POST", b"/public/ping",
             b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(smuggled), smuggled)))
    add(Case("te_chunked_and_cl", req(b"POST", b"/public/ping",
             b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", b"1a\r\nGPOST /api/me HTTP/1.1\r\n\r\n\r\n0\r\n\r\n")))
    add(Case("two_different_cl", req(b"POST", b"/public/ping", b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!")))
    add(Case("cl_comma_list_different", req(b"POST", b"/public/ping", b"Content-Length: 5, 6\r\n", b"hello!")))
    add(Case("cl_plus_sign", req(b"POST", b"/public/ping", b"Content-Length: +5\r\n", b"hello")))
    add(Case("cl_inner_space", req(b"POST", b"/public/ping", b"Content-Length: 5 5\r\n", b"hello")))
    add(Case("cl_negative", req(b"POST", b"/public/ping", b"Content-Length: -5\r\n", b"hello")))
    add(Case("cl_hex", req(b"POST", b"/public/ping", b"Content-Length: 0x5\r\n", b"hello")))
    chunked_hello = b"5\r\nhello\r\n0\r\n\r\n"
    add(Case("te_chunked_identity", req(b"POST", b"/public/ping", b"Transfer-Encoding: chunked, identity\r\n", chunked_hello)))
    add(Case("te_xchunked", req(b"POST", b"/public/ping", b"Transfer-Encoding: xchunked\r\n", chunked_hello)))
    add(Case("te_space_before_colon", req(b"POST", b"/public/ping", b"Transfer-Encoding : chunked\r\n", chunked_hello)))

    # --- Body-level (POST /oauth/token: the gateway reads the body itself) ----------------
    login = b"Secret: mobile-secret\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    add(Case("chunk_size_overflow", req(b"POST", b"/oauth/token", login + b"Transfer-Encoding: chunked\r\n",
             b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n")))
    add(Case("oauth_token_cl_10gb", req(b"POST", b"/oauth/token", login + b"Content-Length: 10737418240\r\n",
             b"grant_type=password")))
    creds = b"grant_type=password&username=demo%40example.com&password=demo-password&scope=openid&pad="
    big = creds + b"a" * (1_200_000 - len(creds))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 65536]), big[i:i + 65536]) for i in range(0, len(big), 65536))
    add(Case("oauth_token_chunked_1_2mb", req(b"POST", b"/oauth/token", login + b"Transfer-Encoding: chunked\r\n",
             chunks + b"0\r\n\r\n"),
             shown="b'POST /oauth/token HTTP/1.1\\r\\nHost: ...\\r\\nSecret: mobile-secret\\r\\nContent-Type: "
                   "application/x-www-form-urlencoded\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n' + 64 KiB chunks of "
                   "b'grant_type=password&username=demo%40example.com&password=demo-password&scope=openid&pad=aaaa...' "
                   "(1,200,000 body bytes) + b'0\\r\\n\\r\\n'"))

    # --- Header syntax ---------------------------------------------------------------------
    add(Case("nul_in_header_value", req(b"GET", b"/public/ping", b"X-A: a\x00b\r\n")))
    add(Case("bare_cr_in_header_value", req(b"GET", b"/public/ping", b"X-A: a\rb\r\n")))
    add(Case("bare_lf_in_header_value", req(b"GET", b"/public/ping", b"X-A: a\nb\r\n")))
    add(Case("obs_fold_continuation", req(b"GET", b"/public/ping", b"X-A: a\r\n b\r\n")))
    add(Case("space_before_colon", req(b"GET", b"/public/ping", b"X-Test : value\r\n")))

    # --- Request targets and methods ---------------------------------------------------------
    def backend_saw(path):
        def check(o):
            if o.status == 200:
                try:
                    seen = json.loads(o.body.decode("utf-8", "replace"))
                except ValueError:
                    return None
                if seen.get("path") == path:
                    return "200, backend received origin-form %s (Host %s)" % (path, seen.get("headers", {}).get("host"))
            return None
        return check

    add(Case("absolute_form_other_host",
             b"GET http://evil.example/public/x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
             want_body=True, accept=backend_saw("/public/x")))
    add(Case("absolute_form_protected",
             b"GET http://evil.example/api/me HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
             target="protected", want_body=True))
    add(Case("connect_method", b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n"))
    add(Case("options_asterisk", req(b"OPTIONS", b"*")))
    add(Case("http09_get", b"GET /\r\n"))
    add(Case("h2_preface_cleartext", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"))

    # --- Cookie bombs on a protected route: must be refused (401), not crash or pass -------
    jar = "; ".join("c%d=v%d" % (i, i) for i in range(10_000)).encode()
    add(Case("cookie_bomb_10000", req(b"GET", b"/api/me", b"Cookie: " + jar + b"\r\n"), target="protected",
             shown="b'GET /api/me HTTP/1.1\\r\\nHost: ...\\r\\nCookie: c0=v0; c1=v1; ...; c9999=v9999\\r\\n\\r\\n'"))
    none_jwt = b"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."
    sids = b"; ".join((b"sid=" + none_jwt if i % 2 else b"sid=x%d" % i) for i in range(200))
    add(Case("cookie_bomb_200_sid", req(b"GET", b"/api/me", b"Cookie: " + sids + b"\r\n"), target="protected",
             shown="b'GET /api/me HTTP/1.1\\r\\nHost: ...\\r\\nCookie: ' + 200 x 'sid=' (alternately b'x<i>' and an "
                   "alg=none JWT " + none_jwt.decode() + ") joined by b'; ' + b'\\r\\n\\r\\n'"))

    # --- Path confusion: protected paths spelled to look public ----------------------------
    add(Case("control_api_me_without_token", req(b"GET", b"/api/me", close=True), target="protected", want_body=True))
    for path in [
        b"/public/../api/me",
        b"/public/%2e%2e/api/me",
        b"/public/%2E%2E/api/me",
        b"/public/..%2fapi/me",
        b"/public/..%2Fapi/me",
        b"/public/..;/api/me",
        b"/public/..\\api\\me",
        b"/public/%2e%2e%2fapi/me",
        b"/public/%252e%252e/api/me",
        b"/public/.%2e/api/me",
        b"/public/%c0%ae%c0%ae/api/me",
        b"/public/./../api/me",
        b"/public//../api/me",
        b"/public/..%00/api/me",
        b"/public/%u002e%u002e/api/me",
        b"//public/../api/me",
    ]:
        add(Case("path " + path.decode(), req(b"GET", path, close=True), target="protected", want_body=True))
    return cases


# ---------------------------------------------------------------------------------------------
# Running.
# ---------------------------------------------------------------------------------------------


def loopback_address(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        sys.exit("--url must be http://127.0.0.1:PORT (cleartext HTTP/1.1), got %r" % url)
    if u.port is None or not u.hostname:
        sys.exit("--url must name a host and a port, got %r" % url)
    host = u.hostname
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        sys.exit("--url must be a loopback IP address (or localhost), got %r" % u.hostname)
    if not ip.is_loopback:
        sys.exit("refusing to connect to %s: only loopback addresses are allowed" % ip)
    hostport = ("[%s]:%d" % (ip, u.port)) if ip.version == 6 else ("%s:%d" % (ip, u.port))
    return (str(ip), u.port), hostport


def ping(addr, hostport, timeout):
    p = ("GET /public/ping HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % hostport).encode()
    return exchange(addr, p, timeout)


def judge(case, o):
    """None if acceptable, else why not. Also returns a note for the ok line."""
    if o.kind in ("closed", "reset"):
        return None, o.describe()
    if o.kind in ("timeout", "garbage"):
        return o.describe(), None
    if 400 <= o.status < 500:
        return None, o.describe()
    if case.accept is not None:
        note = case.accept(o)
        if note:
            return None, note
    why = "%s (expected 4xx or a closed connection)" % o.describe()
    if case.target == "protected" and 200 <= o.status < 300:
        why = "%s without a token on a protected path" % o.describe()
    if o.status == 200 and o.body:
        try:
            seen = json.loads(o.body.decode("utf-8", "replace"))
            if isinstance(seen, dict) and "path" in seen:
                why += "; backend received %s %s" % (seen.get("method"), seen.get("path"))
                framing = {k: v for k, v in (seen.get("headers") or {}).items()
                           if k in ("content-length", "transfer-encoding")}
                if framing:
                    why += " with " + ", ".join("%s: %s" % kv for kv in sorted(framing.items()))
        except ValueError:
            pass
    if b"\r\nconnection: close" in o.head.lower() and b"\r\nconnection: close" not in case.payload.lower():
        why += "; answer had Connection: close"
    return why, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the gateway's proxy listener, e.g. http://127.0.0.1:8080")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per exchange (default 5)")
    ap.add_argument("--budget", type=float, default=55.0, help="seconds for the whole run (default 55)")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this text")
    args = ap.parse_args()
    addr, hostport = loopback_address(args.url)
    end = time.monotonic() + args.budget

    first = ping(addr, hostport, args.timeout)
    if first.status != 200:
        print("FAIL preflight GET /public/ping: %s" % first.describe())
        print("0 passed, 1 failed")
        return 1

    cases = build_cases(hostport)
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    passed = failed = 0
    for case in cases:
        # Keep room for the case and its ping inside the budget.
        room = end - time.monotonic()
        if room < 1.0:
            print("FAIL %s: skipped, the %gs time budget is spent" % (case.name, args.budget))
            failed += 1
            continue
        timeout = min(args.timeout, max(0.5, (room - 0.5) / 2))
        t0 = time.monotonic()
        o = exchange(addr, case.payload, timeout, want_body=case.want_body)
        took = time.monotonic() - t0
        why, note = judge(case, o)
        alive = ping(addr, hostport, min(args.timeout, max(0.5, end - time.monotonic())))
        if alive.status != 200:
            extra = "gateway no longer serving: GET /public/ping got %s" % alive.describe()
            why = "%s; %s" % (why, extra) if why else "%s (case answer: %s)" % (extra, note)
        if why is None:
            print("ok   %s: %s%s" % (case.name, note, " [%.1fs]" % took if took >= 1.0 else ""))
            passed += 1
        else:
            if o.kind == "status" and not (400 <= o.status < 500) and end - time.monotonic() > 2:
                more = second_answer(addr, case.payload, 0.7)
                if more:
                    why += "; all answers on that connection: " + more
            print("FAIL %s: %s; sent %s" % (case.name, why, case.shown or show_bytes(case.payload)))
            failed += 1
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
