#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small agent for a fleet's cordond: it does its work in its workspace and tries what a
hijacked agent would, then prints one line per attempt: `ok`, or `refused` with the reason.

    cordon run --server http://127.0.0.1:7071 --key claims-agent.key \\
        --trust /etc/cordon/policy.pub -- python3 agent.py

Under cordon with examples/policies/claims-agent.json, the work succeeds and every other
attempt is refused; run without cordon, every attempt succeeds. Only the standard library is
used. With OPENAI_BASE_URL set (cordon run sets it to cordond), it also lists the models the
model proxy offers it. Exit status 0 when the work in the workspace succeeded.
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request


def report(what, fn):
    try:
        detail = fn()
        print(f"ok       {what}" + (f": {detail}" if detail else ""))
        return True
    except (OSError, subprocess.SubprocessError, urllib.error.URLError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        print(f"refused  {what}: {reason}")
        return False


def write_notes():
    with open("notes.txt", "w") as f:
        f.write("claim CLM-00000001: reviewed\n")
    with open("notes.txt") as f:
        return f"{len(f.read())} bytes"


def read(path):
    with open(path, "rb") as f:
        return f"{len(f.read())} bytes read"


def run_rm():
    with open("scratch.txt", "w"):
        pass
    subprocess.run(["rm", "scratch.txt"], check=True, capture_output=True)


def models():
    base = os.environ["OPENAI_BASE_URL"].rstrip("/")
    req = urllib.request.Request(base + "/models", headers={
        "Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            data = json.load(r).get("data", [])
            return ", ".join(m.get("id", "?") for m in data) or "none"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code} from the model proxy"


def main():
    home = os.path.expanduser("~")
    print(f"agent: pid {os.getpid()}, workspace {os.getcwd()}, "
          f"governed: {'yes' if 'libcordon' in os.environ.get('LD_PRELOAD', '') else 'no'}")
    worked = report("write and read notes.txt in the workspace", write_notes)
    report(f"read {home}/.ssh/id_rsa", lambda: read(os.path.join(home, ".ssh", "id_rsa")))
    report("read /etc/cordon/policy.key", lambda: read("/etc/cordon/policy.key"))
    report("write /etc/cordon/stolen", lambda: read_write("/etc/cordon/stolen"))
    report("run rm", run_rm)
    if os.environ.get("OPENAI_BASE_URL"):
        report("list the models", models)
    return 0 if worked else 1


def read_write(path):
    with open(path, "w") as f:
        f.write("x")
    os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
