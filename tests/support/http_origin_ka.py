#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A loopback HTTP/1.1 origin with keep-alive for the judged-egress tests: every request is
# answered 200 with a body naming its method and path (and echoing its body), and its request
# line and body are
# appended to LOG, so a test can tell what reached the origin and what did not. Request bodies
# may be chunked (cordon re-frames a body whose values it rewrites). With CERT and KEY it
# serves HTTPS with that certificate.
#   tests/support/http_origin_ka.py PORTFILE LOG [CERT KEY]
import http.server, os, ssl, sys, threading

PORTFILE, LOG = sys.argv[1:3]
lock = threading.Lock()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = self.rfile.readline()
                try:
                    size = int(line.split(b";")[0], 16)
                except ValueError:
                    raise SystemExit("bad chunk line %r after %d bytes" % (line[:80], len(out)))
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self):
        body = self.body()
        with lock, open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, body.decode(errors="replace")))
        out = ("origin saw %s %s%s\n" % (self.command, self.path,
                                          (" " + body.decode(errors="replace")) if body else "")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = answer

    def log_message(self, *a):
        pass


s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 4:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[3], sys.argv[4])
    s.socket = tls.wrap_socket(s.socket, server_side=True)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
s.serve_forever()
