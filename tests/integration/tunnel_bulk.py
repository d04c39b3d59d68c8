#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Large payloads through cordond's CONNECT tunnel, checked byte for byte: random bytes (8 MiB
# each way) compared by SHA-256 at both ends, in the orders that exercise the relay's
# half-close (the client's EOF first, the origin's EOF first, both directions at once), with
# bytes sent right behind the CONNECT head, and once more with cordond's descriptors held down
# so that its pipes cannot be made and the relay falls back to its copy loop. Each tunnel's
# tunnel.close record must carry the exact byte counts and end "closed".
#   tunnel_bulk.py CORDOND CORDON
import base64, hashlib, json, os, resource, socket, subprocess, sys, tempfile, threading, time

CORDOND, CORDON = sys.argv[1:3]
SIZE = 8 << 20
HEAD = 32  # the case's name, padded: the first bytes of every stream
PASS = FAIL = 0


def ok(name):
    global PASS
    PASS += 1
    print("ok   " + name, flush=True)


def bad(name, *lines):
    global FAIL
    FAIL += 1
    print("FAIL " + name, flush=True)
    for l in lines:
        print("     " + str(l), flush=True)


def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]


def send_all(s, data):
    view = memoryview(data)
    while view:
        view = view[s.send(view[: 256 * 1024]):]


def recv_n(s, n):
    parts, got = [], 0
    while got < n:
        b = s.recv(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def recv_eof(s):
    parts = []
    while True:
        b = s.recv(256 * 1024)
        if not b:
            return b"".join(parts)
        parts.append(b)


# Each case: what the client sends (up) and what the origin sends (down), random bytes.
CASES = ["client_first", "origin_first", "both", "prebytes", "fallback"]
DATA = {c: (os.urandom(SIZE), os.urandom(SIZE + 12345)) for c in CASES}
# The origin of these reads nothing until the test has looked at cordond's descriptors: the
# bytes up wait in the relay meanwhile, in a pipe if it splices.
STALL = {"client_first", "fallback"}


class Origin:
    """A loopback origin: each connection names its case in its first HEAD bytes."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.got = {}  # case -> the bytes the origin received after the head, or the error
        self.done = {}
        self.go = {c: threading.Event() for c in CASES}
        for c in CASES:
            if c not in STALL:
                self.go[c].set()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            c, _ = self.ls.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        case = recv_n(c, HEAD).decode(errors="replace").strip()
        self.done[case] = threading.Event()
        try:
            up, down = DATA[case]
            if case == "origin_first":
                # everything down and EOF, and only then read what comes up
                send_all(c, down)
                c.shutdown(socket.SHUT_WR)
                self.got[case] = recv_eof(c)
            elif case == "both":
                t = threading.Thread(target=send_all, args=(c, down))
                t.start()
                self.got[case] = recv_eof(c)
                t.join()
                c.shutdown(socket.SHUT_WR)
            else:
                # request, half-close, answer (client_first, prebytes, fallback)
                self.go[case].wait(30)
                self.got[case] = recv_eof(c)
                send_all(c, down)
                c.shutdown(socket.SHUT_WR)
        except (OSError, KeyError) as e:
            self.got[case] = e
        finally:
            c.close()
            self.done[case].set()


def tunnel(addr, key, port, early=b""):
    host, tport = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(tport)), timeout=60)
    head = ("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Proxy-Authorization: Bearer %s\r\n\r\n" % (port, port, key)).encode()
    s.sendall(head + early)  # early: bytes right behind the head, in the same segment
    resp = b""
    while b"\r\n\r\n" not in resp:
        b = s.recv(1)
        if not b:
            break
        resp += b
    if not resp.startswith(b"HTTP/1.1 200"):
        raise OSError("the tunnel refused: %r" % resp[:200])
    return s


def run_case(case, addr, key, origin, probe=None):
    """probe: called while the origin of a STALL case is not reading."""
    up, down = DATA[case]
    name = case.ljust(HEAD).encode()
    early = name + up[:3000] if case == "prebytes" else b""
    s = tunnel(addr, key, origin.port, early)
    got = b""
    if case == "origin_first":
        send_all(s, name)
        got = recv_eof(s)  # the origin's EOF first, while our direction is still open
        send_all(s, up)
        s.shutdown(socket.SHUT_WR)
        if recv_eof(s):
            raise OSError("bytes after the origin's EOF")
    elif case == "both":
        send_all(s, name)
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("got", recv_eof(s)))
        t.start()
        send_all(s, up)
        s.shutdown(socket.SHUT_WR)
        t.join()
        got = box.get("got", b"")
    else:
        def request():
            if case == "prebytes":
                send_all(s, up[3000:])
            else:
                send_all(s, name + up)
            s.shutdown(socket.SHUT_WR)  # the client's EOF first; the answer comes after it

        t = threading.Thread(target=request)
        t.start()
        if case in STALL:
            time.sleep(1)
            if probe:
                probe()
            origin.go[case].set()
        t.join()
        got = recv_eof(s)
    s.close()
    origin.done[case].wait(30)
    o = origin.got.get(case)
    if isinstance(o, Exception) or o is None:
        bad("%s: the origin received the stream" % case, o)
        return
    if sha(o) == sha(up) and len(o) == len(up):
        ok("%s: %d random bytes up arrive whole (sha256 %s)" % (case, len(up), sha(up)))
    else:
        bad("%s: bytes up" % case, "sent %d (sha256 %s), origin got %d (sha256 %s)" %
            (len(up), sha(up), len(o), sha(o)))
    if sha(got) == sha(down) and len(got) == len(down):
        ok("%s: %d random bytes down arrive whole (sha256 %s)" % (case, len(down), sha(down)))
    else:
        bad("%s: bytes down" % case, "sent %d (sha256 %s), client got %d (sha256 %s)" %
            (len(down), sha(down), len(got), sha(got)))


def closes(audit):
    out = []
    try:
        for line in open(audit):
            r = json.loads(line)
            if r.get("kind") == "tunnel.close":
                out.append(r)
    except OSError:
        pass
    return out


def pipes(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("pipe:")
        except OSError:
            pass
    return n


def main():
    w = tempfile.mkdtemp(prefix="cordon-it-bulk-")
    origin = Origin()
    subprocess.run([CORDON, "keygen", w + "/sign"], check=True, stdout=subprocess.DEVNULL)
    key = "ck_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    with open(w + "/agent.key", "w") as f:
        f.write(key + "\n")
    os.chmod(w + "/agent.key", 0o600)
    with open(w + "/policy.json", "w") as f:
        json.dump({"cordon_policy": 1, "agent": "bulk",
                   "sandbox": {"network": {"mode": "proxy",
                                           "allow": ["127.0.0.1:%d" % origin.port]}}}, f)
    os.mkdir(w + "/state")
    log = open(w + "/cordond.log", "w")
    d = subprocess.Popen([CORDOND, "--policy", w + "/policy.json", "--agent-key-file",
                          w + "/agent.key", "--signing-key", w + "/sign.key", "--state-dir",
                          w + "/state", "--listen", "127.0.0.1:0", "--tunnel-listen",
                          "127.0.0.1:0", "--events-socket", "off", "--ready-file",
                          w + "/ready"], stdout=log, stderr=log)
    try:
        for _ in range(300):
            if os.path.exists(w + "/ready") and os.path.getsize(w + "/ready"):
                break
            time.sleep(0.05)
        ready = dict(l.split("=", 1) for l in open(w + "/ready").read().split() if "=" in l)
        addr = ready["tunnel"]
        ok("cordond started")
        idle = pipes(d.pid)
        # an open tunnel that carries nothing holds no pipe
        s = tunnel(addr, key, origin.port)
        time.sleep(0.3)
        during = pipes(d.pid)
        s.close()
        if during == idle:
            ok("an idle tunnel holds no pipe (%d pipe ends, as before it opened)" % during)
        else:
            bad("an idle tunnel holds no pipe", "%d pipe ends, %d before" % (during, idle))
        seen = {}

        def probe():
            seen["pipes"] = pipes(d.pid)

        for case in CASES:
            seen.clear()
            if case == "fallback":
                # Room for the two sockets of one tunnel and nothing more: pipe2 fails with
                # EMFILE and both directions copy.
                time.sleep(0.3)
                nfd = len(os.listdir("/proc/%d/fd" % d.pid))
                old = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
                resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (nfd + 2, old[1]))
                try:
                    run_case(case, addr, key, origin, probe)
                finally:
                    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, old)
                if seen.get("pipes") == idle:
                    ok("fallback: without descriptors to spare, the bulk tunnel copies (no pipe)")
                else:
                    bad("fallback: the bulk tunnel copies", "%s pipe ends, %d idle" %
                        (seen.get("pipes"), idle))
            else:
                run_case(case, addr, key, origin, probe)
            if case == "client_first":
                if seen.get("pipes", 0) >= idle + 2:
                    ok("client_first: the bulk direction splices through a pipe (%d pipe ends, "
                       "%d idle)" % (seen["pipes"], idle))
                else:
                    bad("client_first: the bulk direction splices through a pipe",
                        "%s pipe ends, %d idle" % (seen.get("pipes"), idle))
        # every tunnel's record: exact byte counts, and a clean end
        want = [(HEAD + len(DATA[c][0]), len(DATA[c][1])) for c in CASES]
        for _ in range(100):
            recs = closes(w + "/state/audit/audit.jsonl")
            if len(recs) >= 1 + len(want):
                break
            time.sleep(0.1)
        got = [(r.get("bytes_up"), r.get("bytes_down")) for r in recs[1:]]
        ends = [r.get("end") for r in recs[1:]]
        if got == want and ends == ["closed"] * len(want):
            ok("tunnel.close counts every byte of every case, each ended closed")
        else:
            bad("tunnel.close counts every byte", "want %s" % want, "got  %s %s" % (got, ends))
    except (OSError, KeyError, ValueError) as e:
        bad("the tunnel cases ran", repr(e), open(w + "/cordond.log").read()[-2000:])
    finally:
        d.terminate()
        d.wait(10)
        subprocess.run(["rm", "-rf", w])
    print("%d passed, %d failed" % (PASS, FAIL))
    return 1 if FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
