/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chunk boundaries at the library level: every labelled value of the corpus, in the text of
 * its record, fed to data_stream split at every offset into two feeds, at every pair (short
 * values) or a sample of pairs (long ones) into three, and one byte at a time. The stream
 * must report exactly the matches data_scan reports for the whole text, at the same offsets,
 * and keep the holdback contract (data_corpus.h's corpus_stream checks it at every feed).
 * test_data_pieces.c does the same for random text in pieces of every size.
 */
#include "data_corpus.h"

static void same(const struct data_match *a, size_t na, const struct data_match *b, size_t nb,
                 const struct corpus_rec *r, const char *how)
{
    size_t i = 0;
    for (; i < na && i < nb; i++)
        if (a[i].cls != b[i].cls || a[i].start != b[i].start || a[i].end != b[i].end)
            break;
    if (i == na && i == nb)
        return;
    fprintf(stderr, "%s split %s: block and stream differ at match %zu\n", r->id, how, i);
    for (size_t k = 0; k < na; k++)
        fprintf(stderr, "  block  %s [%llu,%llu)\n", data_builtin_classes[a[k].cls],
                (unsigned long long)a[k].start, (unsigned long long)a[k].end);
    for (size_t k = 0; k < nb; k++)
        fprintf(stderr, "  stream %s [%llu,%llu)\n", data_builtin_classes[b[k].cls],
                (unsigned long long)b[k].start, (unsigned long long)b[k].end);
    cr_assert_fail("%s: split %s: the stream reports %zu matches, the block scan %zu, first "
                   "difference at %zu",
                   r->id, how, nb, na, i);
}

static uint64_t lcg = 13;
static size_t pick(size_t n)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((lcg >> 33) % n);
}

struct counts {
    size_t values, caught, streams;
};

static void one(const struct data_scanner *s, const struct corpus_rec *r, const size_t *cuts,
                size_t n_cuts, const struct data_match *block, size_t n_block, struct counts *k)
{
    char how[64];
    if (n_cuts == 1)
        snprintf(how, sizeof how, "at %zu", cuts[0]);
    else if (n_cuts == 2)
        snprintf(how, sizeof how, "at %zu and %zu", cuts[0], cuts[1]);
    else
        snprintf(how, sizeof how, "into %zu pieces", n_cuts + 1);
    struct data_match *m;
    size_t n;
    int rc = corpus_stream(s, r->text, r->len, cuts, n_cuts, &m, &n, r->id);
    cr_assert_eq(rc, 0, "%s: split %s: %s", r->id, how, data_strerror(rc));
    same(block, n_block, m, n, r, how);
    free(m);
    k->streams++;
}

static void split_value(const struct data_scanner *s, const struct corpus_rec *r,
                        const struct corpus_value *v, const struct data_match *block,
                        size_t n_block, struct counts *k)
{
    /* cut points: every offset inside the value and one either side, within (0, len) */
    size_t lo = v->start > 1 ? v->start - 1 : 1, hi = v->end + 1 < r->len ? v->end + 1 : r->len - 1;
    for (size_t a = lo; a <= hi; a++)
        one(s, r, &a, 1, block, n_block, k);
    size_t span = hi >= lo ? hi - lo + 1 : 0;
    if (span < 2)
        return;
    if (span <= 26) {
        for (size_t a = lo; a <= hi; a++)
            for (size_t b = a + 1; b <= hi; b++)
                one(s, r, (size_t[]){a, b}, 2, block, n_block, k);
        return;
    }
    for (size_t i = 0; i < 300; i++) {
        size_t a = lo + pick(span - 1);
        size_t b = a + 1 + pick(hi - a);
        one(s, r, (size_t[]){a, b}, 2, block, n_block, k);
    }
    /* the pairs at the value's two ends */
    if (v->start >= 1)
        one(s, r, (size_t[]){v->start, v->start + 1}, 2, block, n_block, k);
    if (v->end < r->len)
        one(s, r, (size_t[]){v->end - 1, v->end}, 2, block, n_block, k);
}

Test(data_chunks, every_value_split_across_two_and_three_feeds, .timeout = 900)
{
    struct corpus c = corpus_load();
    struct data_scanner *plain = corpus_scanner(NULL, NULL);
    struct counts k = {0};
    for (size_t i = 0; i < c.n; i++) {
        const struct corpus_rec *r = &c.r[i];
        if (!r->n_expect || r->len < 3)
            continue;
        struct data_scanner *s = r->allow || r->deny ? corpus_scanner(r->allow, r->deny) : plain;
        struct data_match *block = NULL;
        long nb = data_scan(s, r->text, r->len, &block);
        cr_assert_geq(nb, 0, "%s: data_scan: %s", r->id, data_strerror((int)nb));
        for (size_t e = 0; e < r->n_expect; e++) {
            const struct corpus_value *v = &r->expect[e];
            k.values++;
            for (long j = 0; j < nb; j++)
                if (!strcmp(data_builtin_classes[block[j].cls], v->cls) &&
                    corpus_overlap(block[j].start, block[j].end, v->start, v->end)) {
                    k.caught++;
                    break;
                }
            split_value(s, r, v, block, (size_t)nb, &k);
        }
        free(block);
        if (s != plain)
            data_scanner_free(s);
    }
    data_scanner_free(plain);
    fprintf(stderr,
            "%zu values (%zu caught by the block scan), %zu split streams: every one "
            "reported what the block scan reports\n",
            k.values, k.caught, k.streams);
    cr_assert_gt(k.values, 400);
    corpus_free(&c);
}

Test(data_chunks, every_record_one_byte_at_a_time, .timeout = 300)
{
    struct corpus c = corpus_load();
    struct data_scanner *plain = corpus_scanner(NULL, NULL);
    size_t *cuts = NULL, cap = 0;
    for (size_t i = 0; i < c.n; i++) {
        const struct corpus_rec *r = &c.r[i];
        if (r->len < 2)
            continue;
        struct data_scanner *s = r->allow || r->deny ? corpus_scanner(r->allow, r->deny) : plain;
        if (r->len > cap) {
            cap = r->len;
            cuts = realloc(cuts, cap * sizeof *cuts);
            cr_assert_not_null(cuts);
        }
        for (size_t j = 1; j < r->len; j++)
            cuts[j - 1] = j;
        struct data_match *block = NULL, *m;
        size_t n;
        long nb = data_scan(s, r->text, r->len, &block);
        cr_assert_geq(nb, 0, "%s: data_scan: %s", r->id, data_strerror((int)nb));
        int rc = corpus_stream(s, r->text, r->len, cuts, r->len - 1, &m, &n, r->id);
        cr_assert_eq(rc, 0, "%s: one byte at a time: %s", r->id, data_strerror(rc));
        same(block, (size_t)nb, m, n, r, "one byte at a time");
        free(m);
        free(block);
        if (s != plain)
            data_scanner_free(s);
    }
    free(cuts);
    data_scanner_free(plain);
    corpus_free(&c);
}

/* The window bounds what a stream holds: text with no possible match is released as it
 * comes, and a long run that could still become a match is not held past the window. */
static size_t most_held(const struct data_scanner *s, const char *text, size_t len, size_t chunk,
                        int *rc)
{
    struct data_stream *st;
    cr_assert_eq(data_stream_new(s, &st), 0);
    size_t most = 0;
    *rc = 0;
    for (size_t off = 0; off < len && !*rc; off += chunk) {
        *rc = data_stream_feed(st, text + off, len - off < chunk ? len - off : chunk);
        if (*rc)
            break;
        uint64_t base;
        size_t plen;
        data_stream_pending(st, &base, &plen);
        size_t ready = data_stream_ready(st);
        if (plen - ready > most)
            most = plen - ready;
        data_stream_release(st, ready);
    }
    data_stream_free(st);
    return most;
}

Test(data_chunks, holdback_never_exceeds_the_window)
{
    struct data_scanner *s = corpus_scanner(NULL, NULL);
    size_t w = data_scanner_window(s);
    cr_assert_gt(w, 0, "a scanner of every built-in class has an empty window");
    cr_assert_lt(w, 1u << 20, "window %zu is larger than a stream's default memory budget", w);
    size_t len = 4 * w + 4096;
    char *text = malloc(len);
    cr_assert_not_null(text);
    static const char *kinds[] = {
        "the quick brown fox jumps over the lazy dog. ",
        "4111 1111 1111 111",
        "0123456789",
        "12-34-",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "dana.ruiz.",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow",
        "2001:db8:",
        "1.2.",
        "password=",
    };
    char fail[2048] = "";
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t kl = strlen(kinds[k]);
        for (size_t i = 0; i < len; i++)
            text[i] = kinds[k][i % kl];
        static const size_t chunks[] = {7, 512, 4096};
        for (size_t c = 0; c < 3; c++) {
            int rc;
            size_t held = most_held(s, text, len, chunks[c], &rc);
            fprintf(stderr, "'%s' x %zu in %zu-byte feeds: at most %zu bytes held (window %zu)%s\n",
                    kinds[k], len / kl, chunks[c], held, w, rc ? data_strerror(rc) : "");
            cr_expect(rc == 0 || rc == DATA_ERR_BUDGET, "'%s': %s", kinds[k], data_strerror(rc));
            if (held > w) {
                size_t used = strlen(fail);
                snprintf(fail + used, sizeof fail - used, " '%s' (%zu-byte feeds): %zu;", kinds[k],
                         chunks[c], held);
            }
        }
    }
    free(text);
    data_scanner_free(s);
    cr_assert_eq(fail[0], '\0', "held back more than the window of %zu bytes:%s", w, fail);
}
