# SPDX-License-Identifier: Apache-2.0
# Machinery of the escape suite, sourced by run.sh (which sets CORDON and PROBES first):
#
# - a private run directory with a temporary HOME holding canaries with random tokens, so that
#   the real ~/.ssh and ~/.aws are never touched;
# - policies written from templates;
# - attack(): one attack under `cordon exec`, with the canary watcher (canary_watch.c) around
#   it, its output, exit status and the canaries' state captured afterwards;
# - verdicts (denied, denied_rc, allowed, limit) that print ok / FAIL / skip with the reasons,
#   and a closing tally whose last line is exactly "N passed, N failed".
#
# Proof that a canary was not read does not rest on what the attack prints: the watcher sees
# every successful open, read or change (fsnotify fires only after success), the canaries'
# content, size, times, mode, owner, link count and inode are compared with a baseline, and
# the output of every attack is searched for the secret tokens.
set -u

PASS=0
FAIL=0
SKIP=0
BG_PIDS=()
IPC_OBJS=()  # SysV objects the runner planted, as "shm:ID", "msg:ID", "sem:ID"
MQ_NAMES=()  # POSIX message queues the runner planted (or an attack might have made)
CG_DIRS=()   # cgroups the runner made itself (controls), removed after their processes

RUN=$(mktemp -d /tmp/cordon-escape.XXXXXX)
chmod 755 "$RUN"

# Every object the suite made goes again, whatever path the run took to its end. Only the
# runner itself cleans up: bash can run the EXIT trap in a subshell that a signal ends, and
# that subshell must not take the run directory and the listeners away from the runner.
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    local p o d
    for p in "${BG_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    for o in "${IPC_OBJS[@]}"; do
        case $o in
        shm:*) ipcrm -m "${o#shm:}" 2>/dev/null ;;
        msg:*) ipcrm -q "${o#msg:}" 2>/dev/null ;;
        sem:*) ipcrm -s "${o#sem:}" 2>/dev/null ;;
        esac
    done
    for o in "${MQ_NAMES[@]}"; do
        "$PROBES/escape_probe" mq unlink "$o" x >/dev/null 2>&1
    done
    for d in "${CG_DIRS[@]}"; do
        if [ -d "$d" ]; then
            xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null
            sleep 0.1
            rmdir "$d" 2>/dev/null
        fi
    done
    rm -rf "$RUN"
}
trap cleanup EXIT

ok() {
    PASS=$((PASS + 1))
    printf 'ok   %s\n' "$1"
}
bad() {
    FAIL=$((FAIL + 1))
    printf 'FAIL %s\n' "$1"
    shift
    local l
    for l in "$@"; do
        printf '%s\n' "$l" | sed 's/^/     /'
    done
}
# skip NAME CAUSE: CAUSE is "kernel lacks ..." or "n/a: ..." (this machine, not the kernel),
# so that a reader of the tally knows which; any other wording is a failure of the suite.
SKIP_KERNEL=0
skip() {
    case $2 in
    "kernel lacks "*) SKIP_KERNEL=$((SKIP_KERNEL + 1)) ;;
    "n/a: "*) ;;
    *)
        bad "$1" "skipped without naming its cause as \"kernel lacks ...\" or \"n/a: ...\": $2"
        return
        ;;
    esac
    SKIP=$((SKIP + 1))
    printf 'skip %s: %s\n' "$1" "$2"
}
finish() {
    echo "$SKIP skipped ($SKIP_KERNEL: the kernel lacks the feature; $((SKIP - SKIP_KERNEL)): n/a on this machine; each skip line names its cause)"
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
die() {
    echo "escape suite: $*" >&2
    FAIL=$((FAIL + 1))
    finish
    exit 1
}

token() {
    head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# ---------------------------------------------------------------- the run directory
#
#   $RUN/home            HOME for every sandboxed command ($H)
#        .ssh/id_rsa         secret canary (denied by the credential set)
#        .aws/credentials    secret canary
#        notes.txt           not secret: must stay readable when HOME is the current dir
#        .sshfoo/file        prefix collision with .ssh: must stay readable
#   $RUN/late            a second HOME whose ~/.aws is created after the sandbox applied
#   $RUN/proj            the usual current directory: read-only (ro.txt must survive)
#   $RUN/ws              the workspace (read-write)
#   $RUN/tmp             TMPDIR, ${tmp} in the policies (read-write)
#   $RUN/suid            a set-user-ID helper (exec allowed by path, not writable)
#   $RUN/out             the runner's own files: outputs, logs; never granted to a sandbox
#   $RUN/policies        the policies, written from the templates below
H=$RUN/home
LH=$RUN/late
PROJ=$RUN/proj
WS=$RUN/ws
TMPD=$RUN/tmp
SUID=$RUN/suid
OUTD=$RUN/out
POL=$RUN/policies

T_SSH=$(token)
T_AWS=$(token)
T_NOTES=$(token)
T_FOO=$(token)
T_RO=$(token)
T_ENV=$(token)
T_LATE=$(token)
# Tokens that must never appear in an attack's output.
SECRETS=("$T_SSH" "$T_AWS" "$T_ENV" "$T_LATE")

make_tree() {
    mkdir -p "$H/.ssh" "$H/.aws" "$H/.sshfoo" "$LH" "$PROJ" "$WS" "$TMPD" "$SUID" "$OUTD" "$POL"
    printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\ncordon-canary-ssh-%s\n' "$T_SSH" \
        >"$H/.ssh/id_rsa"
    chmod 700 "$H/.ssh"
    chmod 600 "$H/.ssh/id_rsa"
    printf '[default]\naws_secret_access_key = cordon-canary-aws-%s\n' "$T_AWS" \
        >"$H/.aws/credentials"
    chmod 600 "$H/.aws/credentials"
    printf 'notes-%s\n' "$T_NOTES" >"$H/notes.txt"
    printf 'sshfoo-%s\n' "$T_FOO" >"$H/.sshfoo/file"
    printf 'late-home notes\n' >"$LH/notes.txt"
    printf 'read-only-%s\n' "$T_RO" >"$PROJ/ro.txt"
}

# write_policy NAME ENFORCEMENT NETWORK_MODE READ_WRITE_EXTRA [IPC_EXTRA [SANDBOX_EXTRA]]
# The probes' directory and the set-user-ID directory are allowed by path in exec.allow so
# that the probes can run at all; everything else about exec is the "deny rm" rule.
# IPC_EXTRA and SANDBOX_EXTRA are spliced into "ipc" and "sandbox" (', "sysv": "private"',
# ', "limits": {...}').
write_policy() {
    local name=$1 enf=$2 net=$3 rw_extra=$4 ipc_extra=${5:-} sb_extra=${6:-}
    cat >"$POL/$name.json" <<EOF
{
  "cordon_policy": 1,
  "agent": "escape-$name",
  "description": "cordon escape suite policy $name",
  "sandbox": {
    "enforcement": "$enf",
    "filesystem": {
      "read_write": ["\${workspace}", "\${tmp}"$rw_extra],
      "read_only": ["\${cwd}"]
    },
    "exec": { "allow": ["*", "$PROBES", "$SUID"], "deny": ["rm"] },
    "network": { "mode": "$net" },
    "ipc": { "signals": "scoped", "abstract_unix": "scoped"$ipc_extra }$sb_extra
  }
}
EOF
}

make_policies() {
    write_policy fs strict proxy ""
    write_policy none strict none ""
    write_policy homerw strict proxy ', "~"'
    write_policy threads_strict strict none ""
    write_policy threads_best_effort best_effort none ""
    write_policy sysv_private strict none "" ', "sysv": "private"'
    write_policy lim_procs strict none "" "" ', "limits": { "processes": 50 }'
    write_policy lim_procs_be best_effort none "" "" ', "limits": { "processes": 50 }'
    write_policy lim_mem strict none "" "" ', "limits": { "memory": "64M" }'
    write_policy lim_cpu strict none "" "" ', "limits": { "cpu_seconds": 1 }'
    write_policy lim_files strict none "" "" ', "limits": { "open_files": 16 }'
}

# ---------------------------------------------------------------- canary state

# The canaries and the places an attack could write to; compared before and after each attack.
STATE_FILES=()
STATE_DIRS=()
set_state_paths() {
    STATE_FILES=("$H/.ssh/id_rsa" "$H/.aws/credentials" "$PROJ/ro.txt")
    STATE_DIRS=("$H" "$H/.ssh" "$H/.aws" "$PROJ" "$RUN")
}

# Hashing opens the canaries: only ever called while no watcher runs.
state() {
    local f d
    for f in "${STATE_FILES[@]}"; do
        if [ -e "$f" ]; then
            printf '%s sha256=%s %s\n' "$f" "$(sha256sum <"$f" | cut -c1-16)" \
                "$(stat -c 'size=%s mtime=%Y ctime=%Z links=%h mode=%a owner=%u:%g inode=%i' "$f")"
        else
            printf '%s MISSING\n' "$f"
        fi
    done
    for d in "${STATE_DIRS[@]}"; do
        if [ -e "$d" ]; then
            printf '%s %s\n' "$d" "$(stat -c 'mtime=%Y ctime=%Z links=%h mode=%a inode=%i' "$d")"
        else
            printf '%s MISSING\n' "$d"
        fi
    done
}

BASELINE=
rebaseline() {
    BASELINE=$(state)
}

# compare_state: A_CHANGED gets what differs from the baseline, which then moves on, so that
# a change is reported once, against the attack that made it.
compare_state() {
    local now
    now=$(state)
    A_CHANGED=
    if [ "$now" != "$BASELINE" ]; then
        A_CHANGED=$(diff <(echo "$BASELINE") <(echo "$now") | grep '^[<>]')
        rebaseline
    fi
}

# matches TEXT REGEX: some line of TEXT matches the extended regular expression.
matches() {
    printf '%s\n' "$1" | grep -Eq -- "$2"
}

# ---------------------------------------------------------------- background helpers

# wait_for FILE REGEX: up to 60 s of wall time (a loaded machine starts an ASan cordond
# slowly, and a count of polls stretches with every fork) for a line matching REGEX to
# appear in FILE.
wait_for() {
    local until=$((SECONDS + 60))
    while ((SECONDS < until)); do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        sleep 0.01
    done
    grep -Eq "$2" "$1" 2>/dev/null
}

# listener NAME ADDR PORT: a TCP listener outside the sandbox; sets PORT_<NAME>.
# shellcheck disable=SC2034 # set here, read by run.sh
PORT_proxy='' PORT_other='' PORT_other6='' PORT_alias=''
listener() {
    local name=$1 addr=$2 port=$3
    "$PROBES/escape_probe" listen "$addr" "$port" "$OUTD/listen_$name.log" \
        >"$OUTD/listen_$name.out" 2>&1 &
    BG_PIDS+=($!)
    wait_for "$OUTD/listen_$name.out" '^port [0-9]+' ||
        return 1
    printf -v "PORT_$name" '%s' "$(sed -n 's/^port //p' "$OUTD/listen_$name.out")"
    : >>"$OUTD/listen_$name.log"
}

# accepts NAME: connections the listener has accepted so far.
accepts() {
    grep -c . "$OUTD/listen_$1.log" 2>/dev/null || true
}

# ---------------------------------------------------------------- one attack

W_EXTRA=()   # more watch arguments for one attack (reset after each)
A_WRAP=()    # command put between `timeout` and cordon (victim, pty); reset after each
A_HOME=      # HOME for one attack; $H unless set (reset after each)
A_EXTRA=()   # more `cordon exec` options for one attack (reset after each)
A_RC=0
A_OUT=
A_EVENTS=0
A_WATCH=
A_CHANGED=

watch_start() {
    "$PROBES/canary_watch" "F:$H/.ssh/id_rsa" "F:$H/.aws/credentials" "D:$H/.ssh" \
        "D:$H/.aws" "A:$H" "A:$RUN" "${W_EXTRA[@]}" >"$OUTD/watch" 2>&1 &
    W_PID=$!
    wait_for "$OUTD/watch" '^ready$' || die "the canary watcher did not start: $(cat "$OUTD/watch")"
}

watch_stop() {
    kill -TERM "$W_PID" 2>/dev/null
    wait "$W_PID" 2>/dev/null
    A_EVENTS=$(sed -n 's/^events \([0-9]*\) .*/\1/p' "$OUTD/watch")
    [ -n "$A_EVENTS" ] || A_EVENTS="unknown (watcher output: $(cat "$OUTD/watch"))"
    A_WATCH=$(grep '^event ' "$OUTD/watch")
}

# cordon_args POLICY: the `cordon exec` options for POLICY (--proxy only in proxy mode).
cordon_args() {
    CARGS=(exec --policy "$POL/$1.json" --workspace "$WS")
    if grep -q '"mode": "proxy"' "$POL/$1.json"; then
        CARGS+=(--proxy "$PORT_proxy")
    fi
    CARGS+=("${A_EXTRA[@]}")
}

# A sanitizer build of cordon (or of escape_threads) runs LeakSanitizer at exit, and LSan
# needs ptrace, which the sandbox refuses: its fatal error would replace the exit status.
SAN_ENV="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# attack_start POLICY CWD CMD...: start CMD under `cordon exec` in the background, in CWD,
# with a clean environment, the canary HOME and the canary watcher running.
attack_start() {
    local policy=$1 cwd=$2
    shift 2
    cordon_args "$policy"
    watch_start
    (
        cd "$cwd" || exit 99
        exec env -i HOME="${A_HOME:-$H}" PATH=/usr/bin:/bin TMPDIR="$TMPD" LC_ALL=C.UTF-8 \
            TERM=dumb "$SAN_ENV" timeout -k 5 60 "${A_WRAP[@]}" "$CORDON" "${CARGS[@]}" -- "$@"
    ) >"$OUTD/stdout" 2>"$OUTD/stderr" </dev/null &
    A_PID=$!
}

# attack_finish: wait for the attack, stop the watcher, collect everything.
attack_finish() {
    wait "$A_PID" 2>/dev/null # a limit kills by design: no "Killed" notice
    A_RC=$?
    watch_stop
    A_OUT=$(cat "$OUTD/stdout" "$OUTD/stderr")
    compare_state
    W_EXTRA=()
    A_WRAP=()
    A_HOME=
    A_EXTRA=()
}

# attack POLICY CWD CMD...: one attack, start to finish.
attack() {
    attack_start "$@"
    attack_finish
}

# outside CMD...: run CMD with the same environment but no sandbox (controls); sets A_RC/A_OUT.
outside() {
    A_OUT=$(cd "$PROJ" && env -i HOME="$H" PATH=/usr/bin:/bin TMPDIR="$TMPD" LC_ALL=C.UTF-8 \
        TERM=dumb timeout -k 5 60 "$@" 2>&1 </dev/null)
    A_RC=$?
}

# ---------------------------------------------------------------- verdicts

# Reasons common to every verdict: nothing leaked, nothing touched, nobody killed. Fills WHY
# with what went wrong, starting from PRE_WHY: reasons the caller found in side effects (a
# file that should have survived, a process that should be alive).
PRE_WHY=()
WHY=()
common_checks() {
    local s
    WHY=("${PRE_WHY[@]}")
    PRE_WHY=()
    for s in "${SECRETS[@]}"; do
        case "$A_OUT" in *"$s"*) WHY+=("a secret canary token appears in the output") ;; esac
    done
    [ "$A_EVENTS" = 0 ] ||
        WHY+=("the canary watcher saw $A_EVENTS event(s) (fsnotify fires only on success):"
            "$A_WATCH")
    [ -z "$A_CHANGED" ] || WHY+=("canary or protected path changed:" "$A_CHANGED")
    if [ "$A_RC" -eq 125 ]; then
        WHY+=("cordon exec failed before exec (exit 125): $(tail -3 <<<"$A_OUT")")
    elif [ "$A_RC" -eq 124 ] || [ "$A_RC" -eq 137 ]; then
        WHY+=("timed out (exit $A_RC)")
    elif [ "$A_RC" -gt 128 ] && [ "$A_RC" -lt 160 ]; then
        WHY+=("killed by signal $((A_RC - 128)): denials must return EPERM or EACCES, not kill")
    fi
}

# ESCAPE_VERBOSE=1 shows what each passing attack printed, too.
report() {
    local name=$1
    if [ "${#WHY[@]}" -eq 0 ]; then
        ok "$name"
        [ -z "${ESCAPE_VERBOSE:-}" ] || printf '%s\n' "$A_OUT" | head -3 | sed 's/^/     | /'
    else
        bad "$name" "${WHY[@]}" "exit status: $A_RC" "output:" \
            "$(printf '%s\n' "$A_OUT" | head -20)"
    fi
}

# denied NAME REGEX: the attack failed (nonzero exit) with output matching REGEX (ERE).
denied() {
    local name=$1 re=$2
    common_checks
    [ "$A_RC" -ne 0 ] || WHY+=("the attack SUCCEEDED (exit 0)")
    matches "$A_OUT" "$re" || WHY+=("expected output matching /$re/")
    report "$name"
}

# denied_rc NAME STATUS [REGEX]: cordon exec's own exec failed with exactly STATUS.
denied_rc() {
    local name=$1 want=$2 re=${3:-}
    common_checks
    [ "$A_RC" -eq "$want" ] || WHY+=("expected exit status $want")
    if [ -n "$re" ]; then
        matches "$A_OUT" "$re" || WHY+=("expected output matching /$re/")
    fi
    report "$name"
}

# allowed NAME REGEX...: a positive control: exit 0 and every REGEX matches the output.
allowed() {
    local name=$1 re
    shift
    common_checks
    [ "$A_RC" -eq 0 ] || WHY+=("a positive control failed: the sandbox refused what it must allow")
    for re in "$@"; do
        matches "$A_OUT" "$re" || WHY+=("expected output matching /$re/")
    done
    report "$name"
}

# limit NAME NOTE REGEX: a documented limit of the kernel mechanism. It passes when the limit
# reproduces (exit 0, REGEX matches, PRE_WHY empty) and prints NOTE; when it stops
# reproducing, the README and docs/SECURITY.md are out of date and the test fails to say so.
limit() {
    local name=$1 note=$2 re=$3
    local pre=("${PRE_WHY[@]}")
    PRE_WHY=()
    if [ "$A_RC" -eq 0 ] && [ "${#pre[@]}" -eq 0 ] && matches "$A_OUT" "$re"; then
        ok "$name"
        printf '     note: %s\n' "$note"
    else
        bad "$name" "the documented limit did not reproduce (the sandbox now stops it?):" \
            "update tests/escape/README.md and docs/SECURITY.md" "${pre[@]}" "exit status: $A_RC" \
            "output:" "$(printf '%s\n' "$A_OUT" | head -20)"
    fi
}
