#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The embedded default: `cordon run --policy PLAIN.json` with no server starts a private
# cordond, runs the command governed by both layers against it, stops it and leaves an audit
# log that verifies. Real programs, the real shim, the real kernel sandbox, the real cordond.
#   embedded.sh CORDON SOURCE_DIR
CORDON=$(realpath "$1")
SRC=$2
. "$SRC/tests/integration/lib.sh"
unset CORDON_SERVER CORDON_KEY CORDON_TRUST CORDON_POLICY CORDON_PROFILE XDG_STATE_HOME
unset XDG_RUNTIME_DIR
export CORDON_LOG=all
mkdir -p "$HOME/.ssh" "$HOME/.aws" "$T/ws"
echo "PRIVATE-KEY-MATERIAL" > "$HOME/.ssh/id_rsa"
echo "AWS-SECRET" > "$HOME/.aws/credentials"
cd "$T/ws"
cat > "$FX/plain.json" <<'J'
{"cordon_policy":1,"agent":"it-embedded","sandbox":{"enforcement":"best_effort",
 "filesystem":{"read_write":["${workspace}","${tmp}"],"read_only":["${cwd}"]},
 "exec":{"deny":["rm"]},"network":{"mode":"proxy","allow":["127.0.0.1:9"]},
 "ipc":{"unix_sockets":"pairs"}},"poll_seconds":60}
J
# The audit log must lie outside every grant of the agent, and ${tmp} is /tmp.
V=$(mktemp -d /var/tmp/cordon-it-XXXXXX)
trap 'rm -rf "$T" "$V" "$FX"' EXIT
AUD=$V/audit

# the run: a denied credential read, a denied program, a program the kernel refuses to
# execute (a script dropped in the workspace), a refused connection; the exit status passes
run "embedded run passes the command's exit status" 7 "$CORDON" run --policy "$FX/plain.json" \
    --audit "$AUD" -- sh -c 'cat ~/.ssh/id_rsa; rm -f x; printf "#!/bin/sh\necho SCRIPT-RAN\n" > d.sh;
        chmod +x d.sh; ./d.sh; python3 -c "import socket; socket.create_connection((\"127.0.0.1\", 22), 2)";
        echo done; exit 7'
has "the credential read is refused with the rule" 'filesystem.deny "~/.ssh"'
has "rm is refused by sandbox.exec.deny" 'sandbox.exec.deny "rm"'
has "the run prints where the audit log is" "the audit log of this run is in $AUD"
case "$OUT" in *PRIVATE-KEY-MATERIAL*) bad "the planted key stays unread" "$OUT" ;;
    *) ok "the planted key stays unread" ;; esac
case "$OUT" in *SCRIPT-RAN*) bad "the dropped script does not run" "$OUT" ;;
    *) ok "the dropped script does not run" ;; esac

run "the audit log verifies" 0 "$CORDON" audit verify "$AUD"
test -s "$AUD/audit.jsonl" && ok "the audit log exists" || bad "the audit log exists"
has "verify says valid" "VALID"
has "verify says the run closed the log" "VALID (closed)"
run "query: the credential read" 0 "$CORDON" audit query "$AUD" --agent it-embedded --kind fs.open
has "the fs.open record names the file" "/home/.ssh/id_rsa"
run "query: the enforcement report" 0 "$CORDON" audit query "$AUD" --kind sandbox.report
has "the report says Landlock applied" '"applied":true'
run "query: the exec decisions" 0 "$CORDON" audit query "$AUD" --kind exec --json
has "rm denied by the hook is recorded" '"rule":"sandbox.exec.deny \"rm\""'
has "the script refused by the kernel is recorded as a denial" '"rule":"kernel"'
run "query: the tunnel refusal" 0 "$CORDON" audit query "$AUD" --kind tunnel.deny
has "cordond refused 127.0.0.1:22" "port=22"
run "the run is closed in the log" 0 "$CORDON" audit query "$AUD" --kind stop
has "a stop record" "stop"

# nothing left behind: no cordond, no private directory with keys in it
if pgrep -f "cordond --listen 127.0.0.1:0 --tunnel-listen 127.0.0.1:0 --policy $FX/plain.json" \
    >/dev/null; then bad "the private cordond is stopped"; else ok "the private cordond is stopped"; fi
left=$(find /tmp -maxdepth 1 -name 'cordon-run-*' -newer "$FX/plain.json" 2>/dev/null)
if [ -z "$left" ]; then ok "the private directory is removed"; else
    bad "the private directory is removed" "$left"; fi

# a second run appends to the same log, which still verifies (a new key, named in its start)
run "a second run" 0 "$CORDON" run --policy "$FX/plain.json" --audit "$AUD" -- true
run "the log of two runs verifies" 0 "$CORDON" audit verify "$AUD"
run "two start records" 0 "$CORDON" audit query "$AUD" --kind start
has "query counts both" "2 of"

# cordon run killed outright: its cordond is told to stop (SIGTERM, not SIGKILL), so the log
# it leaves still ends with its stop record
PRE_BEFORE=$(compgen -G '/tmp/cordon-preload-*' | sort)
"$CORDON" run --policy "$FX/plain.json" --audit "$V/killed" -- \
    sh -c 'echo $$ > "$0"; exec sleep 30' "$V/agent.pid" >"$V/killed.out" 2>&1 &
RUNPID=$!
for _ in $(seq 100); do grep -q 'sandbox.report' "$V/killed/audit.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -KILL "$RUNPID"
wait "$RUNPID" 2>/dev/null || true
for _ in $(seq 100); do grep -q '"kind":"stop"' "$V/killed/audit.jsonl" 2>/dev/null && break; sleep 0.1; done
run "cordon run killed: its cordond still closes the log" 0 "$CORDON" audit verify "$V/killed"
has "cordon run killed: the log is closed" "VALID (closed)"
kill "$(cat "$V/agent.pid" 2>/dev/null)" 2>/dev/null || true
# a killed cordon run cannot remove the private preload directory it made for a shim path
# with a space (a clone in such a path): the one that appeared during this run goes here
for d in $(comm -13 <(echo "$PRE_BEFORE") <(compgen -G '/tmp/cordon-preload-*' | sort)); do
    [ -L "$d/libcordon.so" ] && rm -rf "$d"
done

# an audit directory the agent could write is refused: here HOME is under /tmp, ${tmp}
run "an audit directory inside a grant is refused" 125 "$CORDON" run --policy "$FX/plain.json" -- true
has "the refusal names the grant" 'read_write grant ${tmp}'
run "so is one inside the workspace" 125 "$CORDON" run --policy "$FX/plain.json" \
    --workspace "$V" --audit "$V/ws-audit" -- true
has "the refusal names the workspace" 'read_write grant ${workspace}'
test ! -e "$V/ws-audit" && ok "nothing was created" || bad "nothing was created"

# the audit directory is 0700 as AUDIT-FORMAT.md says, even when it existed before with 0755
mkdir -p "$V/pre" && chmod 755 "$V/pre"
run "an audit directory that exists already" 0 "$CORDON" run --policy "$FX/plain.json" --audit "$V/pre" -- true
[ "$(stat -c %a "$V/pre")" = 700 ] && ok "a pre-existing audit directory is made 0700" ||
    bad "a pre-existing audit directory is made 0700" "mode $(stat -c %a "$V/pre")"
[ "$(stat -c %a "$V/pre/audit.jsonl")" = 600 ] && ok "the log in it is 0600" ||
    bad "the log in it is 0600" "mode $(stat -c %a "$V/pre/audit.jsonl")"
run "the log in the pre-existing directory verifies, closed" 0 "$CORDON" audit verify "$V/pre"
has "verify says closed" "VALID (closed)"

# the default audit directory is the XDG state directory
mkdir -p "$V/home"
HOME=$V/home run "default audit directory" 0 "$CORDON" run --policy "$FX/plain.json" -- true
has "it is under HOME/.local/state" "$V/home/.local/state/cordon/audit"
test -s "$V/home/.local/state/cordon/audit/audit.jsonl" && ok "the default log exists" ||
    bad "the default log exists"
XDG_STATE_HOME=$V/xdg run "XDG_STATE_HOME is honoured" 0 "$CORDON" run --policy "$FX/plain.json" -- true
has "it is under XDG_STATE_HOME" "$V/xdg/cordon/audit"

# the agent cannot reach the keys: the signing key is gone from disk once cordond holds it
mkdir -p "$T/rt"
XDG_RUNTIME_DIR=$T/rt run "the agent finds no key file in the private directory" 0 "$CORDON" run \
    --policy "$FX/plain.json" --audit "$AUD" -- sh -c "ls $T/rt/cordon-run-*/"
case "$OUT" in *signing.key*|*agent.key*|*audit.key*) bad "no key file is listed" "$OUT" ;;
    *signing.pub*) ok "no key file is listed" ;; *) bad "no key file is listed" "$OUT" ;; esac
case "$OUT" in *admin.sock*) bad "the private cordond opens no admin socket" "$OUT" ;;
    *) ok "the private cordond opens no admin socket" ;; esac
# the private directory is cordond's state directory: the signed policy denies it to the
# agent, although it lies inside ${tmp} here
XDG_RUNTIME_DIR=$T/rt run "the agent cannot read the private directory" 0 "$CORDON" run \
    --policy "$FX/plain.json" --audit "$AUD" -- sh -c "cat $T/rt/cordon-run-*/cordond.log $T/rt/cordon-run-*/signing.pub >/dev/null 2>&1 && echo PRIVATE-READ; cat $T/rt/cordon-run-*/cordond.log 2>&1 | head -1"
case "$OUT" in *PRIVATE-READ*) bad "the private directory is denied" "$OUT" ;;
    *"cordond's secrets"*) ok "the private directory is denied" ;;
    *) bad "the private directory is denied" "$OUT" ;; esac
# an audit directory in a read-only grant may be used, and is denied to the run that writes it
mkdir -p "$V/proj"
run "an audit directory inside a read-only grant is accepted" 0 env -C "$V/proj" "$CORDON" run \
    --policy "$FX/plain.json" --workspace "$T/ws" --audit "$V/proj/audits" -- \
    sh -c "cat $V/proj/audits/audit.jsonl >/dev/null 2>&1 && echo LOG-READ; echo done"
has "the run ran" "done"
case "$OUT" in *LOG-READ*) bad "its log is denied to the agent" "$OUT" ;;
    *) ok "its log is denied to the agent" ;; esac

# a command the shim cannot enter (a static binary) is refused, and what it started dies too
mkdir -p "$V/wsx"
cat > "$V/wsx/spawner.c" <<'C'
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (fork() == 0) {          /* a detached grandchild that would outlive the refusal */
        setsid();
        close(0), close(1), close(2); /* or the test's $(...) would wait for it */
        sleep(3);
        FILE *f = fopen(argv[1], "w");
        if (f) fputs("survived\n", f);
        return 0;
    }
    (void)argc;
    sleep(30);
    return 0;
}
C
if gcc -static -O1 -o "$V/wsx/spawner" "$V/wsx/spawner.c" 2>/dev/null; then
    printf '{"cordon_policy":1,"agent":"it-static","sandbox":{"enforcement":"best_effort","filesystem":{"read_write":["${workspace}","${tmp}"]},"exec":{"allow":["*","${workspace}"]},"network":{"mode":"proxy","allow":[]}}}\n' > "$FX/static.json"
    run "a static command gives no handshake: refused" 125 "$CORDON" run --policy "$FX/static.json" \
        --workspace "$V/wsx" --audit "$V/a6" --timeout-handshake 1 -- "$V/wsx/spawner" "$V/wsx/survived"
    has "the refusal says the shim did not load" "did not load"
    sleep 4
    test ! -e "$V/wsx/survived" && ok "the command's detached child was stopped too" ||
        bad "the command's detached child was stopped too"
else
    echo "note: gcc -static is unavailable; the static-command case was not run"
fi

# refusals: each says what is wrong, exits 125 (cordon) or 2 (usage), starts nothing
printf '{"cordon_policy":1,"agent":"x","sandbox":{"network":{"mode":"proxi"}}}\n' > "$FX/bad.json"
# (its private directory is kept, cordond.log explaining: under $T, not in /run or /tmp)
XDG_RUNTIME_DIR=$T/rt run "a bad plain policy is refused" 125 "$CORDON" run --policy "$FX/bad.json" \
    --audit "$V/a3" -- true
has "the refusal names the error" "proxi"
has "the refusal says where cordond's output is" "its output is in $T/rt/cordon-run-"
run "--trust with a plain policy is a usage error" 2 "$CORDON" run --policy "$FX/plain.json" \
    --trust "$FX/plain.json" -- true
has "it says why" "plain policy"
"$CORDON" keygen "$T/k" >/dev/null
"$CORDON" sign --key "$T/k.key" "$FX/plain.json" > "$FX/env.json" 2>/dev/null
run "--audit with a signed envelope is a usage error" 2 "$CORDON" run --policy "$FX/env.json" \
    --trust "$T/k.pub" --audit "$V/a4" -- true
has "it says where --audit applies" "--audit applies to a plain --policy"
mkdir -p "$V/ro" && touch "$V/ro/file"
run "an audit directory that cannot be created is refused" 125 "$CORDON" run \
    --policy "$FX/plain.json" --audit "$V/ro/file/audit" -- true
has "it names the directory" "$V/ro/file/audit"
CORDON_CORDOND=/nonexistent run "a missing cordond is refused" 125 "$CORDON" run \
    --policy "$FX/plain.json" --audit "$V/a5" -- true
has "it says how to point at cordond" "CORDON_CORDOND"
# the ready file is read by its one definition (policy/server/ready.h): a cordond whose ready
# file breaks the format (here an escape sequence in the address) is not taken to listen
cat > "$V/fake-cordond" <<'SH'
#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --ready-file ] && R=$2; shift; done
printf 'http=127.0.0.1:1\033[2J\ntunnel=127.0.0.1:2\n' > "$R"
echo "fake cordond: wrote a hostile ready file"
sleep 1
exit 1
SH
chmod +x "$V/fake-cordond"
XDG_RUNTIME_DIR=$T/rt CORDON_CORDOND=$V/fake-cordond run "a malformed ready file is not taken" 125 \
    "$CORDON" run --policy "$FX/plain.json" --audit "$V/a7" -- true
has "the run waits for a ready file that parses, and says cordond exited" "did not start (it exited)"
has "it quotes what cordond said" "fake cordond: wrote a hostile ready file"
# --kernel-audit: its three values, for the embedded default only; cordond's flag the same
run "--kernel-audit with another value is a usage error" 2 "$CORDON" run --policy "$FX/plain.json" \
    --audit "$V/a8" --kernel-audit sometimes -- true
has "it names the values" "--kernel-audit sometimes: expected off, on or if-enabled"
run "--kernel-audit with a server is a usage error" 2 "$CORDON" run --server http://127.0.0.1:9 \
    --key "ck_$(printf 'A%.0s' $(seq 43))" --kernel-audit on -- true
has "it says where the setting belongs" "kernel_audit line"
CD=$(cd "$(dirname "$CORDON")/../policy/server" && pwd)/cordond
run "cordond --kernel-audit with another value is refused" 2 "$CD" --policy "$FX/plain.json" \
    --kernel-audit sometimes --state-dir "$V/kd" --listen 127.0.0.1:0
has "cordond names the values" "off|on|if-enabled"
finish
