#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every JSON snippet of docs/POLICY.md, checked by the cordon it documents.

A ```json block followed directly by a ```console block that starts with
"$ cordon policy check NAME.json" must give exactly the output shown there (the errors a
reader is promised); every other ```json block must be a valid policy. Snippets are checked
in a private directory with a private HOME, so that the machine's own ~/.ssh plays no part.

    usage: policy_docs.py CORDON POLICY.md
"""
import os
import re
import subprocess
import sys
import tempfile


def blocks(text):
    """(info, body, line) of every fenced block, in order."""
    out = []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M):
        out.append((m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1))
    return out


def main():
    cordon, doc = os.path.abspath(sys.argv[1]), sys.argv[2]
    bs = blocks(open(doc, encoding="utf-8").read())
    failed = checked = 0
    with tempfile.TemporaryDirectory(prefix="cordon-policy-docs.") as tmp:
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": tmp, "LC_ALL": "C.UTF-8"}
        for i, (info, body, line) in enumerate(bs):
            if info != "json":
                continue
            checked += 1
            expect = None
            name = "snippet-%d.json" % line
            if i + 1 < len(bs) and bs[i + 1][0] == "console":
                lines = bs[i + 1][1].splitlines()
                m = re.match(r"^\$ cordon policy check (\S+\.json)$", lines[0]) if lines else None
                if m:
                    name, expect = m.group(1), lines[1:]
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(body)
            r = subprocess.run([cordon, "policy", "check", name], cwd=tmp, env=env,
                               capture_output=True, text=True)
            got = (r.stdout + r.stderr).splitlines()
            if expect is None:
                if r.returncode != 0:
                    failed += 1
                    print("FAIL POLICY.md line %d: the snippet is not a valid policy:" % line)
                    print("\n".join("     " + g for g in got))
                else:
                    print("ok   POLICY.md line %d: valid" % line)
            elif got != expect or r.returncode != 1:
                failed += 1
                print("FAIL POLICY.md line %d: `cordon policy check %s` (exit %d) differs from "
                      "the documented output" % (line, name, r.returncode))
                print("     documented:\n" + "\n".join("       " + e for e in expect))
                print("     actual:\n" + "\n".join("       " + g for g in got))
            else:
                print("ok   POLICY.md line %d: refused as documented" % line)
    print("%d snippets checked, %d failed" % (checked, failed))
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
