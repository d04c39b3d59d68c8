#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate the labelled data-class corpus, tests/data/classify/corpus.jsonl.

Deterministic (a fixed seed): running it again writes the same file, and the committed file
is its output (`python3 tests/data/classify/gen.py --check` says whether they agree).

Every value is synthetic: card numbers, IBANs, SSNs and routing numbers are built from random
digits with their check digits computed here; secret-shaped tokens are random characters with
the real prefixes and lengths; JWTs are base64url of real JSON. Host names are example.com,
example.org, *.test, *.internal or *.example only. See README.md for the format.
"""
import base64
import binascii
import json
import random
import re
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "corpus.jsonl"
R = random.Random(13)

RECORDS = []


def rec(family, text, expect=(), note="", ignore=(), allow=None, deny=None):
    """One record. expect / ignore: [(class, value)], each value a substring of text, in
    order of appearance for expect."""
    pos = 0
    for cls, v in expect:
        i = text.find(v, pos)
        assert i >= 0, (family, v, text)
        pos = i + len(v)
    for cls, v in ignore:
        assert v in text, (family, v, text)
    r = {"id": f"{family}-{sum(1 for x in RECORDS if x['family'] == family) + 1:03d}",
         "family": family, "text": text,
         "expect": [{"class": c, "value": v} for c, v in expect]}
    if ignore:
        r["ignore"] = [{"class": c, "value": v} for c, v in ignore]
    if allow:
        r["allow"] = allow
    if deny:
        r["deny"] = deny
    if note:
        r["note"] = note
    RECORDS.append(r)


# ---------------------------------------------------------------- carriers: realistic prompts
NAMES = ["Dana Ruiz", "Kofi Mensah", "Ines Duarte", "Yuki Tanaka", "Arjun Rao", "Lena Vogel",
         "Tomasz Nowak", "Chloe Martin", "Sipho Dlamini", "Mateo Rossi", "Aiko Mori",
         "Pieter Jansen", "Nadia Haddad", "Olivia Brown", "Lucas Peeters", "Ana Souza"]
CITIES = ["Lyon", "Leeds", "Porto", "Osaka", "Pune", "Graz", "Gdansk", "Ghent", "Recife"]


def name():
    return R.choice(NAMES)


def carrier(key, v, kind=None):
    """Embed v in a piece of prompt text of some kind; key is the field's name."""
    kinds = ["chat", "email", "json", "python", "log", "yaml", "sql", "csv", "markdown", "js",
             "ticket", "shell"]
    kind = kind or R.choice(kinds)
    n, c = name(), R.choice(CITIES)
    if kind == "chat":
        return R.choice([
            f"hey, can you update the record for {n}? their {key} is {v} now, thanks!",
            f"User: I need to fix the {key} on my profile. It should be {v}. Can you help?",
            f"[10:42] {n.split()[0]}: new {key} -> {v}\n[10:43] bot: noted, I will update it.",
            f"Please draft a polite reply to {n} confirming we changed the {key} to {v}.",
        ])
    if kind == "email":
        return (f"Hi team,\n\nFollowing our call, please use {v} as the {key} for {n} "
                f"from now on.\n\nBest regards,\n{name()}\n")
    if kind == "json":
        return json.dumps({"id": R.randint(100, 999), "name": n, key: v, "city": c,
                           "active": True}, ensure_ascii=False)
    if kind == "python":
        return (f"def load_fixture():\n    return {{\n        \"name\": \"{n}\",\n"
                f"        \"{key}\": \"{v}\",\n    }}\n")
    if kind == "log":
        return (f"2026-03-14T10:22:{R.randint(10, 59)}.512Z INFO worker[{R.randint(100, 999)}]: "
                f"updated {key}={v} for tenant blue in {R.randint(2, 90)}ms")
    if kind == "yaml":
        return f"customer:\n  name: {n}\n  {key}: \"{v}\"\n  city: {c}\n  tier: gold\n"
    if kind == "sql":
        return f"INSERT INTO customers (name, {key}, city) VALUES ('{n}', '{v}', '{c}');"
    if kind == "csv":
        return f"name,{key},city\n{n},{v},{c}\n{name()},,{R.choice(CITIES)}\n"
    if kind == "markdown":
        return f"| field | value |\n|---|---|\n| name | {n} |\n| {key} | `{v}` |\n"
    if kind == "js":
        return f"const customer = {{ name: '{n}', {key}: '{v}', city: '{c}' }};\nsave(customer);"
    if kind == "ticket":
        return (f"Ticket SUP-{R.randint(1000, 9999)}: {n} reports that the {key} shown in the "
                f"portal is wrong; the right one is {v}. Priority: medium.")
    if kind == "shell":
        return f"$ ./crm update --name '{n}' --{key} '{v}'\nupdated 1 record"
    raise ValueError(kind)


def neg_carrier(v):
    """Embed a near-miss in text that names no data class."""
    return R.choice([
        f"The build log says {v} and then stops; any idea why?",
        f"fix: handle {v} in the parser (see the failing test)",
        f"2026-03-14T08:01:{R.randint(10, 59)}Z DEBUG loader: read value {v} from the manifest",
        f"Can you explain what {v} means in this output?\n",
        f"```\n{v}\n```\nThis is what the tool printed.",
        f"{{\"build\": \"{v}\", \"ok\": true}}",
        f"- [ ] check {v} before the release",
    ])


# ---------------------------------------------------------------- check digits
def luhn_ok(num):
    s, alt = 0, False
    for ch in reversed(num):
        d = int(ch)
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        s += d
        alt = not alt
    return s % 10 == 0


def luhn_complete(prefix, length):
    """prefix + random digits + the Luhn check digit, length digits in all."""
    body = prefix + "".join(R.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


def iban_check(cc, bban):
    s = bban + cc + "00"
    n = int("".join(str(int(ch, 36)) for ch in s))
    return f"{98 - n % 97:02d}"


def iban_ok(iban):
    s = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in s)) % 97 == 1


def aba_ok(n):
    d = [int(c) for c in n]
    return len(d) == 9 and (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) +
                            (d[2] + d[5] + d[8])) % 10 == 0


def aba():
    while True:
        first = R.choice(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11",
                          "12", "21", "22", "26", "31", "32", "61", "62", "71", "72"])
        body = first + "".join(R.choice(string.digits) for _ in range(6))
        for d in string.digits:
            if aba_ok(body + d):
                return body + d


def rand(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


# ---------------------------------------------------------------- pii.email
def emails():
    firsts = ["dana", "kofi", "ines", "yuki", "arjun", "lena", "tomasz", "chloe", "sipho",
              "mateo", "aiko", "pieter", "nadia", "olivia", "lucas", "ana"]
    lasts = ["ruiz", "mensah", "duarte", "tanaka", "rao", "vogel", "nowak", "martin"]
    domains = ["example.com", "example.org", "mail.example.com", "eu.corp.example.org",
               "shop.test", "build.internal", "hr.acme.example", "students.uni.example.org",
               "sub.dept.example.com", "mx1.example.test"]
    vals = []
    for i in range(44):
        f, l, d = R.choice(firsts), R.choice(lasts), R.choice(domains)
        local = R.choice([f"{f}.{l}", f"{f}+{R.choice(['news', 'billing', 'tag42', 'x'])}",
                          f"{f}_{l}", f"{f}-{l}", f"{f}{R.randint(1, 99)}", f"{f[0]}{l}",
                          f"{f}.{l}+{R.choice(['work', 'cordon'])}", f"{f.upper()}.{l}"])
        vals.append(f"{local}@{d}")
    vals += ["jürgen.müller@example.org", "info@bücher.example", "user@xn--bcher-kva.example",
             "ñandú@example.com", "o'brien@example.com", "Dana.Ruiz@Example.COM"]
    keys = ["email", "contact", "reply_to", "owner", "mail"]
    for v in vals:
        rec("pii.email", carrier(R.choice(keys), v), [("pii.email", v)])
    # several per text: an e-mail thread, a CSV export, a git log
    a, b, c = vals[0], vals[1], vals[2]
    rec("pii.email", f"From: Dana Ruiz <{a}>\nTo: {b}\nCc: {c}\nSubject: Q3 planning\n\n"
        "Can we move the review to Thursday?\n", [("pii.email", a), ("pii.email", b),
                                                 ("pii.email", c)])
    rec("pii.email", f"commit 9f1c2ab\nAuthor: Kofi Mensah <{vals[3]}>\nDate:   Tue Mar 10 "
        f"09:12:44 2026 +0100\n\n    fix flaky test\n\n    Co-authored-by: Ines <{vals[4]}>\n",
        [("pii.email", vals[3]), ("pii.email", vals[4])])
    rec("pii.email", f"email\n{vals[5]}\n{vals[6]}\n{vals[7]}\n",
        [("pii.email", vals[5]), ("pii.email", vals[6]), ("pii.email", vals[7])])
    rec("pii.email", f"<a href=\"mailto:{vals[8]}\">write to us</a>", [("pii.email", vals[8])])

    negs = ["lodash@4.17.21", "react@^18.2.0", "typescript@5.4.2", "left-pad@1.3.0",
            "@types/node", "@app.route('/login')", "@property", "@Override", "@media (max-width: 600px)",
            "@import url(theme.css)", "user@", "@example.com", "user@@example.com", "user@example",
            "user@.example.com", "user@example..com", "user.example.com",
            "dana at example dot com", "dana(at)example.org", "a@b.c", "user@123.456",
            "nginx@sha256:4f2c9a1b", "@everyone", "ping @dana.ruiz about it", "@kofi-mensah",
            "first.last@", "email@domain", "user%example.com", "@SuppressWarnings(\"unchecked\")",
            "vue@next", "pkg@npm:other-pkg@2.0.1", "python@3.12", "node@20.11.1",
            "@pytest.fixture", "@dataclass(frozen=True)", "@font-face", "@keyframes spin",
            "@angular/core@17.0.8", "express@~4.18.2", "username@", "@@ -12,7 +12,8 @@",
            "x@y", "webpack@5.90.3", "@Inject()"]
    for v in negs:
        rec("pii.email", neg_carrier(v), [], note="near-miss: not an address")
    rec("pii.email", "ssh git@git.example.internal 'cd repo && git pull'", [],
        ignore=[("pii.email", "git@git.example.internal")],
        note="judgment: an SSH login user@host has an address's shape; not scored")
    rec("pii.email", "the retina sprite is icon@2x.png", [],
        ignore=[("pii.email", "icon@2x.png")],
        note="judgment: file name with a TLD-like suffix; not scored")
    rec("pii.email", "Reply to noreply@example.com is not read.", [],
        allow={"pii.email": ["noreply@example.com"]},
        note="allow list: a known no-reply address never counts")
    rec("pii.email", "Write to NoReply@Example.com for nothing.", [],
        allow={"pii.email": ["noreply@example.com"]},
        note="allow list: compared after case folding")
    rec("pii.email", "But dana.ruiz@example.com is a person.",
        [("pii.email", "dana.ruiz@example.com")],
        allow={"pii.email": ["noreply@example.com"]},
        note="allow list: other addresses still count")


emails()


# ---------------------------------------------------------------- pii.phone
def d(n):
    return rand(string.digits, n)


def nz(n):
    return R.choice("23456789") + d(n - 1)


def phones():
    us = lambda: (R.choice(["212", "312", "415", "617", "646", "713", "202", "503", "720"]),
                  "555", "01" + d(2))
    gen = [
        lambda: "({}) {}-{}".format(*us()),
        lambda: "{}-{}-{}".format(*us()),
        lambda: "{}.{}.{}".format(*us()),
        lambda: "+1 {} {} {}".format(*us()),
        lambda: "+1-{}-{}-{}".format(*us()),
        lambda: "+1{}{}{}".format(*us()),
        lambda: "+1 (604) 555-01" + d(2),
        lambda: "+44 20 7946 0" + d(3),
        lambda: "020 7946 0" + d(3),
        lambda: "+44 7700 900" + d(3),
        lambda: "07700 900" + d(3),
        lambda: "+44 161 496 0" + d(3),
        lambda: "+44 (0)20 7946 0" + d(3),
        lambda: "+49 30 " + nz(8),
        lambda: "030 " + nz(8),
        lambda: "+49 151 " + nz(8),
        lambda: "+49 (0)89 " + nz(7),
        lambda: "+33 1 " + " ".join(d(2) for _ in range(4)),
        lambda: "01 " + " ".join(d(2) for _ in range(4)),
        lambda: "+33 6 " + " ".join(d(2) for _ in range(4)),
        lambda: "06 " + " ".join(d(2) for _ in range(4)),
        lambda: "+32 2 " + nz(3) + " " + d(2) + " " + d(2),
        lambda: "+32 470 " + d(2) + " " + d(2) + " " + d(2),
        lambda: "0470 " + d(2) + " " + d(2) + " " + d(2),
        lambda: "+91 98" + d(3) + " " + d(5),
        lambda: "+91-22-" + nz(4) + "-" + d(4),
        lambda: "+55 11 9" + d(4) + "-" + d(4),
        lambda: "(11) 9" + d(4) + "-" + d(4),
        lambda: "+55 21 " + nz(4) + "-" + d(4),
        lambda: "+81 3-" + d(4) + "-" + d(4),
        lambda: "03-" + nz(4) + "-" + d(4),
        lambda: "+81 90-" + d(4) + "-" + d(4),
        lambda: "090-" + d(4) + "-" + d(4),
        lambda: "+34 6" + d(2) + " " + d(2) + " " + d(2) + " " + d(2),
        lambda: "+39 06 " + d(4) + " " + d(4),
        lambda: "+39 3" + d(2) + " " + d(3) + " " + d(4),
        lambda: "+31 20 " + nz(3) + " " + d(4),
        lambda: "+31 6 " + d(8),
        lambda: "+61 2 " + nz(4) + " " + d(4),
        lambda: "+61 4" + d(2) + " " + d(3) + " " + d(3),
        lambda: "+4930" + nz(8),
        lambda: "+33" + "1" + d(8),
        lambda: "+447700900" + d(3),
        lambda: "+819012345678",
    ]
    keys = ["phone", "mobile", "tel", "contact_number", "whatsapp"]
    vals = [g() for g in gen]
    for v in vals:
        rec("pii.phone", carrier(R.choice(keys), v), [("pii.phone", v)])
    rec("pii.phone", f"Call me on {vals[0]} or, if I am in London, {vals[7]}. My Berlin office "
        f"is {vals[13]}.", [("pii.phone", vals[0]), ("pii.phone", vals[7]),
                            ("pii.phone", vals[13])])
    rec("pii.phone", f"Contacts:\n  - Tokyo: {vals[29]}\n  - Paris: {vals[17]}\n  - Sao Paulo: "
        f"{vals[26]}\n", [("pii.phone", vals[29]), ("pii.phone", vals[17]),
                          ("pii.phone", vals[26])])

    negs = ["1.2.3456.7890", "v2.14.1", "10.0.19041.1", "2024-03-15", "15.03.2024",
            "03/15/2024", "2024/03/15", "2024-03-15 10:22:01", "20240315103000",
            "978-3-16-148410-0", "94103-1234", "Chrome/120.0.6099.129", "1710498121",
            "1700000000000", "0x1F2E3D4C", "port 8080", "HTTP 404", "pid 31337",
            "7 14 21 28 35 42", "$1,234,567.89", "12.5%", "48.8566, 2.3522", "+44 20",
            "Invoice 2024-000123", "JIRA-12345", "4.15.0-1034-aws", "3.14159265358979",
            "1e-9", "2026-W11-3", "10:22:01.512", "ISO 8601", "0.0.0", "1-2-3-4-5-6",
            "libssl.so.3.0.13", "build 20260314.1", "node v20.11.1", "+15 points",
            "rev 123456", "sha 4f2c9a1", "line 1234, col 56", "GMT+01:00", "RFC 3339",
            "size 1024x768", "32-bit", "2.0.0-rc.1+build.5114"]
    for v in negs:
        rec("pii.phone", neg_carrier(v), [], note="near-miss: version, date or number")
    rec("pii.phone", neg_carrier("555-0134"), [], ignore=[("pii.phone", "555-0134")],
        note="judgment: 7 digits without an area code; not scored")


phones()


# ---------------------------------------------------------------- pii.credit_card
def group(num, sizes):
    out, i = [], 0
    for s in sizes:
        out.append(num[i:i + s])
        i += s
    return out


def fmt_card(num, style):
    sizes = [4, 6, 5] if len(num) == 15 else [4, 6, 4] if len(num) == 14 else \
        [4, 4, 4, 4] if len(num) == 16 else [4, 4, 4, 4, 3]
    if style == 0:
        return num
    return (" " if style == 1 else "-").join(group(num, sizes))


TEST_CARDS = ["4111111111111111", "4242424242424242", "5555555555554444", "5105105105105100",
              "378282246310005", "371449635398431", "6011111111111117", "3530111333300000",
              "4012888888881881", "2223003122003222"]


def cards():
    issuers = [("4", 16), ("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16),
               ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3528", 16),
               ("3589", 16), ("36", 14), ("62", 16), ("4", 19), ("2500", 16)]
    vals = []
    for i in range(44):
        p, n = issuers[i % len(issuers)]
        vals.append(fmt_card(luhn_complete(p, n), i % 3))
    keys = ["card", "card_number", "pan", "cc", "payment_card"]
    for v in vals:
        rec("pii.credit_card", carrier(R.choice(keys), v), [("pii.credit_card", v)])
    rec("pii.credit_card", f"Customer read out the card as {vals[0]}, exp 09/28, and a backup "
        f"card {vals[7]}.", [("pii.credit_card", vals[0]), ("pii.credit_card", vals[7])])
    for t in TEST_CARDS[:6]:
        rec("pii.credit_card", f"In the sandbox, pay with {fmt_card(t, 1)} and any future date.",
            [("pii.credit_card", fmt_card(t, 1))],
            note="a test card number passes Luhn and IIN: a card for the validator; the policy "
            "allow list is what drops it (see the allow records)")
    for t in TEST_CARDS:
        rec("pii.credit_card", f"Docs: use test card {fmt_card(t, R.randint(0, 2))} in staging.",
            [], allow={"pii.credit_card": TEST_CARDS},
            note="allow list: documented test card numbers never count")
    real = luhn_complete("4", 16)
    rec("pii.credit_card", f"Test card {fmt_card(TEST_CARDS[0], 1)} works, but {fmt_card(real, 1)}"
        " was a customer's.", [("pii.credit_card", fmt_card(real, 1))],
        allow={"pii.credit_card": TEST_CARDS}, note="allow list drops only the listed value")

    negs = []
    for i in range(14):  # right shape, Luhn fails
        p, n = issuers[i % len(issuers)]
        good = luhn_complete(p, n)
        bad = good[:-1] + str((int(good[-1]) + 1 + i % 8) % 10)
        assert not luhn_ok(bad)
        negs.append(fmt_card(bad, i % 3))
    for p in ["1", "7", "8", "9", "0", "99", "10"]:  # Luhn holds, no issuer has the prefix
        negs.append(fmt_card(luhn_complete(p, 16), 1))
    for p, n in [("4", 15), ("4", 17), ("34", 16), ("51", 15), ("6011", 15), ("4", 12)]:
        v = luhn_complete(p, n)
        negs.append(v)  # Luhn holds, wrong length for the issuer
    negs += ["0000 0000 0000 0000", "1234 5678 9012 3456", "4111 1111 1111", "1700000000000",
             "order 20260314000017", "1111-2222-3333-4444", "9999 9999 9999 9995",
             "tracking 1Z999AA10123456784", "0000000000000000", "5555 5555 5555 5555",
             "3141592653589793", "1000000000000008", "2026 0314 1022 0100",
             "ref 8800 1234 5678 9012", "4000 0000 0000 0000 0000 0"]
    for v in negs:
        rec("pii.credit_card", neg_carrier(v), [], note="near-miss: Luhn, issuer or length fails")


cards()


# ---------------------------------------------------------------- pii.ssn
def ssns():
    def area():
        while True:
            a = R.randint(1, 899)
            if a != 666:
                return f"{a:03d}"
    vals = []
    for i in range(44):
        a, g, s = area(), f"{R.randint(1, 99):02d}", f"{R.randint(1, 9999):04d}"
        if (a, g, s) in [("078", "05", "1120"), ("219", "09", "9999"), ("123", "45", "6789")]:
            continue
        vals.append([f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}{g}{s}"][0 if i % 5 < 3 else i % 5 - 2])
    for v in vals:
        key = R.choice(["ssn", "social_security_number", "SSN", "tax_ssn"])
        rec("pii.ssn", carrier(key, v), [("pii.ssn", v)])
    rec("pii.ssn", f"Applicant: Dana Ruiz\nSSN: {vals[0]}\nSpouse SSN: {vals[1]}\n",
        [("pii.ssn", vals[0]), ("pii.ssn", vals[1])])
    rec("pii.ssn", f"my social security number is {vals[2].replace('-', '')}, can you fill the "
        "form?", [("pii.ssn", vals[2].replace('-', ''))])

    negs = []
    for i in range(8):
        negs.append(f"000-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}")
        negs.append(f"666-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}")
        negs.append(f"9{R.randint(0, 99):02d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}")
        negs.append(f"{R.randint(1, 665):03d}-00-{R.randint(1, 9999):04d}")
        negs.append(f"{R.randint(1, 665):03d}-{R.randint(1, 99):02d}-0000")
    negs += ["078-05-1120", "219-09-9999"]
    for v in negs:
        rec("pii.ssn", carrier(R.choice(["ssn", "SSN"]), v), [],
            note="near-miss: area, group or serial the SSA never issues, or an advertised value")
    for v in ["94103-1234", "555-123-4567", "2024-01-15", "12-34-5678", "123-456-789",
              "order 482910375", "1234-56-789", "ISBN 0-306-40615-2"]:
        rec("pii.ssn", neg_carrier(v), [], note="near-miss: not an SSN's shape or no context")
    rec("pii.ssn", "SSN 123-45-6789 is the form's placeholder", [],
        ignore=[("pii.ssn", "123-45-6789")],
        note="judgment: 123-45-6789 is a well-known sample; not scored")
    rec("pii.ssn", "Flagged value 078-05-1120 from the wallet case", [("pii.ssn", "078-05-1120")],
        deny={"pii.ssn": ["078-05-1120"]}, note="deny list: a listed value always counts")


ssns()


# ---------------------------------------------------------------- pii.iban
# BBAN structure per country (ISO 13616 registry): n digits, a upper-case letters, c alnum.
IBAN_SPECS = {
    "AT": "5n11n", "BE": "3n7n2n", "CH": "5n12c", "DE": "8n10n", "DK": "4n9n1n",
    "ES": "4n4n1n1n10n", "FI": "3n11n", "FR": "5n5n11c2n", "GB": "4a6n8n", "GR": "3n4n16c",
    "IE": "4a6n8n", "IT": "1a5n5n12c", "LU": "3n13c", "NL": "4a10n", "NO": "4n6n1n",
    "PL": "8n16n", "PT": "4n4n11n2n", "SE": "3n16n1n", "BR": "8n5n10n1a1c", "SA": "2n18c",
    "TR": "5n1n16c", "HR": "7n10n", "CZ": "4n6n10n", "RO": "4a16c", "HU": "3n4n1n15n1n",
    "LV": "4a13c", "BG": "4a4n2n8c", "AE": "3n16n", "SI": "5n8n2n", "SK": "4n6n10n",
    "EE": "2n2n11n1n", "LT": "5n11n", "MT": "4a5n18c", "CY": "3n5n16c", "IS": "4n2n6n10n",
}


def bban(spec):
    out = ""
    for n, t in re.findall(r"(\d+)([nac])", spec):
        alpha = {"n": string.digits, "a": string.ascii_uppercase, "c": UPPER_ALNUM}[t]
        out += rand(alpha, int(n))
    return out


def make_iban(cc, b=None):
    b = b or bban(IBAN_SPECS[cc])
    v = cc + iban_check(cc, b) + b
    assert iban_ok(v)
    return v


def printed(iban):
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))


def ibans():
    ccs = list(IBAN_SPECS)
    vals = []
    for i in range(46):
        v = make_iban(ccs[i % len(ccs)])
        vals.append(printed(v) if i % 2 else v)
    for v in vals:
        rec("pii.iban", carrier(R.choice(["iban", "account_iban", "IBAN", "payout_iban"]), v),
            [("pii.iban", v)])
    rec("pii.iban", f"Bitte überweisen Sie den Betrag auf {vals[3]} (Kontoinhaber: Lena Vogel). "
        f"Alternativ: {vals[10]}.", [("pii.iban", vals[3]), ("pii.iban", vals[10])])
    docs = ["GB82WEST12345698765432", "DE89370400440532013000"]
    for v in docs:
        rec("pii.iban", f"The standard's sample IBAN is {printed(v)}.", [("pii.iban", printed(v))],
            note="the ISO 13616 sample passes mod-97: an IBAN for the validator")
        rec("pii.iban", f"Example from the docs: {printed(v)}", [], allow={"pii.iban": docs},
            note="allow list: documented sample IBANs never count")

    negs = []
    for i in range(16):  # wrong check digits
        v = make_iban(ccs[(i * 3) % len(ccs)])
        c = int(v[2:4])
        bad = v[:2] + f"{(c + 1 + i) % 97 + 2:02d}" + v[4:]
        if iban_ok(bad):
            continue
        negs.append(printed(bad) if i % 2 else bad)
    for i in range(8):  # a transposition in the BBAN
        v = make_iban(ccs[(i * 5 + 1) % len(ccs)])
        j = 6 + i
        t = v[:j] + v[j + 1] + v[j] + v[j + 2:]
        if t == v or iban_ok(t):
            continue
        negs.append(t)
    for cc in ["DE", "GB", "FR", "NL", "ES", "IT", "BE", "CH"]:  # mod-97 holds, length does not
        b = bban(IBAN_SPECS[cc]) + "1"
        negs.append(cc + iban_check(cc, b) + b)
    for cc in ["ZZ", "QQ", "XY", "AA"]:  # no such country
        b = rand(string.digits, 18)
        negs.append(cc + iban_check(cc, b) + b)
    negs += ["DE00 0000 0000 0000 0000 00", "GB82 WEST", "PART-NO GB12ABCD", "FR76",
             "SKU DE1234567890", "NL91ABNA041716430", "ID AB12CDEF3456GH78", "BE68 5390 0754",
             "IT60X054281110100000012345"]
    for v in negs:
        rec("pii.iban", neg_carrier(v), [], note="near-miss: mod-97, length or country fails")


ibans()


# ---------------------------------------------------------------- pii.ip
def ips():
    def v4():
        return R.choice([
            lambda: f"192.0.2.{R.randint(1, 254)}",
            lambda: f"198.51.100.{R.randint(1, 254)}",
            lambda: f"203.0.113.{R.randint(1, 254)}",
            lambda: f"10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}",
            lambda: f"172.{R.randint(16, 31)}.{R.randint(0, 255)}.{R.randint(1, 254)}",
            lambda: f"192.168.{R.randint(0, 255)}.{R.randint(1, 254)}",
        ])()

    def h():
        return f"{R.randint(0, 0xffff):x}"

    def v6():
        return R.choice([
            lambda: f"2001:db8::{h()}",
            lambda: f"2001:db8:{h()}:{h()}::{h()}",
            lambda: "2001:db8:" + ":".join(h() for _ in range(6)),
            lambda: "2001:0db8:" + ":".join(f"{R.randint(0, 0xffff):04x}" for _ in range(6)),
            lambda: f"fd00:{h()}:{h()}::{h()}",
            lambda: f"2001:DB8:{h().upper()}::{h().upper()}",
            lambda: f"::ffff:192.0.2.{R.randint(1, 254)}",
            lambda: f"2001:db8:{h()}:{h()}:{h()}:{h()}:198.51.100.{R.randint(1, 254)}",
        ])()
    vals = [v4() if i % 2 else v6() for i in range(46)]
    for v in vals:
        rec("pii.ip", carrier(R.choice(["ip", "client_ip", "remote_addr", "last_login_ip"]), v),
            [("pii.ip", v)])
    a, b, c = v4(), v4(), v6()
    rec("pii.ip", f'{a} - - [14/Mar/2026:10:22:01 +0000] "GET /api/v1/orders HTTP/1.1" 200 512 '
        f'"-" "curl/8.5.0"\n{b} - - [14/Mar/2026:10:22:02 +0000] "POST /login HTTP/1.1" 302 0\n'
        f'[{c}]:8443 connected', [("pii.ip", a), ("pii.ip", b), ("pii.ip", c)])
    a = v4()
    rec("pii.ip", f"upstream {a}:8080 refused the connection", [("pii.ip", a)])
    rec("pii.ip", "listen on 127.0.0.1:8080 and [::1]:8080", [],
        ignore=[("pii.ip", "127.0.0.1"), ("pii.ip", "::1")],
        note="judgment: loopback names no one; not scored")
    rec("pii.ip", "Windows version 1.2.3.4 and release v4.3.2.1", [],
        ignore=[("pii.ip", "1.2.3.4"), ("pii.ip", "4.3.2.1")],
        note="judgment: a four-part version within 0-255 is an IPv4 address by shape; only "
        "context tells them apart, so it is not scored either way")
    rec("pii.ip", "allow 10.0.0.0/8 and 2001:db8::/32", [],
        ignore=[("pii.ip", "10.0.0.0"), ("pii.ip", "2001:db8::")],
        note="judgment: network prefixes; not scored")

    negs = ["256.1.1.1", "1.2.3.256", "192.168.1", "1.2.3.4.5", "10.0.19041.1",
            "1.3.6.1.4.1.311.21.7", "999.999.999.999", "00:1a:2b:3c:4d:5e", "12:34:56",
            "std::vector<int>", "crate::config::load", "deadbeef::cafe", "2001:db8:::1",
            "1:2:3:4:5:6:7:8:9", "10:22:01.512", "Chrome/120.0.6099.129", "3.1.4.1.5.9",
            "v1.22.333", "0.0.1", "ratio 16:9", "Foo::Bar::baz()", "2001:db8:g::1",
            "fe80:::", "300.168.0.1", "1.2.3.4.5.6", "12345:abcd::1", "::::",
            "libc.so.6.2.1", "node-1.2.3.tar.gz", "sha1:da39a3ee", "2026.03.14",
            "build 1.0.0.1234", "ipv4 0.0.0.0.0", "scale 1:100000", "10:30 - 11:45",
            "12.34.56.789", "HH:MM:SS", "C:\\Users\\dana", "#include <boost::asio>",
            "::after", "a:b:c:d:e:f:g:h"]
    for v in negs:
        rec("pii.ip", neg_carrier(v), [], note="near-miss: not an address")
    rec("pii.ip", "in C++ write a::b for the member", [], ignore=[("pii.ip", "a::b")],
        note="judgment: a::b is also a valid IPv6 address; not scored")


ips()


# ---------------------------------------------------------------- secret.*
def b62(n):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(6, "0")


def github(prefix):
    body = rand(ALNUM, 30)
    return prefix + body + b62(binascii.crc32(body.encode()))


def b64url(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(alg):
    head = b64url({"alg": alg, "typ": "JWT"})
    body = b64url({"sub": f"user-{R.randint(1000, 9999)}", "name": name(),
                   "iat": 1773400000 + R.randint(0, 10 ** 6),
                   "scope": R.choice(["read", "read write", "admin"])})
    sig_len = {"HS256": 43, "RS256": 342, "ES256": 86}[alg]
    return f"{head}.{body}.{rand(B64URL, sig_len)}"


def pem(label, lines=8, body_start=""):
    body = body_start + rand(B64, 64 * lines - len(body_start) - 20)
    rows = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(rows) + f"\n-----END {label}-----"


def secret_values():
    """(class, value, key) for every prefix and shape."""
    out = []
    # access key ids (AKIA long-term, ASIA temporary, ABIA and ACCA service ones); the other
    # AWS unique-id prefixes (AIDA users, AROA roles...) name things, they are no credential
    aws_prefixes = ["AKIA", "ASIA", "AKIA", "ASIA", "AKIA", "ASIA", "AKIA", "ASIA", "ABIA",
                    "ACCA"]
    for p in aws_prefixes:
        out.append(("secret.aws_access_key", p + rand(string.ascii_uppercase + "234567", 16),
                    "aws_access_key_id"))
    for k in ["aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "aws_secret_key",
              "SecretAccessKey"]:
        out.append(("secret.aws_secret_key", rand(B64, 40), k))
    for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "ghp_"]:
        out.append(("secret.github_token", github(p), "GITHUB_TOKEN"))
    for _ in range(2):
        out.append(("secret.github_token",
                    "github_pat_11" + rand(UPPER_ALNUM, 20) + "_" + rand(ALNUM, 59), "token"))
    out.append(("secret.openai_key", "sk-" + rand(ALNUM, 20) + "T3BlbkFJ" + rand(ALNUM, 20),
                "OPENAI_API_KEY"))
    for p in ["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-proj-"]:
        out.append(("secret.openai_key",
                    p + rand(B64URL, 74) + "T3BlbkFJ" + rand(B64URL, 74), "OPENAI_API_KEY"))
    for p in ["sk-ant-api03-", "sk-ant-admin01-", "sk-ant-api03-"]:
        out.append(("secret.anthropic_key", p + rand(B64URL, 93) + "AA", "ANTHROPIC_API_KEY"))
    out.append(("secret.slack_token", f"xoxb-{d(11)}-{d(12)}-{rand(ALNUM, 24)}", "SLACK_BOT_TOKEN"))
    out.append(("secret.slack_token", f"xoxp-{d(11)}-{d(11)}-{d(12)}-{rand('0123456789abcdef', 32)}",
                "slack_token"))
    out.append(("secret.slack_token", f"xoxa-2-{d(11)}-{d(12)}-{rand(ALNUM, 24)}", "slack"))
    out.append(("secret.slack_token", f"xoxr-{d(11)}-{d(12)}-{rand(ALNUM, 24)}", "slack"))
    out.append(("secret.slack_token", f"xoxs-{d(11)}-{d(12)}-{rand(ALNUM, 24)}", "slack"))
    out.append(("secret.slack_token",
                f"xapp-1-A{rand(UPPER_ALNUM, 10)}-{d(13)}-{rand('0123456789abcdef', 64)}",
                "SLACK_APP_TOKEN"))
    for _ in range(3):
        out.append(("secret.google_api_key", "AIza" + rand(B64URL, 35), "GOOGLE_API_KEY"))
    for p in ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_live_"]:
        out.append(("secret.stripe_key", p + rand(ALNUM, R.choice([24, 34, 99])), "STRIPE_KEY"))
    for alg in ["HS256", "RS256", "ES256"]:
        out.append(("secret.jwt", jwt(alg), "id_token"))
    for label in ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
                  "DSA PRIVATE KEY"]:
        out.append(("secret.private_key", pem(label, R.randint(4, 10), "MII"), "key"))
    out.append(("secret.private_key", pem("PGP PRIVATE KEY BLOCK", 6), "key"))
    for _ in range(2):
        out.append(("secret.ssh_private_key",
                    pem("OPENSSH PRIVATE KEY", R.randint(5, 7), "b3BlbnNzaC1rZXktdjEAAAAA"),
                    "id_ed25519"))
    pw = lambda: rand(ALNUM, 12) + R.choice(["%40", "!", "-", "_", "."]) + rand(ALNUM, 6)
    for scheme, port in [("postgres", 5432), ("postgresql", 5432), ("mysql", 3306),
                         ("mongodb", 27017), ("mongodb+srv", None), ("redis", 6379),
                         ("rediss", 6380), ("amqp", 5672), ("mariadb", 3306),
                         ("sqlserver", 1433)]:
        host = R.choice(["db.internal", "pg-1.prod.internal", "cache.example.test",
                         "mq.example.org"]) + (f":{port}" if port else "")
        user = "" if scheme.startswith("redis") else R.choice(["app", "orders_rw", "admin"])
        out.append(("secret.database_url", f"{scheme}://{user}:{pw()}@{host}/app",
                    "DATABASE_URL"))
    gen_keys = ["password", "db_password", "api_key", "apiKey", "client_secret", "secret_key",
                "auth_token", "access_token", "passwd", "private_token"]
    for k in gen_keys:
        out.append(("secret.generic",
                    rand(ALNUM + "!#$%^&*", R.randint(16, 32)) if "pass" in k else
                    rand(ALNUM, R.randint(24, 40)), k))
    return out


def sec_carrier(key, v, kind):
    k_up = re.sub(r"[^A-Z0-9]", "_", key.upper())
    if kind == 0:
        return f"export {k_up}={v}"
    if kind == 1:
        return f"# .env\nNODE_ENV=production\n{k_up}={v}\nLOG_LEVEL=info\n"
    if kind == 2:
        return json.dumps({"service": "billing", key: v, "retries": 3})
    if kind == 3:
        return f"settings:\n  region: eu-west-1\n  {key}: {v}\n"
    if kind == 4:
        return f"my {key.replace('_', ' ')} is {v} and it stopped working, what should I check?"
    if kind == 5:
        return (f"diff --git a/config.py b/config.py\n@@ -3,3 +3,4 @@\n DEBUG = False\n"
                f"+{k_up} = \"{v}\"\n")
    return f"[default]\n{key} = {v}\n"


def secrets():
    vals = secret_values()
    for i, (cls, v, key) in enumerate(vals):
        if cls in ("secret.private_key", "secret.ssh_private_key"):
            if i % 2:
                text = f"Here is the key file I am using, why does ssh refuse it?\n\n{v}\n"
                rec("secret", text, [(cls, v)])
            else:
                esc = v.replace("\n", "\\n")
                text = json.dumps({"type": "service_account", "private_key_id": "k1",
                                   "private_key": v})
                rec("secret", text, [(cls, esc)],
                    note="a PEM block inside JSON, its newlines escaped as \\n")
            continue
        rec("secret", sec_carrier(key, v, i % 7), [(cls, v)])
    tok = rand(B64URL, 40)
    rec("secret", f"curl -H 'Authorization: Bearer {tok}' https://api.example.com/v1/models",
        [("secret.generic", tok)], note="a bearer credential in a header")
    ak, sk = vals[0][1], rand(B64, 40)
    rec("secret", f"[default]\naws_access_key_id = {ak}\naws_secret_access_key = {sk}\n"
        "region = eu-west-1\n", [("secret.aws_access_key", ak), ("secret.aws_secret_key", sk)])
    rec("secret", "The docs' sample key AKIAIOSFODNN7EXAMPLE goes in ~/.aws/credentials.",
        [("secret.aws_access_key", "AKIAIOSFODNN7EXAMPLE")],
        note="the documentation sample has a key id's shape: a key for the validator")
    rec("secret", "The docs' sample key AKIAIOSFODNN7EXAMPLE goes in ~/.aws/credentials.", [],
        allow={"secret.aws_access_key": ["AKIAIOSFODNN7EXAMPLE"]},
        note="allow list: the documentation sample never counts")
    rec("secret", "publishable key pk_live_" + rand(ALNUM, 24) + " goes in the page", [],
        ignore=[("secret.stripe_key", "pk_live_")],
        note="judgment: a Stripe publishable key is public by design; not scored")

    uuid = lambda: "-".join(rand("0123456789abcdef", n) for n in (8, 4, 4, 4, 12))
    sha1 = lambda: rand("0123456789abcdef", 40)
    negs = [
        f"request_id: {uuid()}", f"trace_id={uuid()}", f"{{\"correlation_id\": \"{uuid()}\"}}",
        f"X-Request-Id: {uuid().upper()}", f"session {uuid()} closed",
        f"commit {sha1()}", f"Merge: {sha1()[:7]} {sha1()[:7]}", f"git checkout {sha1()}",
        f"\"sha\": \"{sha1()}\"", f"sha256:{rand('0123456789abcdef', 64)}",
        f"integrity sha512-{rand(B64, 86)}==",
        f"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA{rand(B64, 120)}",
        f"font: url(data:font/woff2;base64,d09GMgABAAAAA{rand(B64, 80)})",
        f"etag: \"{rand('0123456789abcdef', 32)}\"", f"md5sum {rand('0123456789abcdef', 32)}",
        "OPENAI_API_KEY=sk-...", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "AKIA1234", "use your AKIA key id here", "sk-ant-api03-", "xoxb-your-token",
        "AIza" + rand(B64URL, 20), "github_pat_11ABC", "the ghp_ prefix marks classic tokens",
        "password: ********", "password=${DB_PASSWORD}", "api_key: <YOUR_API_KEY>",
        "token: null", "password = os.environ['DB_PASS']", "password: changeme",
        "PASSWORD_MIN_LENGTH = 12", "password_field = forms.CharField(widget=PasswordInput)",
        "api_key: aaaaaaaaaaaaaaaaaaaaaaaa", "secret: true",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + rand(B64, 52) +
        "\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIB" + rand(B64, 60) + "\n-----END CERTIFICATE-----",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + rand(B64, 43) + " dana@laptop",
        "postgres://db.internal:5432/app", "postgres://app@db.internal/app",
        "postgres://app:${PGPASSWORD}@db.internal/app", "mysql://localhost/test",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "com.example.app.MainActivity",
        "the file starts with BEGIN PRIVATE KEY and ends with END PRIVATE KEY",
        f"docker pull registry.example.internal/app@sha256:{rand('0123456789abcdef', 64)}",
        "api_key_header = 'X-Api-Key'", "token_type: bearer", "password_reset_url: /reset",
    ] + [f"{{\"{k}\": \"{p}{rand(string.ascii_uppercase + '234567', 17)}\"}}"
         for k, p in [("UserId", "AIDA"), ("RoleId", "AROA"), ("GroupId", "AGPA"),
                      ("InstanceProfileId", "AIPA"), ("PolicyId", "ANPA"),
                      ("VersionId", "ANVA")]]
    for v in negs:
        rec("secret", neg_carrier(v) if "\n" not in v else f"Is this safe to share?\n{v}\n", [],
            note="near-miss: an identifier, digest, blob, placeholder or public key")


secrets()


# ---------------------------------------------------------------- health
def health():
    codes = ["E11.9", "J45.909", "F32.1", "I10", "M54.5", "C50.911", "F41.1", "E66.01",
             "K21.9", "G43.909", "N18.3", "B20", "F20.9", "Z79.4", "O24.419", "E03.9"]
    ctx = ["ICD-10 {c}", "diagnosis code {c}", "Dx: {c}", "coded as {c} (ICD-10)",
           "ICD10: {c}", "primary diagnosis {c}"]
    for i, c in enumerate(codes):
        phrase = ctx[i % len(ctx)].format(c=c)
        rec("health", R.choice([
            f"Summarize this discharge note: patient seen on 14 March, {phrase}, follow up in "
            "two weeks.",
            f"{{\"encounter\": 5521, \"note\": \"{phrase}\", \"provider\": \"clinic blue\"}}",
            f"claim line 2: {phrase}; billed 1 unit",
        ]), [("health", c)])
    terms = ["type 2 diabetes", "major depressive disorder", "HIV", "schizophrenia",
             "bipolar disorder", "asthma", "hypertension", "breast cancer", "epilepsy",
             "multiple sclerosis", "Crohn's disease", "hepatitis C", "anorexia nervosa",
             "Alzheimer's disease", "chronic kidney disease"]
    meds = ["metformin", "sertraline", "atorvastatin", "insulin glargine", "lisinopril",
            "adalimumab", "methotrexate", "oxycodone", "levothyroxine", "fluoxetine",
            "semaglutide", "warfarin", "prednisone", "lithium carbonate", "buprenorphine"]
    for i, t in enumerate(terms):
        m = meds[i]
        rec("health", R.choice([
            f"My mom was diagnosed with {t} last year and now takes {m}. What side effects "
            "should we watch for?",
            f"Patient history: {t}. Current medication: {m} daily. Allergies: none known.",
            f"Write a short note to HR: {name()} will be out Friday for a {t} check-up; "
            f"they are on {m}.",
        ]), [("health", t), ("health", m)])
    rec("health", f"Rx: {meds[0]} 500 mg twice daily with meals", [("health", meds[0])])
    rec("health", f"- {meds[2]}\n- {meds[5]}\n- {meds[9]}\n",
        [("health", meds[2]), ("health", meds[5]), ("health", meds[9])],
        note="a medication list")

    negs = ["P99 latency", "an F5 load balancer", "B2B sales", "error E11 on the washer",
            "room C12", "the A10 motorway", "S3 bucket", "C4 model", "K8s cluster", "I18N strings",
            "the Z3 solver", "G20 summit", "A4 paper", "M1 MacBook", "H264 codec", "L2 cache",
            "the T800", "X11 forwarding", "Q4 revenue", "E2E tests", "a C50 connector",
            "seat F32 on the flight", "the I10 freeway", "J45 bus line", "the B20 bolt",
            "we support ICD-10 codes", "Diagnostics: 3 warnings", "patient_id: 48213",
            "cordon doctor passed", "the virus scanner", "dose_count = 3",
            "a cancer-free codebase (no dead code)", "model N18 is discontinued",
            "version E03.9 of the form", "the Crohn library", "lithium battery",
            "the pipeline is in a depressed state", "warfare strategy game", "code E66 on the router",
            "metro line M54", "insulin-like growth of the repo (a joke)", "Z79 star catalogue"]
    for v in negs:
        rec("health", neg_carrier(v), [],
            note="near-miss: an ICD-shaped code or a term without health context")
    rec("health", "Store logs in S3 and train on C4.", [],
        allow={"health": ["S3", "C4"]}, note="allow list: tech tokens never count")


health()


# ---------------------------------------------------------------- financial
ISO_CC = ["DE", "FR", "GB", "US", "NL", "BE", "CH", "IT", "ES", "JP", "IN", "BR", "SE"]


def bic():
    return (rand(string.ascii_uppercase, 4) + R.choice(ISO_CC) + rand(UPPER_ALNUM, 2) +
            R.choice(["", "", "XXX", rand(UPPER_ALNUM, 3)]))


def financial():
    for i in range(16):
        n = d(R.choice([8, 10, 12]))
        phrase = R.choice(["account number {n}", "Account No. {n}", "acct #: {n}",
                           "checking account {n}", "bank account: {n}",
                           "savings account number {n}"]).format(n=n)
        rec("financial", R.choice([
            f"Please update my direct deposit to {phrase}.",
            f"{{\"payee\": \"{name()}\", \"note\": \"{phrase}\"}}",
            f"Wire instructions\n  Beneficiary: {name()}\n  {phrase}\n",
        ]), [("financial", n)])
    for i in range(14):
        r = aba()
        phrase = R.choice(["routing number {r}", "ABA {r}", "routing no. {r}", "RTN: {r}",
                           "ABA routing number {r}"]).format(r=r)
        a = d(10)
        rec("financial", f"Set up ACH: {phrase}, account number {a}.",
            [("financial", r), ("financial", a)])
    for i in range(14):
        b = bic()
        phrase = R.choice(["SWIFT {b}", "BIC: {b}", "SWIFT/BIC {b}", "swift code {b}",
                           "BIC {b}"]).format(b=b)
        rec("financial", R.choice([
            f"For international transfers use {phrase}.",
            f"beneficiary_bank:\n  name: Example Bank\n  {phrase.replace(' ', ': ', 1) if ':' not in phrase else phrase}\n",
            f"Bank details -- {phrase}, reference INV-{R.randint(1000, 9999)}",
        ]), [("financial", b)])
    iban = make_iban("DE")
    b = bic()
    rec("financial", f"IBAN {iban}, BIC {b}", [("pii.iban", iban), ("financial", b)])

    negs = ["DATABASE", "BUSINESS", "PLATFORM", "REQUIRED", "DISABLED", "UNSIGNED", "TERMINAL",
            "ABSOLUTE", "ALLOCATE", "ITERATOR", "FEEDBACK", "BASELINE", "ENVIRONMENT"]
    for v in negs:
        rec("financial", R.choice([f"#define FLAG_{v} 1", f"if mode == {v}: return",
                                   f"status: {v}", f"enum {{ {v}, OTHER }};"]), [],
            note="near-miss: an upper-case word with a BIC's shape, no bank context")
    for i in range(8):
        while True:
            r = d(9)
            if not aba_ok(r):
                break
        rec("financial", f"routing number {r}", [],
            note="near-miss: routing number context, ABA checksum fails")
    negs2 = [f"order {d(12)}", f"build {d(9)}", f"tracking {d(22)}", "written in Swift 5.9",
             "the BIC field is optional", "account: dana", "account_id: 42",
             f"invoice {d(10)}", f"ticket #{d(8)}", "the account page", f"phone ext {d(4)}",
             f"AWS account {d(12)}", f"account {d(12)} in us-east-1 (AWS)", f"user {d(10)}",
             "SWIFT messages are ISO 15022", "routing table has 12 entries",
             f"customer number {d(8)}", f"sequence {d(16)}", f"git object {d(12)}"]
    for v in negs2:
        rec("financial", neg_carrier(v) if "account" not in v else v + " -- see the docs.", [],
            note="near-miss: numbers or words without a bank account or routing context")


financial()


# ---------------------------------------------------------------- mixed prompts
def mixed():
    e = "dana.ruiz+billing@mail.example.com"
    p = "+44 20 7946 0" + d(3)
    c = fmt_card(luhn_complete("4", 16), 1)
    i = printed(make_iban("FR"))
    ip = f"203.0.113.{R.randint(1, 254)}"
    g = github("ghp_")
    rec("mixed", json.dumps({"messages": [
        {"role": "system", "content": "You are a support assistant."},
        {"role": "user", "content": f"My card {c} was charged twice. Refund to {i} please. "
         f"Reach me at {e} or {p}."}]}),
        [("pii.credit_card", c), ("pii.iban", i), ("pii.email", e), ("pii.phone", p)],
        note="an OpenAI-style request body")
    rec("mixed", f"Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n"
        f"    client = Github(\"{g}\")\nConnectionError: {ip} unreachable\n",
        [("secret.github_token", g), ("pii.ip", ip)])
    s = f"{R.randint(100, 665)}-{R.randint(10, 99)}-{R.randint(1000, 9999)}"
    rec("mixed", f"Form 1040 draft\nName: Kofi Mensah\nSSN: {s}\nEmail: {e}\nDiagnosis code "
        "E11.9 (for the medical deduction)\n",
        [("pii.ssn", s), ("pii.email", e), ("health", "E11.9")])


mixed()


# ---------------------------------------------------------------- output
PUBLIC_TLDS = {"com", "org", "net", "io", "dev", "ai", "co", "app", "cloud", "uk", "de", "fr",
               "jp", "in", "br", "be", "nl", "es", "it", "us", "eu", "info", "biz", "me", "sh"}
HOST_OK = re.compile(r"(^|\.)(example\.(com|org)|[a-z0-9-]+\.(test|internal|example))$")


def check_hosts(text):
    """No public host name: every dotted name with a letter-only last label that follows
    @ or :// must be a reserved one."""
    for m in re.finditer(r"(?:@|://)(?:[^@/\s:]*:[^@/\s]*@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,})", text):
        host = m.group(1).lower().rstrip(".")
        if host.rsplit(".", 1)[-1] not in PUBLIC_TLDS:
            continue
        assert HOST_OK.search(host) or ".." in host or host.startswith("."), host


def main():
    assert all(luhn_ok(t) for t in TEST_CARDS)
    lines = []
    for r in RECORDS:
        check_hosts(r["text"])
        lines.append(json.dumps(r, ensure_ascii=False, sort_keys=True))
    data = "\n".join(lines) + "\n"
    if "--check" in sys.argv:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == data
        print("corpus.jsonl is up to date" if same else "corpus.jsonl differs from gen.py's output")
        sys.exit(0 if same else 1)
    OUT.write_text(data, encoding="utf-8")
    fam = {}
    for r in RECORDS:
        f = fam.setdefault(r["family"], [0, 0, 0])
        f[0 if r["expect"] else 1] += 1
        f[2] += len(r["expect"])
    for k, (p, n, v) in sorted(fam.items()):
        print(f"{k:18} positive records {p:4}  values {v:4}  negative records {n:4}")
    print(f"{len(RECORDS)} records -> {OUT.name}")


if __name__ == "__main__":
    main()
