# SPDX-License-Identifier: Apache-2.0
# A fresh Debian 12 root for the package tests (integration.package, integration.readme_fleet),
# sourced by them. The first run makes it with debootstrap (minbase) from the Debian mirror
# this machine's apt is configured with (apt-get indextargets, never a name of our own), runs
# apt-get update inside it and caches the result as a tarball in CORDON_TEST_CACHE (default
# /var/cache/cordon-test/package); later runs unpack the tarball in seconds. The packages apt
# downloads inside a root are kept in the cache's archives/ for the next root, so a rerun
# needs no network at all.
#
#   debroot_new DIR      unpack a fresh root into DIR (made here)
#   debroot_sh DIR CMD   run the shell command CMD as root inside DIR, in private mount and
#                        PID namespaces with /proc and /dev: nothing it starts outlives it,
#                        nothing it mounts shows outside
DEBROOT_CACHE=${CORDON_TEST_CACHE:-/var/cache/cordon-test/package}
DEBROOT_SUITE=bookworm

debroot_mirror() {
    apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' \
        2>/dev/null | awk -v s="$DEBROOT_SUITE" '$2 == s && $3 == "main" { print $1; exit }'
}

debroot_base() {
    local tarball="$DEBROOT_CACHE/$DEBROOT_SUITE-minbase.tar.gz"
    [ -s "$tarball" ] && return 0
    command -v debootstrap >/dev/null || {
        echo "debroot: debootstrap is not installed; run tools/install-deps.sh" >&2
        return 1
    }
    local mirror
    mirror=$(debroot_mirror)
    if [ -z "$mirror" ]; then
        echo "debroot: this machine's apt sources name no $DEBROOT_SUITE main archive" \
            "(apt-get indextargets); add one to /etc/apt/sources.list.d, or unpack a" \
            "$DEBROOT_SUITE minbase root as $tarball" >&2
        return 1
    fi
    mkdir -p "$DEBROOT_CACHE/archives"
    local new
    new=$(mktemp -d "$DEBROOT_CACHE/new.XXXXXX")
    echo "debroot: making a $DEBROOT_SUITE minbase root from $mirror (once; cached in $tarball)" >&2
    if ! debootstrap --variant=minbase "$DEBROOT_SUITE" "$new/root" "$mirror" \
        >"$new/debootstrap.log" 2>&1; then
        echo "debroot: debootstrap from $mirror failed; its log:" >&2
        tail -20 "$new/debootstrap.log" >&2
        rm -rf "$new"
        return 1
    fi
    cp /etc/resolv.conf "$new/root/etc/resolv.conf" 2>/dev/null || true
    if ! chroot "$new/root" apt-get update -qq >"$new/update.log" 2>&1; then
        echo "debroot: apt-get update inside the new root failed:" >&2
        cat "$new/update.log" >&2
        rm -rf "$new"
        return 1
    fi
    rm -f "$new/root/var/cache/apt/archives/"*.deb
    tar -C "$new/root" --numeric-owner -czf "$new/root.tar.gz" . && mv "$new/root.tar.gz" "$tarball"
    rm -rf "$new"
}

debroot_new() {
    debroot_base || return 1
    mkdir -p "$1"
    tar -C "$1" --numeric-owner -xzf "$DEBROOT_CACHE/$DEBROOT_SUITE-minbase.tar.gz"
    cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
}

debroot_sh() {
    local root=$1
    shift
    unshare --mount --pid --fork --kill-child --propagation private bash -c '
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mkdir -p "$root/var/cache/apt/archives"
        mount --bind "$2" "$root/var/cache/apt/archives"
        mount -t tmpfs -o mode=0755 tmpfs "$root/run"
        exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM=dumb /bin/bash -c "$1"
    ' debroot "$root" "$*" "$DEBROOT_CACHE/archives"
}
