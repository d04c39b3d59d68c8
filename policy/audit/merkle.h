/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6962 Merkle tree hash over SHA-256, kept as a compact frontier: the roots of the perfect
 * subtrees that make up the tree so far, one per set bit of the size. Appending is amortised
 * O(1), the root is O(log n), memory is 64 hashes whatever the size. Inclusion and consistency
 * proofs are not provided: the audit log only needs roots.
 */
#ifndef CORDON_AUDIT_MERKLE_H
#define CORDON_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32

struct merkle_tree {
    uint64_t size;
    /* frontier[i] is the root of a perfect subtree of 2^i leaves when bit i of size is set */
    unsigned char frontier[64][MERKLE_HASH];
};

void merkle_init(struct merkle_tree *t);
/* leaf = SHA-256(0x00 || data) */
void merkle_leaf_hash(const void *data, size_t len, unsigned char out[MERKLE_HASH]);
/* Append a leaf given its data (hashed as above). */
void merkle_append(struct merkle_tree *t, const void *data, size_t len);
/* Append a leaf given its leaf hash. */
void merkle_append_hash(struct merkle_tree *t, const unsigned char leaf[MERKLE_HASH]);
/* The tree hash of the current size; SHA-256 of the empty string for size 0 (RFC 6962 2.1). */
void merkle_root(const struct merkle_tree *t, unsigned char out[MERKLE_HASH]);

#endif
