#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.manpages: the manual pages tools/manpage.py writes (the ones tools/package.sh
# ships) carry every flag of every command's --help, every cordond flag, every key of
# docs/SERVER.md's configuration table and every key of docs/POLICY.md, as man(1) renders
# them; man reports no warning. Controls: a page with one flag taken out, and one with one
# configuration key taken out, each fail the check and name what is missing.
#   manpages.sh CORDON CORDOND SOURCE_DIR
set -euo pipefail
cordon=$1 cordond=$2 src=$3
command -v man >/dev/null || { echo "manpages: man is not installed; run tools/install-deps.sh" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() { python3 "$src/tools/manpage.py" --cordon "$cordon" --cordond "$cordond" --docs "$src/docs" "$@"; }

gen --version test --out "$tmp/man"
for p in cordon.1 cordond.8 cordond.conf.5 cordon-policy.5; do
    [ -s "$tmp/man/$p" ] || { echo "manpages: FAIL: $p was not written" >&2; exit 1; }
    warn=$(LC_ALL=C MANWIDTH=100 man --warnings=all -l "$tmp/man/$p" 2>&1 >/dev/null || true)
    [ -z "$warn" ] || { echo "manpages: FAIL: man warns on $p:" >&2; echo "$warn" >&2; exit 1; }
done
gen --check "$tmp/man"
echo "manpages: ok: every flag and key is on its page"

# The check sees a missing flag: take `--grace` out of cordon.1 (the page names it in
# cordon run's usage and option list only).
cp -r "$tmp/man" "$tmp/noflag"
python3 - "$tmp/noflag/cordon.1" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
assert "\\-\\-grace" in s, "cordon.1 does not name --grace at all"
open(p, "w").write(s.replace("\\-\\-grace", "\\-\\-pause"))
PY
if gen --check "$tmp/noflag" 2>"$tmp/err1"; then
    echo "manpages: FAIL: a cordon.1 without --grace passed the check" >&2
    exit 1
fi
grep -q "cordon run --help\` names --grace" "$tmp/err1" || {
    echo "manpages: FAIL: the check did not name --grace:" >&2; cat "$tmp/err1" >&2; exit 1; }
echo "manpages: ok: a page without --grace fails the check and names it"

# ... and a missing configuration key: drop tunnel_idle_timeout's row from cordond.conf.5.
cp -r "$tmp/man" "$tmp/nokey"
python3 - "$tmp/nokey/cordond.conf.5" <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
i = next(i for i, l in enumerate(lines) if l.startswith("\\fBtunnel_idle_timeout"))
del lines[i - 1:i + 2]
open(p, "w").write("\n".join(l for l in lines if "tunnel_idle_timeout" not in l))
PY
if gen --check "$tmp/nokey" 2>"$tmp/err2"; then
    echo "manpages: FAIL: a cordond.conf.5 without tunnel_idle_timeout passed the check" >&2
    exit 1
fi
grep -q "configures \`tunnel_idle_timeout\`" "$tmp/err2" || {
    echo "manpages: FAIL: the check did not name tunnel_idle_timeout:" >&2; cat "$tmp/err2" >&2; exit 1; }
echo "manpages: ok: a page without tunnel_idle_timeout fails the check and names it"
