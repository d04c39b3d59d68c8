/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scanner's exact-data-match classes: data_edm.h's word matcher run over a text, and in a
 * stream only over the words that more text cannot change (see data_edm_scan in internal.h).
 */
#include <string.h>

#include "policy/data/data_edm.h"
#include "policy/data/internal.h"

struct edm_cb {
    struct dsink *k;
    uint32_t cls;
    size_t off;   /* index of the text's first byte in the view */
    size_t limit; /* spans must start before this (relative to the text) */
    size_t last;  /* end of the last span taken */
    int err;
};

static int on_edm(void *arg, size_t st, size_t en)
{
    struct edm_cb *e = arg;
    if (st >= e->limit)
        return 1;
    e->last = en;
    if (dsink_add(e->k, e->cls, 0, e->off + st, e->off + en) != 0) {
        e->err = e->k->err;
        return 1;
    }
    return 0;
}

/* data_edm.h's word separators */
static int edm_sep(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           (c && strchr("\"(),:;<>=[]{}|\\/`", c) != NULL);
}

int data_edm_scan(const struct data_edm *e, uint32_t cls, const struct dview *v, size_t from,
                  struct dsink *k, size_t *next)
{
    const unsigned char *t = v->p + from;
    size_t len = v->n - from, limit = len;
    if (!v->eof) {
        size_t nw = data_edm_max_words(e), ring[DATA_EDM_MAX_WORDS + 1], cnt = 0;
        size_t j = 0, partial = len;
        if (nw < 1)
            nw = 1;
        while (j < len) {
            while (j < len && edm_sep(t[j]))
                j++;
            if (j >= len)
                break;
            size_t ws = j;
            while (j < len && !edm_sep(t[j]))
                j++;
            if (j >= len) {
                partial = ws; /* the last word may go on */
                break;
            }
            ring[cnt++ % (nw + 1)] = ws;
        }
        /* words w <= cnt - nw are settled: every span from them ends at a complete word */
        if (cnt < nw)
            limit = 0;
        else if (cnt - nw + 1 < cnt)
            limit = ring[(cnt - nw + 1) % (nw + 1)];
        else
            limit = partial;
    }
    struct edm_cb cb = {k, cls, from, limit, 0, 0};
    data_edm_match_words(e, (const char *)t, len, on_edm, &cb);
    if (cb.err)
        return cb.err;
    *next = from + (cb.last > limit ? cb.last : limit);
    return 0;
}
