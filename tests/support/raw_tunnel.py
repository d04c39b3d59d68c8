# SPDX-License-Identifier: Apache-2.0
"""Raw bytes through cordond's egress tunnel, for the judged-egress tests (http_rules.sh,
http_tls.sh), which send what no client library would: open a tunnel to 127.0.0.1:PORT with an
agent key, and read what comes back until the peer closes or goes quiet."""
import socket


def tunnel(tun, key, port, timeout=10):
    """A socket through the tunnel listener TUN (HOST:PORT) to 127.0.0.1:port, past the 200."""
    h, p = tun.rsplit(":", 1)
    s = socket.create_connection((h, int(p)), timeout=timeout)
    s.sendall(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Proxy-Authorization: Bearer %s\r\n\r\n" % (port, port, key)).encode())
    r = b""
    while b"\r\n\r\n" not in r:
        b = s.recv(1)
        if not b:
            raise ConnectionError("the tunnel closed before it answered: %r" % r)
        r += b
    if not r.startswith(b"HTTP/1.1 200"):
        raise ConnectionError("the tunnel was refused: %r" % r)
    return s


def upto_eof(s):
    """Everything s receives until the peer closes, the timeout passes or the connection fails."""
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError:
            return out
        if not b:
            return out
        out += b
