#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cordond driven as agents and administrators drive it: a real server on loopback, real
# curl and raw sockets, a private mount namespace whose /etc/hosts makes test names resolve to
# loopback and metadata addresses.
#   server.sh CORDOND CORDON SOURCE_DIR
CORDOND=$1 CORDON=$2 SRC=$3
. "$SRC/tests/integration/lib.sh"
if ! unshare -m true 2>/dev/null; then
    echo "skipped: the name-resolution checks need a private mount namespace: $(ns_skip_reason -m)"
    exit 77
fi
PY="/usr/bin/python3 $SRC/tests/integration/server_client.py"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T" "$FX"; }
# unlist PID: once a server was waited for, its pid may be given to any other process of the
# machine; the cleanup must not kill that one
unlist() { local k=() p; for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || k+=("$p"); done; PIDS=("${k[@]}"); }
trap cleanup EXIT

W=$T/w; mkdir -p "$W/pol" "$W/state"
"$CORDON" keygen "$W/sign" >/dev/null
head -c 32 /dev/urandom | base64 > "$W/admin"; chmod 600 "$W/admin"
export CORDON_ADMIN_TOKEN_FILE=$W/admin

# A loopback HTTP server the tunnel may reach, allowed by its exact IP literal.
$PY serve "$W/upstream.port" & PIDS+=($!); disown
for _ in $(seq 50); do [ -s "$W/upstream.port" ] && break; sleep 0.1; done
UP=$(cat "$W/upstream.port")

policy() { # NAME EXTRA_ALLOW MODE
    cat <<JSON
{"cordon_policy": 1, "agent": "$1", "mode": "${3:-enforce}",
 "sandbox": {"network": {"mode": "proxy",
   "allow": ["127.0.0.1:$UP", "rebind.test:$UP", "meta.test:$UP", "*.example.org:443"${2:-}]}}}
JSON
}
policy web > "$W/pol/web.json"
policy ops > "$W/pol/ops.json"
printf '127.0.0.1 localhost\n127.0.0.1 rebind.test\n169.254.169.254 meta.test\n' > "$W/hosts"

# ------------------------------------------------------------------ help and config errors
run "cordond --help" 0 "$CORDOND" --help
has "help names the flags" "--ready-file"
printf 'listen 127.0.0.1:1\nbogus_key 1\n' > "$W/bad.conf"
run "unknown config key refused" 1 "$CORDOND" --config "$W/bad.conf"
has "config error names file and line" 'bad.conf:2: unknown key \"bogus_key\"' # quoted in the log line
printf 'threads lots\n' > "$W/bad2.conf"
run "bad number refused" 1 "$CORDOND" --config "$W/bad2.conf"
has "config error says what was expected" "threads: expected a whole number from 1 to 256"
run "the shipped example config is valid" 0 "$CORDOND" --config "$SRC/examples/cordond.conf" --check-config
run "no signing key refused" 1 "$CORDOND" --policies-dir "$W/pol" --state-dir "$W/state"
has "missing signing key says what to do" "cordon keygen"
run "admin_listen: a malformed address is refused" 2 "$CORDOND" --config "$SRC/examples/cordond.conf" \
    --admin-listen "unix:relative.sock" --check-config
has "admin_listen: the error says what is expected" 'admin_listen: expected unix:/ABSOLUTE/PATH'
run "admin_listen: sharing the agents' listener is refused" 1 "$CORDOND" --config "$SRC/examples/cordond.conf" \
    --listen 127.0.0.1:7999 --admin-listen 127.0.0.1:7999 --check-config
has "admin_listen: the refusal says why" 'admin API must have a listener of its own'
run "a per-agent tunnel limit above the total is refused" 1 "$CORDOND" --config "$SRC/examples/cordond.conf" \
    --max-tunnels 4 --max-tunnels-per-agent 9 --check-config
has "the refusal names both limits" "max_tunnels_per_agent (9) is above max_tunnels (4)"

# ------------------------------------------------------------------ start
cat > "$W/cordond.conf" <<CONF
# test server
listen 127.0.0.1:0
tunnel_listen 127.0.0.1:0
policies_dir $W/pol
signing_key $W/sign.key
state_dir $W/state
admin_token_file $W/admin
admin_listen unix:$W/admin.sock
ready_file $W/ready
connection_timeout 2
handshake_timeout 2
tunnel_idle_timeout 2
max_tunnels_per_agent 3
event_rate 20
event_burst 50
audit_fsync always
upstream openai http://127.0.0.1:8401/v1
CONF
# A root without /etc/hosts (netbase not installed): hosts_mount still gives the private
# namespace its names. The namespace first hides /etc/hosts (an overlay with the file removed),
# and the machine's own /etc stays as it was.
HOSTS_BEFORE=$(sha256sum /etc/hosts 2>&1)
mkdir -p "$W/nohosts"
OUT=$(unshare -m bash -c 'mount -t tmpfs t "$1" && mkdir "$1/u" "$1/w" &&
    mount -t overlay t -o "lowerdir=/etc,upperdir=$1/u,workdir=$1/w" /etc && rm /etc/hosts &&
    if [ -e /etc/hosts ]; then echo "control failed: /etc/hosts is still there"; exit 1; fi &&
    hosts_mount "$2" && getent hosts meta.test' sh "$W/nohosts" "$W/hosts" 2>&1)
case "$OUT" in
*"169.254.169.254"*meta.test*) ok "names resolve through the private /etc/hosts when the root has none" ;;
*) bad "names resolve through the private /etc/hosts when the root has none" "$OUT" ;;
esac
[ "$(sha256sum /etc/hosts 2>&1)" = "$HOSTS_BEFORE" ] && ok "the machine's /etc/hosts is untouched" ||
    bad "the machine's /etc/hosts is untouched" "before: $HOSTS_BEFORE" "after: $(sha256sum /etc/hosts 2>&1)"
start_server() {
    rm -f "$W/ready"
    unshare -m bash -c 'hosts_mount "$1" && exec "$2" --config "$3"' sh "$W/hosts" "$CORDOND" \
        "$W/cordond.conf" \
        >>"$W/cordond.log" 2>&1 &
    SPID=$!; PIDS+=($SPID)
    for _ in $(seq 300); do [ -s "$W/ready" ] && break; sleep 0.05; done
    H=$(sed -n 's/^http=//p' "$W/ready"); TUN=$(sed -n 's/^tunnel=//p' "$W/ready")
    EV=$(sed -n 's/^events=unix://p' "$W/ready")
}
start_server
[ -n "$H" ] && ok "server ready" || { bad "server ready" "$(cat "$W/cordond.log")"; finish; exit 1; }
URL=http://$H
ADM=unix:$W/admin.sock
run "healthz" 0 curl -sf "$URL/healthz"
has "healthz ok" '"status":"ok"'
grep -qx "admin=unix:$W/admin.sock" "$W/ready" && ok "ready file names the admin socket" ||
    bad "ready admin" "$(cat "$W/ready")"
[ "$(stat -c %a "$W/admin.sock")" = 600 ] && ok "admin socket is mode 0600" ||
    bad "admin socket mode" "$(stat -c %a "$W/admin.sock")"

# ------------------------------------------------------------------ agents and policy fetch
# The admin endpoints are on admin_listen only.
AH="Authorization: Bearer $(cat "$W/admin")"
[ "$(curl -s -o "$W/body" -w '%{http_code}' -X POST -H "$AH" -d '{"agent":"web"}' "$URL/v1/admin/agents")" = 404 ] &&
    grep -q "admin_listen (unix:$W/admin.sock)" "$W/body" && ok "admin on the agents' listener: 404 naming admin_listen" ||
    bad "admin on listen" "$(cat "$W/body")"
run "an admin command pointed at the agents' listener is refused" 1 "$CORDON" agent list --server "$URL"
has "it says where the admin endpoints are" "admin_listen"
[ "$(curl -s -o "$W/body" -w '%{http_code}' --unix-socket "$W/admin.sock" http://cordond/healthz)" = 404 ] &&
    grep -q "admin listener" "$W/body" && ok "the admin socket serves nothing else" || bad "admin socket /healthz" "$(cat "$W/body")"
KEY=$("$CORDON" agent add --server "$ADM" --agent web 2>/dev/null)
[[ $KEY =~ ^ck_[A-Za-z0-9_-]{43}$ ]] && ok "agent add prints a ck_ key" || bad "agent add" "$KEY"
grep -q "${KEY}" "$W/state/agents" && bad "keys file holds the key itself" || ok "keys file holds no key"
[ "$(stat -c %a "$W/state/server.secret")" = 600 ] && ok "server secret is 0600" || bad "secret mode"
OPSKEY=$("$CORDON" agent add --server "$ADM" --agent ops 2>/dev/null)

run "policy fetch" 0 curl -s -D "$W/h1" -o "$W/env1.json" -H "Authorization: Bearer $KEY" "$URL/v1/policy"
grep -q "^HTTP/1.1 200" "$W/h1" && ok "fetch is 200" || bad "fetch is 200" "$(cat "$W/h1")"
run "envelope verifies with the server's key" 0 "$CORDON" verify --trust "$W/sign.pub" "$W/env1.json"
has "payload is web's policy" 'valid: agent "web", version 1'
ETAG=$(sed -n 's/^ETag: //Ip' "$W/h1" | tr -d '\r')
[[ $ETAG =~ ^\"v1-[0-9a-f]{16}\"$ ]] && ok "ETag form" || bad "ETag form" "$ETAG"
grep -qi "^Cordon-Proxy: $TUN" "$W/h1" && ok "Cordon-Proxy header" || bad "Cordon-Proxy" "$(cat "$W/h1")"
grep -qi "^Cordon-Events: unix:$EV" "$W/h1" && ok "Cordon-Events header" || bad "Cordon-Events"
grep -qi "^Cache-Control: no-cache" "$W/h1" && ok "Cache-Control" || bad "Cache-Control"
code() { curl -s -o "$W/body" -w '%{http_code}' "$@"; }
[ "$(code -H "Authorization: Bearer $KEY" -H "If-None-Match: $ETAG" "$URL/v1/policy")" = 304 ] &&
    ok "If-None-Match gives 304" || bad "304"
[ "$(code "$URL/v1/policy")" = 401 ] && grep -q "missing" "$W/body" && ok "no key: 401 missing" ||
    bad "401 missing" "$(cat "$W/body")"
[ "$(code -H "Authorization: Basic x" "$URL/v1/policy")" = 401 ] && grep -q "not a Bearer" "$W/body" &&
    ok "not bearer: 401" || bad "401 not bearer" "$(cat "$W/body")"
[ "$(code -H "Authorization: Bearer ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$URL/v1/policy")" = 401 ] &&
    grep -q "unknown" "$W/body" && ok "unknown key: 401 unknown" || bad "401 unknown" "$(cat "$W/body")"
GONE=$("$CORDON" agent add --server "$ADM" --agent web 2>/dev/null)
GONEID=$("$CORDON" agent list --server "$ADM" | awk '$2=="web"{id=$1} END{print id}')
run "agent revoke by id" 0 "$CORDON" agent revoke --server "$ADM" --id "$GONEID"
[ "$(code -H "Authorization: Bearer $GONE" "$URL/v1/policy")" = 401 ] && grep -q "revoked" "$W/body" &&
    ok "revoked key: 401 revoked" || bad "401 revoked" "$(cat "$W/body")"
run "agent list shows the revoked key" 0 "$CORDON" agent list --server "$ADM"
has "list marks it" "revoked"
# A 401 is a decision like any other: the revoked key's refusal is in the audit log (read
# back through the verifying reader), naming the key, its agent and the check that refused it;
# an unknown key's names the client's address, since its key names nobody.
sleep 0.3
run "audit query reads the policy.fetch records" 0 "$CORDON" audit query "$W/state/audit" --kind policy.fetch --json
echo "$OUT" | grep '"agent":"web"' | grep '"status":401' | grep "\"key_id\":\"$GONEID\"" |
    grep -q '"rule":"agent_key.revoked"' && ok "the revoked key's 401 is audited with its key id" ||
    bad "401 revoked audit" "$(echo "$OUT" | grep '"status":401')"
echo "$OUT" | grep '"status":401' | grep '"rule":"agent_key.unknown"' | grep -q '"peer":"127.0.0.1"' &&
    ok "an unknown key's 401 is audited with the client's address" ||
    bad "401 unknown audit" "$(echo "$OUT" | grep '"status":401')"

# ------------------------------------------------------------------ hostile HTTP
[ "$(code -X POST -H "Authorization: Bearer $KEY" "$URL/v1/policy")" = 405 ] && ok "POST /v1/policy: 405" || bad 405
[ "$(code "$URL/nope")" = 404 ] && grep -q '"cordon.not_found"' "$W/body" && ok "unknown path: 404 JSON" || bad 404
acode() { curl -s -o "$W/body" -w '%{http_code}' --unix-socket "$W/admin.sock" "$@"; }
AU=http://cordond/v1/admin
[ "$(acode -X POST "$AU/reload")" = 401 ] && ok "admin without token: 401" || bad "admin 401"
[ "$(acode -X POST -H "Authorization: Bearer wrong-token-wrong-token" "$AU/reload")" = 401 ] &&
    grep -q "wrong" "$W/body" && ok "admin wrong token: 401" || bad "admin wrong 401"
[ "$(acode -X POST -H "$AH" -d '{"agent":' "$AU/agents")" = 400 ] && ok "malformed JSON: 400" || bad "400 json"
[ "$(acode -X POST -H "$AH" -d '{"agent":"x","admin":true}' "$AU/agents")" = 400 ] &&
    grep -q 'unknown member' "$W/body" && ok "unknown JSON key: 400" || bad "400 unknown key" "$(cat "$W/body")"
[ "$(acode -X POST -H "$AH" -d '{"agent":"../etc"}' "$AU/agents")" = 400 ] && ok "bad agent name: 400" || bad "400 name"
head -c 70000 /dev/zero | tr '\0' a > "$W/big"
[ "$(acode -X POST -H "$AH" --data-binary @"$W/big" "$AU/agents")" = 413 ] && ok "oversized body: 413" || bad 413

# A governed process is refused, token or not: curl under cordon exec, with a policy that lets
# it open unix sockets and reach the socket.
printf '{"cordon_policy":1,"agent":"it-peer","sandbox":{"enforcement":"best_effort","network":{"mode":"host"}}}\n' > "$FX/peer.json"
run "a sandboxed curl gets no admin answer" 0 "$CORDON" exec --policy "$FX/peer.json" -- \
    curl -s -o "$W/gov.body" -w '%{http_code}' --unix-socket "$W/admin.sock" -H "$AH" "$AU/agents"
[ "$OUT" = 403 ] && grep -q '"cordon.admin_from_sandbox"' "$W/gov.body" &&
    grep -q "no_new_privs and a seccomp filter" "$W/gov.body" &&
    ok "a sandboxed peer holding the token is refused with 403" || bad "sandboxed admin peer" "$OUT" "$(cat "$W/gov.body")"
[ "$(acode -H "$AH" "$AU/agents")" = 200 ] && ok "control: the same request from outside is answered" ||
    bad "admin control" "$(cat "$W/body")"
curl -s "$URL/metrics" | grep -qx 'cordon_admin_refused_total 1' && ok "the refusal is counted" ||
    bad "admin refused metric" "$(curl -s "$URL/metrics" | grep admin)"
grep '"kind":"admin.refused"' "$W/state/audit/audit.jsonl" | grep -q '"verdict":"governed"' &&
    ok "the refusal is audited" || bad "admin refused audit"
R=$($PY big "${H%:*}" "${H##*:}" "GET /healthz HTTP/1.1" 100000)
[[ $R == "HTTP/1.1 4"* || $R == CLOSED ]] && ok "oversized headers refused ($R)" || bad "big headers" "$R"
R=$($PY raw "${H%:*}" "${H##*:}" '\x00\xff\x01garbage\r\n\r\n')
[[ $R == "HTTP/1.1 4"* || $R == CLOSED ]] && ok "garbage request refused ($R)" || bad "garbage" "$R"
R=$($PY slow "${H%:*}" "${H##*:}" 'GET /healthz HTTP/1.1\r\nHost: x\r\n' 6)
[[ $R == CLOSED* ]] && ok "slowloris HTTP client cut off ($R)" || bad "slowloris http" "$R"
run "still healthy after hostile input" 0 curl -sf "$URL/healthz"

# ------------------------------------------------------------------ reloads and push
sed 's/"mode": "enforce"/"mode": "enforcee"/' "$W/pol/web.json" > "$T/web.json"
run "bad push refused" 1 "$CORDON" policy push --server "$ADM" "$T/web.json"
has "push prints the diagnostic" 'web.json: mode: expected one of enforce|observe'
curl -s -H "Authorization: Bearer $KEY" "$URL/v1/policy" > "$W/env2.json"
cmp -s "$W/env1.json" "$W/env2.json" && ok "old set still served after a bad push" || bad "old set"
policy ops ', "other.example.org:80"' > "$T/ops.json"
run "good push" 0 "$CORDON" policy push --server "$ADM" "$T/ops.json"
has "ops at version 2" "ops version 2"
has "web unchanged at version 1" "web version 1"
grep -q other.example.org "$W/pol/ops.json" && ok "push wrote the policies dir" || bad "push write"
policy x > "$T/wrongname.json"
run "push with agent != file name refused" 1 "$CORDON" policy push --server "$ADM" "$T/wrongname.json"
has "says why" "must equal the file name"

# Fetches race with pushes and SIGHUPs: every answer complete, versions never go down.
$PY fetchloop "$URL/v1/policy" "$OPSKEY" "$W/race.stop" "$W/race" 2>"$W/race.err" & LOOP=$!
for i in 1 2 3 4 5 6; do
    policy ops ", \"r$i.example.org:80\"" > "$T/ops.json"
    "$CORDON" policy push --server "$ADM" "$T/ops.json" >/dev/null 2>&1
    kill -HUP "$SPID"; sleep 0.3
done
touch "$W/race.stop"
wait $LOOP
R=$(cat "$W/race")
[[ $R == *"bad=0"* && $R != "fetches=0"* ]] && ok "racing fetches all valid, versions monotonic ($R)" ||
    bad "race" "$R" "$(head -5 "$W/race.err")"
[[ $R == *",8"* ]] && ok "the race saw the final version" || bad "race final version" "$R"

# ------------------------------------------------------------------ tunnel
run "tunnel to an explicitly allowed loopback literal" 0 \
    curl -sf -p -x "http://cordon:$KEY@$TUN" "http://127.0.0.1:$UP/"
has "bytes came through" "hello from upstream"
run "tunnel with a Bearer proxy header" 0 \
    curl -sf -p -x "http://$TUN" --proxy-header "Proxy-Authorization: Bearer $KEY" "http://127.0.0.1:$UP/100000"
[ ${#OUT} -gt 100000 ] && ok "100 kB relayed" || bad "100k relay" "${#OUT}"
# an open tunnel that carries nothing is closed after tunnel_idle_timeout (2 s here)
R=$(python3 - "${TUN%:*}" "${TUN##*:}" "127.0.0.1:$UP" "$KEY" <<'P'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(f"CONNECT {sys.argv[3]} HTTP/1.1\r\nHost: {sys.argv[3]}\r\nProxy-Authorization: Bearer {sys.argv[4]}\r\n\r\n".encode())
head = s.recv(4096)
s.settimeout(8)
t = time.time()
try:
    d = s.recv(100)
    print(head.split(b"\r\n")[0].decode(), "closed" if d == b"" else "data", round(time.time() - t, 1))
except socket.timeout:
    print(head.split(b"\r\n")[0].decode(), "open", round(time.time() - t, 1))
P
)
[[ $R == "HTTP/1.1 200"*closed* ]] && ok "an idle tunnel is closed ($R s)" || bad "idle tunnel" "$R"
conn() { $PY raw "${TUN%:*}" "${TUN##*:}" "CONNECT $1 HTTP/1.1\r\nHost: $1\r\nProxy-Authorization: Bearer $KEY\r\n\r\n"; }
R=$(conn "127.0.0.2:$UP"); [[ $R == "HTTP/1.1 403"* ]] && ok "not on the allowlist: 403" || bad "403 allow" "$R"
R=$(conn "rebind.test:$UP"); [[ $R == "HTTP/1.1 403"* ]] && ok "name resolving to 127.0.0.1: 403" || bad "rebind" "$R"
R=$(conn "meta.test:$UP"); [[ $R == "HTTP/1.1 403"* ]] && ok "name resolving to 169.254.169.254: 403" || bad "metadata" "$R"
R=$(conn "nothing.example.org:443"); [[ $R == "HTTP/1.1 502"* ]] && ok "unresolvable: 502" || bad "502" "$R"
R=$($PY raw "${TUN%:*}" "${TUN##*:}" "CONNECT 127.0.0.1:$UP HTTP/1.1\r\n\r\n")
[[ $R == "HTTP/1.1 407"* ]] && ok "tunnel without key: 407" || bad "407" "$R"
R=$($PY raw "${TUN%:*}" "${TUN##*:}" "CONNECT 127.0.0.1:$UP HTTP/1.1\r\nProxy-Authorization: Bearer $GONE\r\n\r\n")
[[ $R == "HTTP/1.1 407"* ]] && ok "tunnel with a revoked key: 407" || bad "407 revoked" "$R"
sleep 0.2
grep '"kind":"tunnel.deny"' "$W/state/audit/audit.jsonl" | grep '"status":407' | grep "\"key_id\":\"$GONEID\"" |
    grep -q '"rule":"agent_key.revoked"' && ok "the revoked key's 407 is audited" ||
    bad "407 revoked audit" "$(grep '"status":407' "$W/state/audit/audit.jsonl")"
R=$($PY raw "${TUN%:*}" "${TUN##*:}" 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
[[ $R == "HTTP/1.1 405"* ]] && ok "GET on the tunnel port: 405" || bad "405 tunnel" "$R"
R=$($PY raw "${TUN%:*}" "${TUN##*:}" 'CONNECT nonsense\r\n\r\n')
[[ $R == "HTTP/1.1 400"* ]] && ok "malformed CONNECT: 400" || bad "400 tunnel" "$R"
R=$($PY big "${TUN%:*}" "${TUN##*:}" "CONNECT 127.0.0.1:$UP HTTP/1.1" 20000)
[[ $R == "HTTP/1.1 431"* ]] && ok "tunnel headers too large: 431" || bad "431" "$R"
R=$($PY slow "${TUN%:*}" "${TUN##*:}" 'CONNECT 127.0.0.1:80 HTTP/1.1\r\n' 6)
[[ $R == "HTTP/1.1 408"* ]] && ok "tunnel slowloris: 408 ($R)" || bad "408" "$R"
run "tunnel still works after hostile input" 0 curl -sf -p -x "http://cordon:$KEY@$TUN" "http://127.0.0.1:$UP/"

# ------------------------------------------------------------------ events
SES=0123456789abcdef0123456789abcdef
EVT='{"type":"event","kind":"fs.open","decision":"deny","pid":1,"ts":1795871000123,"detail":{"path":"/home/a/.ssh/id_rsa"}}'
R=$($PY events "$EV" "$KEY" "[{\"type\":\"hello\",\"key\":\"KEY\",\"session\":\"$SES\",\"pid\":1,\"policy_version\":1,\"policy_digest\":\"sha256:00\"},
  $EVT, \"not json\", {\"type\":\"event\",\"kind\":\"bogus\"}, {\"big\":5000}, $EVT]")
[[ $R == *"closed=False"* ]] && ok "malformed events do not close the connection" || bad "events open" "$R"
EPID=$(echo "$R" | sed -n 's/.*pid=//p')
sleep 0.3
grep '"kind":"fs.open"' "$W/state/audit/audit.jsonl" | grep -q "\"agent\":\"web\".*\"session\":\"$SES\",\"pid\":$EPID" &&
    ok "event audited with agent, session and the kernel's pid" || bad "event audit" "$(grep fs.open "$W/state/audit/audit.jsonl" | head -2)"
M=$(curl -s "$URL/metrics")
[[ $M == *'cordon_events_total{outcome="malformed"} 3'* ]] && ok "malformed and oversized events counted" || bad "malformed count" "$(echo "$M" | grep events)"
R=$($PY events "$EV" "$KEY" "[{\"type\":\"hello\",\"key\":\"ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"session\":\"$SES\"}, $EVT]")
[[ $R == *"closed=True"* ]] && ok "bad hello closes the connection" || bad "bad hello" "$R"
R=$($PY events "$EV" "$OPSKEY" "[{\"type\":\"hello\",\"key\":\"KEY\",\"session\":\"$SES\",\"pid\":1}, {\"repeat\":300,\"msg\":$EVT}]")
sleep 0.3
M=$(curl -s "$URL/metrics")
DROP=$(echo "$M" | sed -n 's/^cordon_events_total{outcome="dropped"} //p')
[ "${DROP:-0}" -ge 200 ] && ok "rate limit drops the excess ($DROP of 300 dropped, burst 50)" || bad "rate limit" "$DROP"
# the first event accepted after drops records how many were dropped: one more event once
# the bucket has refilled (event_rate 20/s), then the record must reach the log
R=$($PY events "$EV" "$OPSKEY" "[{\"type\":\"hello\",\"key\":\"KEY\",\"session\":\"$SES\",\"pid\":1}, {\"sleep\":0.5}, $EVT]")
for _ in $(seq 50); do grep -q '"kind":"events.rate_limited"' "$W/state/audit/audit.jsonl" && break; sleep 0.1; done
grep '"kind":"events.rate_limited"' "$W/state/audit/audit.jsonl" | grep '"agent":"ops"' | grep -q '"count":[1-9]' &&
    ok "the drops are audited (events.rate_limited, agent and count)" ||
    bad "rate limit audit" "$(grep -c . "$W/state/audit/audit.jsonl") records; $(grep rate_limited "$W/state/audit/audit.jsonl")"
# a connection that never says hello is closed, so silent ones cannot hold every slot
R=$(python3 - "$EV" <<'P'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.settimeout(5)
t = time.time()
try:
    d = s.recv(100)
    print("closed" if d == b"" else "data", round(time.time() - t, 1))
except socket.timeout:
    print("open", round(time.time() - t, 1))
P
)
[[ $R == closed* ]] && ok "no hello: closed after the deadline ($R s)" || bad "hello deadline" "$R"

# ------------------------------------------------------------------ tunnels per agent
# max_tunnels_per_agent 3: web holds three tunnels, a fourth is refused with 429 while ops
# still gets one, and once web's close, web gets one again.
R=$(python3 - "${TUN%:*}" "${TUN##*:}" "127.0.0.1:$UP" "$KEY" "$OPSKEY" <<'P'
import socket, sys, time
host, port, dest, web, ops = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def tunnel(k):
    s = socket.create_connection((host, port))
    s.sendall(f"CONNECT {dest} HTTP/1.1\r\nHost: {dest}\r\nProxy-Authorization: Bearer {k}\r\n\r\n".encode())
    resp = s.recv(4096).decode(errors="replace")
    if resp.startswith("HTTP/1.1 429") and not resp.split("\r\n\r\n", 1)[-1]:
        resp += s.recv(4096).decode(errors="replace")  # the body may come in a second segment
    return s, resp
status = lambda r: r.split("\r\n")[0]
held = [tunnel(web) for _ in range(3)]
fourth, resp4 = tunnel(web)
ops_t, resp_ops = tunnel(ops)
for s, _ in held:
    s.close()
time.sleep(0.5)
again, resp_again = tunnel(web)
print("|".join([str(sum(status(r).startswith("HTTP/1.1 200") for _, r in held)), status(resp4),
                status(resp_ops), status(resp_again), resp4.split("\r\n\r\n", 1)[-1].strip()]))
P
)
IFS='|' read -r HELD S4 SOPS SAGAIN BODY <<< "$R"
[ "$HELD" = 3 ] && ok "an agent holds up to max_tunnels_per_agent tunnels" || bad "per-agent: three held" "$R"
[[ $S4 == "HTTP/1.1 429"* ]] && ok "one more is refused with 429" || bad "per-agent: 429" "$R"
[[ $R == *"max_tunnels_per_agent"* ]] && ok "the refusal names the limit" || bad "per-agent: message" "$R"
[[ $SOPS == "HTTP/1.1 200"* ]] && ok "another agent still gets a tunnel" || bad "per-agent: ops" "$R"
[[ $SAGAIN == "HTTP/1.1 200"* ]] && ok "closed tunnels give the agent its slots back" || bad "per-agent: again" "$R"
grep '"kind":"tunnel.deny"' "$W/state/audit/audit.jsonl" | grep -q '"status":429' &&
    ok "the 429 is audited" || bad "per-agent: audit" "$(grep tunnel.deny "$W/state/audit/audit.jsonl" | tail -2)"

# ------------------------------------------------------------------ revocation ends what is open
# A second key of web holds a busy tunnel and a bound event connection; web's first key holds
# another tunnel. Revoking the second key must close its tunnel and its event connection
# (each checks within half a second) and leave the first key's tunnel open.
REVKEY=$("$CORDON" agent add --server "$ADM" --agent web 2>/dev/null)
REVID=$("$CORDON" agent list --server "$ADM" | awk '$2=="web" && $4=="live"{id=$1} END{print id}')
python3 - "${TUN%:*}" "${TUN##*:}" "127.0.0.1:$UP" "$REVKEY" "$KEY" "$EV" > "$W/revoke.out" 2>&1 <<'P' &
import select, socket, sys, time
host, port, dest, revkey, key, evpath = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def tunnel(k):
    s = socket.create_connection((host, port))
    s.sendall(f"CONNECT {dest} HTTP/1.1\r\nHost: {dest}\r\nProxy-Authorization: Bearer {k}\r\n\r\n".encode())
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return s
doomed, kept = tunnel(revkey), tunnel(key)
ev = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ev.connect(evpath)
ev.send(('{"type":"hello","key":"%s","session":"%s","pid":1}' % (revkey, "ab" * 16)).encode())
socks = {"tunnel": doomed, "events": ev, "other": kept}
closed = {}
print("ready", flush=True)
t0 = time.time()
while time.time() - t0 < 6 and len(closed) < 2:
    for name in ("tunnel", "other"):  # keep both tunnels busy, so idling cannot close them
        if name not in closed:
            try:
                socks[name].send(b"X")
            except OSError:
                pass
    r, _, _ = select.select([s for n, s in socks.items() if n not in closed], [], [], 0.3)
    for n, s in socks.items():
        if s in r and n not in closed:
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if d == b"":
                closed[n] = round(time.time() - t0, 2)
print(" ".join("%s=%s" % (n, closed.get(n, "open")) for n in socks), flush=True)
P
RPY=$!
for _ in $(seq 100); do grep -q ready "$W/revoke.out" 2>/dev/null && break; sleep 0.05; done
run "revoke the key that holds them" 0 "$CORDON" agent revoke --server "$ADM" --id "$REVID"
wait "$RPY"
R=$(tail -1 "$W/revoke.out")
[[ $R == *"tunnel="[0-9]* ]] && ok "revoke closes the key's open tunnel ($R)" || bad "revoke: tunnel" "$(cat "$W/revoke.out")"
[[ $R == *"events="[0-9]* ]] && ok "revoke closes the key's event connection" || bad "revoke: events" "$(cat "$W/revoke.out")"
[[ $R == *"other=open"* ]] && ok "revoke leaves another key's tunnel open" || bad "revoke: other tunnel" "$(cat "$W/revoke.out")"
sleep 0.3
grep '"kind":"tunnel.close"' "$W/state/audit/audit.jsonl" | grep -q '"end":"revoked"' &&
    ok "tunnel.close says the key was revoked" || bad "tunnel.close end" "$(grep tunnel.close "$W/state/audit/audit.jsonl" | tail -2)"
grep '"kind":"events.revoked"' "$W/state/audit/audit.jsonl" | grep -q "\"key_id\":\"$REVID\"" &&
    ok "events.revoked audited with the key id" || bad "events.revoked" "$(grep events.revoked "$W/state/audit/audit.jsonl")"
grep '"kind":"tunnel.close"' "$W/state/audit/audit.jsonl" | grep -q '"end":"idle"' &&
    ok "the idle tunnel's close says idle" || bad "tunnel.close idle" "$(grep tunnel.close "$W/state/audit/audit.jsonl" | head -3)"

# ------------------------------------------------------------------ metrics and audit
for m in 'cordon_http_requests_total{path="/v1/policy",status="200"}' 'cordon_tunnels_total' \
         'cordon_tunnel_bytes_total{direction="down"}' 'cordon_policy_reloads_total' \
         'cordon_audit_records' 'cordon_decisions_total{kind="tunnel",decision="deny"}'; do
    [[ $M == *"$m"* ]] && ok "metrics: $m" || bad "metrics: $m"
done
A=$W/state/audit/audit.jsonl
grep '"kind":"tunnel.close"' "$A" | grep -q '"bytes_down":[1-9].*"duration_ms"' && ok "tunnel audited with bytes and duration" || bad "tunnel audit"
grep '"kind":"tunnel.deny"' "$A" | grep -q '"host":"meta.test"' && ok "metadata refusal audited" || bad "deny audit"
grep -q '"kind":"policy.reload".*"ok":false' "$A" && ok "failed reload audited" || bad "reload audit"
grep -q '"kind":"agent.revoke"' "$A" && ok "revoke audited" || bad "revoke audit"

# ------------------------------------------------------------------ kill -9 under load, restart
$PY fetchloop "$URL/v1/policy" "$KEY" 2 "$W/load" 2>/dev/null & LOOP=$!
sleep 0.7; cp "$W/state/audit/checkpoint" "$W/anchor" 2>/dev/null
# the audit writer outlives a kill -9 of cordond by as long as it takes to write what it was
# sent; the restart would find the log still locked, so wait for it to go
AW=$(for c in $(cat /proc/"$SPID"/task/*/children 2>/dev/null); do
    [ "$(cat /proc/"$c"/comm 2>/dev/null)" = cordon-audit ] && echo "$c"; done)
kill -9 "$SPID"; wait "$SPID" 2>/dev/null; unlist "$SPID"; wait $LOOP
for _ in $(seq 200); do
    st=$(awk '{print $3}' "/proc/$AW/stat" 2>/dev/null)
    [ -n "$AW" ] && [ -n "$st" ] && [ "$st" != Z ] || break
    sleep 0.05
done
V_BEFORE=$(awk '$1=="ops"{print $2}' "$W/state/versions")
start_server
URL=http://$H
[ -n "$H" ] && ok "restart after kill -9" || bad "restart" "$(tail -5 "$W/cordond.log")"
curl -s -H "Authorization: Bearer $OPSKEY" "$URL/v1/policy" > "$W/env3.json"
V_AFTER=$(python3 -c 'import json,base64,sys;print(json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))["version"])' "$W/env3.json")
[ "$V_AFTER" = "$V_BEFORE" ] && ok "version survives the restart unchanged ($V_AFTER)" || bad "version restart" "$V_BEFORE -> $V_AFTER"
if "$CORDON" audit verify --help >/dev/null 2>&1; then
    # valid, but with the gap the kill left (recorded by the restart), and not closed while the
    # restarted server runs: status 3
    if [ -s "$W/anchor" ]; then
        run "audit log verifies after kill -9, against a checkpoint kept before" 3 \
            "$CORDON" audit verify "$W/state/audit" --trust "$W/sign.pub" --anchor "$W/anchor"
    else
        run "audit log verifies after kill -9" 3 "$CORDON" audit verify "$W/state/audit" --trust "$W/sign.pub"
    fi
    has "verify lists the gap the kill left, recorded by the restart" "the next writer recorded it (a gap record)"
    has "verify says the log of the running server is not closed" ", not closed: the writer stopped without its stop record"
else
    python3 -c 'import json,sys;[json.loads(l) for l in open(sys.argv[1])]' "$A" &&
        ok "every audit line is whole JSON after kill -9" || bad "audit after kill"
fi

# ------------------------------------------------------------------ audit failure: fail closed
# The audit log on a 64 KiB tmpfs (in the server's own mount namespace): once the disk is
# full, policies and tunnels are refused with 503 and /healthz says why.
F=$T/full; mkdir -p "$F/audit"
printf '%s\n' "$KEY" > "$F/key"; chmod 600 "$F/key"
unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$F/audit' && exec '$CORDOND' --policy '$W/pol/web.json' \
    --agent-key-file '$F/key' --signing-key '$W/sign.key' --state-dir '$F/state' --audit-dir '$F/audit' \
    --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --events-socket off --audit-fsync always \
    --ready-file '$F/ready'" >"$F/log" 2>&1 & FP=$!; PIDS+=($FP)
for _ in $(seq 300); do [ -s "$F/ready" ] && break; sleep 0.05; done
FH=$(sed -n 's/^http=//p' "$F/ready"); FT=$(sed -n 's/^tunnel=//p' "$F/ready")
st=200; n=0
while [ "$st" = 200 ] && [ $n -lt 3000 ]; do
    st=$(curl -s -o "$W/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://$FH/v1/policy"); n=$((n + 1))
done
[ "$st" = 503 ] && grep -q "audit" "$W/body" && ok "policy refused with 503 once the audit disk is full (after $n fetches)" ||
    bad "audit full: policy" "status $st after $n" "$(cat "$W/body")" "$(tail -3 "$F/log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$FH/healthz")" = 503 ] && ok "healthz 503 when audit failed" || bad "healthz audit"
R=$($PY raw "${FT%:*}" "${FT##*:}" "CONNECT 127.0.0.1:$UP HTTP/1.1\r\nProxy-Authorization: Bearer $KEY\r\n\r\n")
[[ $R == "HTTP/1.1 503"* ]] && ok "tunnel refused with 503 when audit failed" || bad "audit full: tunnel" "$R"
kill -TERM $FP; wait $FP; unlist $FP

# The same full disk with audit_on_failure exit: cordond stops (status 3) instead of serving 503.
F2=$T/full2; mkdir -p "$F2/audit"
printf '%s\n' "$KEY" > "$F2/key"; chmod 600 "$F2/key"
unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$F2/audit' && exec '$CORDOND' --policy '$W/pol/web.json' \
    --agent-key-file '$F2/key' --signing-key '$W/sign.key' --state-dir '$F2/state' --audit-dir '$F2/audit' \
    --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --events-socket off --audit-fsync always \
    --audit-on-failure exit --ready-file '$F2/ready'" >"$F2/log" 2>&1 & FP2=$!; PIDS+=($FP2)
for _ in $(seq 300); do [ -s "$F2/ready" ] && break; sleep 0.05; done
FH2=$(sed -n 's/^http=//p' "$F2/ready"); n=0
while kill -0 $FP2 2>/dev/null && [ $n -lt 3000 ]; do
    curl -s -o /dev/null -H "Authorization: Bearer $KEY" "http://$FH2/v1/policy"; n=$((n + 1))
done
for _ in $(seq 50); do kill -0 $FP2 2>/dev/null || break; sleep 0.1; done
wait $FP2; FRC=$?; unlist $FP2
[ "$FRC" = 3 ] && grep -q "audit_on_failure is exit: cordond stops now with exit status 3" "$F2/log" &&
    ok "audit_on_failure exit: a full audit disk stops cordond with status 3" ||
    bad "audit_on_failure exit" "exit $FRC after $n fetches" "$(tail -5 "$F2/log")"

# The audit writer killed from outside: cordond says so, stops with status 3, and its restart
# records the gap.
K=$T/killw; mkdir -p "$K"
printf '%s\n' "$KEY" > "$K/key"; chmod 600 "$K/key"
kw_start() {
    rm -f "$K/ready"
    "$CORDOND" --policy "$W/pol/web.json" --agent-key-file "$K/key" --signing-key "$W/sign.key" \
        --state-dir "$K/state" --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --events-socket off \
        --ready-file "$K/ready" >>"$K/log" 2>&1 & KP=$!; PIDS+=($KP)
    for _ in $(seq 300); do [ -s "$K/ready" ] && break; sleep 0.05; done
}
kw_start
KW=
for c in $(cat /proc/$KP/task/*/children 2>/dev/null); do
    [ "$(cat /proc/$c/comm 2>/dev/null)" = cordon-audit ] && KW=$c
done
if [ -z "$KW" ]; then
    bad "the audit writer is cordond's child named cordon-audit" "$(ls /proc/$KP/task)"
else
    ok "the audit writer is cordond's child named cordon-audit"
    kill -KILL "$KW"
    for _ in $(seq 50); do kill -0 $KP 2>/dev/null || break; sleep 0.1; done
    wait $KP; KRC=$?; unlist $KP
    [ "$KRC" = 3 ] && ok "cordond stops with status 3 when its audit writer is killed" ||
        bad "cordond exit on writer death" "exit $KRC" "$(tail -5 "$K/log")"
    grep -q "the audit writer process (pid $KW) was killed by signal 9" "$K/log" &&
        grep -q "Nothing can be recorded any more" "$K/log" &&
        ok "cordond says loudly that its audit writer was killed" ||
        bad "cordond message on writer death" "$(tail -5 "$K/log")"
    kw_start
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" \
        "http://$(sed -n 's/^http=//p' "$K/ready")/v1/policy")" = 200 ] &&
        ok "the restarted cordond serves again" || bad "restart after writer death" "$(tail -5 "$K/log")"
    grep -q "was not closed: its last record" "$K/log" &&
        grep -q '"kind":"gap"' "$K/state/audit/audit.jsonl" &&
        ok "the restart records the gap" || bad "gap after writer death" "$(tail -5 "$K/log")"
    kill -TERM $KP; wait $KP; unlist $KP
    run "the log of the killed writer verifies, with its gap" 3 "$CORDON" audit verify "$K/state/audit"
    has "verify: closed, with the gap" "VALID (closed), with 1 gap"
fi

# ------------------------------------------------------------------ single-policy mode
E=$T/embedded; mkdir -p "$E"
KE=ck_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | head -c 43)
# the last base64url character of 32 bytes carries only 4 bits; 'A' keeps it canonical
KE=${KE:0:45}A; printf '%s\n' "$KE" > "$E/key"; chmod 600 "$E/key"
"$CORDON" keygen "$E/sign" >/dev/null
"$CORDOND" --policy "$W/pol/web.json" --agent-key-file "$E/key" --signing-key "$E/sign.key" \
    --state-dir "$E/state" --listen 127.0.0.1:0 --listen "unix:$E/http.sock" --tunnel-listen 127.0.0.1:0 --events-socket off \
    --admin-token-file "$W/admin" --admin-listen 127.0.0.1:0 \
    --ready-file "$E/ready" >"$E/log" 2>&1 & EP=$!; PIDS+=($EP)
for _ in $(seq 300); do [ -s "$E/ready" ] && break; sleep 0.05; done
EH=$(sed -n 's/^http=//p' "$E/ready" | head -1)
[ "$(code -H "Authorization: Bearer $KE" "http://$EH/v1/policy")" = 200 ] &&
    ok "single-policy mode serves the file to the pre-made key" || bad "embedded" "$(cat "$E/log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$E/http.sock" -H "Authorization: Bearer $KE" http://cordond/v1/policy)" = 200 ] &&
    ok "policy served on a unix socket listener too" || bad "unix listener"
grep -q "events=" "$E/ready" && bad "events off still advertised" || ok "events off: not advertised"
# admin_listen on TCP: the peer is found through /proc/net/tcp and /proc/PID/fd
EA=$(sed -n 's/^admin=//p' "$E/ready")
[ "$(curl -s -o "$W/body" -w '%{http_code}' -H "$AH" "http://$EA/v1/admin/agents")" = 200 ] &&
    ok "TCP admin_listen: answered from outside" || bad "TCP admin control" "$EA" "$(cat "$W/body")"
run "TCP admin_listen: a sandboxed curl gets no admin answer" 0 "$CORDON" exec --policy "$FX/peer.json" -- \
    curl -s -o "$W/gov2.body" -w '%{http_code}' -H "$AH" "http://$EA/v1/admin/agents"
[ "$OUT" = 403 ] && grep -q '"cordon.admin_from_sandbox"' "$W/gov2.body" &&
    ok "TCP admin_listen: a sandboxed peer holding the token is refused" || bad "TCP sandboxed admin" "$OUT" "$(cat "$W/gov2.body")"
kill -TERM $EP; wait $EP; EST=$?; unlist $EP; [ $EST -eq 0 ] && ok "SIGTERM stops cleanly" || bad "SIGTERM exit"
grep -q "audit_key is not set" "$W/cordond.log" && ok "cordond warns that the checkpoints share the policy key" ||
    bad "warning about audit_key" "$(head -5 "$W/cordond.log")"
kill -TERM "$SPID"; wait "$SPID"; MST=$?; unlist "$SPID"
[ $MST -eq 0 ] && ok "main server stops cleanly" || bad "main stop" "$(tail -5 "$W/cordond.log")"
if grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$W/cordond.log" "$E/log"; then
    bad "no sanitizer reports in the server logs" "$(grep -hE -A5 "runtime error|Sanitizer" "$W/cordond.log" "$E/log" | head -20)"
else
    ok "no sanitizer reports in the server logs"
fi
finish
