#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The escape suite: attacks the KERNEL must stop, each run under `cordon exec` with the canary
# watcher around it. Raw system calls come from the static escape_probe, so no LD_PRELOAD hook
# can hide or cause a result; real programs (python3, sh, cat, cp) show the same from the
# other side. Prints one ok / FAIL / skip line per check, then "N passed, N failed"; exits
# nonzero on any failure. A check is skipped only when this kernel lacks the feature under
# test, and the skip line says which.
#
#   usage: run.sh CORDON PROBES_DIR
#     CORDON      the cordon binary (build/tools/cordon)
#     PROBES_DIR  where escape_probe, canary_watch and escape_threads were built
#
# Must run as root (a set-user-ID helper owned by nobody is part of the no_new_privs check).
# Network traffic stays on loopback: 127.0.0.0/8 and ::1.
#
# Shell snippets run inside the sandbox are single-quoted on purpose: they expand there.
# shellcheck source-path=SCRIPTDIR disable=SC2016
if [ $# -ne 2 ]; then
    echo "usage: run.sh CORDON PROBES_DIR" >&2
    exit 2
fi
CORDON=$(realpath "$1")
PROBES=$(realpath "$2")
HERE=$(dirname "$(realpath "$0")")
# shellcheck source=lib.sh
. "$HERE/lib.sh"

P=$PROBES/escape_probe
PY=/usr/bin/python3
LDSO=/lib64/ld-linux-x86-64.so.2
# Python snippets: a TCP connection to 127.0.0.1:argv[1], a UDP socket.
PY_TCP='import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
print("py-connected")'
PY_UDP='import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print("py-udp")'
# What a refusal looks like, per mechanism.
FS='errno=(EACCES|EPERM)'
XDEV='errno=(EXDEV|EACCES|EPERM)'
NET='errno=(EACCES|EPERM)'
SYS='errno=(EPERM|EACCES)'
PYDENY='PermissionError'

# ---------------------------------------------------------------- preflight and setup

for f in "$P" "$PROBES/canary_watch" "$PROBES/escape_threads"; do
    [ -x "$f" ] || die "$f is missing: build the tree first (tools/build.sh)"
done
[ "$(id -u)" -eq 0 ] || die "the escape suite must run as root (it plants a set-user-ID helper)"
"$CORDON" exec --help >/dev/null 2>&1 || die "\`$CORDON exec --help\` fails: is cordon exec built?"
[ -x "$PY" ] || die "$PY is needed (real-program attacks, pty)"

make_tree
make_policies
set_state_paths

ABI=$("$P" abi | sed -n 's/^landlock_abi=//p')
echo "# kernel $(uname -r), Landlock ABI $ABI, run directory $RUN"
[ "${ABI:-0}" -ge 1 ] || die "Landlock is not available on this kernel: nothing to test"

listener proxy 127.0.0.1 0 || die "cannot start the proxy-port listener"
listener other 127.0.0.1 0 || die "cannot start the non-proxy listener"
# the proxy port on another loopback address: Landlock filters by port only
listener alias 127.0.0.2 "$PORT_proxy" || die "cannot listen on 127.0.0.2:$PORT_proxy"
HAVE_V6=1
listener other6 ::1 0 || HAVE_V6=0
if [ "$HAVE_V6" = 1 ] && [ "$PORT_other6" = "$PORT_proxy" ]; then
    die "the IPv6 listener got the proxy port by chance; run again"
fi
UNAME=cordon-escape-$(token)
"$P" ulisten "$UNAME" "$OUTD/unix.log" >"$OUTD/unix.out" 2>&1 &
BG_PIDS+=($!)
wait_for "$OUTD/unix.out" '^ready$' || die "cannot start the abstract unix listener"
: >>"$OUTD/unix.log"
# a process outside the sandbox, with a secret in its environment
env -i CORDON_ESCAPE_SECRET="env-$T_ENV" /usr/bin/sleep 600 >/dev/null 2>&1 &
SLEEPER=$!
BG_PIDS+=("$SLEEPER")
# a process outside that holds the key open on fd 3, and one with a token in its arguments
/usr/bin/sleep 600 3<"$H/.ssh/id_rsa" >/dev/null 2>&1 &
HOLDER=$!
BG_PIDS+=("$HOLDER")
T_ARGV=$(token)
(exec -a "cordon-argv-$T_ARGV" /usr/bin/sleep 600) >/dev/null 2>&1 &
ARGV_HOLDER=$!
BG_PIDS+=("$ARGV_HOLDER")
# the set-user-ID helper: owned by nobody, so that an honoured bit would switch root to 65534
cp "$P" "$SUID/euid_probe"
chown 65534:65534 "$SUID/euid_probe"
chmod 4755 "$SUID/euid_probe"
mkdir -p "$WS/mnt"

rebaseline
echo "# proxy port $PORT_proxy, other port $PORT_other, IPv6 other port ${PORT_other6:-none}"

# ---------------------------------------------------------------- the sandbox is in place

echo "# the sandbox is in place"
A_EXTRA=(--report)
attack fs "$PROJ" /usr/bin/true
allowed report_exit_status
REPORT_FACTS=$("$PY" - "$OUTD/stderr" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read()
start = text.find("{")
try:
    doc, _ = json.JSONDecoder().raw_decode(text[start:]) if start >= 0 else (None, 0)
except ValueError as e:
    print("unparsable: %s" % e); sys.exit(0)
if not isinstance(doc, dict):
    print("no JSON object on stderr"); sys.exit(0)
def get(path):
    v = doc
    for k in path.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    return v
for name, path in (("landlock_abi", "landlock.abi"), ("landlock_applied", "landlock.applied"),
                   ("seccomp_installed", "seccomp.installed"), ("no_new_privs", "no_new_privs")):
    v = get(path)
    print("%s=%s" % (name, int(v) if isinstance(v, (bool, int)) else v))
PYEOF
)
WHY=()
for want in "landlock_applied=1" "seccomp_installed=1" "no_new_privs=1"; do
    case "$REPORT_FACTS" in *"$want"*) ;; *) WHY+=("report lacks $want") ;; esac
done
case "$REPORT_FACTS" in *"landlock_abi=$ABI"*) ;; *) WHY+=("report lacks landlock_abi=$ABI") ;; esac
if [ "${#WHY[@]}" -eq 0 ]; then ok report_says_enforced; else
    bad report_says_enforced "${WHY[@]}" "facts: $REPORT_FACTS" "stderr:" \
        "$(head -c 2000 "$OUTD/stderr")"
fi

attack fs "$PROJ" /bin/sh -c 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'
allowed proc_status_nnp_and_seccomp 'NoNewPrivs:[[:space:]]+1' 'Seccomp:[[:space:]]+2'
attack fs "$PROJ" "$P" status
allowed probe_sees_nnp_and_seccomp 'no_new_privs=1 seccomp=2'

# ---------------------------------------------------------------- reading secrets

echo "# reading secrets (current directory: a read-only project)"
while read -r rel what; do
    f=$H/$rel
    attack fs "$PROJ" "$P" read "$f"
    denied "read_${what}_open" "$FS"
    attack fs "$PROJ" "$P" openat "$f"
    denied "read_${what}_openat" "$FS"
    attack fs "$PROJ" "$P" openat2 "$f"
    denied "read_${what}_openat2" "$FS"
    attack fs "$PROJ" "$PY" -c 'import sys; print(open(sys.argv[1]).read())' "$f"
    denied "read_${what}_python3" "$PYDENY"
    attack fs "$PROJ" /usr/bin/cat "$f"
    denied "read_${what}_cat" 'Permission denied'
    attack fs "$PROJ" "$P" proc_fd_reopen "$f"
    denied "read_${what}_opath_reopen_via_proc_fd" "$FS"
    attack fs "$PROJ" "$P" handle "$f"
    denied "read_${what}_open_by_handle_at" "$FS"
    attack fs "$PROJ" "$P" read "/proc/self/root$f"
    denied "read_${what}_via_proc_self_root" "$FS"
done <<'LIST'
.ssh/id_rsa ssh
.aws/credentials aws
LIST
attack fs "$PROJ" "$P" openat_dirfd "$H/.ssh" id_rsa
denied read_ssh_openat_opath_dirfd "$FS"
attack fs "$PROJ" "$P" chdir_read "$H/.ssh" id_rsa
denied read_ssh_after_chdir "$FS"

# symlinks in the workspace
attack fs "$PROJ" "$P" symlink_read "$H/.ssh/id_rsa" "$WS/ln_ssh"
denied read_ssh_via_symlink_planted_by_attacker "$FS"
ln -s "$H/.aws/credentials" "$WS/ln_aws"
attack fs "$PROJ" "$PY" -c 'import sys; print(open(sys.argv[1]).read())' "$WS/ln_aws"
denied read_aws_via_symlink_python3 "$PYDENY"
ln -s c2 "$WS/c1"
ln -s c3 "$WS/c2"
ln -s "$H/.ssh" "$WS/c3"
attack fs "$PROJ" "$P" read "$WS/c1/id_rsa"
denied read_ssh_via_symlink_chain "$FS"
attack fs "$PROJ" "$P" openat2 "$WS/c1/id_rsa"
denied read_ssh_via_symlink_chain_openat2 "$FS"
rm -f "$WS/ln_ssh" "$WS/ln_aws" "$WS/c1" "$WS/c2" "$WS/c3"

# a hard link into the workspace: refused, or at least unreadable
attack fs "$PROJ" "$P" link_read "$H/.ssh/id_rsa" "$WS/hl_ssh"
if printf '%s\n' "$A_OUT" | grep -q 'link(2) succeeded' && [ "$A_RC" -ne 0 ] &&
    printf '%s\n' "$A_OUT" | grep -Eq "$FS \(open hard link\)"; then
    # the brief allows this outcome; the new link and its metadata change are expected
    rm -f "$WS/hl_ssh"
    rebaseline
    ok read_ssh_via_hard_link
    echo "     note: link(2) into the workspace was allowed; reading through it was refused"
else
    [ ! -e "$WS/hl_ssh" ] || PRE_WHY+=("a hard link to the key exists in the workspace")
    denied read_ssh_via_hard_link "$XDEV"
fi
rm -f "$WS/hl_ssh"

# other processes' secrets through /proc and pidfd
attack fs "$PROJ" "$P" read "/proc/$SLEEPER/environ"
denied read_environ_of_process_outside "$FS"
# the same as an unprivileged user: the sleeper and the agent both run as nobody
NB=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${NB[@]}" env -i CORDON_ESCAPE_SECRET="env-$T_ENV" /usr/bin/sleep 600 >/dev/null 2>&1 &
SLEEPER_NB=$!
BG_PIDS+=("$SLEEPER_NB")
sleep 0.1
outside "${NB[@]}" "$P" read "/proc/$SLEEPER_NB/environ"
if [ "$A_RC" -eq 0 ]; then
    A_WRAP=("${NB[@]}")
    attack fs "$PROJ" "$P" read "/proc/$SLEEPER_NB/environ"
    denied read_environ_of_process_outside_as_same_nonroot_user "$FS"
else
    bad read_environ_of_process_outside_as_same_nonroot_user \
        "control failed: nobody cannot read its own sleeper's environ outside the sandbox" "$A_OUT"
fi
attack fs "$PROJ" "$P" read "/proc/$HOLDER/fd/3"
denied read_ssh_via_proc_fd_of_process_outside "$FS"
attack fs "$PROJ" "$P" fd_steal "$HOLDER" 3
denied read_ssh_via_pidfd_getfd_from_process_outside "$SYS"
attack fs "$PROJ" "$P" read "/proc/$ARGV_HOLDER/cmdline"
limit limit_cmdline_of_process_outside_readable \
    "/proc/<pid>/cmdline is world-readable: arguments of every process stay visible" \
    "cordon-argv-$T_ARGV"

ROOTDEV=$(findmnt -no SOURCE / 2>/dev/null)
if [ -b "$ROOTDEV" ]; then
    attack fs "$PROJ" "$P" read "$ROOTDEV"
    denied read_raw_root_block_device "$FS"
else
    skip read_raw_root_block_device "the root file system is not on a block device here"
fi
if [ -e /proc/kcore ]; then
    attack fs "$PROJ" "$P" read /proc/kcore
    denied read_proc_kcore "$FS"
else
    skip read_proc_kcore "this kernel has no /proc/kcore"
fi

# ---------------------------------------------------------------- HOME as the current directory

echo "# HOME as the (read-only) current directory, ~/.ssh and ~/.aws denied beneath it"
attack fs "$H" "$P" read notes.txt
allowed home_notes_readable "notes-$T_NOTES"
attack fs "$H" "$PY" -c 'print(open("notes.txt").read())'
allowed home_notes_readable_python3 "notes-$T_NOTES"
attack fs "$H" "$P" read .sshfoo/file
allowed home_prefix_collision_sshfoo_readable "sshfoo-$T_FOO"
attack fs "$H" "$P" read .ssh/id_rsa
denied home_ssh_denied "$FS"
attack fs "$H" "$P" read .aws/credentials
denied home_aws_denied "$FS"
attack fs "$H" "$PY" -c 'print(open(".ssh/id_rsa").read())'
denied home_ssh_denied_python3 "$PYDENY"
attack fs "$H" /bin/sh -c 'cat .ssh/* .aws/*'
denied home_credentials_sh_glob '(Permission denied|No such file)'
attack fs "$H" "$P" read /proc/self/cwd/.ssh/id_rsa
denied home_ssh_via_proc_self_cwd "$FS"
attack fs "$H" "$P" openat_dirfd . .ssh/id_rsa
denied home_ssh_openat_dirfd_home "$FS"
attack fs "$H" "$P" rename "$H/.ssh" "$WS/stolen-ssh"
denied home_rename_ssh_into_workspace "$XDEV"
attack fs "$H" "$P" write "$H/notes.txt"
denied home_is_read_only "$FS"

# a credential directory that appears only after the sandbox was applied
# late_credentials NAME POLICY CWD: HOME is $LH, whose ~/.aws is made once the probe runs.
late_credentials() {
    local name=$1 policy=$2 cwd=$3
    rm -rf "$LH/.aws"
    A_HOME=$LH
    attack_start "$policy" "$cwd" "$P" wait_read "$WS/go" "$LH/.aws/credentials"
    if ! wait_for "$OUTD/stdout" 'waiting'; then
        touch "$WS/go"
        attack_finish
        bad "$name" "the probe never started" "$A_OUT"
        rm -f "$WS/go"
        return 1
    fi
    mkdir -p "$LH/.aws"
    printf 'aws_secret_access_key = cordon-canary-late-%s\n' "$T_LATE" >"$LH/.aws/credentials"
    # a second watcher, on the new canary: the first one started before it existed
    "$PROBES/canary_watch" "F:$LH/.aws/credentials" "D:$LH/.aws" >"$OUTD/watch2" 2>&1 &
    W2=$!
    wait_for "$OUTD/watch2" '^ready$'
    touch "$WS/go"
    attack_finish
    kill -TERM "$W2"
    wait "$W2"
    local e2
    e2=$(sed -n 's/^events \([0-9]*\) .*/\1/p' "$OUTD/watch2")
    [ "$e2" = 0 ] ||
        PRE_WHY+=("the late canary's watcher saw events: $(grep '^event' "$OUTD/watch2")")
    denied "$name" "$FS"
    rm -f "$WS/go"
}
late_credentials home_credentials_created_after_apply fs "$LH"

# ---------------------------------------------------------------- writing outside the workspace

echo "# writing outside the workspace"
attack fs "$PROJ" "$P" write "$WS/out.txt"
[ -s "$WS/out.txt" ] || PRE_WHY+=("$WS/out.txt was not written")
allowed workspace_write_ok 'SUCCEEDED wrote'
attack fs "$PROJ" "$PY" -c 'import sys; open(sys.argv[1], "w").write("py\n")' "$WS/py.txt"
[ -s "$WS/py.txt" ] || PRE_WHY+=("$WS/py.txt was not written")
allowed workspace_write_python3_ok
attack fs "$PROJ" "$P" write "$TMPD/out.txt"
allowed tmp_write_ok 'SUCCEEDED wrote'
attack fs "$PROJ" "$P" open_trunc "$PROJ/ro.txt"
denied readonly_open_rdonly_o_trunc "$FS"
attack fs "$PROJ" "$P" truncate "$PROJ/ro.txt"
denied readonly_truncate "$FS"
attack fs "$PROJ" "$P" append "$PROJ/ro.txt"
denied readonly_append "$FS"
attack fs "$PROJ" "$PY" -c 'import os, sys; os.remove(sys.argv[1])' "$PROJ/ro.txt"
[ -e "$PROJ/ro.txt" ] || PRE_WHY+=("$PROJ/ro.txt was removed")
denied readonly_remove_python3 "$PYDENY"
attack fs "$PROJ" "$P" unlink "$PROJ/ro.txt"
denied readonly_unlink "$FS"
attack fs "$PROJ" "$P" write "$PROJ/new.txt"
[ ! -e "$PROJ/new.txt" ] || PRE_WHY+=("$PROJ/new.txt was created")
denied readonly_create "$FS"
attack fs "$PROJ" "$P" write "$RUN/outside.txt"
[ ! -e "$RUN/outside.txt" ] || PRE_WHY+=("$RUN/outside.txt was created")
denied ungranted_create "$FS"
attack fs "$PROJ" "$P" open_w /etc/passwd
denied etc_passwd_open_for_writing "$FS"
attack fs "$PROJ" "$P" write "$H/.bashrc"
[ ! -e "$H/.bashrc" ] || PRE_WHY+=("$H/.bashrc was created")
denied home_bashrc_persistence "$FS"
attack fs "$PROJ" "$P" write "$H/.ssh/authorized_keys"
[ ! -e "$H/.ssh/authorized_keys" ] || PRE_WHY+=("$H/.ssh/authorized_keys was created")
denied ssh_authorized_keys_plant "$FS"
attack fs "$PROJ" "$P" unlink "$H/.ssh/id_rsa"
denied ssh_key_unlink "$FS"
attack fs "$PROJ" "$P" rename "$H/.ssh" "$WS/stolen-ssh"
denied rename_ssh_into_workspace "$XDEV"
attack fs "$PROJ" "$P" rename "$H" "$WS/stolen-home"
denied rename_home_ancestor_into_workspace "$XDEV"
attack fs "$PROJ" "$P" rename "$H/.aws/credentials" "$WS/creds"
denied rename_aws_credentials_into_workspace "$XDEV"

echo "# HOME read-write, credentials denied beneath it (sibling expansion)"
attack homerw "$PROJ" "$P" read "$H/.ssh/id_rsa"
denied homerw_ssh_denied "$FS"
attack homerw "$PROJ" "$P" write "$H/.sshfoo/new.txt"
allowed homerw_sibling_writable 'SUCCEEDED wrote'
rm -f "$H/.sshfoo/new.txt"
attack homerw "$PROJ" "$P" rename "$H/.ssh" "$WS/stolen-ssh"
denied homerw_rename_ssh_into_workspace "$XDEV"
attack homerw "$PROJ" "$P" rename "$H/.ssh" "$H/.sshfoo/ssh"
denied homerw_rename_ssh_into_writable_sibling "$XDEV"
attack homerw "$PROJ" "$P" exchange "$H/.ssh" "$H/.sshfoo"
denied homerw_exchange_ssh_with_sibling "$XDEV"
attack homerw "$PROJ" "$P" rename "$H" "$WS/stolen-home"
denied homerw_rename_home_into_workspace "$XDEV"
attack homerw "$PROJ" "$P" write "$H/.ssh/authorized_keys"
[ ! -e "$H/.ssh/authorized_keys" ] || PRE_WHY+=("$H/.ssh/authorized_keys was created")
denied homerw_ssh_authorized_keys_plant "$FS"
attack homerw "$PROJ" "$P" unlink "$H/.aws/credentials"
denied homerw_aws_credentials_unlink "$FS"
late_credentials homerw_credentials_created_after_apply homerw "$PROJ"

# ---------------------------------------------------------------- exec

echo "# exec (\"rm\" denied; execution only from the search and library directories)"
victim() {
    printf 'victim\n' >"$WS/victim.txt"
}
survives() {
    [ -e "$WS/victim.txt" ] || PRE_WHY+=("$WS/victim.txt was removed: rm ran")
}
victim
attack fs "$PROJ" /usr/bin/rm "$WS/victim.txt"
survives
denied_rc exec_usr_bin_rm 126
attack fs "$PROJ" /bin/rm "$WS/victim.txt"
survives
denied_rc exec_bin_rm 126
attack fs "$PROJ" /bin/sh -c 'rm "$1"' sh "$WS/victim.txt"
survives
denied exec_sh_c_rm 'Permission denied'
attack fs "$PROJ" /bin/sh -c 'PATH=/bin; rm "$1"' sh "$WS/victim.txt"
survives
denied exec_sh_c_rm_via_bin_symlink_path 'Permission denied'
attack fs "$PROJ" "$P" exec /usr/bin/rm "$WS/victim.txt"
survives
denied exec_rm_raw_execve "$FS"
attack fs "$PROJ" "$PY" -c 'import os, sys; os.execv("/usr/bin/rm", ["rm", sys.argv[1]])' \
    "$WS/victim.txt"
survives
denied exec_rm_python3 "$PYDENY"
attack fs "$PROJ" /bin/sh -c 'cp /usr/bin/rm "$1/myrm" && exec "$1/myrm" "$1/victim.txt"' sh "$WS"
survives
denied_rc exec_copy_of_rm_in_workspace 126 'Permission denied'
attack fs "$PROJ" "$P" symlink_exec /usr/bin/rm "$WS/rmlink" "$WS/victim.txt"
survives
denied exec_rm_via_symlink_in_workspace "$FS"
attack fs "$PROJ" "$P" link_exec /usr/bin/rm "$WS/hlrm" "$WS/victim.txt"
survives
denied exec_rm_via_hard_link_in_workspace "$XDEV"
attack fs "$PROJ" "$P" link_exec /usr/bin/true "$WS/hltrue"
denied exec_true_via_hard_link_in_workspace "$XDEV"
rm -f "$WS/myrm" "$WS/rmlink" "$WS/hlrm" "$WS/hltrue"

cp /usr/bin/true "$WS/true"
cp /usr/bin/true "$TMPD/true"
printf '#!/bin/sh\necho script-ran\n' >"$WS/script.sh"
chmod 755 "$WS/true" "$TMPD/true" "$WS/script.sh"
attack fs "$PROJ" "$WS/true"
denied_rc exec_binary_in_workspace 126
attack fs "$PROJ" "$P" exec "$WS/true"
denied exec_binary_in_workspace_raw "$FS"
attack fs "$PROJ" "$P" exec "$TMPD/true"
denied exec_binary_in_tmp_raw "$FS"
attack fs "$PROJ" /bin/sh -c 'cp /usr/bin/true "$1/t2" && exec "$1/t2"' sh "$TMPD"
denied_rc exec_copy_in_tmp 126
attack fs "$PROJ" "$WS/script.sh"
denied_rc exec_script_in_workspace 126
attack fs "$PROJ" "$P" exec "$WS/script.sh"
denied exec_script_in_workspace_raw "$FS"

attack fs "$PROJ" /usr/bin/true
allowed exec_true_ok
attack fs "$PROJ" /bin/sh -c 'echo sh-ran'
allowed exec_sh_ok 'sh-ran'
attack fs "$PROJ" "$P" exec /usr/bin/echo raw-exec-ran
allowed exec_raw_execve_ok 'raw-exec-ran'
attack fs "$PROJ" "$PY" -c 'import subprocess; subprocess.run(["/usr/bin/echo", "py-exec-ran"])'
allowed exec_python3_subprocess_ok 'py-exec-ran'

# limits: Landlock's EXECUTE right governs execve(2), not mmap(PROT_EXEC) or memfd
cp /usr/bin/echo "$WS/myecho"
attack fs "$PROJ" "$LDSO" "$WS/myecho" ldso-ran
limit limit_ldso_runs_workspace_binary \
    "the dynamic loader (allowed) maps a workspace binary: EXECUTE covers execve only" 'ldso-ran'
victim
attack fs "$PROJ" "$LDSO" /usr/bin/rm "$WS/victim.txt"
[ ! -e "$WS/victim.txt" ] || PRE_WHY+=("$WS/victim.txt survived")
limit limit_ldso_runs_denied_rm \
    "exec.deny is an execve rule: the loader runs a denied program that the sandbox lets it read" \
    '.*'
victim
attack fs "$PROJ" "$P" memfd_exec /usr/bin/rm "$WS/victim.txt"
[ ! -e "$WS/victim.txt" ] || PRE_WHY+=("$WS/victim.txt survived")
limit limit_memfd_exec_runs_denied_rm \
    "a memfd is on an internal mount that Landlock does not restrict: execveat of a copy runs" \
    '.*'
attack fs "$PROJ" /bin/sh "$WS/script.sh"
limit limit_interpreter_runs_workspace_script \
    "an allowed interpreter reads and runs a workspace script; its own execs stay checked" \
    'script-ran'
rm -f "$WS/true" "$TMPD/true" "$TMPD/t2" "$WS/script.sh" "$WS/myecho" "$WS/victim.txt"

# ---------------------------------------------------------------- network, mode proxy

echo "# network mode proxy, --proxy $PORT_proxy"
net_quiet() { # LISTENER BEFORE: nothing new reached the listener
    sleep 0.3
    [ "$(accepts "$1")" = "$2" ] || PRE_WHY+=("the $1 listener accepted a connection")
}
b=$(accepts proxy)
attack fs "$PROJ" "$P" tcp 127.0.0.1 "$PORT_proxy"
sleep 0.2
[ "$(accepts proxy)" -gt "$b" ] || PRE_WHY+=("the proxy listener saw no connection")
allowed tcp_proxy_port_ok 'SUCCEEDED connected'
attack fs "$PROJ" "$P" tcp_flags 127.0.0.1 "$PORT_proxy"
allowed tcp_proxy_port_cloexec_ipproto_tcp_ok 'SUCCEEDED connected'
attack fs "$PROJ" "$PY" -c "$PY_TCP" "$PORT_proxy"
allowed tcp_proxy_port_python3_ok 'py-connected'

b=$(accepts other)
attack fs "$PROJ" "$P" tcp 127.0.0.1 "$PORT_other"
net_quiet other "$b"
denied tcp_other_port_refused "$NET"
attack fs "$PROJ" "$PY" -c "$PY_TCP" "$PORT_other"
net_quiet other "$b"
denied tcp_other_port_python3_refused "$PYDENY"
attack fs "$PROJ" "$P" tcp ::ffff:127.0.0.1 "$PORT_other"
net_quiet other "$b"
denied tcp6_v4mapped_other_port_refused "$NET"
if [ "$HAVE_V6" = 1 ]; then
    b6=$(accepts other6)
    attack fs "$PROJ" "$P" tcp ::1 "$PORT_other6"
    net_quiet other6 "$b6"
    denied tcp6_other_port_refused "$NET"
else
    skip tcp6_other_port_refused "no IPv6 loopback (::1) on this machine"
fi

b=$(accepts alias)
attack fs "$PROJ" "$P" tcp 127.0.0.2 "$PORT_proxy"
sleep 0.2
[ "$(accepts alias)" -gt "$b" ] || PRE_WHY+=("the 127.0.0.2 listener saw no connection")
limit limit_tcp_proxy_port_on_other_address \
    "Landlock filters TCP by port only: the proxy port on ANY address is reachable" \
    'SUCCEEDED connected'

attack fs "$PROJ" "$P" udp 127.0.0.53 53
denied udp_loopback_dns_refused "$NET"
attack fs "$PROJ" "$P" udp 8.8.8.8 53
denied udp_public_dns_refused "$NET"
attack fs "$PROJ" "$P" udp_flags 127.0.0.1 "$PORT_other"
denied udp_nonblock_cloexec_refused "$NET"
attack fs "$PROJ" "$P" udp_hibits 127.0.0.1 "$PORT_other"
denied udp_high_argument_bits_refused "$NET"
attack fs "$PROJ" "$P" udp ::1 53
denied udp6_refused "$NET"
attack fs "$PROJ" "$PY" -c "$PY_UDP"
denied udp_python3_refused "$PYDENY"

# socket(DOMAIN, TYPE, PROTOCOL) that must not be created in proxy mode
while read -r name d t p; do
    attack fs "$PROJ" "$P" socket "$d" "$t" "$p"
    denied "$name" "$NET"
done <<'EOF'
mptcp_refused 2 1 262
mptcp6_refused 10 1 262
sctp_stream_refused 2 1 132
inet_seqpacket_refused 2 5 0
raw_icmp_refused 2 3 1
raw6_icmpv6_refused 10 3 58
icmp_ping_socket_refused 2 2 1
packet_raw_refused 17 3 768
packet_dgram_refused 17 2 768
vsock_stream_refused 40 1 0
netlink_sock_diag_refused 16 3 4
netlink_audit_refused 16 3 9
netlink_kobject_uevent_refused 16 3 15
EOF
attack fs "$PROJ" "$P" socket 16 3 0
allowed netlink_route_ok 'SUCCEEDED'
attack fs "$PROJ" "$P" socketpair
allowed unix_socketpair_ok 'SUCCEEDED'
attack fs "$PROJ" "$P" io_uring
denied io_uring_setup_refused "$SYS"

# TCP Fast Open: a control outside the sandbox first, so that a kernel without client TFO
# cannot pass for a refusal
outside "$P" tfo_sendto 127.0.0.1 "$PORT_proxy"
if [ "$A_RC" -eq 0 ]; then
    for m in tfo_sendto tfo_sendmsg tfo_sendmmsg tfo_hibits; do
        b=$(accepts other)
        attack fs "$PROJ" "$P" "$m" 127.0.0.1 "$PORT_other"
        net_quiet other "$b"
        denied "${m}_other_port_refused" "$NET"
    done
else
    for m in tfo_sendto tfo_sendmsg tfo_sendmmsg tfo_hibits; do
        skip "${m}_other_port_refused" \
            "client TCP Fast Open does not work here even without the sandbox ($A_OUT)"
    done
fi

attack fs "$PROJ" "$P" uconnect "$UNAME"
sleep 0.2
[ "$(grep -c accept "$OUTD/unix.log")" = 0 ] ||
    PRE_WHY+=("the abstract listener accepted a connection")
denied abstract_unix_connect_outside_refused "$NET"
attack fs "$PROJ" "$P" usendto "$UNAME"
sleep 0.2
[ "$(grep -c dgram "$OUTD/unix.log")" = 0 ] ||
    PRE_WHY+=("the abstract listener received a datagram")
denied abstract_unix_sendto_outside_refused "$NET"

# ---------------------------------------------------------------- network, mode none

echo "# network mode none"
attack none "$PROJ" "$P" tcp 127.0.0.1 "$PORT_proxy"
denied none_inet_socket_refused 'errno=(EACCES|EPERM) \(socket\)'
attack none "$PROJ" "$P" tcp ::1 "${PORT_other6:-1}"
denied none_inet6_socket_refused 'errno=(EACCES|EPERM) \(socket\)'
attack none "$PROJ" "$P" udp 127.0.0.1 "$PORT_other"
denied none_udp_socket_refused 'errno=(EACCES|EPERM) \(socket\)'
attack none "$PROJ" "$PY" -c "$PY_TCP" "$PORT_proxy"
denied none_python3_connect_refused "$PYDENY"
attack none "$PROJ" "$P" socketpair
allowed none_unix_socketpair_ok 'SUCCEEDED'

# ---------------------------------------------------------------- other processes

echo "# other processes"
A_WRAP=("$P" victim)
attack fs "$PROJ" "$P" ptrace 0
printf '%s\n' "$A_OUT" | grep -q 'victim: memory intact' ||
    PRE_WHY+=("the parent did not report intact memory")
denied ptrace_attach_parent_refused "$SYS"
A_WRAP=("$P" victim)
attack fs "$PROJ" "$P" vm_write 0 env
printf '%s\n' "$A_OUT" | grep -q 'victim: memory intact' ||
    PRE_WHY+=("the parent's memory was changed (or it did not report)")
denied process_vm_writev_parent_refused "$SYS"
A_WRAP=("$P" victim)
attack fs "$PROJ" "$P" vm_read 0 env
denied process_vm_readv_parent_refused "$SYS"

attack fs "$PROJ" "$P" kill "$SLEEPER" 9
sleep 0.1
kill -0 "$SLEEPER" 2>/dev/null || PRE_WHY+=("the process outside the sandbox was killed")
denied kill_process_outside_refused "$SYS"
if ! kill -0 "$SLEEPER" 2>/dev/null; then
    env -i CORDON_ESCAPE_SECRET="env-$T_ENV" /usr/bin/sleep 600 >/dev/null 2>&1 &
    SLEEPER=$!
    BG_PIDS+=("$SLEEPER")
fi
attack fs "$PROJ" "$P" kill_child
allowed kill_own_child_ok 'SUCCEEDED'

# TIOCSTI under a pty, with a control outside the sandbox first
PTY_PY='import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))'
for v in plain hibits; do
    outside "$PY" -c "$PTY_PY" "$P" tiocsti "$v"
    if [ "$A_RC" -ne 0 ]; then
        skip "tiocsti_${v}_refused" "TIOCSTI does not work here even without the sandbox: $A_OUT"
        continue
    fi
    A_WRAP=("$PY" -c "$PTY_PY")
    attack fs "$PROJ" "$P" tiocsti "$v"
    denied "tiocsti_${v}_refused" "$SYS"
done

# no_new_privs: a set-user-ID helper owned by nobody; honoured, it would make root 65534
outside "$SUID/euid_probe" euid
if printf '%s\n' "$A_OUT" | grep -q 'euid=65534'; then
    attack fs "$PROJ" "$SUID/euid_probe" euid
    denied setuid_bit_ignored_under_no_new_privs 'set-user-ID bit was ignored: euid=0 '
else
    skip setuid_bit_ignored_under_no_new_privs \
        "set-user-ID bits are not honoured here even without the sandbox (nosuid?): $A_OUT"
fi

# a thread that exists before the sandbox is applied (the library, not cordon exec)
threads() {
    watch_start
    (cd "$PROJ" && env -i HOME="$H" PATH=/usr/bin:/bin TMPDIR="$TMPD" "$SAN_ENV" \
        timeout -k 5 60 "$PROBES/escape_threads" "$@") >"$OUTD/stdout" 2>"$OUTD/stderr" </dev/null
    A_RC=$?
    watch_stop
    A_OUT=$(cat "$OUTD/stdout" "$OUTD/stderr")
    compare_state
}
threads strict "$POL/threads_strict.json" "$WS"
denied threads_strict_policy_refused 'SANDBOX_ERR_THREADS'
threads best_effort "$POL/threads_best_effort.json" "$WS" "$H/.ssh/id_rsa"
T_OUT=$A_OUT
T_RC=$A_RC
WHY=()
matches "$T_OUT" '^apply: rc=0 threads=2 ' || WHY+=("expected apply rc=0 threads=2")
printf '%s\n' "$T_OUT" | grep -q '^degradation: ' || WHY+=("the report carries no degradation")
if [ "${#WHY[@]}" -eq 0 ]; then ok threads_best_effort_applies_and_reports; else
    bad threads_best_effort_applies_and_reports "${WHY[@]}" "exit status: $T_RC" "$T_OUT"
fi
if printf '%s\n' "$T_OUT" | grep -Eq "^main: $FS"; then
    ok threads_calling_thread_confined
else
    bad threads_calling_thread_confined "the thread that applied the sandbox read the canary" \
        "$T_OUT"
fi
if printf '%s\n' "$T_OUT" | grep -q '^other: no_new_privs=1 seccomp=2' &&
    printf '%s\n' "$T_OUT" | grep -Eq "^other: io_uring_setup $SYS"; then
    ok threads_seccomp_and_nnp_reach_earlier_thread
else
    bad threads_seccomp_and_nnp_reach_earlier_thread \
        "seccomp (TSYNC) and no_new_privs must cover the earlier thread" "$T_OUT"
fi
A_OUT=$T_OUT
A_RC=$T_RC
matches "$T_OUT" "^other: SUCCEEDED .*$T_SSH" ||
    PRE_WHY+=("the other thread did not read the canary")
limit limit_thread_before_apply_reads_canary \
    "Landlock before ABI 8 restricts only the calling thread; strict refuses, best_effort reports" \
    '^other: SUCCEEDED'

# ---------------------------------------------------------------- seccomp: system calls

echo "# system calls the seccomp filter refuses (control outside the sandbox in brackets)"
# iopl, ioperm and sethostname are not in docs/SECURITY.md's list: they matter for a root agent
# (raw I/O ports; the machine's host name) and are checked as "beyond_".
for s in $("$P" sys list); do
    case $s in
    iopl | ioperm | sethostname) t=beyond_${s}_refused ;;
    *) t=seccomp_${s}_refused ;;
    esac
    outside "$P" sys "$s" "$WS/no-such-dir" # the control never mounts anything
    ctl=$(printf '%s\n' "$A_OUT" | sed -n 's/^sys: //p' | head -1)
    attack fs "$PROJ" "$P" sys "$s" "$WS/mnt"
    if matches "$A_OUT" 'errno=ENOSYS' && matches "$ctl" 'errno=ENOSYS'; then
        skip "$t" "this kernel lacks $s (ENOSYS without the sandbox too): nothing to observe"
        continue
    fi
    denied "$t" "$SYS"
    echo "     [outside the sandbox: $ctl]"
done

# ---------------------------------------------------------------- non-native system call ABIs

echo "# non-native system call ABIs"
outside "$P" int80_open "$PROJ/ro.txt"
if [ "$A_RC" -eq 4 ]; then
    skip i386_int80_open_ssh_refused \
        "this kernel has no IA32 emulation (int \$0x80 faults without the sandbox too)"
    skip i386_int80_udp_socket_refused "this kernel has no IA32 emulation"
else
    attack fs "$PROJ" "$P" int80_open "$H/.ssh/id_rsa"
    denied i386_int80_open_ssh_refused 'errno=(EPERM|EACCES|ENOSYS)'
    attack fs "$PROJ" "$P" int80_socket
    denied i386_int80_udp_socket_refused 'errno=(EPERM|EACCES|ENOSYS)'
fi
outside "$P" x32_open "$PROJ/ro.txt"
X32_CTL=$A_OUT
attack fs "$PROJ" "$P" x32_open "$H/.ssh/id_rsa"
if matches "$X32_CTL" 'errno=ENOSYS' && matches "$A_OUT" 'errno=ENOSYS'; then
    denied x32_open_ssh_refused 'errno=ENOSYS'
    echo "     note: no x32 ABI here (ENOSYS without the sandbox too); the canary was not read"
else
    denied x32_open_ssh_refused 'errno=(EPERM|EACCES|ENOSYS)'
fi
attack fs "$PROJ" "$P" x32_socket
denied x32_udp_socket_refused 'errno=(EPERM|EACCES|ENOSYS)'

# ---------------------------------------------------------------- documented limits

echo "# documented limits of the kernel mechanisms"
attack fs "$PROJ" "$P" meta "$H/.ssh/id_rsa"
limit limit_metadata_of_denied_file_changeable \
    "Landlock has no right for chmod/chown/utimes/xattrs: a denied file's metadata changes" \
    'SUCCEEDED chmod'
chmod 600 "$H/.ssh/id_rsa"
touch -d "@$(date +%s)" "$H/.ssh/id_rsa"
rebaseline

# A pathname unix socket inside the denied ~/.gnupg (where gpg-agent listens): opening the
# file is refused, connecting is not (Landlock up to ABI 7 has no right for it).
mkdir -p "$H/.gnupg"
USOCK="$H/.gnupg/S.cordon-agent"
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); c.sendall(b"agent-reply-from-outside\n"); c.close()
' "$USOCK" >"$OUTD/usock.log" 2>&1 &
USOCK_PID=$!
wait_for "$OUTD/usock.log" ready
attack fs "$PROJ" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
print(s.recv(100).decode().strip())
' "$USOCK"
limit limit_unix_socket_in_denied_dir_reachable \
    "Landlock (ABI <= 7) does not check connect() to a pathname unix socket: gpg-agent, ssh-agent, docker.sock stay reachable" \
    'agent-reply-from-outside'
kill "$USOCK_PID" 2>/dev/null
wait "$USOCK_PID" 2>/dev/null
rm -rf "$H/.gnupg"
rebaseline

finish
