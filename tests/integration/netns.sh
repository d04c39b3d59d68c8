# SPDX-License-Identifier: Apache-2.0
# netns_enter SCRIPT ARGS...: run SCRIPT again inside a private network and mount namespace
# (unshare -mn), once: the second time CORDON_IN_NETNS is set and this returns. Where no such
# namespace can be made (or ip(8) is missing) it says why and exits 77, a skip, or 1 under
# CI=true. Sourced before lib.sh, whose temporary directories would outlive the exec.
netns_enter() {
    [ -n "${CORDON_IN_NETNS:-}" ] && return 0
    local why
    if ! unshare -mn true 2>/dev/null || ! command -v ip >/dev/null; then
        . "$(dirname "$1")/lib.sh"
        if ! command -v ip >/dev/null; then
            why="n/a: ip(8) is not installed (iproute2; tools/install-deps.sh installs it)"
        else
            why=$(ns_skip_reason -mn)
        fi
        if [ "${CI:-}" = true ]; then
            echo "FAIL a private network and mount namespace and ip(8) are required under CI: $why"
            exit 1
        fi
        echo "skipped: needs a private network and mount namespace: $why"
        exit 77
    fi
    CORDON_IN_NETNS=1 exec unshare -mn bash "$@"
}
