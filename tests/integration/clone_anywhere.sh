#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The tree passes from any clone location. A git clone of the current HEAD is configured,
# built (Release, -j2, only the targets the subset needs) and tested where a new user puts it:
# under /root (mode 0700), in a home of mode 0700 that other users cannot pass through, in a
# path with spaces, and as a read-only source tree (a read-only bind mount in a private mount
# namespace) with an out-of-tree build. The subset is escape.suite (probes run as nobody and
# as another uid) and integration.embedded (the shim preloaded from the build's path, cordond
# started by cordon run), plus the exec refusal as nobody, which must name the directory that
# refuses, not the policy.
#
# One build has every property at once, to keep the test near two minutes: the source is a
# read-only clone in "/root/x-TMP/src tree", the build directory "/home/u-TMP/x/build dir"
# (/home/u-TMP is 0700). CLONE_ANYWHERE_EACH=1 builds each location on its own instead (four
# builds, several minutes). CLONE_ANYWHERE_REV=COMMIT tests another commit than HEAD (one from
# before a fix, to see this test fail).
#   clone_anywhere.sh SOURCE_DIR
if [ -z "${CORDON_CLONE_NS:-}" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: n/a: not root (the clones go into /root and /home, and one runs as nobody)"
        exit 77
    fi
    if ! unshare -m true 2>/dev/null; then
        # lib.sh only here: its temporary directories would outlive the exec below
        . "$(dirname "$0")/lib.sh"
        echo "skipped: the read-only source tree needs a private mount namespace: $(ns_skip_reason -m)"
        exit 77
    fi
    CORDON_CLONE_NS=1 exec unshare -m bash "$0" "$@"
fi
SRC=$(realpath "${1:?usage: clone_anywhere.sh SOURCE_DIR}")
. "$SRC/tests/integration/lib.sh"
command -v git >/dev/null || { bad "git is installed (tools/install-deps.sh)"; finish; exit 1; }
REV=$(git -C "$SRC" rev-parse "${CLONE_ANYWHERE_REV:-HEAD}") || { bad "$SRC is a git checkout"; finish; exit 1; }
TAG=$(basename "$T")
TAG=${TAG#cordon-it-}
ROOTX=/root/x-$TAG
HOMEU=/home/u-$TAG
SPACE="/tmp/cordon clone $TAG"
RO=/tmp/cordon-ro-$TAG
MADE=("$ROOTX" "$HOMEU" "$SPACE" "$RO")
RO_MOUNTS=()
cleanup() {
    local m
    # the read-only mounts live in this namespace only; lift them so that rm can work
    for m in "${RO_MOUNTS[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    rm -rf "${MADE[@]}" "$T" "$FX"
}
trap cleanup EXIT
umask 022
mkdir -p "$HOMEU"
chmod 700 "$HOMEU"
TARGETS=(cordon cordond cordon_preload cordon_rootlib escape_probe canary_watch escape_threads)

# clone DEST: a clone of the current HEAD at DEST
clone() {
    git clone -q "$SRC" "$1" 2>&1 && git -C "$1" checkout -q --detach "$REV" 2>&1
}

# read_only DIR: DIR becomes read-only in this namespace (root too cannot write a ro mount)
read_only() {
    mount --bind "$1" "$1" || return 1
    RO_MOUNTS+=("$1")
    mount -o remount,bind,ro "$1"
}

# build_and_test NAME SOURCE BUILD: configure, build the subset's targets, run the subset
build_and_test() {
    local name=$1 s=$2 b=$3 log
    log=$T/build-$(printf '%s' "$name" | tr -c 'a-z0-9' _).log
    if ! cmake -S "$s" -B "$b" -DCMAKE_BUILD_TYPE=Release -G Ninja >"$log" 2>&1; then
        bad "$name: configure" "$(tail -20 "$log")"
        return 1
    fi
    ok "$name: configure"
    if ! ninja -C "$b" -j2 "${TARGETS[@]}" >>"$log" 2>&1; then
        bad "$name: build" "$(grep -E 'error|FAILED' "$log" | head -20)"
        return 1
    fi
    ok "$name: build"
    before=$(compgen -G '/tmp/cordon-preload-*' | sort)
    OUT=$(ctest --test-dir "$b" -R '^(escape\.suite|integration\.embedded)$' --output-on-failure 2>&1)
    case "$OUT" in
    *"100% tests passed, 0 tests failed out of 2"*) ok "$name: escape.suite and integration.embedded pass" ;;
    *) bad "$name: escape.suite and integration.embedded pass" "$(printf '%s\n' "$OUT" | grep -E '^(FAIL|[0-9]+/2 )|tests passed' | head -30)" ;;
    esac
    after=$(compgen -G '/tmp/cordon-preload-*' | sort)
    [ "$before" = "$after" ] && ok "$name: no private preload directory is left behind" ||
        bad "$name: no private preload directory is left behind" "$after"
    # as nobody, cordon (copied where nobody can reach it) is refused the probe in the build:
    # the refusal names the first directory on the way that nobody cannot pass
    local nb=$T/nobody-bin blocker
    mkdir -p "$nb" && cp "$b/tools/cordon" "$nb/" && chmod 755 "$T" "$nb"
    cat >"$FX/exec.json" <<'J'
{"cordon_policy":1,"agent":"clone-anywhere","sandbox":{"filesystem":{"read_write":["${workspace}"]},
 "exec":{"allow":["*"]},"network":{"mode":"none"}}}
J
    chmod 755 "$FX" && chmod 644 "$FX/exec.json"
    blocker=$(first_closed "$b/tests/escape/escape_probe")
    if [ -z "$blocker" ]; then
        [ "${CLONE_ANYWHERE_EACH:-}" = 1 ] && return 0 # a location nobody can reach
        bad "$name: control: some directory on the way to the build refuses nobody" "$b"
        return 1
    fi
    OUT=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        --bounding-set=-all /usr/bin/env "$nb/cordon" exec --policy "$FX/exec.json" \
        --workspace /tmp -- "$b/tests/escape/escape_probe" status 2>&1)
    case "$OUT" in
    *"the file system refused: $blocker is mode 0"*"grants no search to uid 65534"*)
        ok "$name: as nobody, the exec refusal names $blocker, not the policy" ;;
    *) bad "$name: as nobody, the exec refusal names $blocker, not the policy" "$OUT" ;;
    esac
}

# first_closed PATH: the first directory on the way to PATH that nobody cannot search
first_closed() {
    local p="" c
    local IFS=/
    for c in $1; do
        [ -n "$c" ] || continue
        p="$p/$c"
        [ -d "$p" ] || break
        if ! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
            --bounding-set=-all /usr/bin/test -x "$p"; then
            printf '%s\n' "$p"
            return
        fi
    done
}

# ------------------------------------------------------------------ the locations
if [ "${CLONE_ANYWHERE_EACH:-}" = 1 ]; then
    r=$(clone "$ROOTX") || bad "clone into $ROOTX" "$r"
    build_and_test "/root/x" "$ROOTX" "$ROOTX/build"
    r=$(clone "$HOMEU/x") || bad "clone into $HOMEU/x" "$r"
    build_and_test "0700 home" "$HOMEU/x" "$HOMEU/x/build"
    r=$(clone "$SPACE/src tree") || bad "clone into $SPACE/src tree" "$r"
    build_and_test "spaces" "$SPACE/src tree" "$SPACE/src tree/build dir"
    r=$(clone "$RO/src") || bad "clone into $RO/src" "$r"
    read_only "$RO/src" || bad "read-only bind mount of $RO/src"
    build_and_test "read-only source" "$RO/src" "$RO/build"
else
    S="$ROOTX/src tree"
    B="$HOMEU/x/build dir"
    mkdir -p "$HOMEU/x"
    r=$(clone "$S") && ok "clone of HEAD into $S" || bad "clone of HEAD into $S" "$r"
    read_only "$S" || bad "read-only bind mount of $S"
    if touch "$S/.write-test" 2>/dev/null; then
        rm -f "$S/.write-test"
        bad "control: the source tree is read-only (root cannot write it)"
    else
        ok "control: the source tree is read-only (root cannot write it)"
    fi
    build_and_test "clone in /root, read-only, spaces; build in a 0700 home" "$S" "$B"
    git -C "$S" status --porcelain --ignored | grep -q . &&
        bad "the build and the tests wrote nothing into the source tree" \
            "$(git -C "$S" status --porcelain --ignored | head)" ||
        ok "the build and the tests wrote nothing into the source tree"
fi
finish
