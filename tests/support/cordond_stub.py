#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A minimal stand-in for cordond on loopback, for the shim's integration tests.

tests/integration/shim_cordond.sh runs the shim against the real cordond; this stand-in
serves the checks the real server rightly refuses or cannot stage without privileges:
host names that resolve to the loopback origin (--map), a Unix-socket HTTP listener, and
envelopes swapped on disk between polls.

It implements exactly the three parts of docs/PROTOCOL.md the shim talks to, and nothing of
the API layer: GET /v1/policy (Bearer key, ETag, 304, Cordon-Proxy, Cordon-Events), the
CONNECT egress tunnel (key check, host:port allowlist, 403/407/502) and the SOCK_SEQPACKET
event channel (hello first, then events appended to a JSON Lines file). The envelope is read
from its file on every request, so a test can publish a new version while agents run.
"""
import argparse
import base64
import hashlib
import json
import os
import select
import socket
import sys
import threading


def log_line(path, obj, lock):
    with lock:
        with open(path, "a") as f:
            f.write(json.dumps(obj) + "\n")


def key_from(headers, name):
    v = headers.get(name, "")
    if v.startswith("Bearer "):
        return v[7:].strip()
    if v.startswith("Basic "):
        try:
            user, _, pw = base64.b64decode(v[6:].strip()).decode().partition(":")
            return pw
        except Exception:
            return ""
    return ""


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(1)
        if not chunk:
            return None, None, None
        data += chunk
        if len(data) > 16384:
            return None, None, None
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    headers = {}
    for l in lines[1:]:
        if ":" in l:
            k, _, v = l.partition(":")
            headers[k.strip().lower().title()] = v.strip()
    return parts, headers, data


def reply(conn, status, reason, body=b"", headers=()):
    h = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    h += "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    conn.sendall(h.encode() + body)


def relay(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 60)
            if not r:
                return
            for s in r:
                d = s.recv(65536)
                if not d:
                    return
                (b if s is a else a).sendall(d)
    except OSError:
        return


class Stub:
    def __init__(self, args):
        self.a = args
        self.lock = threading.Lock()

    def envelope(self):
        with open(self.a.envelope, "rb") as f:
            env = f.read()
        version = json.loads(base64.b64decode(json.loads(env)["payload"]))["version"]
        etag = '"v%d-%s"' % (version, hashlib.sha256(env).hexdigest()[:16])
        return env, etag

    def handle(self, conn):
        try:
            parts, headers, _ = read_head(conn)
            if not parts or len(parts) != 3:
                reply(conn, 400, "Bad Request", b"malformed request\n")
                return
            method, target = parts[0], parts[1]
            if method == "CONNECT":
                self.tunnel(conn, target, headers)
                return
            if target != "/v1/policy":
                reply(conn, 404, "Not Found", b'{"error":{"code":"cordon.not_found"}}')
                return
            if method != "GET":
                reply(conn, 405, "Method Not Allowed", b'{"error":{"code":"cordon.method"}}')
                return
            if key_from(headers, "Authorization") != self.a.key:
                reply(conn, 401, "Unauthorized", b'{"error":{"code":"cordon.unauthorized"}}')
                return
            env, etag = self.envelope()
            extra = [("ETag", etag), ("Cordon-Proxy", "127.0.0.1:%d" % self.port),
                     ("Cache-Control", "no-cache")]
            if self.a.events_sock:
                extra.append(("Cordon-Events", "unix:" + self.a.events_sock))
            log_line(self.a.log, {"type": "fetch", "etag": etag,
                                  "inm": headers.get("If-None-Match", "")}, self.lock)
            if headers.get("If-None-Match") == etag:
                reply(conn, 304, "Not Modified", b"", extra)
            else:
                reply(conn, 200, "OK", env, extra + [("Content-Type", "application/json")])
        finally:
            conn.close()

    def tunnel(self, conn, target, headers):
        if key_from(headers, "Proxy-Authorization") != self.a.key:
            reply(conn, 407, "Proxy Authentication Required", b"no valid agent key\n")
            return
        if target not in self.a.allow:
            log_line(self.a.log, {"type": "tunnel", "target": target, "decision": "deny",
                                  "session": headers.get("Cordon-Session", "")}, self.lock)
            reply(conn, 403, "Forbidden",
                  ("%s is not in sandbox.network.allow\n" % target).encode())
            return
        host, _, port = target.rpartition(":")
        host = dict(m.split("=", 1) for m in self.a.map).get(host, host)
        try:
            up = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError as e:
            reply(conn, 502, "Bad Gateway", ("cannot reach %s: %s\n" % (target, e)).encode())
            return
        log_line(self.a.log, {"type": "tunnel", "target": target, "decision": "allow",
                              "session": headers.get("Cordon-Session", "")}, self.lock)
        conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        relay(conn, up)
        up.close()

    def events(self, conn):
        try:
            first = True
            while True:
                msg = conn.recv(8192)
                if not msg:
                    return
                try:
                    obj = json.loads(msg)
                except ValueError:
                    log_line(self.a.log, {"type": "malformed"}, self.lock)
                    continue
                if first:
                    first = False
                    if obj.get("type") != "hello" or obj.get("key") != self.a.key:
                        log_line(self.a.log, {"type": "bad_hello"}, self.lock)
                        return
                    obj["key"] = "(checked)"
                log_line(self.a.log, obj, self.lock)
        finally:
            conn.close()

    def serve(self):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", self.a.port))
        tcp.listen(64)
        self.port = tcp.getsockname()[1]
        if self.a.events_sock:
            ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ev.bind(self.a.events_sock)
            ev.listen(64)
            threading.Thread(target=self.accept_loop, args=(ev, self.events),
                             daemon=True).start()
        if self.a.unix:
            ux = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ux.bind(self.a.unix)
            ux.listen(64)
            threading.Thread(target=self.accept_loop, args=(ux, self.handle),
                             daemon=True).start()
        with open(self.a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % self.port)
        os.rename(self.a.port_file + ".tmp", self.a.port_file)
        self.accept_loop(tcp, self.handle)

    @staticmethod
    def accept_loop(sock, fn):
        while True:
            c, _ = sock.accept()
            threading.Thread(target=fn, args=(c,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--envelope", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--allow", action="append", default=[])
    p.add_argument("--map", action="append", default=[], help="NAME=ADDRESS, resolved here")
    p.add_argument("--events-sock")
    p.add_argument("--log", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--unix", help="also answer HTTP on this Unix socket path")
    p.add_argument("--port-file", required=True)
    Stub(p.parse_args()).serve()


if __name__ == "__main__":
    sys.exit(main())
