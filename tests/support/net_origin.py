#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Plain HTTP origins on several addresses, one port for all, for the name and IPv6 tunnel
tests: `net_origin.py PORT_FILE DIR ADDR...`. GET / answers "hello ADDR" (the address that
took the connection, so a test sees which one a name reached); other paths are files of DIR
(a bare git repository after `git update-server-info` works). The first address gets a port
from the kernel, the others the same port; the port is written to PORT_FILE once all listen.
With NET_ORIGIN_TLS=CERT:KEY in the environment they serve HTTPS with that certificate."""
import functools
import http.server
import os
import socket
import ssl
import sys
import threading

port_file, root, addrs = sys.argv[1], sys.argv[2], sys.argv[3:]


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/":
            return super().do_GET()
        body = ("hello %s\n" % self.server.tag).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class V4(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET


class V6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


port = 0
h = functools.partial(Handler, directory=root)
for a in addrs:
    s = (V6 if ":" in a else V4)((a, port), h)
    s.tag = a
    if os.environ.get("NET_ORIGIN_TLS"):
        cert, key = os.environ["NET_ORIGIN_TLS"].split(":", 1)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        s.socket = tls.wrap_socket(s.socket, server_side=True)
    port = s.server_address[1]
    threading.Thread(target=s.serve_forever, daemon=True).start()
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(port_file + ".tmp", port_file)
threading.Event().wait()
