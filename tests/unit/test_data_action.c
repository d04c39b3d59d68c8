/* SPDX-License-Identifier: Apache-2.0 */
/* The data actions: the text that replaces a value under each action, and a text rewritten
 * from its matches, as a user reads them in what the model or the client receives. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/data/data_action.h"
#include "policy/data/data_vault.h"

static unsigned char key[DATA_KEY_LEN];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    for (int i = 0; i < DATA_KEY_LEN; i++)
        key[i] = (unsigned char)(i * 7 + 1);
}

TestSuite(data_action, .init = setup);

/* The replacement of value under a, as a NUL-terminated string (caller frees). */
static char *replace(enum data_action a, const char *cls, const char *value,
                     const struct data_act_ctx *ctx, int *rc)
{
    struct data_buf b = {0};
    *rc = data_action_replace(a, cls, value, strlen(value), ctx, &b);
    char *s = strndup(b.p ? b.p : "", b.len);
    data_buf_free(&b);
    return s;
}

static void expect(enum data_action a, const char *cls, const char *value, const char *want)
{
    struct data_act_ctx ctx = {key, NULL};
    int rc;
    char *s = replace(a, cls, value, &ctx, &rc);
    cr_assert_eq(rc, 0, "%s of %s: rc %d", data_action_name(a), value, rc);
    cr_assert_str_eq(s, want, "%s of %s (%s)", data_action_name(a), value, cls);
    free(s);
}

Test(data_action, labels)
{
    char l[DATA_LABEL_MAX + 1];
    static const char *const cases[][2] = {
        {"pii.email", "EMAIL"},
        {"pii.credit_card", "CREDIT_CARD"},
        {"secret.github_token", "SECRET"},
        {"secret.private_key", "SECRET"},
        {"claim_id", "CLAIM_ID"},
        {"health", "HEALTH"},
        {"financial", "FINANCIAL"},
        {"pii.ip", "IP"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = data_action_label(cases[i][0], l, sizeof l);
        cr_assert_str_eq(l, cases[i][1]);
        cr_assert_eq(n, strlen(cases[i][1]));
    }
    /* a long custom name is cut, never overflows */
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(data_action_label(longname, l, sizeof l), DATA_LABEL_MAX);
    cr_assert_eq(strlen(l), DATA_LABEL_MAX);
}

Test(data_action, redact)
{
    expect(DATA_REDACT, "pii.email", "alice@example.com", "[EMAIL]");
    expect(DATA_REDACT, "pii.credit_card", "4111111111111111", "[CREDIT_CARD]");
    expect(DATA_REDACT, "secret.github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
           "[SECRET]");
    expect(DATA_REDACT, "claim_id", "CLM-12345678", "[CLAIM_ID]");
}

Test(data_action, mask_keeps_last_four_alphanumerics)
{
    expect(DATA_MASK, "pii.credit_card", "4111111111111111", "************1111");
    expect(DATA_MASK, "pii.credit_card", "4111 1111 1111 1234", "**** **** **** 1234");
    expect(DATA_MASK, "pii.ssn", "123-45-6789", "***-**-6789");
    expect(DATA_MASK, "pii.email", "bob@example.com", "***@******e.com");
    /* four or fewer: nothing is kept */
    expect(DATA_MASK, "claim_id", "AB-12", "**-**");
    expect(DATA_MASK, "claim_id", "abcd", "****");
    /* a character of another script is one '*', whatever its bytes */
    expect(DATA_MASK, "customer", "J\xc3\xbcrgen 12345", "****** *2345");
}

Test(data_action, hash_is_keyed_stable_and_labelled)
{
    struct data_act_ctx ctx = {key, NULL};
    int rc;
    char *a = replace(DATA_HASH, "pii.email", "alice@example.com", &ctx, &rc);
    cr_assert_eq(rc, 0);
    char *b = replace(DATA_HASH, "pii.email", "alice@example.com", &ctx, &rc);
    cr_assert_str_eq(a, b, "the same value under the same key hashes the same");
    cr_assert_eq(strlen(a), strlen("[EMAIL:]") + 16, "%s", a);
    cr_assert(strncmp(a, "[EMAIL:", 7) == 0 && a[strlen(a) - 1] == ']', "%s", a);
    for (size_t i = 7; i < 7 + 16; i++)
        cr_assert(strchr("0123456789abcdef", a[i]), "%s", a);
    /* the known answer: BLAKE2b-128 under the subkey BLAKE2b-256("cordon data hash v1", key) */
    unsigned char sub[32], d[16];
    crypto_generichash(sub, 32, (const unsigned char *)"cordon data hash v1", 19, key, 32);
    crypto_generichash(d, 16, (const unsigned char *)"alice@example.com", 17, sub, 32);
    char hex[33], want[64];
    sodium_bin2hex(hex, sizeof hex, d, 8);
    snprintf(want, sizeof want, "[EMAIL:%s]", hex);
    cr_assert_str_eq(a, want);
    /* another value, another key: another hash */
    char *c = replace(DATA_HASH, "pii.email", "alicf@example.com", &ctx, &rc);
    cr_assert_str_neq(a, c);
    unsigned char key2[DATA_KEY_LEN];
    memcpy(key2, key, sizeof key2);
    key2[0] ^= 1;
    struct data_act_ctx ctx2 = {key2, NULL};
    char *e = replace(DATA_HASH, "pii.email", "alice@example.com", &ctx2, &rc);
    cr_assert_str_neq(a, e);
    free(a), free(b), free(c), free(e);
}

Test(data_action, hash_without_key_and_tokenize_without_vault_fail_closed)
{
    struct data_act_ctx none = {NULL, NULL};
    struct data_buf b = {0};
    cr_assert_eq(data_action_replace(DATA_HASH, "pii.email", "a@b.c", 5, &none, &b), -EINVAL);
    cr_assert_eq(data_action_replace(DATA_TOKENIZE, "pii.email", "a@b.c", 5, &none, &b), -EINVAL);
    cr_assert_eq(data_action_replace(DATA_TOKENIZE, "pii.email", "a@b.c", 5, NULL, &b), -EINVAL);
    cr_assert_eq(data_action_replace(DATA_BLOCK, "pii.email", "a@b.c", 5, &none, &b), -EINVAL);
    cr_assert_eq(data_action_replace(DATA_ALLOW, "pii.email", "a@b.c", 5, &none, &b), -EINVAL);
    cr_assert_eq(b.len, 0, "nothing is written on error");
    data_buf_free(&b);
}

Test(data_action, names)
{
    cr_assert_str_eq(data_action_name(DATA_TOKENIZE), "tokenize");
    cr_assert_str_eq(data_action_name(DATA_BLOCK), "block");
    cr_assert_str_eq(data_action_name((enum data_action)99), "?");
}

static const char *const classes[] = {"pii.email", "pii.credit_card", "claim_id", "health"};

Test(data_action, apply_rewrites_only_rewriting_actions)
{
    const char *text = "mail alice@example.com, card 4111111111111111, claim CLM-12345678, "
                       "flu";
    size_t len = strlen(text);
    const char *p1 = strstr(text, "alice"), *p2 = strstr(text, "4111"), *p3 = strstr(text, "CLM"),
               *p4 = strstr(text, "flu");
    struct data_match m[] = {
        {0, (uint64_t)(p1 - text), (uint64_t)(p1 - text + 17)},
        {1, (uint64_t)(p2 - text), (uint64_t)(p2 - text + 16)},
        {2, (uint64_t)(p3 - text), (uint64_t)(p3 - text + 12)},
        {3, (uint64_t)(p4 - text), (uint64_t)(p4 - text + 3)},
    };
    enum data_action act[] = {DATA_REDACT, DATA_MASK, DATA_LOG, DATA_ALLOW};
    struct data_act_ctx ctx = {key, NULL};
    struct data_buf out = {0};
    long n = data_action_apply(text, len, 0, m, 4, act, classes, &ctx, &out);
    cr_assert_eq(n, 2);
    cr_assert_eq(out.len, strlen("mail [EMAIL], card ************1111, claim CLM-12345678, flu"));
    cr_assert(
        memcmp(out.p, "mail [EMAIL], card ************1111, claim CLM-12345678, flu", out.len) == 0,
        "%.*s", (int)out.len, out.p);
    data_buf_free(&out);
}

Test(data_action, apply_with_stream_base_and_tokenize)
{
    /* a piece of a stream that begins at offset 1000 */
    const char *text = "to bob@example.com and bob@example.com";
    struct data_match m[] = {{0, 1003, 1018}, {0, 1023, 1038}};
    enum data_action act[] = {DATA_TOKENIZE};
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    struct data_act_ctx ctx = {key, v};
    struct data_buf out = {0};
    long n = data_action_apply(text, strlen(text), 1000, m, 2, act, classes, &ctx, &out);
    cr_assert_eq(n, 2);
    cr_assert_eq(out.len, strlen("to [EMAIL_1] and [EMAIL_1]"));
    cr_assert(memcmp(out.p, "to [EMAIL_1] and [EMAIL_1]", out.len) == 0, "%.*s", (int)out.len,
              out.p);
    data_buf_free(&out);
    data_vault_free(v);
}

Test(data_action, apply_refuses_bad_matches_and_leaves_out_unchanged)
{
    const char *text = "abcdef";
    enum data_action act[] = {DATA_REDACT};
    struct data_act_ctx ctx = {key, NULL};
    struct data_buf out = {0};
    cr_assert_eq(data_buf_put(&out, "keep", 4), 0);
    struct data_match outside[] = {{0, 4, 9}};
    cr_assert_eq(data_action_apply(text, 6, 0, outside, 1, act, classes, &ctx, &out), -EINVAL);
    struct data_match before_base[] = {{0, 1, 3}};
    cr_assert_eq(data_action_apply(text, 6, 2, before_base, 1, act, classes, &ctx, &out), -EINVAL);
    struct data_match overlap[] = {{0, 0, 3}, {0, 2, 4}};
    cr_assert_eq(data_action_apply(text, 6, 0, overlap, 2, act, classes, &ctx, &out), -EINVAL);
    cr_assert_eq(out.len, 4);
    cr_assert(memcmp(out.p, "keep", 4) == 0);
    data_buf_free(&out);
}

Test(data_action, apply_fails_closed_when_the_vault_is_full)
{
    struct data_vault_limits lim = {1, 0};
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(&lim, &v), 0);
    const char *text = "a@b.example c@d.example";
    struct data_match m[] = {{0, 0, 11}, {0, 12, 23}};
    enum data_action act[] = {DATA_TOKENIZE};
    struct data_act_ctx ctx = {key, v};
    struct data_buf out = {0};
    cr_assert_eq(data_action_apply(text, strlen(text), 0, m, 2, act, classes, &ctx, &out),
                 DATA_ERR_BUDGET);
    cr_assert_eq(out.len, 0, "no half-rewritten text is left to forward");
    data_buf_free(&out);
    data_vault_free(v);
}

Test(data_action, key_file_must_be_private_and_32_bytes)
{
    char dir[] = "/tmp/cordon-datakey-XXXXXX", path[64], err[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/key", dir);
    unsigned char k[DATA_KEY_LEN];
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(key, 1, 32, f), 32);
    fclose(f);
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_lt(data_key_read(path, k, err, sizeof err), 0);
    cr_assert(strstr(err, "600"), "%s", err);
    cr_assert_eq(chmod(path, 0600), 0);
    cr_assert_eq(data_key_read(path, k, err, sizeof err), 0, "%s", err);
    cr_assert(memcmp(k, key, 32) == 0);
    f = fopen(path, "ab");
    fputc('\n', f);
    fclose(f);
    cr_assert_eq(data_key_read(path, k, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "33 bytes"), "%s", err);
    unlink(path);
    rmdir(dir);
}
