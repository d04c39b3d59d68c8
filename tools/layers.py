#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The layers of cordon, read from the code and checked.

Every `#include "ROOM/file.h"` between the rooms of the tree (base, sandbox, policy,
policy/data, policy/sign, policy/audit, policy/engine, policy/server, shim, tools) is an arrow. The script
refuses an arrow that the table ALLOWED below does not list, and any cycle of includes
between files, and prints the picture of the layers that docs/INTERNALS.md shows.

  tools/layers.py [--check-doc docs/INTERNALS.md] [SOURCE_DIR]

Exit status 0 when the tree keeps its layers (and, with --check-doc, when the picture in the
document is the one the code draws), 1 otherwise, with one line per problem.
"""
import os
import re
import sys

ROOMS = ["base", "sandbox", "policy", "policy/data", "policy/sign", "policy/audit", "policy/engine",
         "policy/server", "shim", "tools"]
# What each room may include, besides itself. The shim never reaches the audit log, the
# engine or cordond; nothing below tools/ reaches the CLI.
ALLOWED = {
    "base": [],
    "policy/sign": ["base"],
    "policy": ["base", "policy/data"],
    "policy/data": ["base"],
    "policy/audit": ["base", "policy/sign"],
    "policy/engine": ["base", "policy", "policy/data"],
    "sandbox": ["base", "policy"],
    "shim": ["base", "policy", "policy/sign", "sandbox"],
    "policy/server": ["base", "policy", "policy/sign", "policy/audit", "policy/engine",
                      "sandbox", "policy/data"],
    "tools": ["base", "policy", "policy/sign", "policy/audit", "policy/engine",
              "policy/server", "sandbox", "shim", "policy/data"],
}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(rel):
    d = os.path.dirname(rel)
    return d if d in ROOMS else None


def main(argv):
    doc = None
    if len(argv) > 1 and argv[1] == "--check-doc":
        doc = argv[2]
        argv = argv[:1] + argv[3:]
    src = os.path.abspath(argv[1] if len(argv) > 1 else ".")
    files = {}
    for room in ROOMS:
        d = os.path.join(src, room)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                rel = room + "/" + name
                with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
                    files[rel] = INC.findall(f.read())
    problems = []
    arrows = {}
    graph = {}
    for rel, incs in files.items():
        here = room_of(rel)
        graph[rel] = []
        for inc in incs:
            there = room_of(inc)
            if there is None:
                continue  # generated headers, tests/ and system-style includes
            if inc not in files:
                problems.append("%s includes %s, which does not exist" % (rel, inc))
                continue
            graph[rel].append(inc)
            if there != here:
                arrows.setdefault(here, set()).add(there)
                if there not in ALLOWED[here]:
                    problems.append("%s includes %s: %s may not depend on %s (tools/layers.py "
                                    "ALLOWED, docs/INTERNALS.md)" % (rel, inc, here, there))
    # cycles between files, a .c and its own .h excepted (a header never includes its .c)
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                problems.append("include cycle: " + " -> ".join(cyc))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    # Modules: X.c with its X.h. A function a header declares is defined in the header's own
    # .c, so that the include arrows are also the call arrows; then no two modules may
    # depend on each other in a cycle.
    decl = re.compile(r"^[A-Za-z_][\w \t\*]*?\b([a-z_][a-z0-9_]*)\s*\([^;{]*\)\s*[^;{]*;", re.M)
    defn = re.compile(r"^(?!static\b)[A-Za-z_][\w \t\*]*?\b([a-z_][a-z0-9_]*)\s*\([^;{]*\)\s*\{",
                      re.M)
    declared = {}
    for rel in files:
        if rel.endswith(".h"):
            with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
                body = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
            for m in decl.finditer(body):
                declared.setdefault(m.group(1), rel)
    for rel in files:
        if not rel.endswith(".c"):
            continue
        with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
            body = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        for m in defn.finditer(body):
            h = declared.get(m.group(1))
            if not h:
                continue
            mod, here = h[:-2], rel[:-2]
            # X.h is implemented by X.c or by a family X_*.c; a room's own header
            # (sandbox/sandbox.h) by the files of that room
            umbrella = os.path.basename(mod) == os.path.basename(os.path.dirname(mod)) or \
                os.path.basename(mod) == "internal"
            if re.search(r"^int\s+main\s*\(", body, re.M):
                problems.append("%s holds main() and defines %s, which %s declares: a program's "
                                "main file defines nothing others call" % (rel, m.group(1), h))
                continue
            if here == mod or here.startswith(mod + "_") or \
                    (umbrella and os.path.dirname(rel) == os.path.dirname(h)):
                continue
            problems.append("%s defines %s, which %s declares: a header's functions live in "
                            "%s.c (or %s_*.c)" % (rel, m.group(1), h, mod, mod))
    # A room's private header (internal.h) is the room's own, as its umbrella header is: what
    # includes it depends on the room, not on a module, so it stands for the files that
    # include it, and its includes are theirs.
    def private(rel):
        return os.path.basename(rel) == "internal.h"

    expanded = {}
    for rel, incs in graph.items():
        out = []
        for inc in incs:
            out.extend(graph.get(inc, []) if private(inc) else [inc])
        expanded[rel] = out
    mods = {}
    for rel, incs in expanded.items():
        if private(rel):
            continue
        a = rel[:-2]
        for inc in incs:
            b = inc[:-2]
            if a != b:
                mods.setdefault(a, set()).add(b)
    mstate = {}

    def mvisit(node, stack):
        mstate[node] = 1
        stack.append(node)
        for nxt in sorted(mods.get(node, ())):
            if mstate.get(nxt) == 1:
                problems.append("modules in a cycle: " + " -> ".join(stack[stack.index(nxt):] +
                                                                     [nxt]))
            elif nxt not in mstate:
                mvisit(nxt, stack)
        stack.pop()
        mstate[node] = 2

    for n in sorted(mods):
        if n not in mstate:
            mvisit(n, [])
    picture = ["    " + room + (" -> " + ", ".join(r for r in ROOMS if r in arrows.get(room, ()))
                                if arrows.get(room) else "")
               for room in ROOMS]
    text = "\n".join(picture)
    print(text)
    if doc:
        with open(doc, encoding="utf-8") as f:
            body = f.read()
        if text not in body:
            problems.append("%s does not show the layers as the code has them; put this "
                            "picture in it:\n%s" % (doc, text))
    for p in problems:
        print("layers: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
