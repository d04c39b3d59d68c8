#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""N concurrent streamed chat calls through cordond, started together; one JSON line out:
{"status": {"200": a, "429": b}, "retry_after": [...], "messages": [...], "usage_seen": n,
 "done": n}.

    usage: budget_load.py HOSTPORT KEY N BODY
"""
import http.client
import json
import sys
import threading

host, key, n, body = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
barrier = threading.Barrier(n)
lock = threading.Lock()
out = {"status": {}, "retry_after": [], "messages": [], "usage_seen": 0, "done": 0, "errors": []}


def one():
    try:
        c = http.client.HTTPConnection(host, timeout=60)
        barrier.wait()
        c.request("POST", "/v1/chat/completions", body=body,
                  headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
        with lock:
            out["status"][str(r.status)] = out["status"].get(str(r.status), 0) + 1
            if r.status == 429:
                out["retry_after"].append(r.getheader("Retry-After"))
                out["messages"].append(json.loads(data)["error"]["message"])
            elif r.status == 200:
                if "prompt_tokens" in data:
                    out["usage_seen"] += 1
                if "[DONE]" in data:
                    out["done"] += 1
    except Exception as e:  # noqa: BLE001 - reported to the test
        with lock:
            out["errors"].append(repr(e))


ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
out["messages"] = out["messages"][:3]
print(json.dumps(out))
