/* SPDX-License-Identifier: Apache-2.0 */
/* The tokenize vault: stable tokens per value, its bounds, parallel callers, and the restorer
 * that turns the vault's own tokens back into values wherever a stream's chunks cut them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data_vault.h"

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
}

TestSuite(data_vault, .init = setup);

static char *tok(struct data_vault *v, const char *cls, const char *value, int *rc)
{
    struct data_buf b = {0};
    *rc = data_vault_tokenize(v, cls, value, strlen(value), &b);
    char *s = strndup(b.p ? b.p : "", b.len);
    data_buf_free(&b);
    return s;
}

static void expect_tok(struct data_vault *v, const char *cls, const char *value, const char *want)
{
    int rc;
    char *s = tok(v, cls, value, &rc);
    cr_assert_eq(rc, 0, "tokenize %s: %d", value, rc);
    cr_assert_str_eq(s, want, "token of %s", value);
    free(s);
}

Test(data_vault, tokens_are_stable_per_value_and_counted_per_label)
{
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    expect_tok(v, "pii.email", "alice@example.com", "[EMAIL_1]");
    expect_tok(v, "pii.email", "bob@example.com", "[EMAIL_2]");
    expect_tok(v, "pii.phone", "+32 470 12 34 56", "[PHONE_1]");
    expect_tok(v, "pii.email", "alice@example.com", "[EMAIL_1]");
    expect_tok(v, "claim_id", "CLM-12345678", "[CLAIM_ID_1]");
    expect_tok(v, "secret.github_token", "ghp_x", "[SECRET_1]");
    expect_tok(v, "secret.openai_key", "sk-y", "[SECRET_2]");
    /* the same bytes under another label are another value */
    expect_tok(v, "claim_id", "alice@example.com", "[CLAIM_ID_2]");
    cr_assert_eq(data_vault_count(v), 7);
    cr_assert_eq(data_vault_window(v), strlen("[CLAIM_ID_1]"));
    int rc;
    free(tok(v, "pii.email", "", &rc));
    cr_assert_eq(rc, -EINVAL);
    data_vault_free(v);
}

Test(data_vault, bounded_by_entries_and_bytes_fail_closed)
{
    struct data_vault_limits lim = {3, 0};
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(&lim, &v), 0);
    int rc;
    free(tok(v, "pii.email", "a@x.example", &rc));
    free(tok(v, "pii.email", "b@x.example", &rc));
    free(tok(v, "pii.email", "c@x.example", &rc));
    cr_assert_eq(rc, 0);
    char *s = tok(v, "pii.email", "d@x.example", &rc);
    cr_assert_eq(rc, DATA_ERR_BUDGET);
    cr_assert_str_eq(s, "", "nothing is written when the vault is full");
    free(s);
    /* a known value still has its token */
    expect_tok(v, "pii.email", "b@x.example", "[EMAIL_2]");
    data_vault_free(v);

    struct data_vault_limits bytes = {0, 20};
    cr_assert_eq(data_vault_new(&bytes, &v), 0);
    free(tok(v, "pii.email", "0123456789", &rc));
    cr_assert_eq(rc, 0);
    free(tok(v, "pii.email", "01234567890", &rc));
    cr_assert_eq(rc, DATA_ERR_BUDGET, "20 bytes hold 10 + 10, not 10 + 11");
    free(tok(v, "pii.email", "abcdefghij", &rc));
    cr_assert_eq(rc, 0);
    cr_assert_eq(data_vault_bytes(v), 20);
    data_vault_free(v);
}

struct worker {
    struct data_vault *v;
    int id;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 200; i++) {
            /* every thread tokenizes the same 200 shared values and 200 of its own */
            char value[64];
            snprintf(value, sizeof value, "shared%d@example.com", i);
            struct data_buf b = {0};
            if (data_vault_tokenize(w->v, "pii.email", value, strlen(value), &b) != 0)
                w->failures++;
            /* the token, restored, is the value again */
            struct data_buf r = {0};
            if (data_vault_restore(w->v, b.p, b.len, &r) != 1 || r.len != strlen(value) ||
                memcmp(r.p, value, r.len) != 0)
                w->failures++;
            data_buf_free(&b);
            data_buf_free(&r);
            snprintf(value, sizeof value, "own%d-%d", w->id, i);
            if (data_vault_tokenize(w->v, "claim_id", value, strlen(value), &b) != 0)
                w->failures++;
            data_buf_free(&b);
        }
    return NULL;
}

Test(data_vault, parallel_calls_of_one_session)
{
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    pthread_t t[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){v, i, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0, "thread %d", i);
    }
    /* 200 shared values once, 8 x 200 own values */
    cr_assert_eq(data_vault_count(v), 200 + 8 * 200);
    /* the shared values got one token each, whatever thread came first */
    struct data_buf b = {0};
    cr_assert_eq(data_vault_tokenize(v, "pii.email", "shared7@example.com", 19, &b), 0);
    int n = 0;
    cr_assert_eq(sscanf(b.p, "[EMAIL_%d]", &n), 1);
    cr_assert(n >= 1 && n <= 200, "%d", n);
    data_buf_free(&b);
    data_vault_free(v);
}

static char *restore_all(struct data_vault *v, const char *text)
{
    struct data_buf b = {0};
    long n = data_vault_restore(v, text, strlen(text), &b);
    cr_assert_geq(n, 0);
    char *s = strndup(b.p ? b.p : "", b.len);
    data_buf_free(&b);
    return s;
}

Test(data_vault, restore_only_what_this_vault_minted)
{
    struct data_vault *v = NULL, *other = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    cr_assert_eq(data_vault_new(NULL, &other), 0);
    expect_tok(v, "pii.email", "alice@example.com", "[EMAIL_1]");
    expect_tok(v, "claim_id", "CLM-12345678", "[CLAIM_ID_1]");
    expect_tok(other, "pii.phone", "+1 555 0100", "[PHONE_1]");
    char *s = restore_all(v, "Dear [EMAIL_1], claim [CLAIM_ID_1] ([EMAIL_9], [PHONE_1], "
                             "[EMAIL_01], [EMAIL_], [email_1], [EMAIL_1 ], [[EMAIL_1]])");
    cr_assert_str_eq(s, "Dear alice@example.com, claim CLM-12345678 ([EMAIL_9], [PHONE_1], "
                        "[EMAIL_01], [EMAIL_], [email_1], [EMAIL_1 ], [alice@example.com])");
    free(s);
    data_vault_free(v);
    data_vault_free(other);
}

/* Feed text to a restorer in the pieces cut at the given offsets; the output, as a string. */
static char *restore_pieces(struct data_vault *v, const char *text, const size_t *cuts,
                            size_t ncuts)
{
    struct data_restore *r = NULL;
    cr_assert_eq(data_restore_new(v, &r), 0);
    struct data_buf out = {0};
    size_t at = 0, len = strlen(text);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        cr_assert_geq(data_restore_feed(r, text + at, end - at, &out), 0);
        cr_assert_leq(data_restore_pending(r), DATA_VAULT_TOKEN_MAX - 1);
        at = end;
    }
    cr_assert_geq(data_restore_end(r, &out), 0);
    cr_assert_eq(data_restore_pending(r), 0);
    data_restore_free(r);
    char *s = strndup(out.p ? out.p : "", out.len);
    data_buf_free(&out);
    return s;
}

Test(data_vault, restore_across_every_split_in_two_and_three)
{
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    expect_tok(v, "pii.email", "alice@example.com", "[EMAIL_1]");
    expect_tok(v, "pii.credit_card", "4111111111111111", "[CREDIT_CARD_1]");
    const char *text = "Hi [EMAIL_1], card [CREDIT_CARD_1] and [EMAIL_9] [x] [EMAIL_1]";
    const char *want = "Hi alice@example.com, card 4111111111111111 and [EMAIL_9] [x] "
                       "alice@example.com";
    size_t len = strlen(text);
    for (size_t a = 0; a <= len; a++) {
        char *s = restore_pieces(v, text, &a, 1);
        cr_assert_str_eq(s, want, "split at %zu", a);
        free(s);
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};
            s = restore_pieces(v, text, cuts, 2);
            cr_assert_str_eq(s, want, "split at %zu and %zu", a, b);
            free(s);
        }
    }
    /* one byte at a time */
    size_t cuts[128];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    char *s = restore_pieces(v, text, cuts, len - 1);
    cr_assert_str_eq(s, want);
    free(s);
    data_vault_free(v);
}

Test(data_vault, restorer_holds_no_more_than_a_token)
{
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    expect_tok(v, "pii.email", "alice@example.com", "[EMAIL_1]");
    struct data_restore *r = NULL;
    cr_assert_eq(data_restore_new(v, &r), 0);
    struct data_buf out = {0};
    /* plain text goes at once */
    cr_assert_eq(data_restore_feed(r, "hello ", 6, &out), 0);
    cr_assert_eq(out.len, 6);
    cr_assert_eq(data_restore_pending(r), 0);
    /* a possible token start is held ... */
    cr_assert_eq(data_restore_feed(r, "[EMA", 4, &out), 0);
    cr_assert_eq(out.len, 6);
    cr_assert_eq(data_restore_pending(r), 4);
    /* ... and released once it cannot be one */
    cr_assert_eq(data_restore_feed(r, "IL_1x", 5, &out), 0);
    cr_assert_eq(data_restore_pending(r), 0);
    cr_assert_eq(out.len, 15);
    /* a '[' followed by more than the longest token is not held */
    cr_assert_eq(data_restore_feed(r, "[AAAAAAAAAAAAAAAAAAAA", 21, &out), 0);
    cr_assert_eq(data_restore_pending(r), 0);
    cr_assert_eq(data_restore_feed(r, " [EMAIL_1", 9, &out), 0);
    cr_assert_eq(data_restore_pending(r), 8);
    cr_assert_eq(data_restore_end(r, &out), 0, "an incomplete token at the end is left as is");
    cr_assert_eq(out.len, 6 + 9 + 21 + 9);
    cr_assert(memcmp(out.p + out.len - 9, " [EMAIL_1", 9) == 0);
    data_restore_free(r);
    data_buf_free(&out);
    data_vault_free(v);
}

Test(data_vault, an_empty_vault_restores_nothing_and_holds_nothing)
{
    struct data_vault *v = NULL;
    cr_assert_eq(data_vault_new(NULL, &v), 0);
    char *s = restore_pieces(v, "[EMAIL_1] [EMA", (size_t[]){3}, 1);
    cr_assert_str_eq(s, "[EMAIL_1] [EMA");
    free(s);
    data_vault_free(v);
}
