#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/SECURITY.md links each finding of the attack suite to the line of the test that judges
# it: [`NAME`](../tests/FILE#LN). Check that every such link names an existing file and that
# its line still holds NAME, so that the table cannot drift from the tests it points at.
#   usage: security_links.sh SOURCE_DIR
set -u
SRC=${1:?usage: security_links.sh SOURCE_DIR}
DOC=$SRC/docs/SECURITY.md
pass=0 fail=0
while IFS=$'\t' read -r name file line; do
    path=$SRC/$file
    if [ ! -f "$path" ]; then
        echo "FAIL $name: $file does not exist"; fail=$((fail + 1)); continue
    fi
    text=$(sed -n "${line}p" "$path")
    if [ -n "$text" ] && [[ $text == *"$name"* ]]; then
        pass=$((pass + 1))
    else
        echo "FAIL $name: $file line $line does not hold it (it holds: ${text:-nothing});" \
             "update the link in docs/SECURITY.md"
        fail=$((fail + 1))
    fi
done < <(python3 - "$DOC" <<'PY'
import re, sys
for m in re.finditer(r"\[`([^`]+)`\]\(\.\./(tests/[^#)]+)#L(\d+)\)", open(sys.argv[1]).read()):
    print("\t".join(m.groups()))
PY
)
echo "$pass passed, $fail failed"
[ "$pass" -gt 0 ] || { echo "FAIL no test links found in $DOC"; exit 1; }
[ "$fail" -eq 0 ]
