# SPDX-License-Identifier: Apache-2.0
# python3-requests and httpx inside a governed tree, configured only by the variables the shim
# exports: chat and messages through cordond's model proxy with the session token. Run by
# tests/integration/proxy_clients.sh inside `cordon run`.
import json
import os
import sys

import httpx
import requests

passed = failed = 0


def ok(name, cond, info=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name)
        if info:
            print("     " + str(info)[:600])


key = os.environ.get("OPENAI_API_KEY", "")
ok("python: OPENAI_API_KEY is the session token", key.startswith("cs_") and len(key) == 46)
oa = os.environ["OPENAI_BASE_URL"]
an = os.environ["ANTHROPIC_BASE_URL"]
chat = {"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": '[[stub:text text="from python"]]'}]}
msg = {"model": "claude-haiku-4-5", "max_tokens": 32,
       "messages": [{"role": "user", "content": '[[stub:text text="from python"]]'}]}
ahead = {"x-api-key": os.environ["ANTHROPIC_API_KEY"], "anthropic-version": "2023-06-01"}

r = requests.post(oa + "/chat/completions", json=chat,
                  headers={"Authorization": "Bearer " + key}, timeout=30)
ok("requests: chat", r.status_code == 200 and
   r.json()["choices"][0]["message"]["content"] == "from python", r.text)
r = requests.post(an + "/v1/messages", json=msg, headers=ahead, timeout=30)
ok("requests: messages", r.status_code == 200 and r.json()["content"][0]["text"] == "from python",
   r.text)
with requests.post(oa + "/chat/completions", json=dict(chat, stream=True), stream=True,
                   headers={"Authorization": "Bearer " + key}, timeout=30) as r:
    lines = [ln for ln in r.iter_lines() if ln]
ok("requests: chat stream ends with [DONE]", lines and lines[-1] == b"data: [DONE]", lines[-3:])

with httpx.Client(timeout=30, trust_env=True) as c:
    r = c.post(oa + "/chat/completions", json=chat, headers={"Authorization": "Bearer " + key})
    ok("httpx: chat", r.status_code == 200 and
       r.json()["choices"][0]["message"]["content"] == "from python", r.text)
    r = c.post(an + "/v1/messages", json=msg, headers=ahead)
    ok("httpx: messages", r.status_code == 200 and r.json()["content"][0]["text"] == "from python",
       r.text)
    with c.stream("POST", an + "/v1/messages", json=dict(msg, stream=True), headers=ahead) as r:
        events = [ln.strip() for ln in r.iter_lines() if ln.startswith("event: ")]
    ok("httpx: messages stream ends with message_stop", events and events[-1] == "event: message_stop",
       events[-3:])
    # a forged token is refused by cordond, never forwarded
    r = c.post(oa + "/chat/completions", json=chat,
               headers={"Authorization": "Bearer cs_" + "A" * 43})
    ok("httpx: a forged session token gets 401", r.status_code == 401, r.text)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
