/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the classifier (policy/data/data.h) with every built-in class, on
 * arbitrary bytes. The first two bytes pick a split; the rest is scanned in block mode and
 * streamed in two feeds at that split (and a third at a second split). Nothing crashes, an
 * error is one of the library's, and when both scans read the text they report the same
 * matches at the same offsets, in order and never overlapping, inside the text; a stream
 * never holds more than data_scanner_window() bytes back.
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

/* Stream text in feeds cut at a and b (a <= b <= len); the matches into *out. */
static int stream(const char *text, size_t len, size_t a, size_t b, struct data_match **out,
                  size_t *n_out)
{
    struct data_stream *st;
    if (data_stream_new(scanner, &st))
        return -12;
    size_t cuts[3] = {a, b, len}, fed = 0, n = 0, cap = 8, w = data_scanner_window(scanner);
    struct data_match *all = malloc(cap * sizeof *all);
    int rc = all ? 0 : -12;
    for (size_t k = 0; k <= 3 && !rc; k++) {
        rc = k < 3 ? data_stream_feed(st, text + fed, cuts[k] - fed) : data_stream_end(st);
        if (rc)
            break;
        if (k < 3)
            fed = cuts[k];
        uint64_t base;
        size_t plen, nm;
        data_stream_pending(st, &base, &plen);
        size_t ready = data_stream_ready(st);
        if (base + plen != fed || ready > plen || (k < 3 && plen - ready > w) ||
            (k == 3 && ready != plen))
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

/* A run of digit groups (digits joined by ' ', '-', '.', '(' or ')') longer than 96 bytes: the
 * scanner reads such a run in tokens whose boundaries depend on where a pass starts, so a
 * block scan and a stream may report different numbers inside it (docs/SECURITY.md, "Data
 * classification and its actions: limits"). Everything else must agree exactly. */
static int long_digit_run(const char *t, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        int dig = c >= '0' && c <= '9';
        int sep = (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') && run;
        run = dig || sep ? run + 1 : 0;
        if (run > 96)
            return 1;
    }
    return 0;
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
    size_t sn = 0;
    int rc = stream(text, len, a, b, &sm, &sn);
    if (rc && !known(rc))
        __builtin_trap();
    if (n >= 0 && !rc && !long_digit_run(text, len)) {
        if ((size_t)n != sn)
            __builtin_trap(); /* block and stream disagree */
        for (size_t i = 0; i < sn; i++)
            if (m[i].cls != sm[i].cls || m[i].start != sm[i].start || m[i].end != sm[i].end)
                __builtin_trap();
    }
    free(m);
    free(sm);
    return 0;
}
