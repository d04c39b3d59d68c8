#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sandbox.network.http at the egress, with real clients under `cordon run` and the real
# cordond on loopback: for a host the policy names, every request on the tunnel is judged by
# method and path; allowed ones reach the origin, refused ones get cordond's 403 naming the
# rule and never reach it, on a keep-alive connection that stays usable; encoded and dotted
# spellings are judged as what they are; smuggling shapes are refused with 400; scanned bodies
# get api.data's actions (block, redact, tokenize with the values restored in the response);
# and each request is in the audit log with its rule, decision and status.
#   http_rules.sh CORDOND CORDON SOURCE_DIR
CORDOND=$(realpath "$1")
CORDON=$(realpath "$2")
SRC=$(realpath "$3")
. "$SRC/tests/integration/lib.sh"
PY=$(command -v /usr/bin/python3 || command -v python3)
RAW=(env PYTHONPATH="$SRC/tests/support" "$PY" -) # scripts of raw bytes, with raw_tunnel.py
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T" "$FX"; }
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

mkdir -p "$HOME/.ssh" "$T/ws" "$T/state"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
cd "$T"
"$CORDON" keygen "$T/sign" >/dev/null
KEY=ck_$("$PY" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$KEY" > "$T/agent.key" && chmod 600 "$T/agent.key"
"$PY" "$SRC/tests/support/http_origin_ka.py" "$T/origin.port" "$T/origin.log" & PIDS+=($!)
wait_file "$T/origin.port" || bad "the origin did not start"
HP=$(cat "$T/origin.port")
: > "$T/origin.log"
cat > "$T/policy.json" <<JSON
{"cordon_policy": 1, "agent": "crm-agent",
 "sandbox": {"enforcement": "best_effort",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "network": {"mode": "proxy", "allow": ["127.0.0.1:$HP"],
     "http": [{"host": "127.0.0.1:$HP",
               "rules": [{"method": "GET", "path": "/api/orders/*", "action": "allow"},
                         {"path": "/api/customers/export*", "action": "deny"},
                         {"method": "POST", "path": "/api/notes", "action": "allow"}],
               "default": "deny", "scan": true}]}},
 "api": {"data": {"pii.credit_card": "block", "pii.ssn": {"request": "allow", "response": "block"},
                  "pii.email": "redact", "pii.iban": "tokenize"}}}
JSON
run "policy check accepts the HTTP rules" 0 "$CORDON" policy check "$T/policy.json"
"$CORDOND" --policy "$T/policy.json" --agent-key-file "$T/agent.key" --signing-key "$T/sign.key" \
    --state-dir "$T/state" --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --handshake-timeout 3 \
    --ready-file "$T/ready" > "$T/cordond.log" 2>&1 & PIDS+=($!)
if ! wait_file "$T/ready"; then bad "cordond started" "$(cat "$T/cordond.log")"; finish; exit 1; fi
ok "cordond started"
H=$(sed -n 's/^http=//p' "$T/ready")
TUN=$(sed -n 's/^tunnel=//p' "$T/ready")
O=("$CORDON" run --server "http://$H" --key "$T/agent.key" --trust "$T/sign.pub" --workspace "$T/ws")
U="http://127.0.0.1:$HP"
opens() { cat "$T"/state/audit/*.jsonl 2>/dev/null | grep -c '"kind":"tunnel.open"'; }
seen() { grep -c -F -- "$1" "$T/origin.log"; }

run "curl: an allowed GET reaches the origin" 0 "${O[@]}" -- curl -sS --noproxy '*' "$U/api/orders/17"
has "curl: the origin's answer" "origin saw GET /api/orders/17"

before=$(opens)
run "curl: allowed, refused, allowed on one connection" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    -w '[%{http_code}]\n' "$U/api/orders/1" "$U/api/customers/export?all=1" "$U/api/orders/2"
has "curl: the first answer" "origin saw GET /api/orders/1"
has "curl: the refusal names the rule and the agent" "sandbox.network.http[0].rules[1]"
has "curl: the refusal is a 403" "[403]"
has "curl: the connection stayed usable after the refusal" "origin saw GET /api/orders/2"
after=$(opens)
[ $((after - before)) -eq 1 ] && ok "curl: the three requests shared one tunnel" ||
    bad "curl: the three requests shared one tunnel" "tunnel.open records: $before before, $after after"
[ "$(seen /api/customers/export)" -eq 0 ] && ok "the refused request never reached the origin" ||
    bad "the refused request never reached the origin" "$(cat "$T/origin.log")"

for trick in '/api/%63ustomers/export' '/api/orders/../customers/export' '/api//customers/./export' \
             '/api/orders%2F..%2Fcustomers/export'; do
    run "curl --path-as-is $trick: refused" 0 "${O[@]}" -- curl -sS --noproxy '*' --path-as-is \
        -o /dev/null -w '%{http_code}\n' "$U$trick"
    case "$OUT" in 403*|400*) ok "$trick is judged as what it is ($OUT)" ;;
                   *) bad "$trick is judged as what it is" "$OUT" ;; esac
done
[ "$(seen customers)" -eq 0 ] && ok "no spelling of the export reached the origin" ||
    bad "no spelling of the export reached the origin" "$(cat "$T/origin.log")"

run "curl: a POST the rules allow carries its body" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    -d 'note=called the customer' "$U/api/notes"
has "curl: the POST answered" "origin saw POST /api/notes"
[ "$(seen 'note=called the customer')" -eq 1 ] && ok "the POST body reached the origin whole" ||
    bad "the POST body reached the origin whole" "$(cat "$T/origin.log")"
run "curl: a method no rule allows gets the default" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    -X DELETE -w '[%{http_code}]' "$U/api/orders/1"
has "curl: DELETE refused by the default" "sandbox.network.http[0].default"

run "python3 requests: one session, allowed and refused" 0 "${O[@]}" -- "$PY" -c "
import requests
s = requests.Session()
a = s.get('$U/api/orders/5'); b = s.get('$U/api/customers/export'); c = s.get('$U/api/orders/6')
print(a.status_code, b.status_code, c.status_code, b.headers.get('X-Cordon-Rule'))"
has "python3 requests: 200 403 200 and the rule header" "200 403 200 sandbox.network.http[0].rules[1]"
run "python3 urllib: refused with an HTTPError naming the rule" 0 "${O[@]}" -- "$PY" -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen('$U/api/customers/export-all')
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())"
has "python3 urllib: 403 with cordon's sentence" "403 cordon: GET /api/customers/export-all"
if command -v node >/dev/null; then
    run "node fetch: allowed then refused" 0 "${O[@]}" -- node -e "
(async () => { const a = await fetch('$U/api/orders/8'); const b = await fetch('$U/api/customers/export');
  console.log(a.status, b.status, (await b.text()).slice(0, 40)); })()"
    has "node fetch: 200 then 403" "200 403 cordon: GET /api/customers/export"
else
    bad "node is installed" "tools/install-deps.sh installs nodejs"
fi

# Raw bytes through the tunnel: pipelining and smuggling shapes a client library would not send.
run "raw tunnel: pipelined requests answered in order, smuggling refused" 0 "${RAW[@]}" "$TUN" "$KEY" "$HP" <<'PYEOF'
import socket, sys
import raw_tunnel
from raw_tunnel import upto_eof
tun, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def tunnel():
    return raw_tunnel.tunnel(tun, key, port)
host = "Host: 127.0.0.1:%d\r\n" % port
s = tunnel()
s.settimeout(2)
s.sendall(("GET /api/orders/1 HTTP/1.1\r\n%s\r\nGET /api/customers/export HTTP/1.1\r\n%s\r\n"
           "GET /api/orders/2 HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (host, host, host)).encode())
out = upto_eof(s).decode(errors="replace")
a, b, c = out.find("origin saw GET /api/orders/1"), out.find("403 Forbidden"), out.find("origin saw GET /api/orders/2")
print("order", "ok" if 0 <= a < b < c else "WRONG", out.count("HTTP/1.1 "))
for name, req in [("cl+te", "POST /api/notes HTTP/1.1\r\n%sContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/customers/export HTTP/1.1\r\n%s\r\n" % (host, host)),
                  ("two-cl", "POST /api/notes HTTP/1.1\r\n%sContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" % host),
                  ("obs-fold", "GET /api/orders/1 HTTP/1.1\r\n%sX: a\r\n b\r\n\r\n" % host),
                  ("bare-cr", "GET /api/orders/1 HTTP/1.1\r\n%sX: a\rb\r\n\r\n" % host)]:
    s = tunnel()
    s.settimeout(2)
    s.sendall(req.encode())
    out = upto_eof(s).decode(errors="replace")
    print(name, out.split("\r\n", 1)[0], "closed" if "Connection: close" in out else "open")
# hostile heads and bodies: each refused with its status, the connection closed
for name, req in [("1mb-line", "GET /api/orders/1 HTTP/1.1\r\n%sX: %s\r\n\r\n" % (host, "a" * (1 << 20))),
                  ("10k-headers", "GET /api/orders/1 HTTP/1.1\r\n%s%s\r\n" % (host, "X: y\r\n" * 10000)),
                  ("chunk-2^64", "POST /api/notes HTTP/1.1\r\n%sTransfer-Encoding: chunked\r\n\r\n1%s\r\n" % (host, "0" * 16))]:
    s = tunnel()
    s.settimeout(5)
    try:
        s.sendall(req.encode())
    except OSError:
        pass  # cordond may close before all of it is sent
    out = upto_eof(s).decode(errors="replace")
    print(name, out.split("\r\n", 1)[0], "closed" if "Connection: close" in out else "open")
# a head sent a byte at a time (slowloris): 408 within handshake_timeout, then closed
import time
s = tunnel()
s.settimeout(10)
t0 = time.time()
out = b""
try:
    for ch in "GET /api/orders/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "z" * 40:
        s.send(ch.encode())
        time.sleep(0.2)
        s.setblocking(False)
        try:
            got = s.recv(65536)
            if got:
                out += got
                break
        except BlockingIOError:
            pass
        finally:
            s.setblocking(True)
            s.settimeout(10)
except OSError:
    pass
s.settimeout(3)
out += upto_eof(s)
print("slowloris", out.decode(errors="replace").split("\r\n", 1)[0], "after %ds" % round(time.time() - t0))
PYEOF
has "raw: pipelined answers in request order" "order ok 3"
has "raw: Content-Length with Transfer-Encoding refused" "cl+te HTTP/1.1 400 Bad Request closed"
has "raw: two Content-Length refused" "two-cl HTTP/1.1 400 Bad Request closed"
has "raw: obs-fold refused" "obs-fold HTTP/1.1 400 Bad Request closed"
has "raw: a bare CR refused" "bare-cr HTTP/1.1 400 Bad Request closed"
has "raw: a 1 MB header line refused" "1mb-line HTTP/1.1 431 Request Header Fields Too Large closed"
has "raw: 10,000 headers refused" "10k-headers HTTP/1.1 431 Request Header Fields Too Large closed"
has "raw: a chunk size of 2^64 refused" "chunk-2^64 HTTP/1.1 400 Bad Request closed"
has "raw: a head sent a byte at a time gets 408" "slowloris HTTP/1.1 408 Request Timeout after"
[ "$(seen 'POST /api/notes  ')$(seen 'abcd')" = "00" ] && ok "no smuggled request reached the origin" ||
    bad "no smuggled request reached the origin" "$(cat "$T/origin.log")"

# scan: a card number in a POST body never reaches the origin, split across TCP segments at
# every offset; one in a response body never reaches the client.
CARD=5555555555554444 # a Luhn-valid test number (Mastercard)
run "scan: a card number in a POST body, split at every offset, is refused" 0 "${RAW[@]}" "$TUN" "$KEY" "$HP" "$CARD" <<'PYEOF'
import sys, time
from raw_tunnel import tunnel, upto_eof
tun, key, port, card = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = ("customer=ada&card=%s&end=1" % card).encode()
# (api.data rewrites e-mail addresses in requests, so the body is held and the refused
# request never reaches the origin; the client ends the connection after the answer)
head = ("POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % (port, len(body))).encode()
refused = 0
for cut in range(len(body) + 1):
    s = tunnel(tun, key, port)
    s.sendall(head + body[:cut])
    time.sleep(0.01)
    try:
        s.sendall(body[cut:])
    except OSError:
        pass
    s.settimeout(5)
    out = upto_eof(s)
    refused += out.startswith(b"HTTP/1.1 403") and b".scan" in out
print("refused %d of %d" % (refused, len(body) + 1))
PYEOF
case "$OUT" in *"refused "*" of "*) n=$(echo "$OUT" | sed -n 's/.*refused \([0-9]*\) of \([0-9]*\).*/\1 \2/p');
    set -- $n; [ "$1" = "$2" ] && ok "scan: refused at every offset ($1)" || bad "scan: refused at every offset" "$OUT" ;;
    *) bad "scan: refused at every offset" "$OUT" ;; esac
[ "$(seen "$CARD")" -eq 0 ] && ok "scan: the card number never reached the origin" ||
    bad "scan: the card number never reached the origin" "$(grep -F "$CARD" "$T/origin.log" | head -3)"
run "scan: after a refused body, the same connection serves the next request" 0 "${RAW[@]}" "$TUN" "$KEY" "$HP" "$CARD" <<'PYEOF'
import sys
from raw_tunnel import tunnel, upto_eof
tun, key, port, card = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = tunnel(tun, key, port)
body = ("card=%s" % card).encode()
s.sendall(("POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n" % (port, len(body))).encode() + body
          + ("GET /api/orders/31 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port).encode())
print(upto_eof(s).decode(errors="replace"))
PYEOF
has "scan: the refusal comes first" "HTTP/1.1 403 Forbidden"
has "scan: the connection stayed usable" "origin saw GET /api/orders/31"

# pii.ssn may leave (request: allow) but not come back (response: block): the origin echoes it
# (the response is held, since api.data rewrites responses: the client gets a 403 in its place)
run "scan: an SSN in a response is refused before it reaches the client" 0 "${O[@]}" -- \
    curl -sS --noproxy '*' -d 'ssn=536-90-4312' -w '[%{http_code}]' "$U/api/notes"
has "scan: the refusal names the class" "pii.ssn, which api.data blocks"
has "scan: the refusal is a 403" "[403]"
case "$OUT" in *"536-90-4312"*) bad "scan: the SSN never reached the client" "$OUT" ;;
               *) ok "scan: the SSN never reached the client" ;; esac
[ "$(seen 'ssn=536-90-4312')" -eq 1 ] && ok "scan: the SSN did leave, as the request rule allows" ||
    bad "scan: the SSN did leave, as the request rule allows" "$(cat "$T/origin.log")"

# redact: an e-mail address in a POST body reaches the origin as [EMAIL], with the body's new
# length, at every split of the body across TCP segments, on a connection that stays usable
MAIL=ada.lovelace@example.org
run "redact: an address in a POST body, split at every offset, is redacted" 0 "${RAW[@]}" "$TUN" "$KEY" "$HP" "$MAIL" <<'PYEOF'
import sys, time
from raw_tunnel import tunnel
tun, key, port, mail = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = ("note=write to %s soon" % mail).encode()
head = ("POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n\r\n" % (port, len(body))).encode()
get = ("GET /api/orders/9 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port).encode()
good = 0
for cut in range(len(body) + 1):
    s = tunnel(tun, key, port)
    s.sendall(head + body[:cut])
    time.sleep(0.01)
    s.sendall(body[cut:] + get)
    out = b""
    while out.count(b"origin saw") < 2:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    good += (b"origin saw POST /api/notes note=write to [EMAIL] soon" in out
             and b"origin saw GET /api/orders/9" in out and mail.encode() not in out)
print("redacted %d of %d" % (good, len(body) + 1))
PYEOF
case "$OUT" in *"redacted "*" of "*) n=$(echo "$OUT" | sed -n 's/.*redacted \([0-9]*\) of \([0-9]*\).*/\1 \2/p');
    set -- $n; [ "$1" = "$2" ] && ok "redact: at every offset, and the next request answered ($1)" ||
        bad "redact: at every offset, and the next request answered" "$OUT" ;;
    *) bad "redact: at every offset, and the next request answered" "$OUT" ;; esac
[ "$(seen "$MAIL")" -eq 0 ] && ok "redact: the address never reached the origin" ||
    bad "redact: the address never reached the origin" "$(grep -F "$MAIL" "$T/origin.log" | head -3)"
# a body past the hold (256 KiB) goes chunked; the value near its end is still redacted
"$PY" -c "import sys; sys.stdout.write('x' * 300000 + ' mail $MAIL end')" > "$T/big.txt"
run "redact: a 300 KB body with an address at its end" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    -H 'Expect:' --data-binary @"$T/big.txt" -o "$T/ws/big.out" -w '%{http_code}' "$U/api/notes"
has "redact: the 300 KB body was answered" "200"
grep -q -F "mail [EMAIL] end" "$T/origin.log" && ok "redact: the origin got the long body, redacted" ||
    bad "redact: the origin got the long body, redacted" "$(tail -c 300 "$T/origin.log")"
# tokenize: the origin sees [IBAN_1], the agent gets its own value back in the response; real
# python requests, which asks for gzip (cordon asks the origin for identity instead)
IBAN=DE89370400440532013000
run "tokenize: python requests posts an IBAN" 0 "${O[@]}" -- "$PY" -c "
import requests, sys
r = requests.post('$U/api/notes', data='pay $IBAN today', headers={'Content-Type': 'text/plain'})
print(r.status_code, r.text)"
has "tokenize: the agent gets its value back" "200 origin saw POST /api/notes pay $IBAN today"
[ "$(seen 'pay [IBAN_1] today')" -eq 1 ] && [ "$(seen "$IBAN")" -eq 0 ] &&
    ok "tokenize: the origin saw only the token" ||
    bad "tokenize: the origin saw only the token" "$(grep -F "pay " "$T/origin.log" | head -3)"
run "scan: a gzip-encoded body is refused with 415" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    -H 'Content-Encoding: gzip' --data-binary 'not really gzip' -w '[%{http_code}]' "$U/api/notes"
has "scan: the 415 says what to do" "send the body uncompressed"
has "scan: 415" "[415]"

sleep 0.5
AUDIT=$(cat "$T"/state/audit/*.jsonl 2>/dev/null)
OUT=$(echo "$AUDIT" | grep '"kind":"http.request"' | grep '"path":"/api/customers/export"' | head -1)
has "audit: the refusal with its normalized path" '"decision":"deny"'
has "audit: the refusal's rule" '"rule":"sandbox.network.http[0].rules[1]"'
has "audit: the refusal's status" '"status":403'
OUT=$(echo "$AUDIT" | grep '"kind":"http.request"' | grep '"path":"/api/orders/17"' | head -1)
has "audit: the allowed request" '"decision":"allow"'
has "audit: the origin's status" '"status":200'
OUT=$(echo "$AUDIT" | grep '"kind":"http.request"' | grep '"data_classes"' | head -1)
has "audit: the class found, never the value" '"data_classes":["pii.credit_card"]'
OUT=$(echo "$AUDIT" | grep '"kind":"http.request"' | grep '"pii.ssn"' | head -1)
has "audit: the SSN's response recorded with its class" '"data_classes":["pii.ssn"]'
OUT=$(echo "$AUDIT" | grep '"kind":"http.request"' | grep '"pii.email"' | head -1)
has "audit: a redacted request says how many values were rewritten" '"data_rewritten":1'
HR=$(echo "$AUDIT" | grep '"kind":"http.request"')
case "$HR" in *"card=$CARD"*|*"536-90-4312"*|*"$MAIL"*|*"$IBAN"*) bad "audit: no body value is in http.request" "$HR" ;;
              *) ok "audit: no body value is in http.request" ;; esac
HTTPREC=$(echo "$AUDIT" | grep '"kind":"http.request"')
case "$HTTPREC" in *'%63ustomers'*|*'/../'*) bad "audit: paths are recorded normalized" "$HTTPREC" ;;
                   *) ok "audit: paths are recorded normalized" ;; esac
# cordond still runs, so its log is not closed yet: valid, and said to be open (status 3)
run "audit: the log verifies" 3 "$CORDON" audit verify "$T/state/audit" --trust "$T/sign.pub"
has "audit: valid" "VALID"
finish
