/* SPDX-License-Identifier: Apache-2.0 */
/* The Merkle frontier against roots computed by the recursive RFC 6962 definition in
 * tests/data/generate_checkpoint.py, for every size 0..70 (powers of two and not). */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "policy/audit/merkle.h"
#include "support.h"

Test(merkle, golden_roots_every_size)
{
    size_t len;
    char *text = read_file(CORDON_TEST_DATA "/checkpoint/merkle.txt", &len);
    struct merkle_tree t;
    merkle_init(&t);
    unsigned seen = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned n;
        char hex[65], got_hex[65], leaf[32];
        cr_assert_eq(sscanf(line, "%u %64s", &n, hex), 2);
        while (t.size < n) {
            int l = snprintf(leaf, sizeof leaf, "leaf %llu", (unsigned long long)t.size);
            merkle_append(&t, leaf, (size_t)l);
        }
        unsigned char root[32];
        merkle_root(&t, root);
        sodium_bin2hex(got_hex, sizeof got_hex, root, 32);
        cr_expect_str_eq(got_hex, hex, "size %u", n);
        seen++;
    }
    cr_assert_eq(seen, 71);
    free(text);
}

Test(merkle, leaf_hash_and_append_hash_agree)
{
    struct merkle_tree a, b;
    merkle_init(&a);
    merkle_init(&b);
    for (int i = 0; i < 13; i++) {
        unsigned char leaf[32];
        merkle_leaf_hash(&i, sizeof i, leaf);
        merkle_append_hash(&a, leaf);
        merkle_append(&b, &i, sizeof i);
    }
    unsigned char ra[32], rb[32];
    merkle_root(&a, ra);
    merkle_root(&b, rb);
    cr_assert_eq(memcmp(ra, rb, 32), 0);
}

Test(merkle, second_preimage_domain_separation)
{
    /* A two-leaf tree's root must differ from a single leaf holding the concatenated hashes:
     * that is what the 0x00/0x01 prefixes are for. */
    struct merkle_tree two, one;
    unsigned char l0[32], l1[32], cat[64], r2[32], r1[32];
    merkle_init(&two);
    merkle_init(&one);
    merkle_append(&two, "a", 1);
    merkle_append(&two, "b", 1);
    merkle_leaf_hash("a", 1, l0);
    merkle_leaf_hash("b", 1, l1);
    memcpy(cat, l0, 32);
    memcpy(cat + 32, l1, 32);
    merkle_append(&one, cat, 64);
    merkle_root(&two, r2);
    merkle_root(&one, r1);
    cr_assert_neq(memcmp(r1, r2, 32), 0);
}
