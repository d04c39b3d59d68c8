#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sandbox.network.http with "tls": "terminate": cordond terminates the agent's TLS with a
# certificate minted from its deployment CA (cordon keygen --ca, tls_ca), judges each request
# as for plain HTTP, and connects to the origin with full verification (the system store plus
# origin_ca). Real clients under `cordon run` against loopback HTTPS origins with their own
# certificates from a test CA: allowed and refused requests over one TLS connection, an origin
# whose certificate nothing vouches for (502, tunnel.tls), a client whose Server Name is
# another host, and a cordond without a CA, which refuses such tunnels instead of passing them.
#   http_tls.sh CORDOND CORDON SOURCE_DIR
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

mkdir -p "$HOME/.ssh" "$T/ws" "$T/state" "$T/state2"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
cd "$T"
# A test CA and two origin certificates for 127.0.0.1: one it signed, one self-signed.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
    -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout origin.key -out origin.csr >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in origin.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out origin.pem >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout rogue.key -out rogue.pem >/dev/null 2>&1
[ -s origin.pem ] && [ -s rogue.pem ] && ok "test certificates made" || bad "test certificates made"

"$CORDON" keygen "$T/sign" >/dev/null
run "cordon keygen --ca: the deployment CA" 0 "$CORDON" keygen --ca "$T/state/deploy"
KEY=ck_$("$PY" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$KEY" > "$T/agent.key" && chmod 600 "$T/agent.key"
"$PY" "$SRC/tests/support/http_origin_ka.py" "$T/o1.port" "$T/o1.log" origin.pem origin.key & PIDS+=($!)
"$PY" "$SRC/tests/support/http_origin_ka.py" "$T/o2.port" "$T/o2.log" rogue.pem rogue.key & PIDS+=($!)
wait_file "$T/o1.port" && wait_file "$T/o2.port" || bad "the origins started"
P1=$(cat "$T/o1.port") P2=$(cat "$T/o2.port")
: >> "$T/o1.log"; : >> "$T/o2.log"
cat > "$T/policy.json" <<JSON
{"cordon_policy": 1, "agent": "crm-agent",
 "sandbox": {"enforcement": "best_effort",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "network": {"mode": "proxy", "allow": ["127.0.0.1:$P1", "127.0.0.1:$P2"],
     "http": [{"host": "127.0.0.1:$P1", "tls": "terminate",
               "rules": [{"method": "GET", "path": "/api/orders/*", "action": "allow"},
                         {"path": "/api/customers/export*", "action": "deny"}],
               "default": "deny"},
              {"host": "127.0.0.1:$P2", "tls": "terminate",
               "rules": [{"action": "allow"}]}]}}}
JSON
start() { # start DIR [FLAGS...]: a cordond with its state in DIR; sets H
    local d=$1; shift
    rm -f "$d/ready"
    "$CORDOND" --policy "$T/policy.json" --agent-key-file "$T/agent.key" --signing-key "$T/sign.key" \
        --state-dir "$d" --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --events-socket off \
        --ready-file "$d/ready" "$@" > "$d/cordond.log" 2>&1 & PIDS+=($!)
    wait_file "$d/ready" || { bad "cordond started in $d" "$(cat "$d/cordond.log")"; return 1; }
    H=$(sed -n 's/^http=//p' "$d/ready")
}
start "$T/state" --tls-ca "$T/state/deploy" --origin-ca "$T/ca.pem" && ok "cordond started with tls_ca and origin_ca"
O=("$CORDON" run --server "http://$H" --key "$T/agent.key" --trust "$T/sign.pub" --workspace "$T/ws")
U="https://127.0.0.1:$P1"
DCA="$T/state/deploy.ca.pem"
cp "$DCA" "$T/deploy.ca.pem" # where the agent may read it (the state dir is denied to it)

# The shim exports the bundle (system CAs + cordond's) where the usual clients look for it.
run "curl, told nothing: trusts the minted certificate through the exported bundle" 0 "${O[@]}" -- \
    curl -sS --noproxy '*' "$U/api/orders/0"
has "curl with the exported bundle: the origin answered" "origin saw GET /api/orders/0"
run "the exported variables name one bundle with cordond's CA" 0 "${O[@]}" -- sh -c \
    'for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS GIT_SSL_CAINFO; do
         eval "printf \"%s=%s\n\" $v \$$v"; done; grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE"'
case "$OUT" in *"SSL_CERT_FILE=/"*"GIT_SSL_CAINFO=/"*) ok "all five variables are set" ;;
               *) bad "all five variables are set" "$OUT" ;; esac
B=$(echo "$OUT" | sed -n 's/^SSL_CERT_FILE=//p')
[ -n "$B" ] && [ "$(echo "$OUT" | grep -c "=$B\$")" -eq 5 ] && ok "the five name the same file" ||
    bad "the five name the same file" "$OUT"
run "the bundle ends with cordond's CA" 0 "${O[@]}" -- sh -c \
    'awk "/BEGIN CERTIFICATE/ { b = \"\" } { b = b \$0 \"\\n\" } END { printf \"%s\", b }" "$SSL_CERT_FILE" |
         openssl x509 -noout -fingerprint -sha256'
has "the last certificate of the bundle is cordond's CA" "$(openssl x509 -in "$DCA" -noout -fingerprint -sha256)"
[ -n "$B" ] && [ ! -e "$B" ] && ok "cordon run removed the bundle when the tree ended" ||
    bad "cordon run removed the bundle when the tree ended" "$B: $(ls -l "$B" 2>&1)"
run "python3 requests, told nothing" 0 "${O[@]}" -- "$PY" -c "
import requests; print(requests.get('$U/api/orders/10').text.strip())"
has "python3 requests with the exported bundle" "origin saw GET /api/orders/10"
if command -v node >/dev/null; then
    run "node fetch, told nothing" 0 "${O[@]}" -- node -e "
fetch('$U/api/orders/11').then(r => r.text()).then(t => console.log(t.trim()))"
    has "node fetch with the exported bundle" "origin saw GET /api/orders/11"
fi

run "curl over TLS: allowed, refused, allowed on one connection" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    --cacert "$T/deploy.ca.pem" -w '[%{http_code}]\n' "$U/api/orders/1" "$U/api/customers/export" "$U/api/orders/2"
has "curl: the origin answered through cordond's TLS" "origin saw GET /api/orders/1"
has "curl: the refusal names the rule" "sandbox.network.http[0].rules[1]"
has "curl: a 403 inside TLS" "[403]"
has "curl: the connection went on" "origin saw GET /api/orders/2"
[ "$(grep -c customers "$T/o1.log")" -eq 0 ] && ok "the refused request never reached the origin" ||
    bad "the refused request never reached the origin" "$(cat "$T/o1.log")"
run "curl: the certificate it saw was minted by the deployment CA" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    --cacert "$T/deploy.ca.pem" -o /dev/null -w '%{certs}' "$U/api/orders/3"
case "$OUT" in *"Issuer:"*cordon*|*"issuer"*cordon*|*cordon*) ok "curl: issuer is cordon's CA" ;;
               *) bad "curl: issuer is cordon's CA" "$(echo "$OUT" | grep -i issuer | head -3)" ;; esac
# each run above opened a new tunnel to the same origin: after the first, cordond resumes
# the session the origin gave it instead of a full handshake
M=$(curl -s "http://$H/metrics" | grep '^cordon_origin_tls_handshakes_total')
full=$(echo "$M" | sed -n 's/.*resumed="no"} //p'); res=$(echo "$M" | sed -n 's/.*resumed="yes"} //p')
[ "${full:-0}" -ge 1 ] && [ "${res:-0}" -ge 3 ] && ok "origin sessions resumed ($res resumed, $full full)" ||
    bad "origin sessions resumed" "$M"
run "curl with only the system's CAs: the minted certificate is not trusted" 60 "${O[@]}" -- curl -sS \
    --noproxy '*' --cacert /etc/ssl/certs/ca-certificates.crt "$U/api/orders/4"
run "python3 requests over TLS: 200 then 403" 0 "${O[@]}" -- "$PY" -c "
import requests
s = requests.Session(); ca = '$T/deploy.ca.pem'
a = s.get('$U/api/orders/5', verify=ca); b = s.get('$U/api/customers/export', verify=ca)
print(a.status_code, b.status_code, b.headers.get('X-Cordon-Rule'))"
has "python3 requests: 200 403 and the rule" "200 403 sandbox.network.http[0].rules[1]"
if command -v node >/dev/null; then
    run "node fetch over TLS" 0 env NODE_EXTRA_CA_CERTS="$T/deploy.ca.pem" "${O[@]}" -- node -e "
(async () => { const a = await fetch('$U/api/orders/8'); const b = await fetch('$U/api/customers/export');
  console.log(a.status, b.status); })()"
    has "node fetch: 200 then 403" "200 403"
fi

run "an origin no trusted CA vouches for: 502 from cordond" 0 "${O[@]}" -- curl -sS --noproxy '*' \
    --cacert "$T/deploy.ca.pem" -w '[%{http_code}]' "https://127.0.0.1:$P2/x"
has "the 502 says verification failed" "certificate verification failed"
has "the status is 502" "[502]"
[ "$(grep -c . "$T/o2.log")" -eq 0 ] && ok "nothing reached the unverified origin" ||
    bad "nothing reached the unverified origin" "$(cat "$T/o2.log")"

run "a Server Name for another host is refused" 0 "${RAW[@]}" "$(sed -n 's/^tunnel=//p' "$T/state/ready")" "$KEY" "$P1" "$T/deploy.ca.pem" <<'PYEOF'
import ssl, sys
from raw_tunnel import tunnel
tun, key, port, ca = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = tunnel(tun, key, port)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
try:
    t = ctx.wrap_socket(s, server_hostname="other.example")
    t.sendall(b"GET /api/orders/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    got = t.recv(100)
    print("refused: closed unanswered" if not got else "answered %r" % got)
except (ssl.SSLError, OSError) as e:
    print("refused:", type(e).__name__)
PYEOF
has "the handshake with another Server Name fails" "refused:"

run "a ClientHello with a 64 KB Server Name is refused, and cordond goes on" 0 "${RAW[@]}" "$(sed -n 's/^tunnel=//p' "$T/state/ready")" "$KEY" "$P1" <<'PYEOF'
import os, struct, sys
from raw_tunnel import tunnel
tun, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = tunnel(tun, key, port)
name = b"a" * 65000
sni = struct.pack(">HBH", len(name) + 3, 0, len(name)) + name
ext = struct.pack(">HH", 0, len(sni)) + sni
body = b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack(">H", 2) + b"\x13\x01" + b"\x01\x00"
body += struct.pack(">H", len(ext)) + ext
hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
try:
    for i in range(0, len(hs), 16384):  # the handshake message spans records of 16 KiB
        frag = hs[i:i + 16384]
        s.sendall(b"\x16\x03\x01" + struct.pack(">H", len(frag)) + frag)
    got = s.recv(100)
    print("refused" if not got or got[:1] == b"\x15" else "answered %r" % got[:20])
except OSError as e:
    print("refused", type(e).__name__)
PYEOF
has "the oversized Server Name: an alert or a close" "refused"
run "cordond still serves after it" 0 "${O[@]}" -- curl -sS --noproxy '*' --cacert "$T/deploy.ca.pem" \
    "$U/api/orders/9"
has "after the oversized Server Name: the origin answers" "origin saw GET /api/orders/9"

sleep 0.5
AUDIT=$(cat "$T"/state/audit/*.jsonl 2>/dev/null)
OUT=$(echo "$AUDIT" | grep '"kind":"http.request"' | grep '"path":"/api/customers/export"' | head -1)
has "audit: the refusal inside TLS" '"decision":"deny"'
OUT=$(echo "$AUDIT" | grep '"kind":"tunnel.tls"')
has "audit: the origin's failed verification" '"side":"origin"'
has "audit: the other Server Name" '"side":"client"'

# The embedded default (a plain policy, no server) makes a CA for the run.
cp "$T/policy.json" "$FX/policy.json" # outside every grant, as cordon run requires
E=("$CORDON" run --policy "$FX/policy.json" --audit "$FX/embedded-audit" --workspace "$T/ws")
run "embedded default: TLS terminated with a CA made for the run" 0 "${E[@]}" --origin-ca "$T/ca.pem" \
    -- curl -sS --noproxy '*' -w '[%{http_code}]\n' "$U/api/orders/12" "$U/api/customers/export"
has "embedded default: the origin answered" "origin saw GET /api/orders/12"
has "embedded default: the refusal inside TLS" "[403]"
run "embedded default without --origin-ca: the test CA's origin is not trusted" 0 "${E[@]}" \
    -- curl -sS --noproxy '*' -w '[%{http_code}]' "$U/api/orders/13"
has "embedded default without --origin-ca: 502" "[502]"
run "--origin-ca needs a readable absolute path" 2 "$CORDON" run --policy "$FX/policy.json" \
    --origin-ca ca.pem -- true
has "--origin-ca: the usage error says what it expects" "absolute path"
case "$(ls "$T"/ws 2>/dev/null; ls /run/cordon-run-* /tmp/cordon-run-* 2>/dev/null)" in
    *deploy.ca.key*) bad "the run's CA key is gone after the run" "$(ls -R /run/cordon-run-* 2>&1 | head)" ;;
    *) ok "the run's CA key is gone after the run" ;;
esac

# Without a deployment CA, a "terminate" host's tunnels are refused, never passed unread.
start "$T/state2" && ok "cordond started without tls_ca"
O2=("$CORDON" run --server "http://$H" --key "$T/agent.key" --trust "$T/sign.pub" --workspace "$T/ws")
run "without tls_ca: the tunnel is refused" 7 "${O2[@]}" -- curl -sS --noproxy '*' \
    --cacert "$T/deploy.ca.pem" "$U/api/orders/1"
has "without tls_ca: the agent is told why and what to do" "cordon keygen --ca PREFIX"
OUT=$(cat "$T"/state2/audit/*.jsonl 2>/dev/null | grep '"kind":"tunnel.deny"')
has "without tls_ca: tunnel.deny says what to do" "cordon keygen --ca"
finish
