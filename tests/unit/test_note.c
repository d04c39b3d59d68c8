/* SPDX-License-Identifier: Apache-2.0 */
/* Signed-note checkpoints against the golden note made by PyNaCl in
 * tests/data/generate_checkpoint.py, and against malformed and forged notes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "policy/sign/key.h"
#include "policy/audit/merkle.h"
#include "policy/audit/note.h"
#include "support.h"

#define ORIGIN "cordon.example/host1/audit"

static struct key_secret *key;
static unsigned char pk[32];

static void setup(void)
{
    char dir[] = "/tmp/cordon-note-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    key = golden_key(dir);
    key_secret_public(key, pk);
    remove_tree(dir);
}

static void teardown(void)
{
    key_secret_free(key);
}

static void root7(unsigned char root[32])
{
    struct merkle_tree t;
    merkle_init(&t);
    for (int i = 0; i < 7; i++) {
        char leaf[16];
        int n = snprintf(leaf, sizeof leaf, "leaf %d", i);
        merkle_append(&t, leaf, (size_t)n);
    }
    merkle_root(&t, root);
}

TestSuite(note, .init = setup, .fini = teardown);

Test(note, sign_matches_golden_bytes)
{
    size_t len;
    char *golden = read_file(CORDON_TEST_DATA "/checkpoint/checkpoint-7.note", &len);
    char out[NOTE_MAX];
    unsigned char root[32];
    root7(root);
    int n = note_checkpoint_sign(ORIGIN, 7, root, key, out, sizeof out);
    cr_assert_eq(n, (int)len);
    cr_assert_eq(memcmp(out, golden, len), 0, "got:\n%s\nwant:\n%s", out, golden);
    free(golden);
}

Test(note, key_hash_matches_golden)
{
    size_t len;
    char *want = read_file(CORDON_TEST_DATA "/checkpoint/keyhash.txt", &len);
    unsigned char h[4];
    char hex[9];
    note_key_hash(ORIGIN, pk, h);
    sodium_bin2hex(hex, sizeof hex, h, 4);
    cr_assert_eq(strncmp(hex, want, 8), 0);
    free(want);
}

Test(note, golden_verifies_and_parses)
{
    size_t len;
    char *golden = read_file(CORDON_TEST_DATA "/checkpoint/checkpoint-7.note", &len);
    struct note_checkpoint cp;
    char err[256];
    unsigned char root[32];
    root7(root);
    cr_assert_eq(note_checkpoint_verify(golden, len, pk, &cp, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cp.origin, ORIGIN);
    cr_assert_eq(cp.size, 7);
    cr_assert_eq(memcmp(cp.root, root, 32), 0);
    free(golden);
}

Test(note, every_flipped_byte_is_refused)
{
    size_t len;
    char *golden = read_file(CORDON_TEST_DATA "/checkpoint/checkpoint-7.note", &len);
    struct note_checkpoint cp;
    char err[256];
    for (size_t i = 0; i < len; i++) {
        golden[i] ^= 0x01;
        cr_expect_neq(note_checkpoint_verify(golden, len, pk, &cp, err, sizeof err), 0,
                      "byte %zu flipped still verifies", i);
        golden[i] ^= 0x01;
    }
    free(golden);
}

Test(note, other_key_is_refused_with_a_reason)
{
    size_t len;
    char *golden = read_file(CORDON_TEST_DATA "/checkpoint/checkpoint-7.note", &len);
    unsigned char other[32], sk[64];
    struct note_checkpoint cp;
    char err[256];
    crypto_sign_keypair(other, sk);
    cr_assert_eq(note_checkpoint_verify(golden, len, other, &cp, err, sizeof err), -EPERM);
    cr_assert(strstr(err, "no valid signature"), "%s", err);
    free(golden);
}

Test(note, malformed_notes)
{
    static const char *const bad[] = {
        "",
        "origin only\n",
        ORIGIN "\n07\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n\n",
        ORIGIN "\n-7\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n\n",
        ORIGIN "\n99999999999999999999999\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n\n",
        ORIGIN "\n7\nnot base64\n\n",
        ORIGIN "\n7\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\nextension\n\n",
        ORIGIN "\n7\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n\n",
        ORIGIN "\n7\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n\n- " ORIGIN " AAAA\n",
        "bad origin\n7\nWmH8K1T5z6cXdPJDIUPdQMbLKxGUf69lp9PaXLZRmcg=\n\n",
    };
    struct note_checkpoint cp;
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(note_checkpoint_verify(bad[i], strlen(bad[i]), pk, &cp, err, sizeof err),
                     -EINVAL, "case %zu", i);
        cr_expect(strstr(err, "checkpoint note"), "case %zu: %s", i, err);
    }
    /* Oversized input is refused before it is read. */
    size_t big = NOTE_MAX + 1;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    cr_expect_eq(note_checkpoint_verify(huge, big, pk, &cp, err, sizeof err), -EINVAL);
    free(huge);
}

Test(note, invalid_origin_is_not_signed)
{
    char out[NOTE_MAX];
    unsigned char root[32] = {0};
    cr_assert_eq(note_checkpoint_sign("has space", 1, root, key, out, sizeof out), -EINVAL);
    cr_assert_eq(note_checkpoint_sign("", 1, root, key, out, sizeof out), -EINVAL);
    cr_assert_eq(note_checkpoint_sign(ORIGIN, 1, root, key, out, 40), -ENOSPC);
}
