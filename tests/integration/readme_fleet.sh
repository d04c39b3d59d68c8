#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.readme_fleet: README.md's section "Running cordond for a fleet of agents", as
# printed. Its sh blocks are read from the README (up to the "fleet: end" comment): the
# block marked "fleet: build" runs in the source tree (tools/package.sh, which writes
# cordon_*.deb there), every other block runs in order, in one root shell with `set -e`,
# in /root of a fresh Debian 12 root (tests/integration/debroot.sh, the root of
# integration.package) holding that .deb. A block marked "fleet: systemd" needs systemd as
# init, which a chroot has not: the test says so and checks the installed unit with
# systemd-analyze instead; the "fleet: no-systemd" block after it is what runs. Then the
# output shows the agent governed, the audit records and the policy push.
#   readme_fleet.sh SOURCE_DIR
# Time: about a minute once integration.package has built the package and the root.
set -uo pipefail
src=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/debroot.sh"
[ "$(id -u)" -eq 0 ] || { echo "readme_fleet: needs root (chroot, apt-get)" >&2; exit 1; }

python3 - "$src/README.md" "$T" <<'PY' || { bad "the fleet section's blocks are read from README.md"; finish; exit; }
import re, sys
text = open(sys.argv[1]).read()
start = text.index("## Running cordond for a fleet of agents")
end = text.index("<!-- fleet: end", start)
sec = text[start:end]
blocks, mark = [], None
for m in re.finditer(r"<!-- fleet: ([a-z-]+)|```sh\n(.*?)```", sec, re.S):
    if m.group(1):
        mark = m.group(1)
    else:
        blocks.append((mark or "server", m.group(2)))
        mark = None
kinds = [k for k, _ in blocks]
assert kinds.count("build") == 1 and kinds.count("no-systemd") == 1 and len(blocks) >= 5, kinds
with open(sys.argv[2] + "/build.sh", "w") as b, open(sys.argv[2] + "/server.sh", "w") as s:
    s.write("set -euo pipefail\ntrap 'echo \"README step failed: $BASH_COMMAND\" >&2' ERR\n")
    for n, (kind, body) in enumerate(blocks, 1):
        if kind == "build":
            b.write(body)
        elif kind == "systemd":
            s.write(f"echo '### block {n} (systemd): not run, a chroot has no systemd as init'\n")
            with open(sys.argv[2] + "/systemd.sh", "a") as y:
                y.write(body)
        else:
            s.write(f"echo '### block {n}'\n{body}")
print(f"{len(blocks)} blocks: {' '.join(kinds)}")
PY
ok "the fleet section's sh blocks are read from README.md ($(grep -c '^echo .###' "$T/server.sh") for the server)"

had_deb=$(ls "$src"/cordon_*.deb 2>/dev/null || true)
[ -n "$had_deb" ] || trap 'rm -f "$src"/cordon_*.deb; rm -rf "$T" "$FX"' EXIT
run "the build block, in the source tree" 0 bash -c "cd '$src' && set -euo pipefail && source '$T/build.sh'"
deb=$(ls "$src"/cordon_*.deb 2>/dev/null | head -1)
[ -f "$deb" ] && ok "it left $(basename "$deb") in the clone" || { bad "the build block made a .deb" "$OUT"; finish; exit; }

root="$T/root"
debroot_new "$root" 2>"$T/root.err" || { bad "a fresh Debian root" "$(cat "$T/root.err")"; finish; exit; }
cp "$deb" "$root/root/"
cp "$T/server.sh" "$root/root/readme.sh"
run "the server blocks, in order, as root in the fresh root" 0 debroot_sh "$root" "cd /root && bash readme.sh"
printf '%s\n' "$OUT" | sed 's/^/     | /' | tail -40
has "cordon run governed the agent" "governed: yes"
has "the agent's work succeeded" "ok       write and read notes.txt in the workspace"
has "its read of the policy key was refused" "refused  read /etc/cordon/policy.key"
has "its rm was refused" "refused  run rm"
has "the audit log shows the session" "session.end"
has "the policy push was accepted" "claims-agent"

if grep -q "systemctl enable --now cordond" "$T/systemd.sh" 2>/dev/null; then
    # The unit as systemd would load it on a server: systemd itself in the root (from the
    # package cache), then systemd-analyze verify reading the root's units and man pages.
    if command -v systemd-analyze >/dev/null; then
        run "systemd installs in the root" 0 debroot_sh "$root" \
            "apt-get install -y -qq --no-install-recommends systemd >/dev/null"
        run "the systemd block's unit, as installed, verifies (systemd-analyze)" 0 \
            env MANPATH="$root/usr/share/man" systemd-analyze verify --root="$root" cordond.service
    else
        echo "n/a: systemd-analyze is not installed here; the systemd block's unit was not verified"
    fi
fi
finish
