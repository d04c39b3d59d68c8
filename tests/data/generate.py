#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates the golden vectors in tests/data/dsse and tests/data/envelope with PyNaCl
# (Debian: python3-nacl, run with /usr/bin/python3) and the standard library: a second implementation, independent of cordon's C
# code, so the unit tests compare cordon against it rather than against itself. Run once; the
# outputs are checked in and must never change (Ed25519 is deterministic: a fixed seed and a
# fixed message give a fixed signature). The seed is RFC 8032 section 7.1, TEST 1: public
# test material, never to be used for anything real.
import base64, calendar, hashlib, json, os, sys
from nacl.signing import SigningKey

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
TYPE = "application/vnd.cordon.policy+json"

def b64(b):
    return base64.b64encode(b).decode()

def pae(t, body):
    t = t.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)

def envelope(sk, keyid, body):
    sig = sk.sign(pae(TYPE, body)).signature
    # Compact, members in the order cordon writes them: payload, payloadType, signatures.
    return json.dumps({"payload": b64(body), "payloadType": TYPE,
                       "signatures": [{"keyid": keyid, "sig": b64(sig)}]},
                      separators=(",", ":"))

def write(rel, data):
    with open(os.path.join(HERE, rel), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

sk = SigningKey(SEED)
pk = bytes(sk.verify_key)
keyid = hashlib.sha256(pk).digest()[:8].hex()
write("dsse/test.key", "cordon-ed25519-private %s %s\n" % (keyid, b64(SEED)))
write("dsse/test.pub", "cordon-ed25519 %s %s\n" % (keyid, b64(pk)))

payload = b'{"cordon_policy":1,"agent":"golden-agent","mode":"enforce","note":"~~~ ???"}\n'
write("dsse/payload.json", payload)
write("dsse/pae.bin", pae(TYPE, payload))
write("dsse/envelope.json", envelope(sk, keyid, payload) + "\n")

policy = {"cordon_policy": 1, "agent": "claims-agent", "mode": "enforce",
          "sandbox": {"filesystem": {"read_only": ["${cwd}"], "deny": ["~/.ssh"]},
                      "network": {"mode": "none"}},
          "poll_seconds": 60}
write("envelope/policy.json", json.dumps(policy, indent=2) + "\n")
stamped = dict(policy)
stamped["version"] = 7
stamped["issued_at"] = "2026-11-28T11:00:00Z"
stamped["expires_at"] = "2026-12-05T11:00:00Z"
body = json.dumps(stamped, separators=(",", ":")).encode()
write("envelope/policy.envelope.json", envelope(sk, keyid, body) + "\n")

print("key id", keyid)
print("issued_at", calendar.timegm((2026, 11, 28, 11, 0, 0)),
      "expires_at", calendar.timegm((2026, 12, 5, 11, 0, 0)))
