#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cordon command as a person uses it: keygen, sign, verify (and every way verification
# must fail), policy check, explain, help and exit codes.
CORDON=$1
SRC=$2
. "$SRC/tests/integration/lib.sh"
EX=$SRC/examples/policies
cd "$T"

# --- help and usage
run "help exits 0" 0 "$CORDON" help
has "help lists sign" "sign"
for c in keygen sign verify explain "policy check"; do
    # shellcheck disable=SC2086
    run "$c --help exits 0" 0 "$CORDON" $c --help
    has "$c --help shows usage" "usage: cordon $c"
done
run "unknown command is a usage error" 2 "$CORDON" frobnicate
has "unknown command is named" 'unknown command "frobnicate"'
run "version" 0 "$CORDON" version
has "version prints a number" "cordon 0."
run "sign without --key is a usage error" 2 "$CORDON" sign "$EX/default.json"
run "verify without --trust is a usage error" 2 "$CORDON" verify x.json
run "check of a missing file is exit 2" 2 "$CORDON" policy check nope.json
has "missing file is named" "cannot read nope.json"

# --- keys
run "keygen" 0 "$CORDON" keygen "$T/k"
mode=$(stat -c %a "$T/k.key")
[ "$mode" = 600 ] && ok "private key is mode 0600" || bad "private key is mode 0600" "mode $mode"
run "keygen refuses to overwrite" 2 "$CORDON" keygen "$T/k"
"$CORDON" keygen "$T/other" >/dev/null

# --- the deployment CA: key 0600, a CA certificate openssl reads, never overwritten
run "keygen --ca" 0 "$CORDON" keygen --ca "$T/tls"
has "keygen --ca names both files" "tls.ca.key (private, mode 0600) and $T/tls.ca.pem"
mode=$(stat -c %a "$T/tls.ca.key")
[ "$mode" = 600 ] && ok "CA key is mode 0600" || bad "CA key is mode 0600" "mode $mode"
if openssl x509 -in "$T/tls.ca.pem" -noout -text 2>/dev/null | grep -q "CA:TRUE, pathlen:0"; then
    ok "the CA certificate is a CA of path length 0"
else
    bad "the CA certificate is a CA of path length 0" "$(openssl x509 -in "$T/tls.ca.pem" -noout -text 2>&1 | head -5)"
fi
run "keygen --ca refuses to overwrite" 2 "$CORDON" keygen --ca "$T/tls"
has "the refusal names the file" "tls.ca.key already exists"
run "keygen --permit without --ca" 2 "$CORDON" keygen --permit corp.example "$T/x"
run "keygen --ca --permit a wildcard" 2 "$CORDON" keygen --ca --permit "*.corp.example" "$T/w"
has "the wildcard is refused with its fix" "write corp.example"
run "keygen --ca --permit --days" 0 "$CORDON" keygen --ca --permit corp.example --days 30 "$T/nc"

# --- policy check
run "examples are valid" 0 "$CORDON" policy check "$EX"/*.json
cat > bad.json <<'J'
{"cordon_policy": 1, "agent": "x", "sandbox": {"network": {"mode": "proxi"}}, "api": {"modles": []}}
J
run "bad policy exits 1" 1 "$CORDON" policy check bad.json
has "error names the path and the value" 'sandbox.network.mode: expected one of none|proxy|host, got "proxi"'
has "every error is listed" 'api.modles: unknown key; did you mean "models"?'
has "the count is given" "2 errors"
run "check --json" 1 "$CORDON" policy check --json bad.json
has "json carries paths" '"path":	"sandbox.network.mode"'

# run from $TMPDIR: ${tmp} and the default workspace meet, and the policy is still valid
(cd "${TMPDIR:-/tmp}" && "$CORDON" policy check "$EX/default.json" >/dev/null) \
    && ok "policy valid when run from the tmp directory" \
    || bad "policy valid when run from the tmp directory" "$(cd /tmp && "$CORDON" policy check "$EX/default.json" 2>&1)"
head -c 1048577 /dev/zero | tr '\0' ' ' > big.json
run "an oversized policy is invalid (exit 1)" 1 "$CORDON" policy check big.json
has "the limit is named exactly" "larger than 1048576 bytes"

# --- sign and verify
"$CORDON" sign --key "$T/k.key" --version 7 --expires 1h "$EX/claims-agent.json" >env.json 2>sign.err
[ $? -eq 0 ] && ok "sign" || bad "sign" "$(cat sign.err)"
run "verify a good envelope" 0 "$CORDON" verify --trust "$T/k.pub" env.json
has "verify prints the payload" '"agent":	"claims-agent"'
has "verify prints the version" "version 7"
run "verify --json" 0 "$CORDON" verify --json --trust "$T/k.pub" env.json
has "json says valid" '"valid":	true'
run "wrong key is refused" 1 "$CORDON" verify --trust "$T/other.pub" env.json
has "wrong key is explained" "trusted"
run "sign refuses an invalid policy" 1 "$CORDON" sign --key "$T/k.key" bad.json
has "sign says nothing was signed" "nothing was signed"
chmod 644 "$T/k.key"
run "sign refuses a world-readable key" 2 "$CORDON" sign --key "$T/k.key" "$EX/default.json"
has "says how to fix the mode" "chmod 600"
chmod 600 "$T/k.key"
run "bad duration" 2 "$CORDON" sign --key "$T/k.key" --expires 3x "$EX/default.json"

# tamper: change one character of the payload (base64) and of the signature
python3 - env.json <<'P'
import json, sys, base64
e = json.load(open(sys.argv[1]))
p = bytearray(base64.b64decode(e["payload"]))
i = p.index(b"claims-agent")
p[i] ^= 1
t = dict(e, payload=base64.b64encode(bytes(p)).decode())
json.dump(t, open("tampered-payload.json", "w"))
s = bytearray(base64.b64decode(e["signatures"][0]["sig"])); s[5] ^= 0x40
t = dict(e, signatures=[dict(e["signatures"][0], sig=base64.b64encode(bytes(s)).decode())])
json.dump(t, open("tampered-sig.json", "w"))
json.dump(dict(e, payloadType="application/json"), open("wrong-type.json", "w"))
json.dump(dict(e, signatures=[]), open("unsigned.json", "w"))
P
run "tampered payload is refused" 1 "$CORDON" verify --trust "$T/k.pub" tampered-payload.json
run "tampered signature is refused" 1 "$CORDON" verify --trust "$T/k.pub" tampered-sig.json
run "wrong payloadType is refused" 1 "$CORDON" verify --trust "$T/k.pub" wrong-type.json
has "payloadType is named" "payloadType"
run "unsigned envelope is refused" 1 "$CORDON" verify --trust "$T/k.pub" unsigned.json
run "a plain policy is not an envelope" 1 "$CORDON" verify --trust "$T/k.pub" "$EX/default.json"

"$CORDON" sign --key "$T/k.key" --expires 1s "$EX/default.json" >short.json 2>/dev/null
sleep 2
run "expired envelope is refused" 1 "$CORDON" verify --trust "$T/k.pub" short.json
has "expiry is explained" "expired"

# --- explain
mkdir -p "$HOME/.ssh" ws
run "explain" 0 "$CORDON" explain --workspace ws "$EX/claims-agent.json"
has "explain shows the resolved home" "$HOME/.ssh"
has "explain marks the credential set" "[credentials]"
has "explain resolves the workspace" "$T/ws"
has "explain expands the exec deny" "/usr/bin/rm"
run "explain --json" 0 "$CORDON" explain --json "$EX/default.json"
has "json has the digest" '"digest":'
run "explain an envelope" 0 "$CORDON" explain --trust "$T/k.pub" env.json
has "envelope stamp shown" "version   7"
run "explain a tampered envelope" 1 "$CORDON" explain --trust "$T/k.pub" tampered-sig.json
run "explain of a missing workspace is exit 2" 2 "$CORDON" explain --workspace "$T/none" "$EX/default.json"

run "explain shows the host secret set" 0 "$CORDON" explain --workspace ws "$EX/default.json"
has "explain marks the host secret set" "[host]"
has "explain lists /etc/cordon" "/etc/cordon"
has "explain says the host secret set cannot be switched off" "host secret set: on"

# --- a policy file the sandbox could rewrite
cp "$EX/default.json" "$T/ws/policy.json"
run "exec refuses a policy file inside its own read_write grant" 125 "$CORDON" exec \
    --policy "$T/ws/policy.json" --workspace "$T/ws" -- true
has "the refusal names the grant and why" 'could rewrite the policy that governs its next run'
mkdir -p "$FX/ws"
cp "$EX/default.json" "$FX/policy.json"
run "control: the same policy outside the grants runs" 0 "$CORDON" exec --policy "$FX/policy.json" \
    --workspace "$T/ws" -- true

# --- the admin commands: the admin socket by default, --server unix:/PATH or http://
for c in "agent add" "agent revoke" "agent list" "policy push" "policy reload"; do
    # shellcheck disable=SC2086
    run "$c --help exits 0" 0 "$CORDON" $c --help
    has "$c --help names the default admin socket" "unix:/run/cordond/admin.sock"
done
has "help says sandboxed clients are refused" "refuses these requests from a sandboxed process"
head -c 32 /dev/urandom | base64 > "$T/admin.token"; chmod 600 "$T/admin.token"
run "--server with another scheme is a usage error" 2 "$CORDON" agent list \
    --admin-token "$T/admin.token" --server ftp://127.0.0.1:1
has "it says which forms are accepted" "expected unix:/PATH (cordond's admin_listen) or http://HOST:PORT"
run "an admin socket that is not there: usage exit, with what to check" 2 "$CORDON" agent list \
    --admin-token "$T/admin.token" --server "unix:$T/no-such.sock"
has "it names the socket and admin_listen" "cannot reach cordond at unix:$T/no-such.sock"
ln -s "$T/admin.token" "$T/token-link"
run "the token is not read through a symlink" 2 "$CORDON" agent list --admin-token "$T/token-link" \
    --server "unix:$T/no-such.sock"

[ ! -e "$HOME/.ssh/id_rsa" ] || bad "nothing touched HOME" ""
finish
