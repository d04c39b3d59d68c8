#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates the golden vectors in tests/data/checkpoint with PyNaCl (Debian: python3-nacl,
# run with /usr/bin/python3) and hashlib: RFC 6962 Merkle roots, C2SP signed-note checkpoints
# and a small audit log written record by record from docs/AUDIT-FORMAT.md, by code that shares
# nothing with cordon's C implementation. The outputs are checked in and must never change.
# The key is the RFC 8032 TEST 1 seed (tests/data/dsse/test.key): public test material.
import base64, hashlib, json, os
from nacl.signing import SigningKey

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoint")
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ORIGIN = "cordon.example/host1/audit"

def sha(b):
    return hashlib.sha256(b).digest()

def mth(leaves):
    # RFC 6962 section 2.1, written recursively exactly as the RFC states it.
    n = len(leaves)
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))

def b64(b):
    return base64.b64encode(b).decode()

sk = SigningKey(SEED)
pk = bytes(sk.verify_key)

def signed_checkpoint(origin, size, root):
    body = ("%s\n%d\n%s\n" % (origin, size, b64(root))).encode()
    keyhash = sha(origin.encode() + b"\n" + b"\x01" + pk)[:4]
    sig = sk.sign(body).signature
    return body + b"\n" + ("\u2014 %s %s\n" % (origin, b64(keyhash + sig))).encode()

def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

os.makedirs(HERE, exist_ok=True)

# Merkle roots over the leaves "leaf 0", "leaf 1", ... for every size 0..70.
leaves = [("leaf %d" % i).encode() for i in range(70)]
write("merkle.txt", "".join("%d %s\n" % (n, mth(leaves[:n]).hex()) for n in range(71)))

# A checkpoint over the first 7 leaves, and its key hash.
write("checkpoint-7.note", signed_checkpoint(ORIGIN, 7, mth(leaves[:7])))
write("keyhash.txt", sha(ORIGIN.encode() + b"\n\x01" + pk)[:4].hex() + "\n")

# A small audit log as cordon writes one: start, two decisions, a checkpoint over the first
# three lines, a stop. Members in cordon's order, compact JSON, LF after each line.
lines = []
def record(ts, kind, agent, fields):
    seq = len(lines)
    prev = sha(lines[-1]).hex() if lines else "0" * 64
    rec = {"seq": seq, "ts": ts, "prev": prev, "kind": kind}
    if agent is not None:
        rec["agent"] = agent
    rec.update(fields)
    lines.append(json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode())

keyid = sha(pk)[:8].hex()
record("2026-11-24T09:00:00.000Z", "start", None,
       {"format": 1, "origin": ORIGIN, "key_id": keyid, "public_key": b64(pk)})
record("2026-11-24T09:00:01.250Z", "fs.open", "claims-agent",
       {"decision": "deny", "path_sha256": sha(b"/home/agent/.ssh/id_rsa").hex()})
record("2026-11-24T09:00:02.500Z", "api.request", "claims-agent",
       {"decision": "allow", "model": "gpt-4o-mini", "prompt_sha256": sha(b"hello").hex()})
note = signed_checkpoint(ORIGIN, 3, mth(lines))
record("2026-11-24T09:00:03.000Z", "checkpoint", None,
       {"size": 3, "root": b64(mth(lines)), "note": note.decode()})
record("2026-11-24T09:00:04.000Z", "stop", None, {})
write("audit.jsonl", b"".join(l + b"\n" for l in lines))
write("audit.checkpoint", note)
write("test.pub", "cordon-ed25519 %s %s\n" % (keyid, b64(pk)))
print("wrote", HERE)
