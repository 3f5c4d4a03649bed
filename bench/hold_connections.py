#!/usr/bin/env python3
"""Open N keep-alive connections to an HTTP/1.1 server, send one request on each, read each
answer, and keep them all open (idle) until SIGTERM, SIGINT or --hold seconds: the server's
memory per idle keep-alive connection can then be read from outside (bench/run.sh reads its
VmRSS and counts the established sockets with ss).

Prints one line when every connection is open and answered:
    open=N ok=M failed=F statuses=200:M seconds=S
and exits 0 once released (1 when some connection failed). Standard library only.

Usage: hold_connections.py URL N [-H 'Name: value']... [--batch 500] [--timeout 30] [--hold SECONDS]
"""

import argparse
import asyncio
import collections
import resource
import signal
import sys
import time
import urllib.parse


async def one(host, port, request, timeout):
    """Connect, send the request, read the whole answer; the open connection and its status."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), timeout)
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)).split(b";")[0], 16)
                await asyncio.wait_for(reader.readexactly(size + 2), timeout)
                if size == 0:
                    break
        if headers.get("connection") == "close":
            raise ConnectionError("the server closes the connection")
        return (reader, writer), status
    except BaseException:
        writer.close()
        raise


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("n", type=int)
    p.add_argument("-H", "--header", action="append", default=[], help="a request header, 'Name: value'")
    p.add_argument("--batch", type=int, default=500, help="connections opened at once (the listen backlog)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds for one connection's connect or answer")
    p.add_argument("--hold", type=float, default=None, help="release after this many seconds")
    a = p.parse_args()

    # One descriptor per connection, plus a few.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            sys.exit(f"the open-files limit ({hard}) is below {want}: raise it (ulimit -Hn) or hold fewer connections")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    url = urllib.parse.urlsplit(a.url)
    if url.scheme != "http" or not url.hostname:
        sys.exit("an http:// URL")
    port = url.port or 80
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    host_header = url.netloc
    extra = "".join(f"{h.strip()}\r\n" for h in a.header)
    request = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n{extra}\r\n".encode("latin-1")

    started = time.monotonic()
    held, statuses, failed = [], collections.Counter(), 0
    errors = collections.Counter()
    for first in range(0, a.n, a.batch):
        count = min(a.batch, a.n - first)
        results = await asyncio.gather(
            *(one(url.hostname, port, request, a.timeout) for _ in range(count)), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                failed += 1
                errors[type(r).__name__] += 1
            else:
                held.append(r[0])
                statuses[r[1]] += 1
    ok = statuses.get(200, 0)
    seconds = time.monotonic() - started
    status_text = ",".join(f"{s}:{c}" for s, c in sorted(statuses.items())) or "-"
    error_text = "".join(f" {name}:{c}" for name, c in errors.most_common())
    print(f"open={len(held)} ok={ok} failed={failed} statuses={status_text} seconds={seconds:.1f}{error_text}", flush=True)

    # Hold until told to stop.
    loop = asyncio.get_running_loop()
    released = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, released.set)
    try:
        await asyncio.wait_for(released.wait(), a.hold)
    except asyncio.TimeoutError:
        pass
    for _, writer in held:
        writer.close()
    return 0 if failed == 0 and ok == a.n else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
