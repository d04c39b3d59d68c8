#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kernel's own refusals in the agent's audit trail (kernel_audit, docs/SECURITY.md "Kernel
# refusals"): a static binary, which no hook can see, under the real `cordon run
# --kernel-audit on` with its private cordond:
#
#   - reads ~/.ssh/id_rsa (a temporary HOME), execs a denied program, opens a UDP socket;
#     each refusal is in `cordon audit query --agent A` as kernel.deny with the probe's pid
#     and exe; the same three actions work outside the sandbox (the control);
#   - a burst of 10,000 denied opens is either recorded in full or the kernel.loss record
#     says how many were lost, and its count adds up with the kernel.deny records;
#   - with --kernel-audit off the same run leaves no kernel.deny (what is checked is kaudit);
#   - the host's audit state (enabled flag, backlog limit) is the same afterwards: the test
#     saves it first and restores it on every way out (trap), whatever cordond did.
#
# Needs root (CAP_AUDIT_CONTROL, CAP_AUDIT_READ) and Landlock ABI 7; without them it skips,
# except under CI=true, where it fails.
#
#   usage: run_kernel_audit.sh CORDON PROBES_DIR
# shellcheck source-path=SCRIPTDIR disable=SC2016
if [ $# -ne 2 ]; then
    echo "usage: run_kernel_audit.sh CORDON PROBES_DIR" >&2
    exit 2
fi
CORDON=$(realpath "$1")
PROBES=$(realpath "$2")
HERE=$(dirname "$(realpath "$0")")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

P=$PROBES/kaudit_probe
STATE=$PROBES/audit_state
[ -x "$P" ] && [ -x "$STATE" ] || die "$P or $STATE is missing: build the tree first"
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is needed to read the audit records"

cannot() {
    if [ "${CI:-}" = true ]; then
        die "$1 (under CI=true this test never skips)"
    fi
    skip "kernel audit" "$1"
    finish
    exit 0
}
[ "$(id -u)" = 0 ] || cannot "n/a: needs root (CAP_AUDIT_CONTROL and CAP_AUDIT_READ)"
SAVED=$("$STATE" get 2>&1) || cannot "n/a: the audit state cannot be read: $SAVED"
ABI=$("$PY" -c 'import ctypes; l=ctypes.CDLL(None, use_errno=True); print(l.syscall(444, None, 0, 1))')
[ "$ABI" -ge 7 ] 2>/dev/null || cannot "kernel lacks Landlock ABI 7 (it has $ABI): denials of executed programs are not logged"

# restore_audit: put the enabled flag and the backlog limit back as they were, on every exit
saved_enabled=$(sed -n 's/.*enabled=\([0-9]*\).*/\1/p' <<<"$SAVED")
saved_backlog=$(sed -n 's/.*backlog_limit=\([0-9]*\).*/\1/p' <<<"$SAVED")
restore_audit() {
    [ "$BASHPID" = "$$" ] || return 0
    [ "$saved_enabled" = 2 ] || "$STATE" set "$saved_enabled" "$saved_backlog" 2>/dev/null
    cleanup
}
trap restore_audit EXIT
trap 'exit 130' INT TERM

make_tree
BIN=$RUN/bin
mkdir -p "$BIN"
cp /bin/true "$BIN/forbidden"
# a program where no exec rule reaches: the shell's hook lets its exec through, the kernel
# refuses it, and the two records must name each other
NOX=$RUN/nox
mkdir -p "$NOX"
cp /bin/true "$NOX/prog"
cat >"$POL/kaudit.json" <<EOF
{"cordon_policy": 1, "agent": "kaudit-test",
 "sandbox": {"enforcement": "best_effort",
   "filesystem": {"read_write": ["\${workspace}", "\${tmp}"], "read_only": ["\${cwd}"]},
   "exec": {"allow": ["*", "$PROBES", "$BIN"], "deny": ["$BIN/forbidden"]},
   "network": {"mode": "proxy", "allow": []},
   "ipc": {"signals": "scoped", "abstract_unix": "scoped"}}}
EOF

# ---------------------------------------------------------------- the control, outside
out=$("$P" read "$H/.ssh/id_rsa")
case $out in *" ok") ok "control: the probe reads ~/.ssh/id_rsa outside the sandbox" ;;
*) bad "control: the probe reads ~/.ssh/id_rsa outside the sandbox" "$out" ;; esac
if "$P" exec "$BIN/forbidden" >"$OUTD/c.exec" 2>&1 && ! grep -q refused "$OUTD/c.exec"; then
    ok "control: the probe executes $BIN/forbidden outside the sandbox"
else
    bad "control: the probe executes $BIN/forbidden outside the sandbox" "$(cat "$OUTD/c.exec")"
fi
out=$("$P" udp)
case $out in *" ok") ok "control: the probe opens a UDP socket outside the sandbox" ;;
*) bad "control: the probe opens a UDP socket outside the sandbox" "$out" ;; esac

# ---------------------------------------------------------------- under cordon run
# run_probes MODE AUDIT_DIR: the three attacks and the burst, in one run
run_probes() {
    (cd "$WS" && HOME=$H TMPDIR=$TMPD timeout 120 "$CORDON" run --policy "$POL/kaudit.json" \
        --audit "$2" --kernel-audit "$1" -- /bin/sh -c '
        "$0" read "$HOME/.ssh/id_rsa"; "$0" exec "$1"; "$0" udp; "$0" burst 10000 "$HOME/.ssh/id_rsa"
        "$2"; true' "$P" "$BIN/forbidden" "$NOX/prog") >"$OUTD/run.$1" 2>&1
}
# From a known state, audit off with the default backlog limit, so that "on" has both to
# change and both to put back whatever the host had (the trap restores the host's own after).
"$STATE" set 0 64 || die "cannot set the audit state to enabled=0 backlog_limit=64"
BEFORE_ON=$("$STATE" get)
run_probes on "$OUTD/audit.on"
rc=$?
now=$("$STATE" get)
[ "$rc" = 0 ] || bad "cordon run --kernel-audit on ran the probes" "exit $rc" "$(cat "$OUTD/run.on")"
for what in read exec udp; do
    grep -q "^$what pid=[0-9]* refused" "$OUTD/run.on" ||
        bad "the kernel refused the probe's $what" "$(cat "$OUTD/run.on")"
done
"$CORDON" audit query "$OUTD/audit.on" --agent kaudit-test --json >"$OUTD/records.on" 2>&1 ||
    bad "cordon audit query reads the run's log" "$(cat "$OUTD/records.on")"

# check WHAT: one verdict from the records (python3 reads the JSON lines)
# judge RECORDS RUN_OUTPUT: one line per check, "NAME yes|no", and "why ..." for the burst
judge() {
    "$PY" - "$1" "$2" "$P" "$H/.ssh/id_rsa" "$BIN/forbidden" "$NOX/prog" <<'EOF'
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
out = open(sys.argv[2]).read()
probe, secret, forbidden = sys.argv[3], sys.argv[4], sys.argv[5]
def pid_of(mode):
    m = re.search(r"^%s pid=(\d+) " % mode, out, re.M)
    return int(m.group(1)) if m else -1
def fields(r):
    return r.get("fields", r)
deny = [fields(r) for r in recs if r.get("kind") == "kernel.deny"]
def has(pred):
    return any(pred(f) for f in deny)
res = []
p = pid_of("read")
res.append(("read", has(lambda f: f.get("mechanism") == "landlock" and f.get("path") == secret
            and f.get("pid") == p and f.get("exe") == probe and "fs.read_file" in f.get("blockers", ""))))
# the exec: the probe (pid of its "exec" line) executing the denied program
p = pid_of("exec")
res.append(("exec", has(lambda f: f.get("mechanism") == "landlock" and f.get("path") == forbidden
            and f.get("pid") == p and f.get("exe") == probe and "fs.execute" in f.get("blockers", ""))))
p = pid_of("udp")
res.append(("udp", has(lambda f: f.get("mechanism") == "seccomp" and f.get("pid") == p
            and f.get("exe") == probe and f.get("syscall") == 41)))
# the burst: all 10,000 recorded, or the loss record says how many were not
p = pid_of("burst")
n_burst = sum(1 for f in deny if f.get("pid") == p and f.get("path") == secret)
loss = [fields(r) for r in recs if r.get("kind") == "kernel.loss"]
dom = {f.get("domain") for f in deny if f.get("pid") == p}
ok_burst = False
why = "no kernel.loss record for the burst's domain %s" % dom
for l in loss:
    if l.get("domain") not in dom:
        continue
    n_dom = sum(1 for f in deny if f.get("domain") == l["domain"])
    adds_up = l["received"] == n_dom and l["lost"] == l["denials"] - l["received"]
    # never more than were made (no record twice), and what is missing is within the loss
    ok_burst = adds_up and n_burst <= 10000 and (n_burst == 10000 or n_burst + l["lost"] >= 10000)
    why = "burst recorded %d of 10000; loss record %s; %d kernel.deny in the domain" % (
        n_burst, l, n_dom)
res.append(("burst", ok_burst))
# the shell's exec of a program no exec rule reaches: hook allowed, kernel refused, linked
nox = sys.argv[6]
kd = [f for f in deny if f.get("path") == nox and "fs.execute" in f.get("blockers", "")]
hooks = [fields(r) for r in recs if r.get("kind") == "exec"
         and (fields(r).get("detail") or {}).get("path") == nox]
linked = any(f.get("hook", {}).get("kind") == "exec" for f in kd) or any(
    h.get("kernel_serial") in {f.get("serial") for f in kd} for h in hooks)
res.append(("link", bool(kd) and bool(hooks) and linked))
# the enforcement report says what the kernel's audit gets
rep = [fields(r).get("detail", {}) for r in recs if r.get("kind") == "sandbox.report"]
res.append(("report", bool(rep) and rep[0]["landlock"].get("audit_new_exec") is True
            and rep[0]["landlock"].get("audit_domain_named") is True
            and rep[0]["seccomp"].get("audit_logged") is True))
for name, good in res:
    print("%s %s" % (name, "yes" if good else "no"))
print("why " + why)
print("lost %d" % max([l["lost"] for l in loss if l.get("domain") in dom] or [-1]))
EOF
}
verdict=$(judge "$OUTD/records.on" "$OUTD/run.on")
for what in read exec udp; do
    if grep -q "^$what yes" <<<"$verdict"; then
        ok "kernel.deny for the static probe's $what, with its pid and exe"
    else
        bad "kernel.deny for the static probe's $what, with its pid and exe" \
            "$(grep -v '"kind":"policy' "$OUTD/records.on" | grep kernel | head -20)" "$(cat "$OUTD/run.on")"
    fi
done
if grep -q "^report yes" <<<"$verdict"; then
    ok "the enforcement report says Landlock logs executed programs, the domain was named and seccomp logs"
else
    bad "the enforcement report says Landlock logs executed programs, the domain was named and seccomp logs" \
        "$(grep sandbox.report "$OUTD/records.on" | head -1)"
fi
if grep -q "^link yes" <<<"$verdict"; then
    ok "the shell's exec that its hook let through and the kernel refused: the two records name each other"
else
    bad "the shell's exec that its hook let through and the kernel refused: the two records name each other" \
        "$(grep -F "$NOX/prog" "$OUTD/records.on" | head -5)"
fi
if grep -q "^burst yes" <<<"$verdict"; then
    ok "a burst of 10,000 denials is recorded or counted as lost ($(sed -n 's/^why //p' <<<"$verdict"))"
else
    bad "a burst of 10,000 denials is recorded or counted as lost" "$(sed -n 's/^why //p' <<<"$verdict")"
fi
if [ "$(sed 's/ lost=.*//' <<<"$now")" = "$(sed 's/ lost=.*//' <<<"$BEFORE_ON")" ] &&
    grep -q 'enabled=0' <<<"$now"; then
    ok "--kernel-audit on enabled audit and raised the backlog, and put both back ($(sed 's/ lost=.*//' <<<"$now"))"
else
    bad "--kernel-audit on enabled audit and raised the backlog, and put both back" \
        "before: $BEFORE_ON" "after:  $now"
fi

# ---------------------------------------------------------------- a loss is counted
# Audit enabled by someone else with the kernel's default backlog limit (64): if-enabled uses
# it as it is, the burst overflows it, and kernel.loss must count exactly what is missing.
if "$STATE" set 1 64; then
    run_probes if-enabled "$OUTD/audit.low"
    "$CORDON" audit query "$OUTD/audit.low" --agent kaudit-test --json >"$OUTD/records.low" 2>&1
    v=$(judge "$OUTD/records.low" "$OUTD/run.if-enabled")
    if grep -q "^burst yes" <<<"$v"; then
        ok "with backlog limit 64 the burst's loss is counted exactly (lost $(sed -n 's/^lost //p' <<<"$v"))"
    else
        bad "with backlog limit 64 the burst's loss is counted exactly" "$(sed -n 's/^why //p' <<<"$v")"
    fi
    "$STATE" set "$saved_enabled" "$saved_backlog"
else
    bad "the audit state can be set for the loss case"
fi

# ---------------------------------------------------------------- off: kaudit is what records
run_probes off "$OUTD/audit.off"
"$CORDON" audit query "$OUTD/audit.off" --agent kaudit-test --kind kernel.deny --json \
    >"$OUTD/records.off" 2>&1
if grep -q '^read pid=[0-9]* refused' "$OUTD/run.off" && ! grep -q kernel.deny "$OUTD/records.off"; then
    ok "with --kernel-audit off the same refusals leave no kernel.deny"
else
    bad "with --kernel-audit off the same refusals leave no kernel.deny" "$(head -5 "$OUTD/records.off")" \
        "$(cat "$OUTD/run.off")"
fi
finish
