/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data scanner (policy/data/data.h): every built-in class on values that must count and
 * near misses that must not, offsets, the same answer from a stream at every split, the
 * holdback window, budgets, custom classes (patterns, words, refusal of costly patterns),
 * allow and deny lists, and bytes that are not UTF-8.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data.h"
#include "policy/data/data_edm.h"

static struct data_scanner *all_builtin(void)
{
    static struct data_class_spec sp[32];
    size_t n = 0;
    memset(sp, 0, sizeof(sp));
    for (int b = 0; data_builtin_classes[b]; b++)
        sp[n++].name = data_builtin_classes[b];
    struct data_config cfg = {sp, n, 0, 0};
    struct data_scanner *s = NULL;
    char err[256];
    int rc = data_scanner_new(&cfg, &s, err, sizeof(err));
    cr_assert_eq(rc, 0, "data_scanner_new: %d %s", rc, err);
    return s;
}

/* The class name of the one match that covers exactly `value` inside text, or NULL. */
static const char *class_of(struct data_scanner *s, const char *text, const char *value)
{
    struct data_match *m = NULL;
    long n = data_scan(s, text, strlen(text), &m);
    cr_assert_geq(n, 0, "data_scan: %s", data_strerror((int)n));
    const char *at = strstr(text, value);
    cr_assert_not_null(at);
    size_t st = (size_t)(at - text), en = st + strlen(value);
    const char *res = NULL;
    for (long i = 0; i < n; i++)
        if (m[i].start == st && m[i].end == en)
            res = data_scanner_class_name(s, m[i].cls);
    free(m);
    return res;
}

/* Does any match overlap value in text? */
static int any_in(struct data_scanner *s, const char *text, const char *value)
{
    struct data_match *m = NULL;
    long n = data_scan(s, text, strlen(text), &m);
    cr_assert_geq(n, 0);
    const char *at = strstr(text, value);
    size_t st = (size_t)(at - text), en = st + strlen(value);
    int hit = 0;
    for (long i = 0; i < n; i++)
        if (m[i].start < en && m[i].end > st)
            hit = 1;
    free(m);
    return hit;
}

struct pos {
    const char *cls, *text, *value;
};

static const struct pos positives[] = {
    {"pii.email", "write to jane.doe+work@example.co.uk today", "jane.doe+work@example.co.uk"},
    {"pii.phone", "call (415) 555-2671 now", "(415) 555-2671"},
    {"pii.phone", "mobile: +44 20 7946 0958.", "+44 20 7946 0958"},
    {"pii.phone", "tel 415-555-2671", "415-555-2671"},
    {"pii.phone", "ring +49 30 12345678 please", "+49 30 12345678"},
    {"pii.phone", "Rufnummer 030 1234567 bitte", "030 1234567"},
    {"pii.credit_card", "card 4111 1111 1111 1111 exp", "4111 1111 1111 1111"},
    {"pii.credit_card", "amex 378282246310005.", "378282246310005"},
    {"pii.credit_card", "mc 5555-5555-5555-4444", "5555-5555-5555-4444"},
    /* a word after a space that starts with a digit is a word of its own, not the card's */
    {"pii.credit_card", "card=5555555555554444 2@b.example", "5555555555554444"},
    {"pii.credit_card", "card 4111 1111 1111 1111 2nd try", "4111 1111 1111 1111"},
    {"pii.ssn", "SSN 536-22-1234 on file", "536-22-1234"},
    {"pii.ssn", "ssn: 536221234", "536221234"},
    {"pii.iban", "IBAN DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"},
    {"pii.iban", "pay GB82WEST12345698765432 now", "GB82WEST12345698765432"},
    {"pii.ip", "from 192.168.1.10 port", "192.168.1.10"},
    {"pii.ip", "v6 2001:db8::8a2e:370:7334 up", "2001:db8::8a2e:370:7334"},
    {"pii.ip", "loopback ::1 only", "::1"},
    {"secret.aws_access_key", "id AKIAIOSFODNN7EXAMPLE x", "AKIAIOSFODNN7EXAMPLE"},
    {"secret.aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    {"secret.github_token", "t=ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5 ok",
     "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5"},
    {"secret.openai_key", "key sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56 ok",
     "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56"},
    {"secret.anthropic_key", "key sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1 ok",
     "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1"},
    {"secret.slack_token", "slack xoxb-2048-1024-aBcDeFgHiJkLmNoP.",
     "xoxb-2048-1024-aBcDeFgHiJkLmNoP"},
    {"secret.google_api_key", "k AIzaSyA1234567890abcdefghijklmnopqrstuv ok",
     "AIzaSyA1234567890abcdefghijklmnopqrstuv"},
    {"secret.stripe_key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc.",
     "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
    {"secret.jwt",
     "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n",
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
    {"secret.private_key",
     "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\ny",
     "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"},
    {"secret.ssh_private_key",
     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE "
     "KEY-----\n",
     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE "
     "KEY-----"},
    {"secret.database_url", "url postgres://app:S3cretPw9@db.internal:5432/prod ok",
     "postgres://app:S3cretPw9@db.internal:5432/prod"},
    {"secret.generic", "password = \"Tr0ub4dor&3x\"", "Tr0ub4dor&3x"},
    {"secret.generic", "{\"api_key\": \"q8F2kL9zX1mN4vB7\"}", "q8F2kL9zX1mN4vB7"},
    {"health", "she takes metformin daily", "metformin"},
    {"health", "diagnosis code E11.9 recorded", "E11.9"},
    {"financial", "routing number 021000021 ok", "021000021"},
    {"financial", "account number 12345678901 ok", "12345678901"},
    {"financial", "SWIFT: DEUTDEFF for the wire", "DEUTDEFF"},
};

Test(data_scan, every_class_positive_with_offsets)
{
    struct data_scanner *s = all_builtin();
    for (size_t i = 0; i < sizeof(positives) / sizeof(positives[0]); i++) {
        const char *c = class_of(s, positives[i].text, positives[i].value);
        cr_expect(c && strcmp(c, positives[i].cls) == 0, "%s: \"%s\" in \"%s\" found as %s",
                  positives[i].cls, positives[i].value, positives[i].text, c ? c : "nothing");
    }
    data_scanner_free(s);
}

static const struct {
    const char *text, *value, *why;
} negatives[] = {
    {"card 4111 1111 1111 1112 exp", "4111 1111 1111 1112", "fails Luhn"},
    {"ssn 078-05-1120 sample", "078-05-1120", "the Woolworth wallet number"},
    {"ssn 219-09-9999 ad", "219-09-9999", "an advertising number"},
    {"ssn 666-12-3456 no", "666-12-3456", "area 666"},
    {"ssn 900-12-3456 no", "900-12-3456", "area 9xx"},
    {"ssn 000-12-3456 no", "000-12-3456", "area 000"},
    {"IBAN DE89 3704 0044 0532 0130 01.", "DE89 3704 0044 0532 0130 01", "fails mod-97"},
    {"IBAN DE89 3704 0044 0532 0130", "DE89 3704 0044 0532 0130", "too short for DE"},
    {"version 1.2.3.4 released", "1.2.3.4", "a version number"},
    {"ip 256.1.1.1 no", "256.1.1.1", "octet over 255"},
    {"time 10:23:45 ok", "10:23:45", "a time of day"},
    {"id 550e8400-e29b-41d4-a716-446655440000 x", "550e8400-e29b-41d4-a716-446655440000", "a UUID"},
    {"commit 3f786850e387550fdab836ed7e6dc881de23001b x",
     "3f786850e387550fdab836ed7e6dc881de23001b", "a git hash"},
    {"date 2024-03-15 ok", "2024-03-15", "a date"},
    {"icon@2x.png here", "icon@2x.png", "an asset name"},
    {"see @param name", "@param", "a doc tag"},
    {"pkg sk-learn is fine", "sk-learn", "not a key"},
    {"token = get_token()", "get_token()", "code"},
    {"password: str", "str", "a type annotation"},
    {"postgres://user:${DB_PASS}@db/app", "postgres://user:${DB_PASS}@db/app", "a placeholder"},
    {"AKIAIOSFODNN7EXAMPL short", "AKIAIOSFODNN7EXAMPL", "one character short"},
    {"call 555 1234 nope", "555 1234", "too short for a phone"},
    {"numbers 1234567890123 here", "1234567890123", "Luhn passes nothing"},
    {"routing 123456789 bad", "123456789", "fails the ABA checksum"},
    {"he said E11.9 loudly", "E11.9", "an ICD shape without context"},
    {"the DATABASE server", "DATABASE", "a word, not a BIC"},
};

Test(data_scan, near_misses_do_not_count)
{
    struct data_scanner *s = all_builtin();
    for (size_t i = 0; i < sizeof(negatives) / sizeof(negatives[0]); i++)
        cr_expect(!any_in(s, negatives[i].text, negatives[i].value), "\"%s\" (%s) counted",
                  negatives[i].value, negatives[i].why);
    data_scanner_free(s);
}

Test(data_scan, names_and_window)
{
    struct data_scanner *s = all_builtin();
    cr_assert_str_eq(data_builtin_classes[0], "pii.email");
    size_t n = 0;
    while (data_builtin_classes[n])
        n++;
    cr_assert_eq(n, 21);
    cr_assert_eq(data_scanner_n_classes(s), n);
    cr_assert_str_eq(data_scanner_class_name(s, 2), "pii.credit_card");
    cr_assert_null(data_scanner_class_name(s, n));
    cr_assert_geq(data_scanner_window(s), 16384, "the PEM cap is in the window");
    data_scanner_free(s);
}

/* Feed text in pieces cut at the given offsets; collect every match; check the window. */
static long stream_matches(struct data_scanner *s, const char *t, size_t len, const size_t *cuts,
                           size_t ncuts, struct data_match *out, size_t cap)
{
    struct data_stream *st;
    cr_assert_eq(data_stream_new(s, &st), 0);
    long got = 0;
    size_t prev = 0;
    size_t win = data_scanner_window(s);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        cr_assert_eq(data_stream_feed(st, t + prev, to - prev), 0);
        prev = to;
        uint64_t base;
        size_t plen;
        data_stream_pending(st, &base, &plen);
        size_t ready = data_stream_ready(st);
        cr_assert_leq(plen - ready, win + 64, "held %zu bytes, window %zu", plen - ready, win);
        size_t nm;
        const struct data_match *m = data_stream_matches(st, &nm);
        for (size_t i = 0; i < nm; i++) {
            cr_assert_leq(m[i].end, base + ready, "a match beyond the final bytes");
            if ((size_t)got < cap)
                out[got] = m[i];
            got++;
        }
        data_stream_release(st, ready);
    }
    cr_assert_eq(data_stream_end(st), 0);
    size_t nm;
    const struct data_match *m = data_stream_matches(st, &nm);
    for (size_t i = 0; i < nm; i++) {
        if ((size_t)got < cap)
            out[got] = m[i];
        got++;
    }
    data_stream_free(st);
    return got;
}

Test(data_scan, stream_equals_block_at_every_split)
{
    struct data_scanner *s = all_builtin();
    for (size_t i = 0; i < sizeof(positives) / sizeof(positives[0]); i++) {
        const char *t = positives[i].text;
        size_t len = strlen(t);
        struct data_match *bm = NULL;
        long nb = data_scan(s, t, len, &bm);
        cr_assert_geq(nb, 1, "%s", t);
        struct data_match sm[16];
        for (size_t a = 1; a < len; a++) {
            long ns = stream_matches(s, t, len, &a, 1, sm, 16);
            cr_assert_eq(ns, nb, "\"%s\" split at %zu: %ld matches, block %ld", t, a, ns, nb);
            for (long k = 0; k < nb; k++)
                cr_assert(sm[k].start == bm[k].start && sm[k].end == bm[k].end &&
                              sm[k].cls == bm[k].cls,
                          "\"%s\" split at %zu: match %ld differs", t, a, k);
        }
        /* three feeds, and one byte at a time */
        for (size_t a = 1; a + 1 < len; a += 3) {
            size_t cuts[2] = {a, a + (len - a) / 2};
            cr_assert_eq(stream_matches(s, t, len, cuts, 2, sm, 16), nb, "\"%s\" at %zu", t, a);
        }
        size_t *every = malloc(len * sizeof(size_t));
        for (size_t a = 1; a < len; a++)
            every[a - 1] = a;
        cr_assert_eq(stream_matches(s, t, len, every, len - 1, sm, 16), nb, "\"%s\" bytewise", t);
        free(every);
        free(bm);
    }
    data_scanner_free(s);
}

Test(data_scan, stream_releases_plain_text_at_once)
{
    struct data_scanner *s = all_builtin();
    struct data_stream *st;
    cr_assert_eq(data_stream_new(s, &st), 0);
    const char *t = "The quick brown fox jumps over the lazy dog and then ";
    cr_assert_eq(data_stream_feed(st, t, strlen(t)), 0);
    /* only the tail where an anchor may be arriving is held: less than the longest anchor
     * (a health term of 29 bytes) */
    cr_assert_geq(data_stream_ready(st), strlen(t) - 32, "ready %zu of %zu", data_stream_ready(st),
                  strlen(t));
    data_stream_free(st);
    data_scanner_free(s);
}

Test(data_scan, stream_holds_an_open_key_block_to_its_cap)
{
    struct data_scanner *s = all_builtin();
    struct data_stream *st;
    cr_assert_eq(data_stream_new(s, &st), 0);
    const char *h = "-----BEGIN PRIVATE KEY-----\n";
    cr_assert_eq(data_stream_feed(st, h, strlen(h)), 0);
    cr_assert_eq(data_stream_ready(st), 0, "nothing of an open key block is released");
    char line[65];
    memset(line, 'A', 64);
    line[64] = '\n';
    size_t fed = strlen(h);
    while (fed < 20000) {
        cr_assert_eq(data_stream_feed(st, line, 65), 0);
        fed += 65;
        uint64_t base;
        size_t plen;
        data_stream_pending(st, &base, &plen);
        cr_assert_leq(plen - data_stream_ready(st), data_scanner_window(s) + 64);
        size_t nm;
        data_stream_matches(st, &nm);
        data_stream_release(st, data_stream_ready(st));
        if (nm) {
            const struct data_match *m = data_stream_matches(st, &nm);
            (void)m;
        }
    }
    cr_assert_eq(data_stream_end(st), 0);
    data_stream_free(st);
    data_scanner_free(s);
}

Test(data_scan, budget_of_matches)
{
    struct data_class_spec sp[1] = {{.name = "pii.email"}};
    struct data_config cfg = {sp, 1, 3, 0};
    struct data_scanner *s;
    char err[256];
    cr_assert_eq(data_scanner_new(&cfg, &s, err, sizeof(err)), 0, "%s", err);
    const char *t = "a@example.com b@example.com c@example.com d@example.com";
    struct data_match *m = NULL;
    cr_assert_eq(data_scan(s, t, 41, &m), 3);
    free(m);
    cr_assert_eq(data_scan(s, t, strlen(t), &m), DATA_ERR_BUDGET);
    cr_assert_null(m);
    struct data_stream *st;
    cr_assert_eq(data_stream_new(s, &st), 0);
    int rc = data_stream_feed(st, t, strlen(t));
    if (rc == 0)
        rc = data_stream_end(st);
    cr_assert_eq(rc, DATA_ERR_BUDGET);
    cr_assert_eq(data_stream_feed(st, "x", 1), DATA_ERR_BUDGET, "a dead stream stays dead");
    cr_assert_eq(data_stream_ready(st), 0);
    data_stream_free(st);
    data_scanner_free(s);
}

Test(data_scan, budget_of_memory)
{
    struct data_class_spec sp[1] = {{.name = "pii.email"}};
    struct data_config cfg = {sp, 1, 0, 4096};
    struct data_scanner *s;
    char err[256];
    cr_assert_eq(data_scanner_new(&cfg, &s, err, sizeof(err)), 0, "%s", err);
    struct data_stream *st;
    cr_assert_eq(data_stream_new(s, &st), 0);
    char big[8192];
    memset(big, 'x', sizeof(big));
    cr_assert_eq(data_stream_feed(st, big, sizeof(big)), DATA_ERR_BUDGET);
    data_stream_free(st);
    data_scanner_free(s);
}

Test(data_scan, custom_pattern_and_words)
{
    const char *words[] = {"ozempic", "project zephyr"};
    struct data_class_spec sp[2] = {{.name = "claim_id", .pattern = "CLM-[0-9]{8}"},
                                    {.name = "drugs", .words = words, .n_words = 2}};
    struct data_config cfg = {sp, 2, 0, 0};
    struct data_scanner *s;
    char err[256];
    cr_assert_eq(data_scanner_new(&cfg, &s, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(class_of(s, "see CLM-12345678 now", "CLM-12345678"), "claim_id");
    cr_assert_str_eq(class_of(s, "on Ozempic since May", "Ozempic"), "drugs");
    cr_assert_str_eq(class_of(s, "the Project Zephyr plan", "Project Zephyr"), "drugs");
    cr_assert(!any_in(s, "ozempicx is no word", "ozempicx"), "whole words only");
    const char *t = "claims CLM-12345678 and CLM-87654321.";
    struct data_match sm[8], *bm;
    long nb = data_scan(s, t, strlen(t), &bm);
    cr_assert_eq(nb, 2);
    free(bm);
    for (size_t a = 1; a < strlen(t); a++)
        cr_assert_eq(stream_matches(s, t, strlen(t), &a, 1, sm, 8), 2, "split at %zu", a);
    data_scanner_free(s);
}

Test(data_scan, pathological_patterns_refused_with_the_class_named)
{
    static const struct {
        const char *re;
        int rc;
    } bad[] = {
        {"(a+)+b", DATA_ERR_PATHOLOGICAL}, {"(x|x)*y", DATA_ERR_PATHOLOGICAL},
        {"a*", DATA_ERR_PATHOLOGICAL},     {".{0,5000}z", DATA_ERR_PATHOLOGICAL},
        {"(unclosed", DATA_ERR_PATTERN},   {"a{2,1}", DATA_ERR_PATTERN},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct data_class_spec sp[1] = {{.name = "evil_class", .pattern = bad[i].re}};
        struct data_config cfg = {sp, 1, 0, 0};
        struct data_scanner *s = NULL;
        char err[512] = "";
        int rc = data_scanner_new(&cfg, &s, err, sizeof(err));
        cr_expect_eq(rc, bad[i].rc, "%s: %d (%s)", bad[i].re, rc, err);
        cr_expect(strstr(err, "evil_class") != NULL, "%s: the error names the class: %s", bad[i].re,
                  err);
        cr_expect_null(s);
        data_scanner_free(s);
    }
}

Test(data_scan, allow_and_deny_lists)
{
    const char *allow[] = {"4111-1111-1111-1111"};
    const char *deny[] = {"Project Bluebird"};
    struct data_class_spec sp[2] = {{.name = "pii.credit_card", .allow = allow, .n_allow = 1},
                                    {.name = "pii.email", .deny = deny, .n_deny = 1}};
    struct data_config cfg = {sp, 2, 0, 0};
    struct data_scanner *s;
    char err[256];
    cr_assert_eq(data_scanner_new(&cfg, &s, err, sizeof(err)), 0, "%s", err);
    cr_assert(!any_in(s, "test card 4111 1111 1111 1111 in docs", "4111"),
              "the allow list compares digits only");
    cr_assert_str_eq(class_of(s, "real 5555 5555 5555 4444 card", "5555 5555 5555 4444"),
                     "pii.credit_card");
    cr_assert_str_eq(class_of(s, "about project bluebird today", "project bluebird"), "pii.email");
    data_scanner_free(s);
}

Test(data_scan, invalid_utf8_and_nul_are_scanned)
{
    struct data_scanner *s = all_builtin();
    static const char t[] =
        "\xff\xfe\x00 mail a.b@example.org \xc3\x28 \x00 AKIAIOSFODNN7EXAMPLE\x80";
    struct data_match *m = NULL;
    long n = data_scan(s, t, sizeof(t) - 1, &m);
    cr_assert_eq(n, 2, "both values found around invalid bytes and NULs: %ld", n);
    cr_assert_eq(m[0].start, 9);
    cr_assert_eq(m[0].end, 24);
    free(m);
    data_scanner_free(s);
}

Test(data_scan, errors_have_names)
{
    cr_assert_str_neq(data_strerror(DATA_ERR_BUDGET), data_strerror(DATA_ERR_SCAN));
    struct data_class_spec sp[1] = {{.name = "not_builtin"}};
    struct data_config cfg = {sp, 1, 0, 0};
    struct data_scanner *s = NULL;
    char err[256];
    cr_assert_eq(data_scanner_new(&cfg, &s, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "not_builtin") != NULL, "%s", err);
}

Test(data_scan, exact_data_match_in_block_and_stream)
{
    unsigned char key[DATA_KEY_LEN];
    memset(key, 3, sizeof(key));
    struct data_edm_writer *w;
    cr_assert_eq(data_edm_writer_new(key, &w), 0);
    cr_assert_eq(data_edm_writer_add(w, "Acme Corp", 9), 0);
    cr_assert_eq(data_edm_writer_add(w, "Jane Q Public", 13), 0);
    struct data_buf b = {0};
    cr_assert_eq(data_edm_writer_finish(w, &b), 0);
    data_edm_writer_free(w);
    struct data_edm *e;
    char err[256];
    cr_assert_eq(data_edm_load_mem(b.p, b.len, key, &e, err, sizeof(err)), 0, "%s", err);
    data_buf_free(&b);
    struct data_class_spec sp[1] = {{.name = "customers", .edm = e}};
    struct data_config cfg = {sp, 1, 0, 0};
    struct data_scanner *s;
    cr_assert_eq(data_scanner_new(&cfg, &s, err, sizeof(err)), 0, "%s", err);
    const char *t = "ticket from ACME corp. about jane q. public, not acme";
    struct data_match *m = NULL, sm[8];
    long n = data_scan(s, t, strlen(t), &m);
    cr_assert_eq(n, 2, "%ld", n);
    cr_assert_eq(m[0].start, 12);
    cr_assert_eq(m[0].end, 21);
    for (size_t a = 1; a < strlen(t); a++) {
        long ns = stream_matches(s, t, strlen(t), &a, 1, sm, 8);
        cr_assert_eq(ns, 2, "split at %zu: %ld", a, ns);
        cr_assert(sm[0].start == m[0].start && sm[1].end == m[1].end, "split at %zu", a);
    }
    free(m);
    data_scanner_free(s);
    data_edm_free(e);
}
