"""Hold N free loopback ports until killed: a socket bound to each (exclusively, then with
SO_REUSEADDR), never listening. The kernel gives them to nobody else, while servers that set
SO_REUSEADDR (authgate, nginx, HAProxy, redis) bind them beside the holder. Writes the ports,
space-separated, to FILE once they are held.

Usage: python3 .ci/hold_ports.py N FILE &   (used by .ci/demo-gateway.sh and bench/run.sh)
"""
import os
import signal
import socket
import sys

count, path = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(count):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    socks.append(s)
with open(path + ".tmp", "w") as f:
    print(*(s.getsockname()[1] for s in socks), file=f)
os.replace(path + ".tmp", path)
signal.pause()
