/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to policy/audit/: SHA-256 for the chain and the Merkle tree, from OpenSSL's
 * libcrypto, whose SHA-256 uses the CPU's SHA extensions (or AVX2) where libsodium's is
 * portable C: on the writer's hot path every line is hashed twice (its chain hash and its
 * Merkle leaf), so this is most of what a record costs the writer. The low-level calls keep
 * the state on the stack: no allocation and no algorithm fetch per hash, and safe from any
 * thread. The digests are the same bytes whichever library computes them.
 */
#ifndef CORDON_AUDIT_SHA256_H
#define CORDON_AUDIT_SHA256_H

#include <openssl/sha.h>
#include <stddef.h>

/* out = SHA-256(p[0..n)) */
static inline void audit_sha256(const void *p, size_t n, unsigned char out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

/* out = SHA-256(prefix || p[0..n)), the one-byte domain prefix of RFC 6962 */
static inline void audit_sha256_prefixed(unsigned char prefix, const void *p, size_t n,
                                         unsigned char out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &prefix, 1);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

#endif
