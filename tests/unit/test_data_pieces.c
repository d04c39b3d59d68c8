/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Random text, scanned whole and streamed in pieces of 1, 2, 3, 7, 13, 64, 512 and 4096 bytes
 * and at random cuts: the stream reports what the block scan reports, whatever the pieces.
 * The bytes are those that start, end and join the candidates of the C pass (digits, hex,
 * colons, dots, dashes, '@', '+', '/', capitals), with real values and their near misses
 * dropped in, so that the feeds fall inside, before and after addresses, numbers and e-mails
 * that a block scan finds ("::A64:a" with an ICD-10 code inside it, "::8EA" across a feed).
 * test_data_chunks.c cuts the labelled corpus instead.
 */
#include "data_corpus.h"

static const char *const alphabets[] = {
    "0123456789abcdefABCDEF:::...--@ __/\n+xyzqwXYZ",
    "0123456789 -.()+:@ab\n",
    "0123456789abcdef:.@ xyz_%+-GBDE",
    "0123456789     ab_@.\n", /* groups after spaces, words glued to them */
    "0123456789  ---  b@._x\n",
};
static const char *const fragments[] = {
    "4111 1111 1111 1111",
    "4111111111111111",
    "5500-0000-0000-0004",
    "123-45-6789",
    "ssn 123456789",
    "(415) 555-2671",
    "+44 20 7946 0958",
    "415.555.2671",
    "192.168.1.20",
    "10.0.0.255",
    "2001:db8::8a2e:370:7334",
    "::1",
    "fe80::a64:a",
    "1:2:3:4:5:6:7:8",
    "::ffff:10.1.2.3",
    "dana.ruiz@example.com",
    "a.b@c.de",
    "x@y",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "E11.9 diagnosis",
    "ICD A64",
    "routing 021000021",
    "account 12345678",
    "version 1.2.3.4",
    "2024-03-14T21:53:00",
    "0123456789",
    /* a grouped number whose last group starts a word after a space */
    "4111 1111 1111 1111 2b",
    "5555555555554444 2@b.example",
    "536 22 1234 5x",
    "415 555 2671 3rd",
    "4111-1111-1111-1111 7_",
    "4111 1111 1111 1111 1 2@b",
};

static uint64_t rnd_state;
static size_t rnd(size_t n)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (size_t)((rnd_state >> 33) % n);
}

static char *random_text(unsigned seed, const char *alpha, size_t len)
{
    char *t = malloc(len);
    cr_assert_not_null(t);
    size_t na = strlen(alpha), nf = sizeof fragments / sizeof *fragments;
    rnd_state = seed;
    for (size_t i = 0; i < len;) {
        if (rnd(16) == 0) {
            const char *f = fragments[rnd(nf)];
            for (size_t k = 0; f[k] && i < len; k++)
                t[i++] = f[k];
        } else {
            t[i++] = alpha[rnd(na)];
        }
    }
    return t;
}

static void agree(const char *text, const struct data_match *a, size_t na,
                  const struct data_match *b, size_t nb, const char *how)
{
    size_t i = 0;
    while (i < na && i < nb && a[i].cls == b[i].cls && a[i].start == b[i].start &&
           a[i].end == b[i].end)
        i++;
    if (i == na && i == nb)
        return;
    const struct data_match *m = i < na ? &a[i] : &b[i];
    size_t from = m->start > 16 ? (size_t)m->start - 16 : 0;
    cr_assert_fail("%s: block %zu matches, stream %zu; first difference at %zu: %s %s "
                   "[%llu,%llu) in \"%.*s\"",
                   how, na, nb, i, i < na ? "the block scan's" : "the stream's",
                   data_builtin_classes[m->cls], (unsigned long long)m->start,
                   (unsigned long long)m->end, (int)(m->end + 16 - from), text + from);
}

Test(data_pieces, random_text_whole_and_streamed_agree, .timeout = 120)
{
    struct data_scanner *s = corpus_scanner(NULL, NULL);
    static const size_t chunks[] = {1, 2, 3, 7, 13, 64, 512, 4096, 0 /* random cuts */};
    const size_t len = 16000;
    size_t *cuts = malloc(len * sizeof *cuts), streams = 0, matches = 0;
    cr_assert_not_null(cuts);
    for (size_t al = 0; al < sizeof alphabets / sizeof *alphabets; al++) {
        for (unsigned seed = 1; seed <= 30; seed++) {
            char *text = random_text(seed * 7919u + (unsigned)al, alphabets[al], len);
            struct data_match *block = NULL;
            long nb = data_scan(s, text, len, &block);
            cr_assert_geq(nb, 0, "data_scan: %s", data_strerror((int)nb));
            matches += (size_t)nb;
            for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
                size_t n_cuts = 0;
                for (size_t at = 0;;) {
                    at += chunks[c] ? chunks[c] : 1 + rnd(300);
                    if (at >= len)
                        break;
                    cuts[n_cuts++] = at;
                }
                char how[96];
                snprintf(how, sizeof how, "alphabet %zu, seed %u, %s%zu", al, seed,
                         chunks[c] ? "pieces of " : "random cuts, ",
                         chunks[c] ? chunks[c] : n_cuts);
                struct data_match *m = NULL;
                size_t n = 0;
                int rc = corpus_stream(s, text, len, cuts, n_cuts, &m, &n, how);
                cr_assert_eq(rc, 0, "%s: %s", how, data_strerror(rc));
                agree(text, block, (size_t)nb, m, n, how);
                free(m);
                streams++;
            }
            free(block);
            free(text);
        }
    }
    fprintf(stderr, "%zu streams of random text agreed with the block scan (%zu matches)\n",
            streams, matches);
    cr_assert_gt(matches, 500, "the random texts hold too few values to test anything");
    free(cuts);
    data_scanner_free(s);
}
