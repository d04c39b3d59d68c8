#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Debian package cordon_VERSION_amd64.deb with dpkg-deb, from this tree and with no
# network: configure a build for /usr (its own build directory, so that the paths compiled
# into cordon are the installed ones), build the programs, the shim and the man pages
# (tools/manpage.py, from the programs' --help and docs/), install them with the bash
# completion into a staging root (cmake --install), add the systemd unit, sysusers.d,
# tmpfiles.d, the conffiles and the profile.d snippet, and pack it. Then lintian checks it,
# with the overrides that packaging/lintian-overrides explains.
#
#   tools/package.sh [--build-dir DIR] [--out DIR] [--no-lintian]
#     --build-dir DIR  the build for /usr (default build-deb/ in the tree; reused, so a
#                      second run builds only what changed)
#     --out DIR        where the .deb goes (default: the top of the tree)
#     --no-lintian     skip the lintian check
#   JOBS=N: parallel build jobs (default 2); SOURCE_DATE_EPOCH: the changelog date (default:
#   the last commit)
#
# Prints the path of the .deb on its last line. Needs dpkg-dev, lintian and man-db
# (tools/install-deps.sh).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$src/build-deb"
out="$src"
lint=1
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-lintian) lint=0; shift ;;
    -h | --help)
        sed -n '3,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
        exit 0 ;;
    *)
        echo "package.sh: unknown argument '$1'; see tools/package.sh --help" >&2
        exit 2 ;;
    esac
done
for tool in dpkg-deb dpkg-shlibdeps cmake ninja python3 gzip; do
    command -v "$tool" >/dev/null || {
        echo "package.sh: $tool is not installed; run tools/install-deps.sh (as root) first" >&2
        exit 2
    }
done
[ "$(dpkg --print-architecture)" = amd64 ] || {
    echo "package.sh: this builds an amd64 package, and this machine is $(dpkg --print-architecture)" >&2
    exit 2
}

# Debian's hardening flags (fortify, stack protector, relro, bind now) on top of Release.
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_INSTALL_SYSCONFDIR=/etc -DCORDON_TESTS=OFF \
    -DCMAKE_C_FLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)" \
    -DCMAKE_SHARED_LINKER_FLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)" \
    >/dev/null
ninja -C "$build" -j"${JOBS:-2}" cordon cordond cordon_preload cordon_rootlib manpages >/dev/null

version=$("$build/tools/cordon" version | awk '{ print $2 }')
pkg="cordon_${version}_amd64"
stage=$(mktemp -d "${TMPDIR:-/tmp}/cordon-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/$pkg"
DESTDIR="$root" cmake --install "$build" >/dev/null

# The examples are documentation in the package; the shim lives in its own directory.
mv "$root/usr/share/cordon/examples" "$root/usr/share/doc/cordon/examples"
rmdir "$root/usr/share/cordon"
test -f "$root/usr/lib/x86_64-linux-gnu/cordon/libcordon.so" || {
    echo "package.sh: cmake --install put no libcordon.so in /usr/lib/x86_64-linux-gnu/cordon" >&2
    exit 1
}

install -D -m 0644 "$src/examples/cordond.conf" "$root/etc/cordon/cordond.conf"
install -D -m 0644 "$src/examples/profiles/cordon.sh" "$root/etc/profile.d/cordon.sh"
install -D -m 0644 "$src/examples/systemd/cordond.service" "$root/lib/systemd/system/cordond.service"
install -D -m 0644 "$src/packaging/cordond.sysusers" "$root/usr/lib/sysusers.d/cordond.conf"
install -D -m 0644 "$src/packaging/cordond.tmpfiles" "$root/usr/lib/tmpfiles.d/cordond.conf"
ln -s cordon "$root/usr/share/bash-completion/completions/cordond"
install -D -m 0644 "$src/packaging/copyright" "$root/usr/share/doc/cordon/copyright"
if grep -qv '^#' "$src/packaging/lintian-overrides"; then
    install -D -m 0644 "$src/packaging/lintian-overrides" "$root/usr/share/lintian/overrides/cordon"
fi
date=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}")
sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/" "$src/packaging/changelog.in" |
    gzip -9n >"$root/usr/share/doc/cordon/changelog.gz"

# The man pages cmake --install put in place (tools/manpage.py wrote them at build time).
for page in "$root"/usr/share/man/man?/*.[158]; do
    gzip -9n "$page"
done

# Binaries stripped as Debian ships them (the build keeps its symbols for debugging).
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/bin/cordon" "$root/usr/sbin/cordond" "$root"/usr/lib/x86_64-linux-gnu/cordon/*.so
chmod 0644 "$root"/usr/lib/x86_64-linux-gnu/cordon/*.so

# Depends: what the binaries link (dpkg-shlibdeps), and what they load with dlopen: libcurl
# for the admin commands, vectorscan for the data classes; libssl3 for cordond's TLS (the
# deployment CA and the certificates it mints, policy/server/mint.c); passwd for useradd in postinst
# and procps for the unit's ExecReload (/bin/kill).
mkdir -p "$stage/shlibs/debian"
printf 'Source: cordon\n\nPackage: cordon\nArchitecture: amd64\n' >"$stage/shlibs/debian/control"
shlibs=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/cordon" "$root/usr/sbin/cordond" \
    "$root"/usr/lib/x86_64-linux-gnu/cordon/*.so 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
depends=$shlibs
for extra in libcurl4 libvectorscan5 libssl3 passwd procps; do
    case ", $depends" in *", $extra "* | *", $extra,"* | *", $extra") ;; *) depends="$depends, $extra" ;; esac
done

mkdir -p "$root/DEBIAN"
for s in postinst prerm postrm; do
    install -m 0755 "$src/packaging/debian/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find etc -type f | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    "$src/packaging/debian/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$stage/md5sums"
mv "$stage/md5sums" "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/$pkg.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
if [ "$lint" = 1 ]; then
    if ! command -v lintian >/dev/null; then
        echo "package.sh: lintian is not installed; run tools/install-deps.sh, or pass --no-lintian" >&2
        exit 2
    fi
    # Errors and warnings fail the build; each accepted tag is explained in
    # packaging/lintian-overrides.
    lintian --fail-on error,warning --tag-display-limit 0 "$deb" >&2
fi
echo "$deb"
