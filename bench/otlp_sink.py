"""An OTLP/HTTP sink for the benchmark's traced targets: answers every POST with 200 and counts
the exports (their number, written to FILE at exit). Threaded, so it is never the bottleneck.

Usage: python3 bench/otlp_sink.py PORT FILE &   (bench/run.sh)
"""
import http.server
import signal
import sys
import threading

port, path = int(sys.argv[1]), sys.argv[2]
count = 0
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            count += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def done(*_):
    with open(path, "w") as f:
        f.write(str(count))
    sys.exit(0)


signal.signal(signal.SIGTERM, done)
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
