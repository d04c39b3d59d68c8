#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The ways Python programs reach a host, for the name and IPv6 tunnel tests:
`net_clients.py PORT TARGET...`. For each target (a name, an IPv4 literal or an IPv6 literal
without brackets) and each way, one line: `RES WAY TARGET OK BODY` or `RES WAY TARGET ERR
WHY`. Ways: urllib; socket.create_connection (AF_UNSPEC); getaddrinfo(AF_INET6) on a
dual-stack socket (an IPv4 literal as ::ffff:a.b.c.d); the same on an IPV6_V6ONLY socket;
a non-blocking connect; requests when it is installed."""
import errno
import select
import socket
import sys
import urllib.request

port = int(sys.argv[1])


def url_host(t):
    return "[%s]" % t if ":" in t else t


def get(s, host):
    s.settimeout(10)
    s.sendall(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % host).encode())
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    return data.split(b"\r\n\r\n", 1)[-1].decode().strip()


def w_urllib(t):
    return urllib.request.urlopen("http://%s:%d/" % (url_host(t), port), timeout=10).read().decode().strip()


def w_create_connection(t):
    with socket.create_connection((t, port), 10) as s:
        return get(s, t)


def inet6(t, v6only):
    host = "::ffff:" + t if t.count(".") == 3 and t.replace(".", "").isdigit() else t
    fam, typ, proto, _, sa = socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_STREAM)[0]
    with socket.socket(fam, typ, proto) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
        s.connect(sa)
        return get(s, t)


def w_inet6(t):
    return inet6(t, False)


def w_v6only(t):
    return inet6(t, True)


def w_nonblocking(t):
    fam, typ, proto, _, sa = socket.getaddrinfo(t, port, 0, socket.SOCK_STREAM)[0]
    with socket.socket(fam, typ, proto) as s:
        s.setblocking(False)
        e = s.connect_ex(sa)
        if e not in (0, errno.EINPROGRESS):
            raise OSError(e, "connect_ex: " + errno.errorcode.get(e, str(e)))
        select.select([], [s], [], 10)
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e:
            raise OSError(e, "SO_ERROR: " + errno.errorcode.get(e, str(e)))
        s.setblocking(True)
        return get(s, t)


def w_requests(t):
    import requests  # noqa: PLC0415 (optional)
    return requests.get("http://%s:%d/" % (url_host(t), port), timeout=10).text.strip()


ways = [("urllib", w_urllib), ("create_connection", w_create_connection), ("inet6", w_inet6),
        ("v6only", w_v6only), ("nonblocking", w_nonblocking)]
try:
    import requests  # noqa: F401
    ways.append(("requests", w_requests))
except ImportError:
    print("note: requests is not installed; its case was not run")

for t in sys.argv[2:]:
    for name, fn in ways:
        if name == "v6only" and "." in t and t.replace(".", "").isdigit():
            continue  # an IPV6_V6ONLY socket cannot reach an IPv4 address, with or without cordon
        if name == "requests" and ":" in t:
            # urllib3 tells whether IPv6 works by binding a socket to ::1, which the sandbox
            # refuses in network mode proxy; it then asks for IPv4 addresses only
            continue
        try:
            print("RES py-%s %s OK %s" % (name, t, fn(t)), flush=True)
        except Exception as e:  # noqa: BLE001 (the line says what failed)
            print("RES py-%s %s ERR %s: %s" % (name, t, type(e).__name__, e), flush=True)
