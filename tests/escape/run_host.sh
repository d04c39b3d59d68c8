#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The host secrets escape cases (issue 10, items 1, 5, 6, 7 and 12): what a governed agent
# could reach of cordond and of the runs before it.
#
#   - the fleet takeover, in the layout the README prescribes: keys and admin.token in
#     /etc/cordon, cordond from the shipped example config (ports and ready_file adapted),
#     `cordon agent add`, a root agent under `cordon run --server`. The static probe's raw
#     reads of the keys, the token and cordond's state are refused by the kernel (an outside
#     control reads each); handed the token, the agent's admin requests (unix socket, TCP
#     admin_listen, the agents' listener) are refused, with outside controls that succeed,
#     and the served policy stays what it was;
#   - an --audit directory judged through a symlink, a planted ~/.local/state/cordon and "//";
#   - an earlier run's audit log, with HOME read-only, at the default location and at --audit;
#   - a policy file inside a read_write grant;
#   - every credential path planted in the fake HOME, read raw with cwd = HOME read-only.
#
#   usage: run_host.sh CORDON CORDOND PROBES_DIR SOURCE_DIR
#
# Root, in a private mount namespace of its own (it re-executes itself under
# `unshare -m --propagation private`): /etc, /var/lib and /run get an overlay whose upper
# layer is a tmpfs, so /etc/cordon, /var/lib/cordond and /run/cordond exist only for this run
# and the machine's own are never touched; parallel runs do not see each other's. Traffic
# stays on loopback. Under CI=true nothing is skipped.
# shellcheck source-path=SCRIPTDIR disable=SC2016
if [ $# -ne 4 ]; then
    echo "usage: run_host.sh CORDON CORDOND PROBES_DIR SOURCE_DIR" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "run_host.sh: must run as root (a private mount namespace, a root agent)" >&2
    exit 1
fi
if [ -z "${CORDON_HOST_NS:-}" ]; then
    export CORDON_HOST_NS=1
    exec unshare -m --propagation private bash "$0" "$@"
fi
CORDON=$(realpath "$1")
CORDOND=$(realpath "$2")
PROBES=$(realpath "$3")
SRC=$(realpath "$4")
HERE=$(dirname "$(realpath "$0")")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

P=$PROBES/escape_probe
PY=/usr/bin/python3
FS='errno=(EACCES|EPERM)'
for f in "$P" "$PROBES/canary_watch"; do
    [ -x "$f" ] || die "$f is missing: build the tree first (tools/build.sh)"
done
command -v curl >/dev/null || die "curl is needed (the admin requests)"

# ---------------------------------------------------------------- a private /etc, /var/lib, /run
# The overlays vanish with this namespace; the tmpfs under RUN must be unmounted before
# lib.sh's cleanup removes RUN.
OV=$RUN/overlay
host_cleanup() {
    for d in /run /var/lib /etc; do
        umount -l "$d" 2>/dev/null
    done
    umount -l "$OV" 2>/dev/null
    cleanup
}
trap host_cleanup EXIT
mkdir -p "$OV"
mount -t tmpfs -o mode=0755 tmpfs "$OV" || die "cannot mount a tmpfs in the private namespace"
for d in /etc /var/lib /run; do
    n=$OV/$(echo "$d" | tr / _)
    mkdir -p "$n/up" "$n/work"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$n/up,workdir=$n/work" "$d" ||
        die "cannot put an overlay on $d"
done
for d in /etc/cordon /var/lib/cordond /run/cordond; do
    [ ! -e "$d" ] || die "$d exists inside the private namespace; refusing to use it"
done

make_tree
make_policies
set_state_paths
rebaseline

# governed CWD CMD...: CMD (a cordon command line) in CWD with the clean environment of
# lib.sh's attacks and the canary watcher around it; sets A_RC, A_OUT, A_EVENTS, A_CHANGED.
A_ENV=()
governed() {
    local cwd=$1
    shift
    watch_start
    (
        cd "$cwd" || exit 99
        exec env -i HOME="${A_HOME:-$H}" PATH=/usr/bin:/bin TMPDIR="$TMPD" LC_ALL=C.UTF-8 \
            TERM=dumb "$SAN_ENV" "${A_ENV[@]}" timeout -k 5 90 "$@"
    ) >"$OUTD/stdout" 2>"$OUTD/stderr" </dev/null
    A_RC=$?
    watch_stop
    A_OUT=$(cat "$OUTD/stdout" "$OUTD/stderr")
    compare_state
    W_EXTRA=()
    A_HOME=
    A_ENV=()
}

# refused NAME MARKER REGEX: cordon refused before the command ran: exit 125, the output says
# why (REGEX), and MARKER (a file the command would have made) does not exist.
refused() {
    local name=$1 marker=$2 re=$3
    WHY=()
    [ "$A_RC" -eq 125 ] || WHY+=("expected exit 125 (refused before the command ran)")
    matches "$A_OUT" "$re" || WHY+=("expected output matching /$re/")
    [ ! -e "$marker" ] || WHY+=("the command ran: $marker exists")
    rm -f "$marker"
    report "$name"
}

# control NAME REGEX CMD...: outside every sandbox CMD succeeds with output matching REGEX.
control() {
    local name=$1 re=$2
    shift 2
    A_OUT=$("$@" 2>&1)
    A_RC=$?
    WHY=()
    [ "$A_RC" -eq 0 ] || WHY+=("the control failed outside the sandbox: the attack proves nothing")
    matches "$A_OUT" "$re" || WHY+=("expected output matching /$re/")
    report "$name"
}

# ================================================================ 1. the fleet takeover
echo "# the fleet takeover, in the README's layout (private /etc/cordon, /var/lib/cordond, /run/cordond)"
# The README's steps, one by one.
mkdir -p /etc/cordon/policies
cp "$SRC/examples/policies/claims-agent.json" /etc/cordon/policies/
"$CORDON" keygen /etc/cordon/policy >/dev/null || die "cordon keygen /etc/cordon/policy"
"$CORDON" keygen /etc/cordon/audit >/dev/null || die "cordon keygen /etc/cordon/audit"
head -c 32 /dev/urandom | base64 >/etc/cordon/admin.token && chmod 600 /etc/cordon/admin.token
# claims-agent with the probes' directory executable (the escape suite's own addition), and
# an agent whose policy lets everything through that a sandbox can: host network, unix
# sockets open. What stops its admin requests must then be cordond's peer check alone.
"$PY" - "$PROBES" /etc/cordon/policies/claims-agent.json <<'PYEOF'
import json, sys
probes, path = sys.argv[1], sys.argv[2]
p = json.load(open(path))
p["sandbox"]["exec"]["allow"] = ["*", probes]
json.dump(p, open(path, "w"), indent=2)
p["agent"] = "open-agent"
p["sandbox"]["network"] = {"mode": "host"}
p["sandbox"]["ipc"]["unix_sockets"] = "open"
json.dump(p, open(path.replace("claims-agent", "open-agent"), "w"), indent=2)
PYEOF
# the shipped config, adapted only in its ports (0: the kernel chooses) and the ready file
# that says which it chose
sed -e 's/^listen 127.0.0.1:7071$/listen 127.0.0.1:0/' \
    -e 's/^tunnel_listen 127.0.0.1:7072$/tunnel_listen 127.0.0.1:0/' \
    -e 's|^#ready_file /run/cordond/ready$|ready_file /run/cordond/ready|' \
    "$SRC/examples/cordond.conf" >"$OUTD/cordond.conf"
grep -qx 'listen 127.0.0.1:0' "$OUTD/cordond.conf" && grep -qx 'ready_file /run/cordond/ready' \
    "$OUTD/cordond.conf" || die "examples/cordond.conf changed: adapt the ports here"
grep -qx 'admin_listen unix:/run/cordond/admin.sock' "$OUTD/cordond.conf" ||
    die "examples/cordond.conf does not put the admin API on /run/cordond/admin.sock"

start_cordond() { # extra flags...
    rm -f /run/cordond/ready
    "$CORDOND" --config "$OUTD/cordond.conf" "$@" >>"$OUTD/cordond.log" 2>&1 &
    CD_PID=$!
    BG_PIDS+=("$CD_PID")
    wait_for /run/cordond/ready '^tunnel=' || die "cordond did not start: $(tail -5 "$OUTD/cordond.log")"
    HTTP=$(sed -n 's/^http=//p' /run/cordond/ready)
    ADMIN=$(sed -n 's/^admin=//p' /run/cordond/ready)
}
stop_cordond() {
    kill -TERM "$CD_PID" 2>/dev/null
    wait "$CD_PID" 2>/dev/null
}
start_cordond
[ "$ADMIN" = unix:/run/cordond/admin.sock ] || die "the admin socket is not where the README says: $ADMIN"
export CORDON_ADMIN_TOKEN_FILE=/etc/cordon/admin.token
KEY=$("$CORDON" agent add --agent claims-agent 2>"$OUTD/agent.err") ||
    die "cordon agent add (default admin socket) failed: $(cat "$OUTD/agent.err")"
OKEY=$("$CORDON" agent add --agent open-agent 2>"$OUTD/agent.err") ||
    die "cordon agent add open-agent failed: $(cat "$OUTD/agent.err")"
[ "$(stat -c %a /run/cordond)" = 700 ] && [ "$(stat -c %a /run/cordond/admin.sock)" = 600 ] &&
    ok admin_socket_directory_0700_socket_0600 ||
    bad admin_socket_directory_0700_socket_0600 "$(stat -c '%n %a' /run/cordond /run/cordond/admin.sock)"
SECRETS+=("$(cat /etc/cordon/admin.token)")

# the served envelope, as the agent fetches it
served() { curl -s -H "Authorization: Bearer $1" "http://$HTTP/v1/policy" | sha256sum | cut -c1-64; }
SERVED_BEFORE=$(served "$KEY")
POLDIR_BEFORE=$(cat /etc/cordon/policies/*.json | sha256sum)

RUN_SERVER=("$CORDON" run --server "http://$HTTP" --key "$KEY" --trust /etc/cordon/policy.pub
    --workspace "$WS")
RUN_OPEN=("$CORDON" run --server "http://$HTTP" --key "$OKEY" --trust /etc/cordon/policy.pub
    --workspace "$WS")

# Raw reads from the root agent, with cwd = / read-only: everything is granted but what the
# policy denies, and cordond's files are denied whatever the policy says.
for f in /etc/cordon/admin.token /etc/cordon/policy.key /etc/cordon/audit.key \
    /var/lib/cordond/agents /var/lib/cordond/server.secret; do
    n=$(basename "$f" | tr . _)
    control "takeover_${n}_control_outside" 'SUCCEEDED' "$P" read "$f"
    W_EXTRA=("F:$f")
    governed / "${RUN_SERVER[@]}" -- sh -c "$P read $f"
    denied "takeover_read_${n}_as_root_agent" "$FS"
done
# the admin socket's directory, through its name
W_EXTRA=()
governed / "${RUN_SERVER[@]}" -- sh -c "$P read /run/cordond/ready"
denied takeover_read_run_cordond_ready "$FS"

# Handed the token (planted in its workspace), the agent tries the push of the report: its
# own policy with "/" readable, the credential set off and the network open.
cp /etc/cordon/admin.token "$WS/admin.token"
"$PY" - "$WS/push.json" <<'PYEOF'
import json, sys
evil = {"cordon_policy": 1, "agent": "claims-agent",
        "sandbox": {"filesystem": {"read_only": ["/"], "deny_credentials": False},
                    "network": {"mode": "host"}}}
json.dump({"files": [{"name": "claims-agent.json", "content": json.dumps(evil)}]},
          open(sys.argv[1], "w"))
PYEOF
PUSH_UNIX='curl -s -o "$0/out" -w "%{http_code}\n" --unix-socket /run/cordond/admin.sock -H "Authorization: Bearer $(cat "$0/admin.token")" -H "Content-Type: application/json" --data-binary @"$0/push.json" http://cordond/v1/admin/policies; cat "$0/out"'
governed "$WS" "${RUN_OPEN[@]}" -- sh -c "$PUSH_UNIX" "$WS"
WHY=()
matches "$A_OUT" '^403$' || WHY+=("expected HTTP 403 from the admin socket")
matches "$A_OUT" 'cordon.admin_from_sandbox' || WHY+=("expected the admin_from_sandbox refusal")
[ "$A_RC" -eq 0 ] || WHY+=("curl itself failed (exit $A_RC): the socket was not reached")
report takeover_push_over_admin_socket_refused_by_peer_check
# from the agents' own listener (the README's old admin address): not served there at all
PUSH_TCP='curl -s -o "$0/out" -w "%{http_code}\n" -H "Authorization: Bearer $(cat "$0/admin.token")" -H "Content-Type: application/json" --data-binary @"$0/push.json" "$1/v1/admin/policies"; cat "$0/out"'
governed "$WS" "${RUN_SERVER[@]}" -- sh -c "$PUSH_TCP" "$WS" "http://$HTTP"
WHY=()
matches "$A_OUT" '^404$' || WHY+=("expected 404 on the agents' listener")
matches "$A_OUT" 'admin_listen' || WHY+=("expected the answer to name admin_listen")
report takeover_push_over_agents_listener_not_served
[ "$(served "$KEY")" = "$SERVED_BEFORE" ] && [ "$(cat /etc/cordon/policies/*.json | sha256sum)" = "$POLDIR_BEFORE" ] &&
    ok takeover_served_policy_unchanged ||
    bad takeover_served_policy_unchanged "the served envelope or the policies directory changed"
grep '"kind":"admin.refused"' /var/lib/cordond/audit/audit.jsonl | grep -q '"verdict":"governed"' &&
    ok takeover_refusal_audited || bad takeover_refusal_audited "no admin.refused record"
# the outside control: the same request from the administrator's shell is answered
control takeover_push_control_outside '^200' sh -c "$PUSH_UNIX" "$WS"

# The same over a TCP admin_listen.
stop_cordond
start_cordond --admin-listen 127.0.0.1:0
case "$ADMIN" in 127.0.0.1:*) ;; *) die "cordond did not listen for admin on TCP: $ADMIN" ;; esac
RUN_OPEN=("$CORDON" run --server "http://$HTTP" --key "$OKEY" --trust /etc/cordon/policy.pub
    --workspace "$WS")
ATCP='curl -s -o "$0/out" -w "%{http_code}\n" -H "Authorization: Bearer $(cat "$0/admin.token")" "$1/v1/admin/agents"; cat "$0/out"'
governed "$WS" "${RUN_OPEN[@]}" -- sh -c "$ATCP" "$WS" "http://$ADMIN"
WHY=()
matches "$A_OUT" '^403$' || WHY+=("expected HTTP 403 from the TCP admin listener")
matches "$A_OUT" 'cordon.admin_from_sandbox' || WHY+=("expected the admin_from_sandbox refusal")
report takeover_tcp_admin_listen_refused_by_peer_check
control takeover_tcp_admin_control_outside '^200' sh -c "$ATCP" "$WS" "http://$ADMIN"
stop_cordond
rm -f "$WS/admin.token" "$WS/push.json" "$WS/out"
rebaseline

# ================================================================ 5. --audit judged as resolved
echo "# the audit directory of cordon run, judged as the kernel will see it"
cp "$POL/fs.json" "$OUTD/plain.json"
RUNP=("$CORDON" run --policy "$OUTD/plain.json" --workspace "$WS")
# a symlink outside the grants that leads into the workspace
ln -s "$WS/t" "$OUTD/alink"
governed "$PROJ" "${RUNP[@]}" --audit "$OUTD/alink/audit" -- sh -c 'touch "$0/ran"' "$WS"
refused audit_through_symlink_into_workspace "$WS/ran" 'resolves to .*/ws/t/audit.*read_write grant \$\{workspace\}'
[ ! -e "$WS/t" ] && ok audit_through_symlink_nothing_created || bad audit_through_symlink_nothing_created "$WS/t was made"
# a ~/.local/state/cordon planted by an earlier run, pointing into the workspace
H5=$OUTD/home5
mkdir -p "$H5/.local/state"
ln -s "$WS/t2" "$H5/.local/state/cordon"
A_HOME=$H5
governed "$PROJ" "${RUNP[@]}" -- sh -c 'touch "$0/ran"' "$WS"
refused audit_default_through_planted_symlink "$WS/ran" 'default audit directory .*/home5/.local/state/cordon/audit, which resolves to .*/ws/t2/audit,'
# a doubled slash in front of a directory ${tmp} grants
governed "$PROJ" "${RUNP[@]}" --audit "/$TMPD/x" -- sh -c 'touch "$0/ran"' "$WS"
refused audit_doubled_slash_into_tmp "$WS/ran" 'read_write grant \$\{tmp\}'
governed "$PROJ" "${RUNP[@]}" --audit "$TMPD/x" -- sh -c 'touch "$0/ran"' "$WS"
refused audit_plain_tmp_path_refused_too "$WS/ran" 'read_write grant \$\{tmp\}'
# control: a directory outside every grant works
governed "$PROJ" "${RUNP[@]}" --audit "$OUTD/audit5" -- sh -c 'touch "$0/ran"' "$WS"
WHY=()
[ "$A_RC" -eq 0 ] || WHY+=("a safe --audit was refused (exit $A_RC)")
[ -e "$WS/ran" ] || WHY+=("the command did not run")
[ -s "$OUTD/audit5/audit.jsonl" ] || WHY+=("no audit log in the safe directory")
report audit_outside_grants_control
rm -f "$WS/ran"
rebaseline

# ================================================================ 6. earlier runs' logs
echo "# an earlier run's audit log, with HOME read-only (cwd = HOME)"
H6=$OUTD/home6
mkdir -p "$H6"
A_HOME=$H6
governed "$H6" "${RUNP[@]}" -- true
LOG6=$H6/.local/state/cordon/audit/audit.jsonl
[ "$A_RC" -eq 0 ] && [ -s "$LOG6" ] || die "the first run left no log at the default location: $A_OUT"
control earlier_log_default_control_outside 'SUCCEEDED' "$P" read "$LOG6"
# the second run writes elsewhere, so the watcher sees only what the agent does to the first log
A_HOME=$H6
W_EXTRA=("F:$LOG6")
governed "$H6" "${RUNP[@]}" --audit "$OUTD/audit6b" -- sh -c "$P read $LOG6"
denied earlier_log_at_default_location_unreadable "$FS"
# a log at --audit DIR inside the read-only HOME: the next run with that --audit cannot read it
A_HOME=$H6
governed "$H6" "${RUNP[@]}" --audit "$H6/audits" -- true
[ "$A_RC" -eq 0 ] && [ -s "$H6/audits/audit.jsonl" ] || die "no log in $H6/audits: $A_OUT"
control earlier_log_audit_dir_control_outside 'SUCCEEDED' "$P" read "$H6/audits/audit.jsonl"
A_HOME=$H6
governed "$H6" "${RUNP[@]}" --audit "$H6/audits" -- sh -c "$P read $H6/audits/audit.jsonl; $P append $H6/audits/audit.jsonl"
denied earlier_log_at_audit_dir_unreadable_and_unwritable "$FS"
matches "$A_OUT" 'SUCCEEDED' && bad earlier_log_at_audit_dir_no_access "$A_OUT" ||
    ok earlier_log_at_audit_dir_no_access
run_verify=$("$CORDON" audit verify "$H6/audits" 2>&1)
matches "$run_verify" 'VALID' && ok earlier_log_still_verifies || bad earlier_log_still_verifies "$run_verify"
rebaseline

# ================================================================ 7. a policy file the sandbox could write
echo "# a policy file inside a read_write grant"
cp "$POL/fs.json" "$WS/policy.json"
governed "$PROJ" "$CORDON" run --policy "$WS/policy.json" --workspace "$WS" -- sh -c 'touch "$0/ran"' "$WS"
refused policy_in_workspace_refused_by_cordon_run "$WS/ran" 'policy file .* lies inside the agent.s read_write grant \$\{workspace\}'
ln -s "$WS/policy.json" "$OUTD/plink.json"
governed "$PROJ" "$CORDON" run --policy "$OUTD/plink.json" --workspace "$WS" -- sh -c 'touch "$0/ran"' "$WS"
refused policy_symlinked_into_workspace_refused "$WS/ran" 'which resolves to .*/ws/policy.json'
"$CORDON" keygen "$OUTD/k" >/dev/null
"$CORDON" sign --key "$OUTD/k.key" "$WS/policy.json" >"$WS/policy.env" 2>/dev/null
governed "$PROJ" "$CORDON" run --policy "$WS/policy.env" --trust "$OUTD/k.pub" --workspace "$WS" -- sh -c 'touch "$0/ran"' "$WS"
refused signed_policy_in_workspace_refused "$WS/ran" 'policy file .* lies inside'
governed "$PROJ" "$CORDON" exec --policy "$WS/policy.json" --workspace "$WS" -- sh -c 'touch "$0/ran"' "$WS"
refused policy_in_workspace_refused_by_cordon_exec "$WS/ran" 'policy file .* lies inside'
# control: the same policy outside every grant runs
cp "$WS/policy.json" "$OUTD/policy.json"
governed "$PROJ" "$CORDON" run --policy "$OUTD/policy.json" --workspace "$WS" --audit "$OUTD/audit7" -- sh -c 'touch "$0/ran"' "$WS"
WHY=()
[ "$A_RC" -eq 0 ] && [ -e "$WS/ran" ] || WHY+=("the policy outside the grants did not run (exit $A_RC)")
report policy_outside_grants_control
rm -f "$WS/ran" "$WS/policy.json" "$WS/policy.env"
rebaseline

# ================================================================ 12. the credential deny set
echo "# every credential path, planted in HOME, read raw with cwd = HOME read-only"
CREDS=$("$CORDON" explain --json "$POL/none.json" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
for p in d["sandbox"]["filesystem"]["deny"]:
    if p["origin"] == "credentials":
        print(p["as_written"])')
for must in '~/.pgpass' '~/.bash_history' '~/.my.cnf' '~/.local/share/keyrings' '~/.mozilla' \
    '~/.cargo/credentials.toml' '~/.docker'; do
    printf '%s\n' "$CREDS" | grep -qxF -- "$must" && ok "credential_set_has_${must#\~/}" ||
        bad "credential_set_has_${must#\~/}" "not in the set: $must"
done
# plant each: a file where the entry names a file, a file inside where it names a directory
PLANTED=()
while read -r raw; do
    [ -n "$raw" ] || continue
    p=$H/${raw#\~/}
    case "$(basename "$p")" in
    *history* | *rc | *rc.yml | *.json | *.toml | *.xml | *.cnf | credentials | token | .pgpass | \
        .netrc | .wget-hsts | .lesshst | .viminfo | .histfile | .s3cfg | .boto | .vault-token | \
        .git-credentials)
        f=$p ;;
    *) f=$p/cordon-canary ;;
    esac
    [ -d "$p" ] && f=$p/cordon-canary
    mkdir -p "$(dirname "$f")"
    t=$(token)
    printf 'cordon-canary-cred-%s\n' "$t" >"$f"
    SECRETS+=("$t")
    PLANTED+=("$f")
done <<<"$CREDS"
[ "${#PLANTED[@]}" -ge 70 ] && ok "credential_set_planted_${#PLANTED[@]}" ||
    bad credential_set_planted "only ${#PLANTED[@]} paths"
rebaseline
for f in "${PLANTED[@]}"; do
    n=${f#"$H"/}
    n=$(printf '%s' "$n" | tr -c 'A-Za-z0-9_\n' _)
    outside "$P" read "$f"
    if ! matches "$A_OUT" 'SUCCEEDED'; then
        bad "cred_${n}_control" "the planted file cannot be read outside: $A_OUT"
        continue
    fi
    W_EXTRA=("F:$f")
    attack none "$H" "$P" read "$f"
    denied "cred_${n}" "$FS"
done

finish
