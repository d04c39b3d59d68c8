#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.package: tools/package.sh builds the .deb (lintian clean), `apt-get install
# ./cordon_*.deb` puts it into a fresh Debian 12 minbase root (tests/integration/debroot.sh),
# and there: the cordond user exists and owns its keys (mode 0600), the config is a conffile
# listening on 7071, cordon finds the shim in /usr/lib/x86_64-linux-gnu/cordon, the profile.d
# snippet is inert, cordond runs as the cordond user, and examples/agent.py runs governed
# under `cordon run` against it: its work succeeds, its reads of the keys and its `rm` are
# refused by the kernel sandbox and the audit log records the session. The control runs the
# same agent without cordon in the same root, where every attempt succeeds. Then `apt-get
# purge` and autoremove leave the root as it was before the install: no file, no user. A
# second root with systemd installed shows postinst using sysusers.d and tmpfiles.d.
#
#   package.sh SOURCE_DIR BUILD_DIR ESCAPE_PROBE
#
# ESCAPE_PROBE is tests/escape's static probe: no preload hook can stand between its raw
# open(2) and the kernel, so its refusal under the installed cordon is the kernel sandbox's.
#
# Time: the first run builds the package (about a minute on 2 cores) and makes the root
# (debootstrap, about 2 minutes, needs the mirror apt is configured with); a rerun takes
# about 45 seconds with no network (70 to 110 when the package must be rebuilt).
set -uo pipefail
src=$1 build=$2 probe=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/debroot.sh"
[ "$(id -u)" -eq 0 ] || { echo "package: needs root (debootstrap, chroot, apt-get)" >&2; exit 1; }

deb=$(bash "$src/tools/package.sh" --build-dir "$build" --out "$T/deb" 2>"$T/package.err" | tail -1)
if [ -f "$deb" ]; then ok "tools/package.sh built $(basename "$deb"), lintian clean"; else
    bad "tools/package.sh built the package" "$(cat "$T/package.err")"; finish; exit; fi
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/cordon ./usr/sbin/cordond ./usr/lib/x86_64-linux-gnu/cordon/libcordon.so \
    ./usr/lib/x86_64-linux-gnu/cordon/libcordon-root.so ./usr/share/man/man1/cordon.1.gz \
    ./usr/share/man/man8/cordond.8.gz ./usr/share/man/man5/cordon-policy.5.gz \
    ./usr/share/man/man5/cordond.conf.5.gz ./lib/systemd/system/cordond.service \
    ./usr/lib/sysusers.d/cordond.conf ./usr/lib/tmpfiles.d/cordond.conf \
    ./etc/cordon/cordond.conf ./etc/profile.d/cordon.sh ./usr/share/bash-completion/completions/cordon \
    ./usr/share/doc/cordon/examples/agent.py; do
    case "$contents" in *" $f"*) ok "package holds $f" ;; *) bad "package holds $f" ;; esac
done
OUT=$(dpkg-deb -I "$deb" conffiles)
has "cordond.conf is a conffile" /etc/cordon/cordond.conf

root="$T/root"
if ! debroot_new "$root" 2>"$T/root.err"; then
    bad "a fresh Debian root" "$(cat "$T/root.err")"; finish; exit; fi
ok "a fresh $DEBROOT_SUITE minbase root"
mkdir -p "$root/tmp/pkg" && cp "$deb" "$root/tmp/pkg/"
install -m 0755 "$probe" "$root/usr/local/bin/escape_probe" # a system path: the policy lets it run
# What the root holds before cordon, python3 installed first since the agent needs it.
snapshot='find / -xdev \( -path /proc -o -path /dev -o -path /run -o -path /tmp -o -path /var/cache \
    -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/log -o -path /root/.cache \) -prune \
    -o -print | grep -v -e "^/etc/[a-z]*-$" | sort'

run "python3 installs in the root" 0 debroot_sh "$root" \
    "apt-get install -y -qq --no-install-recommends python3 >/dev/null && $snapshot >/tmp/before"
run "apt-get install ./cordon_*.deb" 0 debroot_sh "$root" \
    "cd /tmp/pkg && apt-get install -y -qq --no-install-recommends ./cordon_*.deb"

# The installed package, outside any service manager.
run "the cordond user, keys and files" 0 debroot_sh "$root" '
    set -e
    getent passwd cordond | grep -q ":/var/lib/cordond:/usr/sbin/nologin$"
    for f in policy.key audit.key admin.token; do
        [ "$(stat -c "%U %G %a" /etc/cordon/$f)" = "cordond cordond 600" ] ||
            { echo "/etc/cordon/$f: $(stat -c "%U %G %a" /etc/cordon/$f)"; exit 1; }
    done
    [ "$(stat -c "%U %a" /var/lib/cordond)" = "cordond 700" ]
    [ "$(stat -c "%a" /etc/cordon/policy.pub)" = 644 ]
    grep -qx "listen 127.0.0.1:7071" /etc/cordon/cordond.conf
    cordon doctor | grep -E "^libcordon.so +/usr/lib/x86_64-linux-gnu/cordon/libcordon.so"
    [ "$(bash -lc "echo \${LD_PRELOAD:-none} \${CORDON_PROFILE:-none}")" = "none none" ]
    cordond --config /etc/cordon/cordond.conf --check-config'
has "cordon finds the shim where the package puts it" "/usr/lib/x86_64-linux-gnu/cordon/libcordon.so"

# The profile.d snippet governs an account only once it has a profile; the bash completion
# reads the commands from the installed cordon (bash-completion's helpers stubbed: minbase
# has no bash-completion package).
run "profile.d and bash completion" 0 debroot_sh "$root" '
    set -e
    useradd --create-home pkgtest-agent
    printf "CORDON_SERVER=http://127.0.0.1:7071\n" >/etc/cordon/pkgtest-agent.env
    echo "before: $(runuser -l pkgtest-agent -c "echo \${LD_PRELOAD:-none}")"
    mkdir -p /etc/cordon/profile
    mv /etc/cordon/pkgtest-agent.env /etc/cordon/profile/
    echo "after: $(runuser -l pkgtest-agent -c "echo \${LD_PRELOAD:-none} \${CORDON_PROFILE:-none}")"
    echo "root: $(bash -lc "echo \${LD_PRELOAD:-none}")"
    rm -r /etc/cordon/profile
    userdel --remove pkgtest-agent 2>/dev/null
    bash -c "_init_completion() { cur=\${COMP_WORDS[COMP_CWORD]}; words=(\"\${COMP_WORDS[@]}\"); cword=\$COMP_CWORD; }
        _filedir() { :; }
        source /usr/share/bash-completion/completions/cordon
        COMP_WORDS=(cordon policy \"\"); COMP_CWORD=2; _cordon; echo \"complete policy: \${COMPREPLY[*]}\"
        COMP_WORDS=(cordon run --up); COMP_CWORD=2; _cordon; echo \"complete run --up: \${COMPREPLY[*]}\"
        COMP_WORDS=(cordond --tunnel); COMP_CWORD=1; _cordond; echo \"complete cordond: \${COMPREPLY[*]}\""'
has "profile.d: inert for an account without a profile" "before: none"
has "profile.d: an account with /etc/cordon/profile/ACCOUNT.env is governed" \
    "after: /usr/lib/x86_64-linux-gnu/cordon/libcordon.so /etc/cordon/profile/pkgtest-agent.env"
has "profile.d: root's shell is left alone" "root: none"
has "completion: cordon policy <TAB>" "complete policy: check push reload"
has "completion: cordon run --up<TAB>" "complete run --up: --upstream --upstream-key"
has "completion: cordond --tunnel<TAB>" "complete cordond: --tunnel-idle-timeout --tunnel-listen"

# A reinstall keeps the keys and an edited conffile.
run "apt-get reinstall keeps keys and the edited config" 0 debroot_sh "$root" '
    set -e
    sum=$(cat /etc/cordon/policy.key /etc/cordon/admin.token | md5sum)
    echo "# edited by the operator" >>/etc/cordon/cordond.conf
    cd /tmp/pkg && apt-get install -y -qq --reinstall -o Dpkg::Options::=--force-confold ./cordon_*.deb >/dev/null
    [ "$(cat /etc/cordon/policy.key /etc/cordon/admin.token | md5sum)" = "$sum" ]
    tail -1 /etc/cordon/cordond.conf | grep -qx "# edited by the operator"
    sed -i "\$d" /etc/cordon/cordond.conf'

# cordond as the cordond user (what cordond.service does: User=cordond, RuntimeDirectory),
# an agent key from the admin socket, and the agent under cordon run, then without it.
cat >"$root/tmp/pkg/agent.sh" <<'EOF'
set -e
cp /usr/share/doc/cordon/examples/policies/claims-agent.json /etc/cordon/policies/
install -d -o cordond -g cordond -m 0700 /run/cordond
setpriv --reuid=cordond --regid=cordond --init-groups --inh-caps=-all --bounding-set=-all \
    cordond --config /etc/cordon/cordond.conf --ready-file /run/cordond/ready \
    >/tmp/pkg/cordond.log 2>&1 &
cordond=$!
for _ in $(seq 100); do [ -s /run/cordond/ready ] && break; sleep 0.1; done
[ -s /run/cordond/ready ] || { echo "cordond did not start:"; cat /tmp/pkg/cordond.log; exit 1; }
echo "cordond runs as: $(stat -c %U /proc/$cordond) "
(umask 077 && CORDON_ADMIN_TOKEN_FILE=/etc/cordon/admin.token \
    cordon agent add --agent claims-agent >/root/claims-agent.key)
mkdir -p /root/.ssh && echo planted >/root/.ssh/id_rsa
mkdir -p /srv/claims && cd /srv/claims
echo "--- governed"
cordon run --server http://127.0.0.1:7071 --key /root/claims-agent.key \
    --trust /etc/cordon/policy.pub -- python3 /usr/share/doc/cordon/examples/agent.py
echo "--- ungoverned"
python3 /usr/share/doc/cordon/examples/agent.py
echo "--- kernel"
cordon run --server http://127.0.0.1:7071 --key /root/claims-agent.key \
    --trust /etc/cordon/policy.pub -- /usr/local/bin/escape_probe read /etc/cordon/policy.key || echo "status $?"
echo "--- kernel control"
/usr/local/bin/escape_probe read /etc/cordon/policy.key || echo "status $?"
kill "$cordond"
wait "$cordond" || true
echo "--- audit"
echo "kinds: $(cordon audit query /var/lib/cordond/audit --agent claims-agent | awk '{ print $3 }' |
    sort -u | tr '\n' ' ')"
cordon audit verify /var/lib/cordond/audit --trust /etc/cordon/audit.pub
# What the operator made is the operator's to remove; the purge below removes the rest.
rm -rf /etc/cordon/policies/claims-agent.json /root/.ssh /root/claims-agent.key /srv/claims
EOF
run "cordond as cordond, the agent governed and not" 0 debroot_sh "$root" "bash /tmp/pkg/agent.sh"
has "cordond runs as the cordond user" "cordond runs as: cordond "
gov=$(sed -n '/^--- governed/,/^--- ungoverned/p' <<<"$OUT")
free=$(sed -n '/^--- ungoverned/,/^--- kernel/p' <<<"$OUT")
kern=$(sed -n '/^--- kernel$/,/^--- kernel control/p' <<<"$OUT")
kctl=$(sed -n '/^--- kernel control/,/^--- audit/p' <<<"$OUT")
audit=$(sed -n '/^--- audit/,$p' <<<"$OUT")
for want in "governed: yes" "ok       write and read notes.txt" "refused  read /root/.ssh/id_rsa" \
    "refused  read /etc/cordon/policy.key" "refused  write /etc/cordon/stolen" "refused  run rm"; do
    case "$gov" in *"$want"*) ok "under cordon: $want" ;; *) bad "under cordon: $want" "$gov" ;; esac
done
for want in "governed: no" "ok       read /root/.ssh/id_rsa" "ok       read /etc/cordon/policy.key" \
    "ok       write /etc/cordon/stolen" "ok       run rm"; do
    case "$free" in *"$want"*) ok "control, without cordon: $want" ;; *) bad "control: $want" "$free" ;; esac
done
case "$kern" in *"errno=EACCES (open)"*) ok "the kernel refuses the static probe's open of policy.key" ;;
    *) bad "the kernel refuses the static probe's open of policy.key" "$kern" ;; esac
case "$kctl" in *"read: SUCCEEDED"*) ok "control: the same probe reads policy.key outside cordon" ;;
    *) bad "control: the probe reads policy.key outside cordon" "$kctl" ;; esac
for want in " policy.fetch " " shim.start " " fs.open " " exec " " model.call " " session.end " "VALID (closed)"; do
    case "$audit" in *"$want"*) ok "audit log: $want" ;; *) bad "audit log: $want" "$audit" ;; esac
done

run "apt-get purge cordon, autoremove" 0 debroot_sh "$root" \
    "apt-get purge -y -qq cordon >/dev/null && apt-get autoremove --purge -y -qq >/dev/null &&
     $snapshot >/tmp/after && ! getent passwd cordond && ! getent group cordond &&
     diff /tmp/before /tmp/after"
[ -n "$OUT" ] && printf '     %s\n' "$OUT"

# Where systemd is installed (a server), postinst makes the user and the directories with
# systemd-sysusers and systemd-tmpfiles from the package's own sysusers.d and tmpfiles.d.
root2="$T/root2"
if debroot_new "$root2" 2>"$T/root.err"; then
    mkdir -p "$root2/tmp/pkg" && cp "$deb" "$root2/tmp/pkg/"
    run "with systemd: install, sysusers.d and tmpfiles.d, purge" 0 debroot_sh "$root2" '
        set -e
        apt-get install -y -qq --no-install-recommends systemd >/dev/null
        echo "sysusers: $(command -v systemd-sysusers) tmpfiles: $(command -v systemd-tmpfiles)"
        cd /tmp/pkg && apt-get install -y -qq --no-install-recommends ./cordon_*.deb >/dev/null
        echo "user: $(getent passwd cordond | cut -d: -f5-7)"
        echo "state: $(stat -c "%U %a" /var/lib/cordond) policies: $(stat -c "%U %a" /etc/cordon/policies)"
        echo "key: $(stat -c "%U %a" /etc/cordon/policy.key)"
        apt-get purge -y -qq cordon >/dev/null
        getent passwd cordond || echo "purged: no cordond user"
        [ -e /var/lib/cordond ] || [ -e /etc/cordon ] || echo "purged: no /var/lib/cordond, no /etc/cordon"'
    has "systemd-sysusers and systemd-tmpfiles are there" "sysusers: /usr/bin/systemd-sysusers tmpfiles: /usr/bin/systemd-tmpfiles"
    has "systemd-sysusers made the user" "user: cordon governance server:/var/lib/cordond:/usr/sbin/nologin"
    has "systemd-tmpfiles made the directories" "state: cordond 700 policies: cordond 750"
    has "the keys are cordond's" "key: cordond 600"
    has "the purge removed the user" "purged: no cordond user"
    has "the purge removed the directories" "purged: no /var/lib/cordond, no /etc/cordon"
else
    bad "a second fresh root" "$(cat "$T/root.err")"
fi
finish
