#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# integration.manpages: the manual pages tools/manpage.py writes (the ones tools/package.sh
# ships) carry every flag of every command's --help, every cordond flag, every key of
# docs/SERVER.md's configuration table and every key of docs/POLICY.md, as man(1) renders
# them; man reports no warning. Hostile text in the docs (roff requests, escapes, a table
# with no header) is printed, not obeyed, and a missing docs section stops the generator
# naming it. Controls: a page with one flag taken out, and one with one
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

# Hostile text in the docs stays text: a line that would be a roff request (.so would pull
# in another file), an escape that would switch fonts or a string, a quote-led line, and a
# document whose section the page needs is missing.
cp -r "$src/docs" "$tmp/docs"
python3 - "$tmp/docs/SERVER.md" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
evil = ("\n.so /etc/passwd\n\n" r"'br \*(Tm \fB\n(.l \\ \" not a comment" "\n\n"
        r"| `evil_key` | `\fR.so /etc/passwd` | .TH X |" "\n")
s = s.replace("\n## Model proxy", evil + "\n## Model proxy", 1)
open(p, "w").write(s)
PY
python3 "$src/tools/manpage.py" --cordon "$cordon" --cordond "$cordond" --docs "$tmp/docs" \
    --version test --out "$tmp/evil"
warn=$(LC_ALL=C MANWIDTH=200 man --warnings=all -l "$tmp/evil/cordond.conf.5" 2>&1 >/dev/null || true)
text=$(LC_ALL=C MANWIDTH=200 man -l "$tmp/evil/cordond.conf.5" 2>/dev/null)
if [ -n "$warn" ] || [[ $text == *"root:x:0:0"* ]] || [[ $text != *".so /etc/passwd"* ]] ||
    [[ $text != *'\*(Tm \fB\n(.l \\ \" not a comment'* ]] || [[ $text != *"evil_key"* ]]; then
    echo "manpages: FAIL: hostile docs text was not kept as text:" >&2
    echo "$warn" >&2
    grep -n -A3 "so /etc/passwd" <<<"$text" >&2
    exit 1
fi
echo "manpages: ok: roff requests and escapes in the docs are printed, not obeyed"

sed -i 's/^## The admin listener$/## Admin listener (renamed)/' "$tmp/docs/SERVER.md"
if python3 "$src/tools/manpage.py" --cordon "$cordon" --cordond "$cordond" --docs "$tmp/docs" \
    --version test --out "$tmp/renamed" 2>"$tmp/err3"; then
    echo "manpages: FAIL: a page was written without its section \"The admin listener\"" >&2
    exit 1
fi
grep -q '"## The admin listener" not found' "$tmp/err3" || {
    echo "manpages: FAIL: the error does not name the missing section:" >&2; cat "$tmp/err3" >&2; exit 1; }
echo "manpages: ok: a renamed docs section stops the generator and is named"
