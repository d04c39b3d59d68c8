/* SPDX-License-Identifier: Apache-2.0 */
/* Exact-data-match files: written, read back and matched after normalization; refused, with
 * the reason, when made with another key or when hostile (truncated, oversized counts,
 * unsorted, wrong magic). */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/data/data_edm.h"

static unsigned char key[DATA_KEY_LEN];
static char err[512];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    for (int i = 0; i < DATA_KEY_LEN; i++)
        key[i] = (unsigned char)(0xa5 ^ i);
}

TestSuite(data_edm, .init = setup);

static const char *const values[] = {
    "John Smith",
    "ACME, Inc.",
    "O'Brien",
    "CLM-12345678",
    "123-45-678",
    "Zoë Müller",
    "the  First   National\tBank of Springfield",
};
#define NV (sizeof values / sizeof values[0])

static void make(const char *const *v, size_t n, const unsigned char *k, struct data_buf *out)
{
    struct data_edm_writer *w = NULL;
    cr_assert_eq(data_edm_writer_new(k, &w), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(data_edm_writer_add(w, v[i], strlen(v[i])), 0, "%s", v[i]);
    cr_assert_eq(data_edm_writer_finish(w, out), 0);
    data_edm_writer_free(w);
}

static struct data_edm *load_ok(const struct data_buf *b)
{
    struct data_edm *e = NULL;
    cr_assert_eq(data_edm_load_mem(b->p, b->len, key, &e, err, sizeof err), 0, "%s", err);
    return e;
}

static char *norm(const char *s)
{
    static char out[256];
    size_t n = data_edm_normalize(s, strlen(s), out, sizeof out - 1);
    out[n] = '\0';
    return out;
}

Test(data_edm, normalization)
{
    cr_assert_str_eq(norm("  ACME,  Inc. "), "acme inc");
    cr_assert_str_eq(norm("O'Brien"), "obrien");
    cr_assert_str_eq(norm("123-45-678"), "12345678");
    cr_assert_str_eq(norm("John\t\r\n Smith"), "john smith");
    cr_assert_str_eq(norm("John - Smith"), "john smith");
    cr_assert_str_eq(norm("Zo\xc3\xab"), "zo\xc3\xab", "non-ASCII bytes are kept");
    cr_assert_str_eq(norm("!!!"), "");
    cr_assert_eq(data_edm_words("ACME,Inc", 8), 2);
    cr_assert_eq(data_edm_words(" John  Smith ", 13), 2);
    cr_assert_eq(data_edm_words("(a) [b] {c}", 11), 3);
}

Test(data_edm, round_trip_and_lookup_after_normalization)
{
    struct data_buf b = {0};
    make(values, NV, key, &b);
    cr_assert_eq(b.len, DATA_EDM_HEADER + NV * DATA_EDM_DIGEST);
    struct data_edm *e = load_ok(&b);
    cr_assert_eq(data_edm_count(e), NV);
    cr_assert_eq(data_edm_max_words(e), 6);
    static const char *const yes[] = {
        "john smith", "JOHN   SMITH", "Acme Inc",
        "acme, inc.", "OBRIEN",       "clm12345678",
        "12345678",   "ZOë MüLLER",   "The First National Bank of Springfield"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        cr_assert_eq(data_edm_contains(e, yes[i], strlen(yes[i])), 1, "%s", yes[i]);
    static const char *const no[] = {"John Smyth",   "John", "ACME",
                                     "CLM-12345679", "",     "Zoe Muller"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        cr_assert_eq(data_edm_contains(e, no[i], strlen(no[i])), 0, "%s", no[i]);
    data_edm_free(e);
    data_buf_free(&b);
}

Test(data_edm, the_file_holds_no_plaintext)
{
    struct data_buf b = {0};
    make(values, NV, key, &b);
    for (size_t i = 0; i < NV; i++) {
        char *n = strdup(norm(values[i]));
        cr_assert_null(memmem(b.p, b.len, values[i], strlen(values[i])), "%s", values[i]);
        cr_assert_null(memmem(b.p, b.len, n, strlen(n)), "%s", n);
        free(n);
    }
    data_buf_free(&b);
}

Test(data_edm, duplicates_are_kept_once_and_bad_values_refused)
{
    struct data_edm_writer *w = NULL;
    cr_assert_eq(data_edm_writer_new(key, &w), 0);
    cr_assert_eq(data_edm_writer_add(w, "John Smith", 10), 0);
    cr_assert_eq(data_edm_writer_add(w, "JOHN SMITH.", 11), 0);
    cr_assert_eq(data_edm_writer_add(w, "...", 3), -EINVAL);
    cr_assert_eq(data_edm_writer_add(w, "", 0), -EINVAL);
    const char *many = "a b c d e f g h i j k l m n o p q";
    cr_assert_eq(data_edm_writer_add(w, many, strlen(many)), -E2BIG);
    char big[DATA_EDM_VALUE_MAX + 2];
    memset(big, 'x', sizeof big);
    cr_assert_eq(data_edm_writer_add(w, big, sizeof big), -E2BIG);
    struct data_buf b = {0};
    cr_assert_eq(data_edm_writer_finish(w, &b), 0);
    data_edm_writer_free(w);
    struct data_edm *e = load_ok(&b);
    cr_assert_eq(data_edm_count(e), 1);
    data_edm_free(e);
    data_buf_free(&b);
}

Test(data_edm, wrong_key_is_a_clear_error)
{
    struct data_buf b = {0};
    make(values, NV, key, &b);
    unsigned char other[DATA_KEY_LEN];
    memcpy(other, key, sizeof other);
    other[31] ^= 0x80;
    struct data_edm *e = NULL;
    cr_assert_eq(data_edm_load_mem(b.p, b.len, other, &e, err, sizeof err), DATA_ERR_EDM);
    cr_assert_null(e);
    cr_assert(strstr(err, "another data key"), "%s", err);
    data_buf_free(&b);
}

static void expect_refused(const void *p, size_t len, const char *why)
{
    struct data_edm *e = NULL;
    err[0] = '\0';
    int rc = data_edm_load_mem(p, len, key, &e, err, sizeof err);
    cr_assert_eq(rc, DATA_ERR_EDM, "%s: rc %d", why, rc);
    cr_assert_null(e);
    cr_assert(strstr(err, why), "expected '%s' in: %s", why, err);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

Test(data_edm, hostile_files_are_refused_with_the_reason)
{
    struct data_buf b = {0};
    make(values, NV, key, &b);
    unsigned char *f = malloc(b.len + 64);
    memcpy(f, b.p, b.len);

    expect_refused(f, 0, "truncated");
    expect_refused(f, 20, "truncated");
    expect_refused(f, b.len - 1, "truncated");
    expect_refused(f, DATA_EDM_HEADER, "truncated");
    memset(f + b.len, 0, 16);
    expect_refused(f, b.len + 16, "trailing bytes");

    memcpy(f, "CDNEDM\r\r", 8);
    expect_refused(f, b.len, "wrong magic");
    expect_refused(f, 10, "wrong magic");
    memcpy(f, b.p, 8);

    put32(f + 8, 2);
    expect_refused(f, b.len, "version 2");
    put32(f + 8, 1);

    put32(f + 12, 0);
    expect_refused(f, b.len, "max_words 0");
    put32(f + 12, 17);
    expect_refused(f, b.len, "max_words 17");
    put32(f + 12, 6);

    /* counts that would overflow or overrun */
    unsigned char save[8];
    memcpy(save, f + 40, 8);
    memset(f + 40, 0xff, 8);
    expect_refused(f, b.len, "over the limit");
    put32(f + 40, 1000);
    memset(f + 44, 0, 4);
    expect_refused(f, b.len, "truncated");
    put32(f + 40, 1);
    expect_refused(f, b.len, "trailing bytes");
    memcpy(f + 40, save, 8);

    put32(f + 32, 0);
    expect_refused(f, b.len, "value lengths");
    memcpy(f + 32, b.p + 32, 8);
    put32(f + 36, DATA_EDM_VALUE_MAX + 1);
    expect_refused(f, b.len, "value lengths");
    memcpy(f + 32, b.p + 32, 8);

    /* two digests swapped, then one repeated */
    unsigned char *d = f + DATA_EDM_HEADER, tmp[DATA_EDM_DIGEST];
    memcpy(tmp, d, DATA_EDM_DIGEST);
    memcpy(d, d + DATA_EDM_DIGEST, DATA_EDM_DIGEST);
    memcpy(d + DATA_EDM_DIGEST, tmp, DATA_EDM_DIGEST);
    expect_refused(f, b.len, "sorted");
    memcpy(d, d + DATA_EDM_DIGEST, DATA_EDM_DIGEST);
    expect_refused(f, b.len, "sorted");

    /* the original still loads */
    memcpy(f, b.p, b.len);
    struct data_edm *e = NULL;
    cr_assert_eq(data_edm_load_mem(f, b.len, key, &e, err, sizeof err), 0, "%s", err);
    data_edm_free(e);
    free(f);
    data_buf_free(&b);
}

Test(data_edm, an_empty_set_loads_and_matches_nothing)
{
    struct data_buf b = {0};
    make(NULL, 0, key, &b);
    struct data_edm *e = load_ok(&b);
    cr_assert_eq(data_edm_count(e), 0);
    cr_assert_eq(data_edm_contains(e, "x", 1), 0);
    data_edm_free(e);
    data_buf_free(&b);
}

Test(data_edm, load_from_a_file_names_the_path)
{
    char path[] = "/tmp/cordon-edm-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    struct data_buf b = {0};
    make(values, NV, key, &b);
    cr_assert_eq(write(fd, b.p, b.len), (ssize_t)b.len);
    close(fd);
    struct data_edm *e = NULL;
    cr_assert_eq(data_edm_load(path, key, &e, err, sizeof err), 0, "%s", err);
    cr_assert_eq(data_edm_count(e), NV);
    data_edm_free(e);
    cr_assert_eq(truncate(path, 30), 0);
    cr_assert_eq(data_edm_load(path, key, &e, err, sizeof err), DATA_ERR_EDM);
    cr_assert(strstr(err, path) && strstr(err, "truncated"), "%s", err);
    unlink(path);
    cr_assert_eq(data_edm_load(path, key, &e, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, path), "%s", err);
    data_buf_free(&b);
}

struct spans {
    size_t n;
    size_t s[16], e[16];
};

static int collect(void *arg, size_t start, size_t end)
{
    struct spans *sp = arg;
    if (sp->n < 16) {
        sp->s[sp->n] = start;
        sp->e[sp->n] = end;
    }
    sp->n++;
    return 0;
}

static int stop_at_first(void *arg, size_t start, size_t end)
{
    (void)start, (void)end;
    ++*(int *)arg;
    return 7;
}

Test(data_edm, word_spans_in_text)
{
    struct data_buf b = {0};
    const char *const v[] = {"John Smith", "John Smith Jr", "ACME, Inc.", "CLM-12345678", "Smith"};
    make(v, 5, key, &b);
    struct data_edm *e = load_ok(&b);
    const char *text = "Customer:John  Smith Jr. wrote to (acme inc); claim clm-12345678. "
                       "Smithers and smith.";
    struct spans sp = {0};
    cr_assert_eq(data_edm_match_words(e, text, strlen(text), collect, &sp), 0);
    static const char *const want[] = {"John  Smith Jr", "acme inc", "clm-12345678", "smith"};
    cr_assert_eq(sp.n, 4);
    for (size_t i = 0; i < 4; i++) {
        size_t n = sp.e[i] - sp.s[i];
        cr_assert(n == strlen(want[i]) && memcmp(text + sp.s[i], want[i], n) == 0,
                  "span %zu: '%.*s', expected '%s'", i, (int)n, text + sp.s[i], want[i]);
    }
    /* a nonzero callback stops the search and is returned */
    int calls = 0;
    cr_assert_eq(data_edm_match_words(e, text, strlen(text), stop_at_first, &calls), 7);
    cr_assert_eq(calls, 1);
    /* nothing in text without the values */
    sp.n = 0;
    const char *none = "Johnny Smithson, Acme Incorporated, CLM-1234567";
    cr_assert_eq(data_edm_match_words(e, none, strlen(none), collect, &sp), 0);
    cr_assert_eq(sp.n, 0);
    data_edm_free(e);
    data_buf_free(&b);
}

Test(data_edm, golden_file_from_an_independent_writer)
{
    /* tests/fuzz/corpus/edm/valid.edm was written by a separate implementation of the format
     * (Python's hashlib.blake2b), after a mode byte: the C reader must agree with it */
    unsigned char k[DATA_KEY_LEN];
    for (int i = 0; i < DATA_KEY_LEN; i++)
        k[i] = (unsigned char)(3 * i + 5);
    FILE *f = fopen(CORDON_SOURCE_DIR "/tests/fuzz/corpus/edm/valid.edm", "rb");
    cr_assert_not_null(f);
    static unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct data_edm *e = NULL;
    cr_assert_eq(data_edm_load_mem(buf + 1, n - 1, k, &e, err, sizeof err), 0, "%s", err);
    cr_assert_eq(data_edm_count(e), 4);
    cr_assert_eq(data_edm_max_words(e), 3);
    cr_assert(data_edm_contains(e, "JOHN SMITH", 10));
    cr_assert(data_edm_contains(e, "jane q public", 13));
    cr_assert(data_edm_contains(e, "acme inc", 8));
    cr_assert(data_edm_contains(e, "clm12345678", 11));
    cr_assert(!data_edm_contains(e, "john", 4));
    data_edm_free(e);
}
