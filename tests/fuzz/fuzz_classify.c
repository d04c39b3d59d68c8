/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the classifier (policy/data/data.h) with every built-in class, on
 * arbitrary bytes. The first two bytes pick a split and a piece size; the rest is scanned in
 * block mode, streamed in two feeds at that split (and a third at a second split), and
 * streamed in pieces of 1, 2, 3, 7, 13, 64, 512 or 4096 bytes. Nothing crashes, an error is
 * one of the library's, and when the scans read the text they report the same matches at the
 * same offsets, in order and never overlapping, inside the text; a stream never holds more
 * than data_scanner_window() bytes back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct data_scanner *scanner;

static void init(void)
{
    size_t n = 0;
    while (data_builtin_classes[n])
        n++;
    struct data_class_spec *spec = calloc(n, sizeof *spec);
    if (!spec)
        abort();
    for (size_t i = 0; i < n; i++)
        spec[i].name = data_builtin_classes[i];
    struct data_config cfg = {.classes = spec, .n_classes = n};
    char err[256];
    if (data_scanner_new(&cfg, &scanner, err, sizeof err))
        abort();
    free(spec);
}

static int known(long rc)
{
    return rc == DATA_ERR_BUDGET || rc == DATA_ERR_SCAN || rc == -12;
}

/* Stream text in feeds ending at cuts[0..n_cuts) (increasing, the last one its length); the
 * matches into *out (NULL when none could be kept). */
static int stream(const char *text, const size_t *cuts, size_t n_cuts, struct data_match **out,
                  size_t *n_out)
{
    struct data_stream *st;
    *out = NULL;
    *n_out = 0;
    if (data_stream_new(scanner, &st))
        return -12;
    size_t fed = 0, n = 0, cap = 8, w = data_scanner_window(scanner);
    struct data_match *all = malloc(cap * sizeof *all);
    int rc = all ? 0 : -12;
    for (size_t k = 0; k <= n_cuts && !rc; k++) {
        rc = k < n_cuts ? data_stream_feed(st, text + fed, cuts[k] - fed) : data_stream_end(st);
        if (rc)
            break;
        if (k < n_cuts)
            fed = cuts[k];
        uint64_t base;
        size_t plen, nm;
        data_stream_pending(st, &base, &plen);
        size_t ready = data_stream_ready(st);
        if (base + plen != fed || ready > plen || (k < n_cuts && plen - ready > w) ||
            (k == n_cuts && ready != plen))
            __builtin_trap(); /* the holdback contract */
        const struct data_match *m = data_stream_matches(st, &nm);
        for (size_t i = 0; i < nm; i++) {
            if (m[i].start < base || m[i].end > base + ready)
                __builtin_trap();
            if (n == cap) {
                struct data_match *g = realloc(all, (cap *= 2) * sizeof *all);
                if (!g) {
                    rc = -12;
                    break;
                }
                all = g;
            }
            all[n++] = m[i];
        }
        data_stream_release(st, ready);
    }
    data_stream_free(st);
    *out = all;
    *n_out = n;
    return rc;
}

/* When both read the text, a stream reports exactly the block scan's matches: everywhere,
 * long runs of digit groups included (a stream's pass resumes where a block scan goes on). */
static void same(long n, const struct data_match *m, int rc, const struct data_match *sm, size_t sn)
{
    if (rc && !known(rc))
        __builtin_trap();
    if (n >= 0 && rc == DATA_ERR_SCAN)
        __builtin_trap(); /* the block scan read the text, the stream failed on it */
    if (n < 0 || rc)
        return;
    if ((size_t)n != sn)
        __builtin_trap(); /* block and stream disagree */
    for (size_t i = 0; i < sn; i++)
        if (m[i].cls != sm[i].cls || m[i].start != sm[i].start || m[i].end != sm[i].end)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scanner)
        init();
    if (size < 2)
        return 0;
    size_t pick = (size_t)data[0] << 8 | data[1];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    size_t a = len ? pick % (len + 1) : 0, b = a + (len - a ? (pick >> 3) % (len - a + 1) : 0);
    struct data_match *m = NULL, *sm = NULL;
    long n = data_scan(scanner, text, len, &m);
    if (n < 0 && !known(n))
        __builtin_trap();
    for (long i = 0; i < n; i++)
        if (m[i].start >= m[i].end || m[i].end > len || (i && m[i - 1].end > m[i].start) ||
            m[i].cls >= data_scanner_n_classes(scanner))
            __builtin_trap();
    size_t sn = 0, cuts[3] = {a, b, len};
    int rc = stream(text, cuts, 3, &sm, &sn);
    same(n, m, rc, sm, sn);
    free(sm);
    /* and in pieces of one size, from one byte to more than a vectorized pass reads at once */
    static const size_t pieces[] = {1, 2, 3, 7, 13, 64, 512, 4096};
    size_t piece = pieces[data[0] >> 5], n_cuts = 0;
    size_t *at = malloc((len / piece + 1) * sizeof *at);
    if (!at)
        abort();
    for (size_t off = piece; off < len; off += piece)
        at[n_cuts++] = off;
    at[n_cuts++] = len;
    rc = stream(text, at, n_cuts, &sm, &sn);
    same(n, m, rc, sm, sn);
    free(at);
    free(m);
    free(sm);
    return 0;
}
