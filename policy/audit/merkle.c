/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RFC 6962 tree hash, incrementally. The tree of n leaves splits at the largest power of
 * two below n, so its perfect left subtrees are exactly the set bits of n from the top down;
 * the root folds them from the smallest (rightmost) upwards as node = H(0x01 || left || right).
 */
#include "policy/audit/merkle.h"

#include <string.h>

#include "policy/audit/sha256.h"

void merkle_init(struct merkle_tree *t)
{
    memset(t, 0, sizeof *t);
}

void merkle_leaf_hash(const void *data, size_t len, unsigned char out[MERKLE_HASH])
{
    audit_sha256_prefixed(0x00, data, len, out);
}

static void node_hash(const unsigned char l[MERKLE_HASH], const unsigned char r[MERKLE_HASH],
                      unsigned char out[MERKLE_HASH])
{
    unsigned char buf[1 + 2 * MERKLE_HASH];
    buf[0] = 0x01;
    memcpy(buf + 1, l, MERKLE_HASH);
    memcpy(buf + 1 + MERKLE_HASH, r, MERKLE_HASH);
    audit_sha256(buf, sizeof buf, out);
}

void merkle_append_hash(struct merkle_tree *t, const unsigned char leaf[MERKLE_HASH])
{
    unsigned char cur[MERKLE_HASH];
    memcpy(cur, leaf, MERKLE_HASH);
    /* Like binary increment: each carry merges two equal perfect subtrees into one. */
    unsigned level = 0;
    while (t->size & ((uint64_t)1 << level)) {
        node_hash(t->frontier[level], cur, cur);
        level++;
    }
    memcpy(t->frontier[level], cur, MERKLE_HASH);
    t->size++;
}

void merkle_append(struct merkle_tree *t, const void *data, size_t len)
{
    unsigned char leaf[MERKLE_HASH];
    merkle_leaf_hash(data, len, leaf);
    merkle_append_hash(t, leaf);
}

void merkle_root(const struct merkle_tree *t, unsigned char out[MERKLE_HASH])
{
    if (t->size == 0) {
        audit_sha256("", 0, out);
        return;
    }
    unsigned char acc[MERKLE_HASH];
    int have = 0;
    for (unsigned level = 0; level < 64; level++) {
        if (!(t->size & ((uint64_t)1 << level)))
            continue;
        if (!have) {
            memcpy(acc, t->frontier[level], MERKLE_HASH);
            have = 1;
        } else {
            node_hash(t->frontier[level], acc, acc);
        }
    }
    memcpy(out, acc, MERKLE_HASH);
}
