#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Names and IPv6 through the shim and cordond's tunnel: real curl, python3, node and git under
# the real shim through `cordon run` (the embedded cordond), against origins on 127.0.0.1,
# ::1, 10.77.0.1 and fd77::1, all on one port. Everything runs in a private network and mount
# namespace: the extra addresses live on its loopback, and a private /etc/hosts gives
# crm.internal (10.77.0.1, fd77::1) and loop.internal (127.0.0.1, a name that resolves to
# loopback). Each policy names one spelling; the test shows that a destination is judged as
# the program named it, that the audit log records that name, that the refusal says what to
# write, and that the kernel, not the hook, still refuses a raw connect to the same port. Then a
# cordond whose tunnel listens on [::1] only: IPv4 sockets reach it too.
#   net_names.sh CORDON ESCAPE_PROBE CORDOND SOURCE_DIR
. "$(dirname "$0")/netns.sh"
netns_enter "$0" "$@"
CORDON=$(realpath "$1")
PROBE=$(realpath "$2")
CORDOND=$(realpath "$3")
SRC=$4
. "$SRC/tests/integration/lib.sh"
PY=/usr/bin/python3
PIDS=()
V=$(mktemp -d /var/tmp/cordon-it-XXXXXX) # audit logs: outside every grant (${tmp} is /tmp)
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T" "$V" "$FX"; }
trap cleanup EXIT
unset CORDON_SERVER CORDON_KEY CORDON_TRUST CORDON_POLICY CORDON_PROFILE XDG_STATE_HOME
export CORDON_LOG=all

# ------------------------------------------------------------------ the private network
ip link set lo up
ip addr add 10.77.0.1/32 dev lo
ip -6 addr add fd77::1/128 dev lo nodad
printf '127.0.0.1 localhost\n::1 localhost\n10.77.0.1 crm.internal\nfd77::1 crm.internal\n127.0.0.1 loop.internal\n' \
    > "$T/hosts"
hosts_mount "$T/hosts" || { bad "the private /etc/hosts is in place"; finish; exit 1; }
mkdir -p "$T/site" "$T/ws/bin"
git init -q --bare "$T/site/repo.git"
git -C "$T/site/repo.git" symbolic-ref HEAD refs/heads/main
(cd "$T" && git clone -q "$T/site/repo.git" src 2>/dev/null && cd src &&
    git -c user.name=t -c user.email=t@t.invalid commit -q --allow-empty -m one &&
    git push -q origin HEAD:main) >/dev/null 2>&1
git -C "$T/site/repo.git" update-server-info
"$PY" "$SRC/tests/support/net_origin.py" "$T/port" "$T/site" 127.0.0.1 ::1 10.77.0.1 fd77::1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
P=$(cat "$T/port" 2>/dev/null)
if [ -z "$P" ]; then bad "the origins started"; finish; exit 1; fi
OUT=$(curl -sS "http://[fd77::1]:$P/" "http://crm.internal:$P/" 2>&1)
has "control: outside the sandbox the origins answer on their addresses" "hello fd77::1"
cp "$PROBE" "$T/ws/bin/escape_probe"
# the clients run inside the sandbox, which reads the workspace, not the source tree
cp "$SRC/tests/support/net_clients.py" "$SRC/tests/support/net_clients.js" "$T/ws/"

policy() { # NAME ALLOW...: a plain policy for the embedded cordond
    local name=$1 allow="" e; shift
    for e in "$@"; do allow="$allow${allow:+,}\"$e\""; done
    printf '{"cordon_policy":1,"agent":"%s","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},
 "exec":{"allow":["*","${workspace}/bin"]},"network":{"mode":"proxy","allow":[%s]}},
 "poll_seconds":60}\n' "$name" "$allow" > "$FX/$name.json"
}
TARGETS="localhost ::1 127.0.0.1 crm.internal loop.internal 10.77.0.1"
# Every client, every target, inside one `cordon run` per policy.
cat > "$T/clients.sh" <<SH
for t in $TARGETS; do
    case \$t in *:*) u="[\$t]" ;; *) u=\$t ;; esac
    if b=\$(curl -sS --max-time 10 "http://\$u:$P/" 2>"$T/ws/curl.err"); then
        echo "RES curl \$t OK \$b"
    else
        echo "RES curl \$t ERR \$(tr '\n' ' ' < "$T/ws/curl.err")"
    fi
    cat "$T/ws/curl.err" >&2
done
"$PY" "$T/ws/net_clients.py" "$P" $TARGETS
node "$T/ws/net_clients.js" "$P" $TARGETS
SH
# expect OK|DENY TARGET BODY WAYS...: every listed way reaches TARGET (and BODY) or is refused
expect() {
    local want=$1 t=$2 body=$3 w line; shift 3
    for w in "$@"; do
        line=$(printf '%s\n' "$RUN_OUT" | grep -F "RES $w $t " | head -1)
        if [ -z "$line" ]; then bad "$POL: $w $t ran" "$RUN_OUT"; continue; fi
        if [ "$want" = OK ]; then
            case $line in *" OK hello $body"*) ok "$POL: $w $t reaches $body" ;;
                *) bad "$POL: $w $t reaches $body" "$line" ;; esac
        else
            case $line in *" ERR "*) ok "$POL: $w $t is refused" ;;
                *) bad "$POL: $w $t is refused" "$line" ;; esac
        fi
    done
}
PYW="py-urllib py-create_connection py-inet6 py-nonblocking"
NODEW="node-fetch node-http node-net-family0 node-net-family4 node-net-family6"
node -e 'process.exit(typeof require("net").getDefaultAutoSelectFamily === "function" ? 0 : 1)' &&
    NODEW="$NODEW node-net-autoselect"
NAMEW="$PYW py-v6only $NODEW"                   # ways that resolve a name themselves
V6W="curl py-urllib py-create_connection py-inet6 py-v6only py-nonblocking node-fetch node-http node-net-family0"
V4W="curl $PYW node-fetch node-http node-net-family0 node-net-family4"
run_policy() { # NAME: run every client under the policy, then the audit query
    POL=$1
    RUN_OUT=$("$CORDON" run --policy "$FX/$POL.json" --workspace "$T/ws" --audit "$V/$POL" \
        -- sh "$T/clients.sh" 2>&1)
    AUDIT=$("$CORDON" audit query "$V/$POL" --json 2>&1)
}
audit_has() { # NAME KIND FIELD...: one record of KIND holds every "field":value text
    local name=$1 kind=$2 f; shift 2
    local recs
    recs=$(printf '%s\n' "$AUDIT" | grep -F "\"kind\":\"$kind\"")
    for f in "$@"; do recs=$(printf '%s\n' "$recs" | grep -F -- "$f"); done
    if [ -n "$recs" ]; then ok "$POL: audit: $name"; else bad "$POL: audit: $name" "$AUDIT"; fi
}

# ------------------------------------------------------------------ localhost:P
policy plain-localhost "localhost:$P"
run_policy plain-localhost
expect OK localhost "" $NAMEW curl
audit_has "python and node reach it by the name localhost" tunnel.open "\"host\":\"localhost\"" \
    "\"rule\":\"localhost:$P\""
# curl (7.78+) turns localhost into 127.0.0.1 itself, without asking the resolver; the entry
# localhost admits that literal, and the record says what curl connected with
audit_has "curl's localhost arrives as 127.0.0.1, admitted by localhost" tunnel.open \
    "\"host\":\"127.0.0.1\"" "\"address\":\"127.0.0.1\"" "\"rule\":\"localhost:$P\""
expect OK ::1 "::1" $V6W
expect OK 127.0.0.1 "127.0.0.1" $V4W
expect DENY crm.internal "" curl $NAMEW
expect DENY loop.internal "" curl $NAMEW
expect DENY 10.77.0.1 "" $V4W
audit_has "the refusal names crm.internal" tunnel.deny "\"host\":\"crm.internal\"" "\"status\":403"
OUT=$RUN_OUT
has "the hook's line names the name and the rule" \
    "denied connect(\"crm.internal:$P\"): cordond refused the tunnel (403): cordon: crm.internal:$P is not on sandbox.network.allow"

# the shim is not the boundary: a raw connect (static, no hook) to the very port the policy
# allows through the tunnel is refused by Landlock; outside the sandbox it connects
ABI=$("$PROBE" abi | sed -n 's/^landlock_abi=//p')
if [ "${ABI:-0}" -ge 4 ]; then
    OUT=$("$PROBE" tcp 127.0.0.1 "$P" 2>&1)
    has "control: the raw connect works outside the sandbox" "SUCCEEDED"
    for a in 127.0.0.1 ::1 ::ffff:127.0.0.1 10.77.0.1; do
        OUT=$("$CORDON" run --policy "$FX/plain-localhost.json" --workspace "$T/ws" \
            --audit "$V/raw" -- sh -c "\"\$0\" tcp $a $P" "$T/ws/bin/escape_probe" 2>&1)
        case $OUT in *"errno=EACCES"*) ok "kernel: a raw connect to $a port $P is refused" ;;
            *) bad "kernel: a raw connect to $a port $P is refused" "$OUT" ;; esac
    done
elif [ "${CI:-}" = true ]; then
    bad "kernel: Landlock ABI $ABI has no TCP rules (4 is needed), under CI"
else
    echo "skip kernel: raw connect checks: kernel lacks Landlock ABI 4 (TCP rules; this one has ${ABI:-none})"
fi

# git (libcurl) by name
OUT=$(cd "$T/ws" && "$CORDON" run --policy "$FX/plain-localhost.json" --workspace "$T/ws" \
    --audit "$V/git" -- git ls-remote "http://localhost:$P/repo.git" 2>&1)
has "git ls-remote http://localhost:P/ lists the ref" "refs/heads/main"

# ------------------------------------------------------------------ 127.0.0.1:P
policy plain-v4 "127.0.0.1:$P"
run_policy plain-v4
expect OK 127.0.0.1 "127.0.0.1" $V4W
expect DENY localhost "" $NAMEW # the name reaches the policy as localhost, not 127.0.0.1
expect OK localhost "127.0.0.1" curl # curl resolves localhost itself (see above)
expect DENY ::1 "" $V6W
expect DENY loop.internal "" curl $NAMEW
audit_has "python's localhost is refused as localhost" tunnel.deny "\"host\":\"localhost\"" "\"status\":403"
OUT=$RUN_OUT
has "the refusal says which spelling the policy has" \
    "localhost:$P is not on sandbox.network.allow of agent plain-v4 (the policy has 127.0.0.1:$P"
has "an IPv6 destination is written in brackets, by the hook and by cordond" \
    "denied connect(\"[::1]:$P\"): cordond refused the tunnel (403): cordon: [::1]:$P is not on"

# ------------------------------------------------------------------ [::1]:P
policy plain-v6 "[::1]:$P"
run_policy plain-v6
expect OK ::1 "::1" $V6W
expect DENY localhost "" $NAMEW
expect OK localhost "::1" curl # curl tries its literals in turn: 127.0.0.1 (refused), then ::1
expect DENY 127.0.0.1 "" $V4W
audit_has "the IPv6 literal is recorded as the program wrote it" tunnel.open "\"host\":\"::1\"" \
    "\"address\":\"::1\"" "\"rule\":\"[::1]:$P\""
OUT=$RUN_OUT
has "the refusal of 127.0.0.1 names the IPv6 entry, in brackets" \
    "127.0.0.1:$P is not on sandbox.network.allow of agent plain-v6 (the policy has [::1]:$P"

# ------------------------------------------------------------------ names from /etc/hosts
policy plain-names "crm.internal:$P" "loop.internal:$P"
run_policy plain-names
for w in curl $NAMEW; do
    line=$(printf '%s\n' "$RUN_OUT" | grep -F "RES $w crm.internal " | head -1)
    case $line in *" OK hello 10.77.0.1"* | *" OK hello fd77::1"*)
        ok "$POL: $w crm.internal reaches the address cordond resolved" ;;
        *) bad "$POL: $w crm.internal reaches the address cordond resolved" "$line" ;; esac
done
audit_has "crm.internal is recorded by its name" tunnel.open "\"host\":\"crm.internal\"" \
    "\"rule\":\"crm.internal:$P\""
# a name that resolves to loopback stays refused, even named (SSRF, rebinding)
expect DENY loop.internal "" curl $NAMEW
audit_has "loop.internal: refused for its loopback address" tunnel.deny "\"host\":\"loop.internal\"" \
    "resolves to a loopback address"
expect DENY 10.77.0.1 "" $V4W
expect DENY localhost "" curl $NAMEW

# ------------------------------------------------------------------ a tunnel on [::1]
# cordond's tunnel listens on IPv6 loopback only: an IPv4 socket cannot reach it, so the hook
# puts an IPv6 socket in its place; IPv6 sockets (IPV6_V6ONLY too) reach it as they are.
KEY=ck_$("$PY" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$KEY" > "$T/agent.key" && chmod 600 "$T/agent.key"
"$CORDON" keygen "$T/sign" >/dev/null
mkdir -p "$T/state"
policy tunnel6 "localhost:$P" "crm.internal:$P"
"$CORDOND" --policy "$FX/tunnel6.json" --agent-key-file "$T/agent.key" --signing-key "$T/sign.key" \
    --state-dir "$T/state" --listen 127.0.0.1:0 --tunnel-listen "[::1]:0" \
    --ready-file "$T/ready6" > "$T/cordond6.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$T/ready6" ] && break; sleep 0.05; done
OUT=$(cat "$T/ready6" 2>/dev/null)
has "cordond's tunnel listens on [::1]" "tunnel=[::1]:"
H6=$(sed -n 's/^http=//p' "$T/ready6")
POL=tunnel6
RUN_OUT=$("$CORDON" run --server "http://$H6" --key "$T/agent.key" --trust "$T/sign.pub" \
    --workspace "$T/ws" -- sh "$T/clients.sh" 2>&1)
expect OK localhost "" $NAMEW
expect OK ::1 "::1" $V6W
expect OK 127.0.0.1 "127.0.0.1" $V4W
for w in curl $NAMEW; do
    line=$(printf '%s\n' "$RUN_OUT" | grep -F "RES $w crm.internal " | head -1)
    case $line in *" OK hello 10.77.0.1"* | *" OK hello fd77::1"*)
        ok "$POL: $w crm.internal reaches the address cordond resolved" ;;
        *) bad "$POL: $w crm.internal reaches the address cordond resolved" "$line" ;; esac
done
expect DENY loop.internal "" curl $NAMEW
AUDIT=$(cat "$T"/state/audit/*.jsonl 2>/dev/null)
audit_has "localhost by its name, through the IPv6 tunnel" tunnel.open "\"host\":\"localhost\""
audit_has "crm.internal by its name, through the IPv6 tunnel" tunnel.open "\"host\":\"crm.internal\""

# ------------------------------------------------------------------ hostile names
policy plain-hostile "localhost:$P"
OUT=$("$CORDON" run --policy "$FX/plain-hostile.json" --workspace "$T/ws" --audit "$V/hostile" -- \
    "$PY" - "$P" <<'PYX' 2>&1
import ctypes, socket, sys
port = int(sys.argv[1])
def gai(name):
    try:
        return socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as e:
        return "gaierror %d %s" % (e.errno, e.strerror)
print("long", gai(b"a" * 300))
print("crlf", gai(b"crm.internal\r\nX-Evil: 1"))
print("space", gai(b"crm internal"))
# what C code sees of a name holding a NUL is the part before it
libc = ctypes.CDLL(None)
libc.gethostbyname.restype = ctypes.POINTER(ctypes.c_char_p)
he = libc.gethostbyname(b"crm.internal\0.evil.test")
print("nul", he[0].decode() if he else "none")
s = socket.create_connection(("localhost", port), 10)
print("localhost before", "ok")
s.close()
# any process of the tree can write the shared map: a name made hostile there is refused
# when the connect hook reads it back, never written into a CONNECT request
import mmap, os
addr = gai("victim.internal")
m = mmap.mmap(int(os.environ["CORDON_DNS_FD"]), 0)
i = m.find(b"victim.internal\0")
m[i + 6:i + 7] = b"\n"
try:
    socket.create_connection((addr, port), 10)
    print("victim connected")
except OSError as e:
    print("victim refused", e.errno)
PYX
)
OUT2=$(CORDON_LOG=once "$CORDON" run --policy "$FX/plain-hostile.json" --workspace "$T/ws" \
    --audit "$V/hostile" -- "$PY" - "$P" <<'PYX' 2>&1
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("localhost", port), 10)
s.close()
ok = 0
err = None
for i in range(10000):
    try:
        socket.getaddrinfo("h%d.test" % i, port, 0, socket.SOCK_STREAM)
        ok += 1
    except socket.gaierror as e:
        err = err or "gaierror %d %s" % (e.errno, e.strerror)
print("bulk ok", ok, "first error:", err)
s = socket.create_connection(("localhost", port), 10)
print("localhost after", "ok")
PYX
)
has "a 300-byte name: no address" "long gaierror $("$PY" -c 'import socket; print(socket.EAI_NONAME)')"
has "a name with CR LF: no address" "crlf gaierror $("$PY" -c 'import socket; print(socket.EAI_NONAME)')"
has "a name with a space: no address" "space gaierror"
has "the line says why (escaped, not raw CR LF)" 'not resolved: a host name may hold only letters'
has "the line on the long name" "longer than 253 characters"
has "a name with a NUL: C sees the part before it" "nul crm.internal"
has "localhost works" "localhost before ok"
has "a name made hostile in the shared map: the connect is refused (EINVAL)" "victim refused 22"
has "and says why" "the name behind this placeholder address is not a host name"
case "$OUT" in *"X-Evil"*$'\r'*|*$'\r'"X-Evil"*) bad "no raw CR reaches a line" "$OUT" ;;
    *) ok "no raw CR reaches a line" ;; esac
OUT=$OUT2
# 4096 slots a tree: localhost took one; the rest go to the first 4095 names
has "10,000 distinct names: the map takes 4095, then refuses" \
    "bulk ok 4095 first error: gaierror $("$PY" -c 'import socket; print(socket.EAI_FAIL)')"
has "the full map says so, and what to do" \
    "the name map of network mode \"proxy\" is full (4096 names in this process tree); start the program again"
n=$(printf '%s\n' "$OUT" | grep -c "is full")
[ "$n" -eq 1 ] && ok "5905 refusals, one line (CORDON_LOG=once)" || bad "one line for a full map" "$n lines"
has "names already mapped still work" "localhost after ok"
AUDIT=$("$CORDON" audit query "$V/hostile" --json 2>&1 | grep -F '"kind":"tunnel.')
case $AUDIT in *X-Evil* | *victim*) bad "nothing hostile reached the tunnel" "$AUDIT" ;;
    *) ok "nothing hostile reached the tunnel" ;; esac
finish
