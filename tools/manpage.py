#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write cordon's manual pages from the text they document, so that a page cannot drift.

    manpage.py --cordon BIN --cordond BIN --docs DIR --version V --out DIR

writes cordon.1 (`cordon --help` and every command's own --help), cordond.8 (`cordond
--help` and the opening of docs/SERVER.md), cordon-policy.5 (docs/POLICY.md) and
cordond.conf.5 (the configuration sections of docs/SERVER.md). The programs are run, not
parsed: the page shows what this build prints. tests/integration/manpages.sh checks that
every flag a --help names is on its page.

    manpage.py --check DIR --cordon BIN --cordond BIN --docs DIR

renders the four pages in DIR with man(1) and fails, naming each, when a flag that a --help
names is missing from its command's section, or a key of docs/SERVER.md's configuration
table or of docs/POLICY.md's key reference is missing from its page
(tests/integration/manpages.sh).
"""
import argparse
import os
import re
import subprocess
import sys

FLAG_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
DATE = "2026"  # the year on the page footer; fixed so that builds are reproducible


def run_help(argv):
    """The --help text of argv, or exit with a message saying which program failed."""
    try:
        p = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30,
                           env={**os.environ, "COLUMNS": "100", "LC_ALL": "C"})
    except OSError as e:
        sys.exit(f"manpage.py: cannot run {' '.join(argv)} --help: {e.strerror}; "
                 "build the programs first (ninja -C build cordon cordond)")
    text = p.stdout or p.stderr
    if p.returncode != 0 or not text.startswith("usage:"):
        sys.exit(f"manpage.py: {' '.join(argv)} --help exited {p.returncode} without a usage "
                 "text; a page cannot be written from it")
    return text


def help_flags(text):
    """The flags a --help text names (long ones, and single-letter ones like -o)."""
    return sorted(set(FLAG_RE.findall(text)) - {"--"})


def commands(top):
    """The commands the top-level help lists: ["run", "policy check", ...]."""
    lines, out, inside = [], [], False
    for line in top.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            if not line.startswith("  "):
                break
            lines.append(line.split())
    firsts = [w[0] for w in lines]
    for w in lines:
        if w[0] in ("help", "version"):
            continue
        out.append(" ".join(w[:2]) if firsts.count(w[0]) > 1 else w[0])
    return out


# ---- roff -------------------------------------------------------------------------------

def esc(s):
    """Text for roff: backslashes, hyphens as minus signs (they are flags and paths), and a
    line that would start with a control character."""
    return s.replace("\\", "\\e").replace("-", "\\-")


def line_safe(s):
    return "\\&" + s if s[:1] in (".", "'") else s


def inline(md):
    """Markdown inline markup to roff: `code` and **bold** in bold, *em* in italics, links
    as their text."""
    md = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", md)
    out, pos = [], 0
    for m in re.finditer(r"`([^`]+)`|\*\*([^*]+)\*\*|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", md):
        out.append(esc(md[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        else:
            out.append("\\fI" + esc(m.group(3)) + "\\fR")
        pos = m.end()
    out.append(esc(md[pos:]))
    return "".join(out).replace("\\|", "|")


def table_cells(line):
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def markdown(md, top_level=2):
    """Markdown (the subset docs/ uses) to roff. Headings of level top_level become .SH,
    deeper ones .SS, deeper still a bold line."""
    out = []
    lines = md.splitlines()
    i = 0
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.append(line_safe(inline(" ".join(para))))
            para.clear()

    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("<!--"):
            while "-->" not in lines[i]:
                i += 1
            i += 1
            continue
        if s.startswith("```"):
            flush()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(line_safe(esc(lines[i])))
                i += 1
            out += [".fi", ".RE"]
            i += 1
            continue
        m = re.match(r"(#+)\s+(.*)", line)
        if m:
            flush()
            level, title = len(m.group(1)), m.group(2)
            if level <= top_level:
                out.append(".SH " + line_safe(inline(title.upper())))
            elif level == top_level + 1:
                out.append(".SS " + line_safe(inline(title)))
            else:
                out += [".PP", "\\fB" + inline(re.sub(r"`", "", title)) + "\\fR"]
            i += 1
            continue
        if s.startswith("|"):
            flush()
            head = table_cells(s)
            if i + 1 < len(lines) and re.match(r"^\|?[\s:|-]+\|?$", lines[i + 1].strip()):
                i += 2
            else:  # no separator line: no header either, the first row is data
                head = [""] * len(head)
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = table_cells(lines[i])
                out += [".TP", line_safe(inline(cells[0]))]
                rest = []
                for h, c in zip(head[1:], cells[1:]):
                    if c:
                        rest.append(f"{h}: {c}" if len(head) > 2 and h else c)
                out.append(line_safe(inline("; ".join(rest))))
                i += 1
            continue
        m = re.match(r"(\s*)([-*]|\d+\.)\s+(.*)", line)
        if m:
            flush()
            indent = len(m.group(1))
            item = [m.group(3)]
            i += 1
            while i < len(lines) and lines[i].strip() and \
                    not re.match(r"\s*([-*]|\d+\.)\s+", lines[i]) and \
                    len(lines[i]) - len(lines[i].lstrip()) > indent:
                item.append(lines[i].strip())
                i += 1
            mark = "\\(bu" if m.group(2) in ("-", "*") else m.group(2)
            out += [f".IP {mark} 4", line_safe(inline(" ".join(item)))]
            continue
        if not s:
            flush()
            i += 1
            continue
        para.append(s)
        i += 1
    flush()
    return out


def help_to_roff(text, known=()):
    """A --help text to roff: the usage in no-fill, paragraphs, option lists as tagged
    paragraphs. known: tags that may be followed by a single space (command names)."""
    out = []
    blocks = re.split(r"\n\s*\n", text.strip("\n"))
    for b in blocks:
        lines = b.splitlines()
        if lines[0].startswith("usage:"):
            out += [".PP", ".nf"] + [line_safe(esc(x)) for x in lines] + [".fi"]
            continue
        # Runs of flush-left lines are paragraphs; runs of indented lines are lists.
        runs = []
        for x in lines:
            ind = x.startswith("  ")
            if runs and runs[-1][0] == ind:
                runs[-1][1].append(x)
            else:
                runs.append((ind, [x]))
        for ind, run in runs:
            if not ind:
                out += [".PP", line_safe(esc(" ".join(x.strip() for x in run)))]
                continue
            items = []
            for x in run:
                m = re.match(r"  (\S.*?)(?:\s{2,}(\S.*))?$", x)
                k = [t for t in known if x.startswith("  " + t + " ")]
                if k and m.group(2) is None:
                    items.append([k[0], [x[len(k[0]) + 3:].strip()]])
                elif m and not x.startswith("   "):
                    items.append([m.group(1), [m.group(2)] if m.group(2) else []])
                elif items:
                    items[-1][1].append(x.strip())
                else:
                    items.append([x.strip(), []])
            for tag, desc in items:
                out += [".TP", line_safe("\\fB" + esc(tag) + "\\fR")]
                if desc:
                    out.append(line_safe(esc(" ".join(desc))))
    return out


def header(name, section, version, title):
    return ['.\\" Generated by tools/manpage.py from --help and docs/: edit those, not this.',
            f'.TH {name.upper()} {section} "{DATE}" "cordon {version}" "{title}"',
            ".nh", ".ad l"]


def md_sections(md, wanted):
    """The ## sections of md whose titles are in wanted, in that order, each with its
    subsections; exits naming a missing one (a renamed section must be renamed here too)."""
    parts = re.split(r"(?m)^(?=## )", md)
    found = {}
    for p in parts:
        m = re.match(r"## (.*)", p)
        if m:
            found[m.group(1).strip()] = p
    out = []
    for w in wanted:
        if w not in found:
            sys.exit(f"manpage.py: docs section \"## {w}\" not found; update the section "
                     "list in tools/manpage.py to the document's headings")
        out.append(found[w])
    return "\n".join(out)


def page_cordon(cordon, version):
    top = run_help([cordon])
    out = header("cordon", 1, version, "cordon manual")
    out += [".SH NAME", "cordon \\- govern AI agents with one signed policy",
            ".SH SYNOPSIS", ".B cordon", ".I COMMAND", "[\\fIARGS\\fR...]",
            ".SH DESCRIPTION"]
    out += help_to_roff(top.split("\n", 1)[1], commands(top) + ["help [COMMAND]"])
    out.append(".SH COMMANDS")
    for c in commands(top):
        out.append(".SS " + esc("cordon " + c))
        out += help_to_roff(run_help([cordon] + c.split()))
    out += [".SH FILES", ".TP", "\\fI/etc/cordon/\\fR",
            "keys, tokens and the policies of a fleet's cordond (denied to every sandbox)",
            ".TP", "\\fI/usr/lib/x86_64\\-linux\\-gnu/cordon/libcordon.so\\fR",
            "the shim that \\fBcordon run\\fR preloads",
            ".SH SEE ALSO", "\\fBcordond\\fR(8), \\fBcordon\\-policy\\fR(5), "
            "\\fBcordond.conf\\fR(5); /usr/share/doc/cordon/"]
    return out


def page_cordond(cordond, server_md, version):
    text = run_help([cordond])
    out = header("cordond", 8, version, "cordon manual")
    out += [".SH NAME", "cordond \\- the cordon governance server", ".SH SYNOPSIS"]
    out += help_to_roff(text)
    intro = server_md.split("\n## ", 1)[0].split("\n", 1)[1]
    out += [".SH DESCRIPTION"] + markdown(intro)
    out += markdown(md_sections(server_md, ["Policies and reloads", "Files in the state directory",
                                            "What cordond keeps secret"]))
    out += [".SH FILES", ".TP", "\\fI/etc/cordon/cordond.conf\\fR", "the configuration "
            "(\\fBcordond.conf\\fR(5))", ".TP", "\\fI/var/lib/cordond/\\fR",
            "the state directory", ".TP", "\\fI/run/cordond/admin.sock\\fR",
            "the admin socket",
            ".SH SEE ALSO", "\\fBcordon\\fR(1), \\fBcordond.conf\\fR(5), \\fBcordon\\-policy\\fR(5)"]
    return out


def page_conf(server_md, version):
    out = header("cordond.conf", 5, version, "cordon manual")
    out += [".SH NAME", "cordond.conf \\- configuration of the cordon governance server",
            ".SH SYNOPSIS", "/etc/cordon/cordond.conf"]
    out += markdown(md_sections(server_md, ["Configuration", "Model proxy", "The admin listener"]))
    out += [".SH SEE ALSO", "\\fBcordond\\fR(8), \\fBcordon\\-policy\\fR(5)"]
    return out


def page_policy(policy_md, version):
    out = header("cordon-policy", 5, version, "cordon manual")
    out += [".SH NAME", "cordon\\-policy \\- the cordon policy document, version 1",
            ".SH DESCRIPTION"]
    body = policy_md.split("\n", 1)[1]
    out += markdown(body)
    out += [".SH SEE ALSO", "\\fBcordon\\fR(1), \\fBcordond\\fR(8)"]
    return out


def render(path):
    """The page as man(1) prints it, in plain ASCII and wide enough not to break flags."""
    env = {**os.environ, "LC_ALL": "C", "MANWIDTH": "250", "MAN_KEEP_FORMATTING": ""}
    try:
        p = subprocess.run(["man", "-l", path], capture_output=True, text=True, env=env,
                           timeout=60)
    except OSError as e:
        sys.exit(f"manpage.py: cannot run man: {e.strerror}; install man-db "
                 "(tools/install-deps.sh)")
    if p.returncode != 0 or p.stderr.strip():
        sys.exit(f"manpage.py: man -l {path} failed ({p.returncode}): {p.stderr.strip()}")
    return re.sub(r".\x08", "", p.stdout)


def sections(text, prefix):
    """{title: body} of a rendered page's subsections whose titles start with prefix."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^   (\S.*)$", line)
        if m:
            cur = m.group(1).strip() if m.group(1).startswith(prefix) else None
            if cur:
                out[cur] = []
            continue
        if re.match(r"^\S", line):
            cur = None
        elif cur:
            out[cur].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def check(a, server_md, policy_md):
    missing = []
    page = render(os.path.join(a.check, "cordon.1"))
    secs = sections(page, "cordon ")
    for c in commands(run_help([a.cordon])):
        body = secs.get("cordon " + c)
        if body is None:
            missing.append(f"cordon.1: no section for `cordon {c}`")
            continue
        for f in help_flags(run_help([a.cordon] + c.split())):
            if not has_word(body, f):
                missing.append(f"cordon.1: `cordon {c} --help` names {f}, its section does not")
    page = render(os.path.join(a.check, "cordond.8"))
    for f in help_flags(run_help([a.cordond])):
        if not has_word(page, f):
            missing.append(f"cordond.8: `cordond --help` names {f}, the page does not")
    page = render(os.path.join(a.check, "cordond.conf.5"))
    conf = md_sections(server_md, ["Configuration"])
    for row in re.findall(r"(?m)^\| `([a-z_]+)`", conf):
        if not has_word(page, row):
            missing.append(f"cordond.conf.5: docs/SERVER.md configures `{row}`, the page does not")
    page = render(os.path.join(a.check, "cordon-policy.5"))
    for key in re.findall(r"(?m)^#{4,5} `([a-z_.]+)`", policy_md):
        if not has_word(page, key):
            missing.append(f"cordon-policy.5: docs/POLICY.md documents `{key}`, the page does not")
    for m in missing:
        print("manpage.py: " + m, file=sys.stderr)
    if missing:
        print(f"manpage.py: {len(missing)} missing; the pages in {a.check} are not written from "
              "the current --help and docs/: run tools/manpage.py again, or fix its parser",
              file=sys.stderr)
        sys.exit(1)
    print(f"manpage.py: every flag and key is on its page ({a.check})")


def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cordon")
    ap.add_argument("--cordond")
    ap.add_argument("--docs")
    ap.add_argument("--version", default="0")
    ap.add_argument("--out")
    ap.add_argument("--check", metavar="DIR")
    a = ap.parse_args()
    if not (a.cordon and a.cordond and a.docs and (a.out or a.check)):
        ap.error("--cordon, --cordond, --docs and --out (or --check) are required")
    with open(os.path.join(a.docs, "SERVER.md")) as f:
        server_md = f.read()
    with open(os.path.join(a.docs, "POLICY.md")) as f:
        policy_md = f.read()
    if a.check:
        check(a, server_md, policy_md)
        return
    os.makedirs(a.out, exist_ok=True)
    write(os.path.join(a.out, "cordon.1"), page_cordon(a.cordon, a.version))
    write(os.path.join(a.out, "cordond.8"), page_cordond(a.cordond, server_md, a.version))
    write(os.path.join(a.out, "cordond.conf.5"), page_conf(server_md, a.version))
    write(os.path.join(a.out, "cordon-policy.5"), page_policy(policy_md, a.version))


if __name__ == "__main__":
    main()
