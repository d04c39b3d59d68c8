# SPDX-License-Identifier: Apache-2.0
# The client of integration.budget_flood: N streaming chat calls opened at once against
# cordond (asyncio, raw HTTP/1.1, no third-party module), while a second task samples GET
# /v1/budget for the agent's open calls. Prints one JSON object: the counts by status, how many
# 429s lacked Retry-After, connection failures, the most open calls any sample saw, and the
# wall time.
#   budget_flood.py HOST PORT KEY N
import asyncio, http.client, json, sys, threading, time

HOST, PORT, KEY, N = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
BODY = json.dumps({"model": "gpt-4o-mini", "stream": True, "max_tokens": 50,
                   "messages": [{"role": "user", "content":
                                 "go [[stub:text text=ok first_byte_ms=2500 input_tokens=10 output_tokens=5]]"}]}).encode()
REQ = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: cordon\r\nContent-Type: application/json\r\n"
       b"Authorization: Bearer " + KEY.encode() + b"\r\nConnection: close\r\nContent-Length: "
       + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
out = {"n": N, "status": {}, "no_retry_after": 0, "conn_errors": 0, "max_open": 0,
       "samples": 0}
done = False

async def one(gate):
    async with gate:
        try:
            r, w = await asyncio.open_connection(HOST, PORT)
            w.write(REQ)
            await w.drain()
            data = await asyncio.wait_for(r.read(), 30)
            w.close()
        except (OSError, asyncio.TimeoutError):
            out["conn_errors"] += 1
            return
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    code = head.split(b" ", 2)[1].decode() if b" " in head else "?"
    out["status"][code] = out["status"].get(code, 0) + 1
    if code == "429" and b"\r\nretry-after: " not in head:
        out["no_retry_after"] += 1

def sample():
    """On a thread of its own, so that the flood's event loop cannot starve it."""
    while not done:
        try:
            c = http.client.HTTPConnection(HOST, PORT, timeout=5)
            c.request("GET", "/v1/budget", headers={"Authorization": "Bearer " + KEY})
            body = json.loads(c.getresponse().read())
            c.close()
            for e in body["rates"]:
                if e["name"] == "api.rate.concurrent_per_agent":
                    out["max_open"] = max(out["max_open"], int(e["used"]))
            out["samples"] += 1
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            pass
        time.sleep(0.02)

async def main():
    global done
    gate = asyncio.Semaphore(int(sys.argv[5]) if len(sys.argv) > 5 else N)
    s = threading.Thread(target=sample)
    s.start()
    t0 = time.monotonic()
    await asyncio.gather(*(one(gate) for _ in range(N)))
    out["seconds"] = round(time.monotonic() - t0, 2)
    done = True
    s.join()

asyncio.run(main())
print(json.dumps(out))
