#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A run ends when it ends, and the audit writer cannot be silenced unseen: real programs under
# the real `cordon run`, in the embedded default (a private cordond) and with --server against
# a real cordond on loopback.
#
#   - a detached descendant (setsid) does not outlive the run: it never writes its file, and
#     session.end in the audit log says how many processes still ran and how they were ended;
#     the same command outside cordon writes the file (the control);
#   - a descendant that ignores SIGTERM is killed after --grace, and the record says so;
#   - --detach-ok keeps the old behaviour, and the record says so;
#   - the supervisor is outside the sandbox: the agent cannot signal it (Landlock's signal
#     scope; a raw kill(2) from the static probe, with a control outside), while with
#     signals "open" it can, and the audit log then shows a run that was not closed;
#   - a terminal Ctrl-C reaches the command once, not twice;
#   - the audit writer killed from outside during a run: the run ends (124) and says why, the
#     next run records the gap, `cordon audit verify` tells the cut log (3) from a closed one.
#
# Prints ok / FAIL per check, then "N passed, N failed"; exits nonzero on any failure.
#
#   usage: run_lifecycle.sh CORDON CORDOND PROBES_DIR
#
# Shell snippets run inside the sandbox are single-quoted on purpose: they expand there.
# shellcheck source-path=SCRIPTDIR disable=SC2016
if [ $# -ne 3 ]; then
    echo "usage: run_lifecycle.sh CORDON CORDOND PROBES_DIR" >&2
    exit 2
fi
CORDON=$(realpath "$1")
CORDOND=$(realpath "$2")
PROBES=$(realpath "$3")
HERE=$(dirname "$(realpath "$0")")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

P=$PROBES/escape_probe
PY=/usr/bin/python3
[ -x "$P" ] || die "$P is missing: build the tree first (tools/build.sh)"
[ -x "$PY" ] || die "$PY is needed (the pty and the TERM-ignoring descendant)"
"$CORDON" run --help >/dev/null 2>&1 || die "\`$CORDON run --help\` fails"
make_tree
# The private cordond's directory goes under the run directory, not /run or /tmp: a run whose
# cordond is killed keeps it (its cordond.log explains), and the cleanup must remove it.
RT=$RUN/rt
mkdir -m 700 "$RT"

# plain_policy NAME SIGNALS: a plain policy for the embedded default (and for cordond)
plain_policy() {
    cat >"$POL/$1.json" <<EOF
{"cordon_policy": 1, "agent": "lifecycle-$1",
 "sandbox": {"enforcement": "best_effort",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "exec": {"allow": ["*", "$PROBES"]},
   "network": {"mode": "proxy", "allow": []},
   "ipc": {"signals": "$2", "abstract_unix": "scoped"}}}
EOF
}
plain_policy run scoped
plain_policy open open

N=0
# crun OUT ARGS...: cordon run ARGS in the usual clean environment (HOME with canaries, the
# project directory as the current one, the workspace $WS), in the foreground; sets R_RC,
# R_OUT (stdout+stderr) and R_MS (how long it took).
crun() {
    local out=$1 t0 t1
    shift
    t0=$(date +%s%N)
    # (bash's own "Killed" line for a run killed by a signal goes to /dev/null, not R_OUT)
    {
        (
            cd "$PROJ" || exit 99
            exec env -i HOME="$H" PATH=/usr/bin:/bin TMPDIR="$TMPD" XDG_RUNTIME_DIR="$RT" \
                LC_ALL=C.UTF-8 TERM=dumb "$CORDON" run --workspace "$WS" "$@"
        ) >"$out" 2>&1 </dev/null
        R_RC=$?
    } 2>/dev/null
    t1=$(date +%s%N)
    R_MS=$(((t1 - t0) / 1000000))
    R_OUT=$(cat "$out")
}

# new_audit: a fresh audit directory outside every grant; sets AUD
new_audit() {
    N=$((N + 1))
    AUD=$OUTD/audit-$N
}

# session_end FILE: the detail of the last session.end record in an audit log, as k=v words
session_end() {
    "$PY" - "$1" <<'PYEOF'
import json, sys
d = None
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("kind") == "session.end":
            d = r
except OSError as e:
    print("unreadable: %s" % e); sys.exit(0)
if d is None:
    print("none"); sys.exit(0)
print(" ".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(d["detail"].items())))
PYEOF
}

# check NAME COND MESSAGE...: ok when the shell condition COND (a string) holds
check() {
    local name=$1 cond=$2
    shift 2
    if eval "$cond"; then ok "$name"; else bad "$name" "$@"; fi
}

# survivors TOKEN: processes whose command line holds TOKEN (never this script)
survivors() {
    pgrep -f -- "$1" | grep -vx "$$" || true
}

echo "# kernel $(uname -r), run directory $RUN"

# ---------------------------------------------------------------- the control
# The command of the report, outside cordon: the detached child writes its file after the
# command that started it has returned.
rm -f "$WS/late"
(cd "$PROJ" && env -i PATH=/usr/bin:/bin WS="$WS" sh -c 'setsid sh -c "sleep 2; date > $WS/late" &')
sleep 3
check control_setsid_outlives_its_parent_outside '[ -s "$WS/late" ]' \
    "without cordon the detached child should have written $WS/late"
rm -f "$WS/late"

# ---------------------------------------------------------------- the embedded default
# CMD waits half a second so that the detached shell has started its sleep: the record then
# counts exactly two processes (the detached sh and its sleep).
TOK=$(token)
DETACH='setsid sh -c "sleep 2; date > '"$WS"'/late; : '"$TOK"'" & sleep 0.5'
new_audit
crun "$OUTD/e1" --policy "$POL/run.json" --audit "$AUD" -- sh -c "$DETACH"
check embedded_run_returns_cmd_status '[ "$R_RC" -eq 0 ]' "exit $R_RC" "$R_OUT"
check embedded_run_does_not_wait_for_the_sleep '[ "$R_MS" -lt 1900 ]' \
    "the run took $R_MS ms: SIGTERM should end the sleep at once" "$R_OUT"
check embedded_run_says_what_it_ended \
    'matches "$R_OUT" "sh exited; the 2 processes it started that still ran were ended \(2 by SIGTERM, 0 needed SIGKILL"' \
    "$R_OUT"
S=$(survivors "$TOK")
check embedded_nothing_of_the_run_survives '[ -z "$S" ]' "still running after the run: $S"
sleep 2.5
check embedded_detached_child_never_writes '[ ! -e "$WS/late" ]' \
    "$WS/late appeared after the run had returned" "$R_OUT"
SE=$(session_end "$AUD/audit.jsonl")
check embedded_session_end_counts_what_still_ran \
    'matches "$SE" "still_running=2" && matches "$SE" "terminated=2" && matches "$SE" "killed=0" && matches "$SE" "left_running=0" && matches "$SE" "detach_ok=false" && matches "$SE" "status=0"' \
    "session.end: $SE"
SUP=$(grep '"kind":"events.hello"' "$AUD/audit.jsonl" | grep -c '"role":"supervisor"')
END_PID=$(grep '"kind":"session.end"' "$AUD/audit.jsonl" | sed -n 's/.*"session":"[0-9a-f]*","pid":\([0-9]*\).*/\1/p')
HELLO_PID=$(grep '"kind":"events.hello"' "$AUD/audit.jsonl" | grep '"role":"supervisor"' |
    sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
check embedded_session_end_comes_from_the_supervisor \
    '[ "$SUP" = 1 ] && [ -n "$END_PID" ] && [ "$END_PID" = "$HELLO_PID" ]' \
    "supervisor hellos: $SUP, session.end pid $END_PID, supervisor hello pid $HELLO_PID"
"$CORDON" audit verify "$AUD" >"$OUTD/v1" 2>&1
VRC=$?
check embedded_clean_run_verifies_closed '[ "$VRC" -eq 0 ] && grep -q "^VALID (closed)" "$OUTD/v1"' \
    "exit $VRC" "$(cat "$OUTD/v1")"

# ---------------------------------------------------------------- a descendant ignoring SIGTERM
# It says it is ready only once SIG_IGN is in place, and CMD waits for that.
TOK2=$(token)
IGNORE='import os, signal, sys, time
os.setsid()
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1] + "/ready", "w").close()
time.sleep(4)
open(sys.argv[1] + "/late2", "w").write("survived")'
new_audit
rm -f "$WS/ready" "$WS/late2"
crun "$OUTD/e2" --policy "$POL/run.json" --audit "$AUD" --grace 1 -- sh -c \
    '/usr/bin/python3 -c "$1" "$2" "$3" & while [ ! -e "$2/ready" ]; do sleep 0.02; done' \
    sh "$IGNORE" "$WS" "$TOK2"
check term_ignored_run_status '[ "$R_RC" -eq 0 ]' "exit $R_RC" "$R_OUT"
check term_ignored_waits_the_grace '[ "$R_MS" -ge 900 ] && [ "$R_MS" -lt 4000 ]' \
    "the run took $R_MS ms with --grace 1" "$R_OUT"
check term_ignored_says_sigkill 'matches "$R_OUT" "1 needed SIGKILL after the 1 s grace"' "$R_OUT"
S=$(survivors "$TOK2")
check term_ignored_descendant_is_gone '[ -z "$S" ]' "still running after the run: $S"
sleep 4
check term_ignored_descendant_never_writes '[ ! -e "$WS/late2" ]' "$WS/late2 appeared" "$R_OUT"
SE=$(session_end "$AUD/audit.jsonl")
check term_ignored_session_end_says_killed \
    'matches "$SE" "still_running=1" && matches "$SE" "killed=1" && matches "$SE" "terminated=0" && matches "$SE" "grace_ms=1000"' \
    "session.end: $SE"

# ---------------------------------------------------------------- --detach-ok
new_audit
rm -f "$WS/late"
crun "$OUTD/e3" --policy "$POL/run.json" --audit "$AUD" --detach-ok -- sh -c "$DETACH"
check detach_ok_run_status '[ "$R_RC" -eq 0 ]' "exit $R_RC" "$R_OUT"
check detach_ok_says_so 'matches "$R_OUT" "2 processes it started still run \(--detach-ok\)"' "$R_OUT"
sleep 2.5
check detach_ok_descendant_outlives_the_run '[ -s "$WS/late" ]' \
    "with --detach-ok the detached child should have written $WS/late" "$R_OUT"
SE=$(session_end "$AUD/audit.jsonl")
check detach_ok_session_end_says_so \
    'matches "$SE" "detach_ok=true" && matches "$SE" "still_running=2" && matches "$SE" "left_running=2" && matches "$SE" "killed=0"' \
    "session.end: $SE"
rm -f "$WS/late"

# ---------------------------------------------------------------- the supervisor is out of reach
# Control: the static probe's raw kill(2) reaches a process outside when it runs outside.
sleep 600 &
VICTIM=$!
BG_PIDS+=("$VICTIM")
"$P" kill "$VICTIM" 0 >"$OUTD/kctl" 2>&1
check control_raw_kill_outside_reaches_a_process 'grep -q SUCCEEDED "$OUTD/kctl"' "$(cat "$OUTD/kctl")"
new_audit
crun "$OUTD/e4" --policy "$POL/run.json" --audit "$AUD" -- sh -c \
    '"$1" kill "$PPID" 9; echo probe-status=$?' sh "$P"
check agent_cannot_kill_the_supervisor \
    '[ "$R_RC" -eq 0 ] && matches "$R_OUT" "kill: errno=(EPERM|EACCES)" && matches "$R_OUT" "probe-status=1"' \
    "exit $R_RC" "$R_OUT"
SE=$(session_end "$AUD/audit.jsonl")
check agent_cannot_kill_the_supervisor_end_recorded 'matches "$SE" "status=0"' "session.end: $SE"
"$CORDON" audit verify "$AUD" >"$OUTD/v4" 2>&1
check agent_cannot_kill_the_supervisor_log_closed '[ $? -eq 0 ]' "$(cat "$OUTD/v4")"

# The documented limit: with "signals": "open" the agent can kill the supervisor. The run then
# has no end record; the private cordond is told to stop with the supervisor (SIGTERM,
# PR_SET_PDEATHSIG), so the log itself is closed.
new_audit
crun "$OUTD/e5" --policy "$POL/open.json" --audit "$AUD" -- sh -c \
    '"$1" kill "$PPID" 9; sleep 1; echo still-here' sh "$P"
for _ in $(seq 100); do grep -q '"kind":"stop"' "$AUD/audit.jsonl" 2>/dev/null && break; sleep 0.1; done
"$CORDON" audit verify "$AUD" >"$OUTD/v5" 2>&1
VRC=$?
SE=$(session_end "$AUD/audit.jsonl")
if [ "$R_RC" -eq 137 ] && [ "$VRC" -eq 0 ] && grep -q "VALID (closed)" "$OUTD/v5" && [ "$SE" = none ] &&
    ! matches "$R_OUT" still-here; then
    ok limit_signals_open_agent_kills_the_supervisor
    echo '     note: with "signals": "open" the agent can kill cordon run; the run then has no session.end, though the log is closed (docs/SECURITY.md)'
else
    bad limit_signals_open_agent_kills_the_supervisor \
        "the documented limit did not reproduce as written in docs/SECURITY.md" \
        "exit $R_RC" "$R_OUT" "verify exit $VRC: $(cat "$OUTD/v5")" "session.end: $SE"
fi

# ---------------------------------------------------------------- Ctrl-C reaches CMD once
new_audit
"$PY" - "$CORDON" "$POL/run.json" "$AUD" "$WS" "$PROJ" "$H" "$TMPD" "$RT" >"$OUTD/pty" 2>&1 <<'PYEOF'
import os, pty, sys, time, select
cordon, pol, aud, ws, proj, home, tmpd, rt = sys.argv[1:]
cmd = 'n=0; trap "n=\\$((n+1))" INT; echo ready; i=0; while [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; echo ints=$n'
pid, fd = pty.fork()
if pid == 0:
    os.chdir(proj)
    os.execve(cordon, [cordon, "run", "--workspace", ws, "--policy", pol, "--audit", aud,
                       "--", "sh", "-c", cmd],
              {"HOME": home, "PATH": "/usr/bin:/bin", "TMPDIR": tmpd, "XDG_RUNTIME_DIR": rt,
               "TERM": "dumb"})
out = b""
deadline = time.time() + 30
sent = False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if not sent and b"ready" in out:
        time.sleep(0.3)
        os.write(fd, b"\x03")
        sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
print("exit=%d" % (os.waitstatus_to_exitcode(st)))
PYEOF
check ctrl_c_reaches_cmd_once 'grep -q "ints=1" "$OUTD/pty" && grep -q "exit=0" "$OUTD/pty"' \
    "$(cat "$OUTD/pty")"

# ---------------------------------------------------------------- --server, a real cordond
SRV=$OUTD/server
mkdir -p "$SRV/state"
"$CORDON" keygen "$SRV/sign" >/dev/null
KEY=ck_$("$PY" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
printf '%s\n' "$KEY" >"$SRV/agent.key"
chmod 600 "$SRV/agent.key"
"$CORDOND" --policy "$POL/run.json" --agent-key-file "$SRV/agent.key" --signing-key "$SRV/sign.key" \
    --state-dir "$SRV/state" --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 \
    --ready-file "$SRV/ready" >"$SRV/log" 2>&1 &
SPID=$!
BG_PIDS+=("$SPID")
wait_for "$SRV/ready" '^http=' || die "cordond did not start: $(cat "$SRV/log")"
SH=$(sed -n 's/^http=//p' "$SRV/ready")
TOK3=$(token)
DETACH3='setsid sh -c "sleep 2; date > '"$WS"'/late; : '"$TOK3"'" & sleep 0.5'
rm -f "$WS/late"
crun "$OUTD/s1" --server "http://$SH" --key "$SRV/agent.key" --trust "$SRV/sign.pub" -- sh -c "$DETACH3"
check server_run_status '[ "$R_RC" -eq 0 ]' "exit $R_RC" "$R_OUT"
S=$(survivors "$TOK3")
check server_nothing_of_the_run_survives '[ -z "$S" ]' "still running after the run: $S"
sleep 2.5
check server_detached_child_never_writes '[ ! -e "$WS/late" ]' "$WS/late appeared" "$R_OUT"
SE=$(session_end "$SRV/state/audit/audit.jsonl")
check server_session_end_counts_what_still_ran \
    'matches "$SE" "still_running=2" && matches "$SE" "terminated=2" && matches "$SE" "detach_ok=false"' \
    "session.end: $SE"
# an agent cannot end its own session: session.end on the connection it shares is refused
crun "$OUTD/s2" --server "http://$SH" --key "$SRV/agent.key" --trust "$SRV/sign.pub" -- \
    /usr/bin/python3 -c 'import os, socket, json, time
s = socket.socket(fileno=int(os.environ["CORDON_EVENT_FD"]))
s.send(json.dumps({"type": "event", "kind": "session.end", "decision": "log", "pid": os.getpid(),
                   "ts": int(time.time() * 1000), "detail": {"status": 0, "forged": True}}).encode())
s.detach()
print("sent")'
sleep 0.5
check server_forged_session_end_is_refused \
    '[ "$R_RC" -eq 0 ] && ! grep -q "\"forged\":true" "$SRV/state/audit/audit.jsonl" && grep -q "session.end refused" "$SRV/log"' \
    "exit $R_RC" "$R_OUT" "$(grep -c forged "$SRV/state/audit/audit.jsonl") forged records; cordond: $(tail -3 "$SRV/log")"

# forget PID: drop it from BG_PIDS once waited for, so that the cleanup never signals a pid
# the kernel may have given to another process since
forget() {
    local keep=() p
    for p in "${BG_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    BG_PIDS=("${keep[@]}")
}
# ---------------------------------------------------------------- the audit writer blinded
# The attack that found this: inside the run, the agent finds cordond's audit writer in /proc
# and sets its file size limit to 0 (the writer then died at its next write, unrecorded).
# Control: the same raw call and prlimit(1) from outside, on a sleeper of ours.
sleep 600 &
BLIND_VICTIM=$!
BG_PIDS+=("$BLIND_VICTIM")
"$P" pid prlimit_fsize "$BLIND_VICTIM" >"$OUTD/bctl" 2>&1
BCTL_RC=$?
prlimit --pid "$BLIND_VICTIM" --nofile=7:7 >>"$OUTD/bctl" 2>&1
BCTL2_RC=$?
check blind_control_prlimit_works_outside \
    '[ "$BCTL_RC" -eq 0 ] && [ "$BCTL2_RC" -eq 0 ] && grep -q "^Max open files *7 *7" /proc/$BLIND_VICTIM/limits' \
    "probe exit $BCTL_RC, prlimit exit $BCTL2_RC" "$(cat "$OUTD/bctl")"
kill -KILL "$BLIND_VICTIM" 2>/dev/null
wait "$BLIND_VICTIM" 2>/dev/null
forget "$BLIND_VICTIM"
new_audit
BAUD=$AUD
crun "$OUTD/b1" --policy "$POL/run.json" --audit "$BAUD" -- sh -c '
w=
for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = cordon-audit ] && w=${d#/proc/}
done
[ -n "$w" ] || { echo "no-writer-found"; exit 9; }
echo "writer=$w"
"$1" pid prlimit_fsize "$w"; echo "probe-status=$?"
prlimit --pid "$w" --fsize=0:0; echo "prlimit-status=$?"
sleep 3  # the walk of /proc above spends the event bucket of the agent (200, 100/s) on a busy host
cat "$HOME/.ssh/id_rsa"; echo "after-attack"' sh "$P"
check blind_writer_found_from_inside 'matches "$R_OUT" "writer=[0-9]+"' "$R_OUT"
check blind_prlimit_fsize_refused_by_the_kernel \
    'matches "$R_OUT" "errno=EPERM \(prlimit_fsize\)" && matches "$R_OUT" "probe-status=1" && matches "$R_OUT" "prlimit-status=[1-9]"' \
    "$R_OUT"
check blind_run_ends_normally '[ "$R_RC" -eq 0 ] && matches "$R_OUT" "after-attack"' "exit $R_RC" "$R_OUT"
check blind_later_denial_is_recorded \
    'grep "\"kind\":\"fs.open\"" "$BAUD/audit.jsonl" | grep -q "id_rsa"' \
    "$(grep -c . "$BAUD/audit.jsonl" 2>/dev/null) records" "$(tail -5 "$BAUD/audit.jsonl" 2>/dev/null)"
"$CORDON" audit verify "$BAUD" >"$OUTD/bv" 2>&1
VRC=$?
check blind_log_verifies_closed '[ "$VRC" -eq 0 ] && grep -q "^VALID (closed)" "$OUTD/bv"' \
    "exit $VRC" "$(cat "$OUTD/bv")"

# ---------------------------------------------------------------- sandbox.limits under cordon run
# The supervisor makes the run's cgroup outside the sandbox and removes it at the end.
# Control: the same fork loop under the policy without limits.
cat >"$POL/limited.json" <<EOF
{"cordon_policy": 1, "agent": "lifecycle-limited",
 "sandbox": {"enforcement": "strict",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "exec": {"allow": ["*", "$PROBES"]},
   "network": {"mode": "proxy", "allow": []},
   "limits": {"processes": 50}}}
EOF
new_audit
crun "$OUTD/l0" --policy "$POL/run.json" --audit "$AUD" -- "$P" forks 300
check limits_control_300_forks_without_limits 'matches "$R_OUT" "SUCCEEDED forked 300 of 300"' \
    "exit $R_RC" "$R_OUT"
CG_BEFORE=$(find /sys/fs/cgroup -maxdepth 3 -type d -name 'cordon-*' 2>/dev/null | sort)
new_audit
crun "$OUTD/l1" --policy "$POL/limited.json" --audit "$AUD" -- "$P" forks 300
NF=$(printf '%s\n' "$R_OUT" | sed -n 's/^forks: forked \([0-9]*\) of 300$/\1/p')
check limits_processes_held_for_the_tree_by_cordon_run \
    '[ -n "$NF" ] && [ "$NF" -lt 50 ] && matches "$R_OUT" "errno=EAGAIN \(fork\)"' \
    "forked ${NF:-?}" "exit $R_RC" "$R_OUT"
check limits_report_says_cgroup \
    'grep "\"kind\":\"sandbox.report\"" "$AUD/audit.jsonl" | grep -q "\"enforced_by\":\"cgroup v[12]"' \
    "$(grep '"kind":"sandbox.report"' "$AUD/audit.jsonl" | head -c 1500)"
CG_AFTER=$(find /sys/fs/cgroup -maxdepth 3 -type d -name 'cordon-*' 2>/dev/null | sort)
check limits_cgroup_removed_after_the_run '[ "$CG_BEFORE" = "$CG_AFTER" ]' \
    "left: $(comm -13 <(printf '%s\n' "$CG_BEFORE") <(printf '%s\n' "$CG_AFTER"))"

# ---------------------------------------------------------------- the audit writer killed
# An embedded run whose agent keeps working; the writer is found and killed from outside.
TOK4=$(token)
new_audit
WAUD=$AUD
(
    cd "$PROJ" || exit 99
    exec env -i HOME="$H" PATH=/usr/bin:/bin TMPDIR="$TMPD" XDG_RUNTIME_DIR="$RT" \
        LC_ALL=C.UTF-8 TERM=dumb \
        "$CORDON" run --workspace "$WS" --policy "$POL/run.json" --audit "$WAUD" --grace 1 -- \
        sh -c 'while :; do cat "$HOME/.ssh/id_rsa"; sleep 0.1; done; : '"$TOK4"
) >"$OUTD/w1" 2>&1 </dev/null &
RUNPID=$!
BG_PIDS+=("$RUNPID")
# the private cordond is cordon run's child named cordond; its writer, cordond's child
# named cordon-audit
child_named() {
    local c
    # shellcheck disable=SC2013 # the children file is one line of space-separated pids
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        [ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$2" ] && echo "$c"
    done
}
WRITER=
for _ in $(seq 1 500); do
    DPID=$(child_named "$RUNPID" cordond)
    [ -n "$DPID" ] && WRITER=$(child_named "$DPID" cordon-audit)
    [ -n "$WRITER" ] && grep -q '"kind":"fs.open"' "$WAUD/audit.jsonl" 2>/dev/null && break
    sleep 0.02
done
[ -n "$WRITER" ] || die "the audit writer of the private cordond was not found: $(cat "$OUTD/w1")"
kill -KILL "$WRITER"
RC=
for _ in $(seq 1 200); do
    if ! kill -0 "$RUNPID" 2>/dev/null; then
        wait "$RUNPID"
        RC=$?
        forget "$RUNPID"
        break
    fi
    sleep 0.1
done
R_OUT=$(cat "$OUTD/w1")
check writer_killed_run_ends_with_124 '[ "$RC" = 124 ]' "exit ${RC:-none (still running after 20 s)}" "$R_OUT"
check writer_killed_message_says_what_stopped \
    'matches "$R_OUT" "the private cordond exited with status 3 while sh was running, so the run.s decisions could no longer be recorded" && matches "$R_OUT" "audit writer process \(pid $WRITER\) was killed by signal 9"' \
    "$R_OUT"
check writer_killed_message_says_where_to_look \
    'matches "$R_OUT" "the audit log of this run is in $WAUD" && matches "$R_OUT" "cordond.s output: $RT/cordon-run-[A-Za-z0-9]+/cordond.log" && [ -s "$(sed -n "s/.*cordond.s output: //p" "$OUTD/w1")" ]' \
    "$R_OUT"
S=$(survivors "$TOK4")
check writer_killed_agent_is_ended '[ -z "$S" ]' "still running: $S"
"$CORDON" audit verify "$WAUD" >"$OUTD/wv1" 2>&1
VRC=$?
LAST=$(($(wc -l <"$WAUD/audit.jsonl") - 1))
check writer_killed_verify_says_not_closed \
    '[ "$VRC" -eq 3 ] && grep -q "^VALID up to line $LAST, not closed: the writer stopped without its stop record" "$OUTD/wv1"' \
    "exit $VRC" "$(cat "$OUTD/wv1")"
"$CORDON" audit verify --json "$WAUD" >"$OUTD/wv1j" 2>&1
check writer_killed_verify_json \
    'grep -q "\"status\":\"valid\",\"closed\":false" "$OUTD/wv1j"' "$(cat "$OUTD/wv1j")"

# the next run: its first records are the gap (naming the last record seen), then start
crun "$OUTD/w2" --policy "$POL/run.json" --audit "$WAUD" -- true
check next_run_after_the_cut '[ "$R_RC" -eq 0 ]' "exit $R_RC" "$R_OUT"
GAP=$(sed -n "$((LAST + 2))p" "$WAUD/audit.jsonl")
NEXT=$(sed -n "$((LAST + 3))p" "$WAUD/audit.jsonl")
check next_run_records_the_gap_first \
    'matches "$GAP" "\"seq\":$((LAST + 1)),.*\"kind\":\"gap\",\"last_seq\":$LAST,\"last_ts\":\"[0-9T:.-]+Z\"" && matches "$NEXT" "\"kind\":\"start\""' \
    "line $((LAST + 1)): $GAP" "line $((LAST + 2)): $NEXT"
"$CORDON" audit verify "$WAUD" >"$OUTD/wv2" 2>&1
VRC=$?
check verify_reports_the_gap_inside \
    '[ "$VRC" -eq 3 ] && grep -q "^gap: line $((LAST + 1)): the writer before stopped without its stop record after line $LAST" "$OUTD/wv2" && grep -q "^VALID (closed), with 1 gap" "$OUTD/wv2"' \
    "exit $VRC" "$(cat "$OUTD/wv2")"

# ---------------------------------------------------------------- network mode none
# Mode none lets the tree reach cordond's API port (its model proxy) and nothing else. The
# static probe makes raw system calls, so the kernel answers, never a hook: a connect to the
# API port succeeds; a connect to another loopback listener (reachable outside: the control)
# and to cordond's tunnel port is refused by Landlock (EACCES at connect); a UDP socket is
# refused by seccomp. Without Landlock TCP rules (ABI < 4) every inet socket stays refused.
cat >"$POL/none.json" <<EOF
{"cordon_policy": 1, "agent": "lifecycle-none",
 "sandbox": {"enforcement": "best_effort",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "exec": {"allow": ["*", "$PROBES"]},
   "network": {"mode": "none"},
   "ipc": {"signals": "scoped", "abstract_unix": "scoped"}}}
EOF
ABI=$("$P" abi | sed -n 's/^landlock_abi=//p')
listener other 127.0.0.1 0 || die "the loopback listener did not start"
OUT=$("$P" tcp 127.0.0.1 "$PORT_other" 2>&1)
check none_control_other_port_reachable_outside 'matches "$OUT" "SUCCEEDED connected"' "$OUT"
# inside: $1 the probe, $2 the other port, $3 the tunnel port (empty: unknown)
NONE_SH='p=$1 a=${OPENAI_BASE_URL#http://*:}
a=${a%/v1}
echo "api $a: $("$p" tcp 127.0.0.1 "$a" 2>&1)"
echo "other: $("$p" tcp 127.0.0.1 "$2" 2>&1)"
[ -z "$3" ] || echo "tunnel: $("$p" tcp 127.0.0.1 "$3" 2>&1)"
echo "udp: $("$p" udp 127.0.0.1 "$2" 2>&1)"'
# none_checks WHERE WITH_TUNNEL: the verdicts on R_OUT
# shellcheck disable=SC2034 # api and no are read by check's eval
none_checks() {
    # Landlock refuses the connect itself; without its TCP rules seccomp refuses the socket
    local api='api [0-9]+: tcp: SUCCEEDED connected' no='errno=EACCES \(connect\)'
    if [ "${ABI:-0}" -lt 4 ]; then
        api='api [0-9]+: tcp: errno=(EACCES|EPERM) \(socket\)'
        no='errno=(EACCES|EPERM) \(socket\)'
    fi
    check "none_$1_api_port_reachable" '[ "$R_RC" -eq 0 ] && matches "$R_OUT" "$api"' \
        "exit $R_RC (landlock ABI $ABI)" "$R_OUT"
    check "none_$1_other_port_refused_by_the_kernel" \
        'matches "$R_OUT" "other: tcp: $no"' "$R_OUT"
    [ "$2" = 0 ] || check "none_$1_tunnel_port_refused_by_the_kernel" \
        'matches "$R_OUT" "tunnel: tcp: $no"' "$R_OUT"
    check "none_$1_udp_socket_refused" 'matches "$R_OUT" "udp: udp: errno=(EACCES|EPERM) \(socket\)"' \
        "$R_OUT"
}
wait_for "$OUTD/listen_other.log" . # the control's connection, logged by the listener
b=$(accepts other)
new_audit
crun "$OUTD/n1" --policy "$POL/none.json" --audit "$AUD" -- sh -c "$NONE_SH" sh "$P" "$PORT_other" ""
none_checks embedded 0
mkdir -p "$SRV/state-none"
"$CORDOND" --policy "$POL/none.json" --agent-key-file "$SRV/agent.key" --signing-key "$SRV/sign.key" \
    --state-dir "$SRV/state-none" --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 \
    --ready-file "$SRV/ready-none" >"$SRV/log-none" 2>&1 &
NPID=$!
BG_PIDS+=("$NPID")
wait_for "$SRV/ready-none" '^tunnel=' || die "cordond did not start: $(cat "$SRV/log-none")"
NSH=$(sed -n 's/^http=//p' "$SRV/ready-none")
NTUN=$(sed -n 's/^tunnel=.*://p' "$SRV/ready-none")
crun "$OUTD/n2" --server "http://$NSH" --key "$SRV/agent.key" --trust "$SRV/sign.pub" -- \
    sh -c "$NONE_SH" sh "$P" "$PORT_other" "$NTUN"
none_checks server 1
check none_other_listener_saw_nothing '[ "$(accepts other)" = "$b" ]' \
    "the other listener accepted $(($(accepts other) - b)) connections from inside"
kill "$NPID" 2>/dev/null
wait "$NPID" 2>/dev/null
forget "$NPID"

# ---------------------------------------------------------------- usage
crun "$OUTD/u1" --policy "$POL/run.json" --grace -1 -- true
check grace_negative_is_a_usage_error '[ "$R_RC" -eq 2 ] && matches "$R_OUT" "--grace -1: expected seconds from 0 to 3600"' \
    "exit $R_RC" "$R_OUT"
crun "$OUTD/u2" --policy "$POL/run.json" --grace 5s -- true
check grace_with_a_unit_is_a_usage_error '[ "$R_RC" -eq 2 ]' "exit $R_RC" "$R_OUT"

finish
