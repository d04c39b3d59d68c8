#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Raw-socket clients for tests/integration/server.sh: what curl cannot do (hostile bytes,
# slow clients, SEQPACKET events, fetch loops that check every envelope).
import base64
import json
import os
import socket
import sys
import time
import urllib.request


def raw(host, port, data, timeout=5.0):
    """Send bytes, print the first response line (or CLOSED)."""
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(data)
    buf = b""
    try:
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        print("TIMEOUT")
        return
    finally:
        s.close()
    print(buf.split(b"\r\n", 1)[0].decode("latin-1") if buf else "CLOSED")


def slow(host, port, partial, wait):
    """Send a partial request, then wait: print CLOSED if the server hung up, else the reply
    line, else OPEN."""
    s = socket.create_connection((host, int(port)), timeout=wait)
    s.sendall(partial)
    t0 = time.time()
    try:
        data = s.recv(4096)
        line = data.split(b"\r\n", 1)[0].decode("latin-1") if data else "CLOSED"
        print("%s after %.1fs" % (line, time.time() - t0))
    except socket.timeout:
        print("OPEN")
    s.close()


def fetchloop(url, key, seconds, out):
    """Fetch the policy until the time is up; every 200 must be a complete envelope and the
    version must never go down. Writes a summary line to out."""
    # seconds is a number, or the path of a file whose appearance ends the loop (after one
    # more fetch, so the last version served is seen)
    stop_file = None if seconds.replace(".", "").isdigit() else seconds
    end = time.time() + (60.0 if stop_file else float(seconds))
    last, n, bad, versions, final = 0, 0, 0, set(), False
    while time.time() < end and not final:
        final = bool(stop_file) and os.path.exists(stop_file)
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + key})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                env = json.loads(body)
                payload = json.loads(base64.b64decode(env["payload"]))
                assert env["payloadType"] == "application/vnd.cordon.policy+json"
                assert env["signatures"][0]["sig"]
                v = payload["version"]
                etag = r.headers["ETag"]
                assert etag.startswith('"v%d-' % v), etag
                if v < last:
                    bad += 1
                    print("version went down: %d after %d" % (v, last), file=sys.stderr)
                last = max(last, v)
                versions.add(v)
                n += 1
        except Exception as e:  # noqa: BLE001 - every failure is a test failure
            bad += 1
            print("fetch failed: %r" % (e,), file=sys.stderr)
    with open(out, "w") as f:
        f.write("fetches=%d bad=%d versions=%s\n" % (n, bad, ",".join(map(str, sorted(versions)))))


def events(path, key, script):
    """Connect to the event socket and play a script: a list of JSON values or raw strings,
    with {"sleep": S} pauses. Prints how many sends succeeded and whether the peer closed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    sent = 0
    for item in json.loads(script):
        if isinstance(item, dict) and "sleep" in item:
            time.sleep(item["sleep"])
            continue
        if isinstance(item, dict) and "big" in item:
            s.send(b"{" + b" " * item["big"] + b"}")
            sent += 1
            continue
        if isinstance(item, dict) and "repeat" in item:
            msg = json.dumps(item["msg"]).encode()
            for _ in range(item["repeat"]):
                s.send(msg)
                sent += 1
            continue
        if isinstance(item, str):
            data = item.replace("KEY", key).encode()
        else:
            data = json.dumps(item).replace("KEY", key).encode()
        try:
            s.send(data)
            sent += 1
        except OSError as e:
            print("send failed: %s" % e)
            break
    time.sleep(0.3)
    s.setblocking(False)
    try:
        closed = s.recv(1) == b""
    except BlockingIOError:
        closed = False
    except ConnectionResetError:
        closed = True
    print("sent=%d closed=%s pid=%d" % (sent, closed, os.getpid()))
    s.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "raw":
        raw(sys.argv[2], sys.argv[3], sys.argv[4].encode("latin-1").decode("unicode_escape").encode("latin-1"))
    elif cmd == "big":
        # an oversized header: NAME SIZE
        host, port, first, size = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        raw(host, port, (first + "\r\nX-Big: " + "a" * size + "\r\n\r\n").encode())
    elif cmd == "slow":
        slow(sys.argv[2], sys.argv[3],
             sys.argv[4].encode("latin-1").decode("unicode_escape").encode("latin-1"),
             float(sys.argv[5]))
    elif cmd == "fetchloop":
        fetchloop(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "events":
        events(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "serve":
        # a loopback HTTP server answering "hello from upstream"; writes its port to argv[2]
        import http.server

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"hello from upstream\n" + (b"x" * int(self.path.strip("/") or 0))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
        srv.serve_forever()
    else:
        sys.exit("unknown command " + cmd)
