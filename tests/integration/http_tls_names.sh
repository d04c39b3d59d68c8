#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A judged HTTPS host by name, as the issue's example writes it: crm.internal, resolved by the
# shim's placeholder DNS and by cordond from a private /etc/hosts, served on 10.77.0.1 by an
# origin whose certificate a test CA issued for that name. Under the embedded default
# (`cordon run --policy --origin-ca`), with the CA bundle the shim exports and no client
# option: curl, python3 requests, node fetch and git clone over HTTPS are judged by method and
# path inside the TLS that cordond terminates. Runs in a private network and mount namespace.
#   http_tls_names.sh CORDON CORDOND SOURCE_DIR
. "$(dirname "$0")/netns.sh"
netns_enter "$0" "$@"
CORDON=$(realpath "$1")
CORDOND=$(realpath "$2")
SRC=$(realpath "$3")
. "$SRC/tests/integration/lib.sh"
PY=/usr/bin/python3
PIDS=()
V=$(mktemp -d /var/tmp/cordon-it-XXXXXX) # audit log: outside every grant (${tmp} is /tmp)
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T" "$V" "$FX"; }
trap cleanup EXIT
unset CORDON_SERVER CORDON_KEY CORDON_TRUST CORDON_POLICY CORDON_PROFILE XDG_STATE_HOME
mkdir -p "$HOME/.ssh" "$T/site" "$T/ws"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
cd "$T"

# crm.internal on an address of its own (a name that resolves to loopback is refused: the
# tunnel reaches loopback only through a literal or localhost, docs/SECURITY.md)
ip link set lo up
ip addr add 10.77.0.1/32 dev lo
printf '127.0.0.1 localhost\n::1 localhost\n10.77.0.1 crm.internal\n' > "$T/hosts"
hosts_mount "$T/hosts" || { bad "the private /etc/hosts is in place"; finish; exit 1; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
    -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=crm.internal \
    -keyout origin.key -out origin.csr >/dev/null 2>&1
printf 'subjectAltName=DNS:crm.internal\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in origin.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out origin.pem >/dev/null 2>&1
[ -s origin.pem ] && ok "a certificate for crm.internal from the test CA" ||
    bad "a certificate for crm.internal from the test CA"
cp ca.pem "$FX/ca.pem"

git init -q --bare "$T/site/repo.git"
git -C "$T/site/repo.git" symbolic-ref HEAD refs/heads/main
(git clone -q "$T/site/repo.git" src 2>/dev/null && cd src && echo claims > README &&
    git add README && git -c user.name=t -c user.email=t@t.invalid commit -q -m one &&
    git push -q origin HEAD:main) >/dev/null 2>&1
git -C "$T/site/repo.git" update-server-info
echo "all customer records" > "$T/site/export.csv"
NET_ORIGIN_TLS="$T/origin.pem:$T/origin.key" "$PY" "$SRC/tests/support/net_origin.py" \
    "$T/port" "$T/site" 10.77.0.1 & PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
P=$(cat "$T/port" 2>/dev/null)
[ -n "$P" ] || { bad "the origin started"; finish; exit 1; }
OUT=$(curl -sS --cacert ca.pem "https://crm.internal:$P/" 2>&1)
has "control: outside the sandbox the origin answers for crm.internal" "hello 10.77.0.1"

cat > "$FX/policy.json" <<JSON
{"cordon_policy": 1, "agent": "crm-agent",
 "sandbox": {"enforcement": "best_effort",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "network": {"mode": "proxy", "allow": ["crm.internal:$P"],
     "http": [{"host": "crm.internal:$P", "tls": "terminate",
               "rules": [{"method": ["GET", "HEAD"], "path": "/repo.git/*", "action": "allow"},
                         {"method": "GET", "path": "/", "action": "allow"},
                         {"path": "/export*", "action": "deny"}],
               "default": "deny"}]}}}
JSON
E=("$CORDON" run --policy "$FX/policy.json" --origin-ca "$FX/ca.pem" --audit "$V/audit"
   --workspace "$T/ws")
U="https://crm.internal:$P"
run "curl by name: allowed, then refused, no CA option" 0 "${E[@]}" -- curl -sS -w '[%{http_code}]\n' \
    "$U/" "$U/export.csv"
has "curl: the origin answered by name" "hello 10.77.0.1"
has "curl: the export refused" "[403]"
case "$OUT" in *"all customer records"*) bad "the refused file never left the origin" "$OUT" ;;
               *) ok "the refused file never left the origin" ;; esac
run "python3 requests by name" 0 "${E[@]}" -- "$PY" -c "
import requests
a = requests.get('$U/'); b = requests.get('$U/export.csv')
print(a.status_code, a.text.strip(), b.status_code, b.headers.get('X-Cordon-Rule'))"
has "python3 requests: 200 and 403 with the rule" "200 hello 10.77.0.1 403 sandbox.network.http[0].rules[2]"
if command -v node >/dev/null; then
    run "node fetch by name" 0 "${E[@]}" -- node -e "
(async () => { const a = await fetch('$U/'); const b = await fetch('$U/export.csv');
  console.log(a.status, b.status); })()"
    has "node fetch: 200 then 403" "200 403"
fi
run "git clone over HTTPS through the terminating tunnel" 0 "${E[@]}" -- git clone -q "$U/repo.git" \
    "$T/ws/clone"
[ "$(cat "$T/ws/clone/README" 2>/dev/null)" = claims ] && ok "git clone: the repository arrived" ||
    bad "git clone: the repository arrived" "$OUT"
OUT=$(cat "$V"/audit/*.jsonl 2>/dev/null | grep '"kind":"http.request"')
has "audit: requests recorded under the name" '"host":"crm.internal"'
has "audit: git's requests allowed by the repository rule" '"rule":"sandbox.network.http[0].rules[0]"'
has "audit: the export refused" '"path":"/export.csv"'
finish
