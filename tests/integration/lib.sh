# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the shell-driven integration tests: a private temporary directory and
# HOME per test run, assertions that print what they saw, and a closing tally line.
set -u
PASS=0
FAIL=0
T=$(mktemp -d /tmp/cordon-it-XXXXXX)
# Policy files and envelopes live outside every grant a test's policy makes (/tmp is ${tmp},
# read-write): cordon refuses a policy file that the sandbox it describes could rewrite.
FX=$(mktemp -d /var/tmp/cordon-it-fx-XXXXXX)
trap 'rm -rf "$T" "$FX"' EXIT
export HOME="$T/home"
mkdir -p "$HOME"

ok()   { PASS=$((PASS + 1)); printf 'ok   %s\n' "$1"; }
bad()  { FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$1"; shift; for l in "$@"; do printf '     %s\n' "$l"; done; }

# run NAME WANT_STATUS CMD...: run CMD, capture stdout+stderr in $OUT, check the exit status.
run() {
    local name=$1 want=$2; shift 2
    OUT=$("$@" 2>&1); local got=$?
    if [ "$got" -eq "$want" ]; then ok "$name"; else bad "$name" "exit $got, want $want" "$OUT"; fi
}
# has NAME TEXT: the last run's output contains TEXT.
has() {
    case "$OUT" in *"$2"*) ok "$1" ;; *) bad "$1" "output lacks: $2" "$OUT" ;; esac
}
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}

# hosts_mount FILE: make FILE /etc/hosts, for the private mount namespace the caller runs in
# (unshare -m; never call it in the machine's own). A root without /etc/hosts (no netbase)
# has nothing to bind over: /etc then gets an overlay in this namespace only, its upper layer
# on a tmpfs beside FILE, where an empty /etc/hosts is made first. Nothing outside the
# namespace changes, so nothing has to be restored. Exported: `bash -c` children have it.
hosts_mount() {
    local f=$1 o
    if [ ! -e /etc/hosts ]; then
        o="$(dirname "$f")/.etc-overlay"
        mkdir -p "$o" && mount -t tmpfs cordon-etc "$o" && mkdir "$o/up" "$o/work" &&
            mount -t overlay cordon-etc -o "lowerdir=/etc,upperdir=$o/up,workdir=$o/work" /etc &&
            : >/etc/hosts || {
            echo "hosts_mount: /etc/hosts does not exist and no overlay of /etc could be made to" \
                "hold one (install netbase, which creates it)" >&2
            return 1
        }
    fi
    mount --bind "$f" /etc/hosts
}
export -f hosts_mount

# ns_skip_reason FLAGS: why `unshare FLAGS` (a private mount or network namespace) cannot be
# made here, as the cause a skip line names: "n/a: ..." for this machine (not root, a chroot
# whose / is not a mount point, a container without CAP_SYS_ADMIN), never "the kernel lacks".
ns_skip_reason() {
    local err
    if [ "$(id -u)" -ne 0 ]; then
        echo "n/a: not root (unshare $1 needs CAP_SYS_ADMIN)"
    elif ! mountpoint -q /; then
        echo "n/a: / is not a mount point (a chroot), so unshare $1 cannot make its mounts private"
    else
        err=$(unshare "$1" true 2>&1)
        echo "n/a: unshare $1 fails here (a container without CAP_SYS_ADMIN?): ${err:-no message}"
    fi
}
