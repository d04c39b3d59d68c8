/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokenize vault (data_vault.h): (label, value) -> "[LABEL_N]" and back, per session.
 *
 * Values live in blocks of their own, wiped before they are freed. Tokenize finds a known
 * value through an open-addressing table of 64-bit keyed BLAKE2b digests under a random
 * per-vault key (so a
 * prompt full of chosen values cannot make the table degenerate); restore finds a token's
 * value by its label and number, an index into the label's list. One mutex guards it all: a
 * session's calls are few and short, and the lock is held for a table probe and a copy.
 */
#include "policy/data/data_vault.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *value;
    size_t len;
    uint64_t h;
    uint32_t label; /* index into labels */
    uint32_t n;     /* the token's number, from 1 */
};

struct label {
    char name[DATA_LABEL_MAX + 1];
    size_t len;
    uint32_t *ids; /* entry index of token n at ids[n - 1] */
    size_t n, cap;
};

struct data_vault {
    pthread_mutex_t mu;
    size_t max_entries, max_bytes, bytes, window;
    struct entry *e;
    size_t n, cap;
    struct label *labels;
    size_t n_labels, cap_labels;
    uint32_t *table;  /* entry index + 1; 0 is empty */
    size_t table_cap; /* a power of two, at least twice n */
    unsigned char key[crypto_shorthash_KEYBYTES];
};

int data_vault_new(const struct data_vault_limits *lim, struct data_vault **out)
{
    struct data_vault *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->max_entries = lim && lim->max_entries ? lim->max_entries : DATA_VAULT_ENTRIES_DEFAULT;
    v->max_bytes = lim && lim->max_bytes ? lim->max_bytes : DATA_VAULT_BYTES_DEFAULT;
    if (v->max_entries > UINT32_MAX / 4)
        v->max_entries = UINT32_MAX / 4;
    if (pthread_mutex_init(&v->mu, NULL) != 0) {
        free(v);
        return -ENOMEM;
    }
    randombytes_buf(v->key, sizeof v->key);
    *out = v;
    return 0;
}

void data_vault_free(struct data_vault *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        sodium_memzero(v->e[i].value, v->e[i].len);
        free(v->e[i].value);
    }
    if (v->e)
        sodium_memzero(v->e, v->cap * sizeof *v->e);
    free(v->e);
    for (size_t i = 0; i < v->n_labels; i++)
        free(v->labels[i].ids);
    free(v->labels);
    free(v->table);
    pthread_mutex_destroy(&v->mu);
    sodium_memzero(v, sizeof *v);
    free(v);
}

static uint64_t hash_of(const struct data_vault *v, const char *label, size_t llen,
                        const char *value, size_t len)
{
    /* label and value in one input: the label never holds '\0', so the split is unambiguous */
    crypto_generichash_state st;
    unsigned char out[8];
    crypto_generichash_init(&st, v->key, sizeof v->key, sizeof out);
    crypto_generichash_update(&st, (const unsigned char *)label, llen);
    crypto_generichash_update(&st, (const unsigned char *)"", 1);
    crypto_generichash_update(&st, (const unsigned char *)value, len);
    crypto_generichash_final(&st, out, sizeof out);
    sodium_memzero(&st, sizeof st);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static int table_grow(struct data_vault *v)
{
    size_t cap = v->table_cap ? v->table_cap * 2 : 64;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        size_t j = (size_t)v->e[i].h & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)(i + 1);
    }
    free(v->table);
    v->table = t;
    v->table_cap = cap;
    return 0;
}

static long label_find(struct data_vault *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->n_labels; i++)
        if (v->labels[i].len == len && memcmp(v->labels[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

static int put_token(struct data_buf *out, const struct label *l, uint32_t n)
{
    char t[DATA_VAULT_TOKEN_MAX + 1];
    int k = snprintf(t, sizeof t, "[%s_%u]", l->name, n);
    return data_buf_put(out, t, (size_t)k);
}

int data_vault_tokenize(struct data_vault *v, const char *cls_name, const char *value, size_t len,
                        struct data_buf *out)
{
    if (!len)
        return -EINVAL;
    char name[DATA_LABEL_MAX + 1];
    size_t nlen = data_action_label(cls_name, name, sizeof name);
    uint64_t h = hash_of(v, name, nlen, value, len);
    int rc = 0;
    pthread_mutex_lock(&v->mu);
    long li = label_find(v, name, nlen);
    if (li >= 0 && v->table_cap) {
        for (size_t j = (size_t)h & (v->table_cap - 1); v->table[j];
             j = (j + 1) & (v->table_cap - 1)) {
            const struct entry *e = &v->e[v->table[j] - 1];
            if (e->h == h && e->label == (uint32_t)li && e->len == len &&
                memcmp(e->value, value, len) == 0) {
                rc = put_token(out, &v->labels[li], e->n);
                goto out;
            }
        }
    }
    /* a new value: within the bounds, or refused (the caller fails the call closed) */
    if (v->n >= v->max_entries || len > v->max_bytes - v->bytes) {
        rc = DATA_ERR_BUDGET;
        goto out;
    }
    if (li < 0) {
        if (v->n_labels == v->cap_labels) {
            size_t cap = v->cap_labels ? v->cap_labels * 2 : 8;
            struct label *l = realloc(v->labels, cap * sizeof *l);
            if (!l) {
                rc = -ENOMEM;
                goto out;
            }
            v->labels = l;
            v->cap_labels = cap;
        }
        struct label *l = &v->labels[v->n_labels];
        memset(l, 0, sizeof *l);
        memcpy(l->name, name, nlen + 1);
        l->len = nlen;
        li = (long)v->n_labels++;
    }
    struct label *l = &v->labels[li];
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint32_t *ids = realloc(l->ids, cap * sizeof *ids);
        if (!ids) {
            rc = -ENOMEM;
            goto out;
        }
        l->ids = ids;
        l->cap = cap;
    }
    if (v->n == v->cap) {
        /* not realloc: the entries point at values, but wipe the old array all the same */
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct entry *e = calloc(cap, sizeof *e);
        if (!e) {
            rc = -ENOMEM;
            goto out;
        }
        if (v->n)
            memcpy(e, v->e, v->n * sizeof *e);
        if (v->e)
            sodium_memzero(v->e, v->cap * sizeof *v->e);
        free(v->e);
        v->e = e;
        v->cap = cap;
    }
    if ((v->n + 1) * 2 > v->table_cap && (rc = table_grow(v)) != 0)
        goto out;
    char *copy = malloc(len);
    if (!copy) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(copy, value, len);
    uint32_t n = (uint32_t)l->n + 1;
    char tok[DATA_VAULT_TOKEN_MAX + 1];
    size_t tlen = (size_t)snprintf(tok, sizeof tok, "[%s_%u]", l->name, n);
    if ((rc = data_buf_put(out, tok, tlen)) != 0) {
        free(copy);
        goto out;
    }
    v->e[v->n] = (struct entry){copy, len, h, (uint32_t)li, n};
    l->ids[l->n++] = (uint32_t)v->n;
    size_t j = (size_t)h & (v->table_cap - 1);
    while (v->table[j])
        j = (j + 1) & (v->table_cap - 1);
    v->table[j] = (uint32_t)(v->n + 1);
    v->n++;
    v->bytes += len;
    if (tlen > v->window)
        v->window = tlen;
out:
    pthread_mutex_unlock(&v->mu);
    return rc;
}

size_t data_vault_count(struct data_vault *v)
{
    pthread_mutex_lock(&v->mu);
    size_t n = v->n;
    pthread_mutex_unlock(&v->mu);
    return n;
}

size_t data_vault_bytes(struct data_vault *v)
{
    pthread_mutex_lock(&v->mu);
    size_t n = v->bytes;
    pthread_mutex_unlock(&v->mu);
    return n;
}

size_t data_vault_window(struct data_vault *v)
{
    pthread_mutex_lock(&v->mu);
    size_t n = v->window;
    pthread_mutex_unlock(&v->mu);
    return n;
}

/* ---- restore ---- */

enum { TOK_NONE, TOK_MORE, TOK_FULL };

/* p[0] is '['. TOK_FULL with *tlen, the label's length (*llen) and number (*num) when p starts
 * with a well-formed token; TOK_MORE when all n bytes could still begin one; else TOK_NONE. */
static int parse_token(const char *p, size_t n, size_t *tlen, size_t *llen, uint32_t *num)
{
    size_t i = 1, us = 0;
    for (; i < n && i < DATA_VAULT_TOKEN_MAX; i++) {
        char ch = p[i];
        if (ch == ']')
            break;
        if (ch == '_')
            us = i;
        else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            return TOK_NONE;
    }
    if (i >= n)
        return i < DATA_VAULT_TOKEN_MAX ? TOK_MORE : TOK_NONE;
    if (p[i] != ']' || us < 2 || us - 1 > DATA_LABEL_MAX)
        return TOK_NONE;
    size_t d = i - us - 1; /* digits of the number */
    if (d < 1 || d > 10 || p[us + 1] == '0')
        return TOK_NONE;
    uint64_t v = 0;
    for (size_t k = us + 1; k < i; k++) {
        if (p[k] < '0' || p[k] > '9')
            return TOK_NONE;
        v = v * 10 + (uint64_t)(p[k] - '0');
    }
    if (v > UINT32_MAX)
        return TOK_NONE;
    *tlen = i + 1;
    *llen = us - 1;
    *num = (uint32_t)v;
    return TOK_FULL;
}

/* Append the value of a token this vault minted; 1 when it did, 0 when the token is foreign,
 * -ENOMEM. The caller holds the lock. */
static int put_value(struct data_vault *v, const char *label, size_t llen, uint32_t num,
                     struct data_buf *out)
{
    long li = label_find(v, label, llen);
    if (li < 0 || num == 0 || num > v->labels[li].n)
        return 0;
    const struct entry *e = &v->e[v->labels[li].ids[num - 1]];
    return data_buf_put(out, e->value, e->len) == 0 ? 1 : -ENOMEM;
}

/* Restore text[0..len) into out, up to the first place a token may begin but is not complete
 * (when final is 0). *used: how many bytes were consumed. The count of tokens, or -ENOMEM. */
static long restore_some(struct data_vault *v, const char *text, size_t len, int final,
                         size_t *used, struct data_buf *out)
{
    long count = 0;
    size_t i = 0, copied = 0, hold = len;
    pthread_mutex_lock(&v->mu);
    size_t window = v->window;
    while (i < len) {
        const char *b = memchr(text + i, '[', len - i);
        if (!b)
            break;
        i = (size_t)(b - text);
        size_t tlen = 0, llen = 0;
        uint32_t num = 0;
        int t = parse_token(text + i, len - i, &tlen, &llen, &num);
        if (t == TOK_MORE && !final && len - i < window) {
            /* hold from here: the rest may still become a token this vault minted */
            hold = i;
            break;
        }
        if (t != TOK_FULL || tlen > window) {
            i++;
            continue;
        }
        size_t before = out->len;
        if (data_buf_put(out, text + copied, i - copied) != 0) {
            count = -ENOMEM;
            goto out;
        }
        int r = put_value(v, text + i + 1, llen, num, out);
        if (r < 0) {
            out->len = before;
            count = -ENOMEM;
            goto out;
        }
        if (r == 0) { /* foreign: left as it is */
            out->len = before;
            i += tlen;
            continue;
        }
        count++;
        i += tlen;
        copied = i;
    }
    {
        /* everything before the held tail (or all of it) is final */
        if (data_buf_put(out, text + copied, hold - copied) != 0) {
            count = -ENOMEM;
            goto out;
        }
        *used = hold;
    }
out:
    pthread_mutex_unlock(&v->mu);
    return count;
}

long data_vault_restore(struct data_vault *v, const char *text, size_t len, struct data_buf *out)
{
    size_t used = 0, before = out->len;
    long n = restore_some(v, text, len, 1, &used, out);
    if (n < 0) {
        sodium_memzero(out->p + before, out->len - before);
        out->len = before;
    }
    return n;
}

struct data_restore {
    struct data_vault *v;
    struct data_buf held;
    int dead;
};

int data_restore_new(struct data_vault *v, struct data_restore **out)
{
    struct data_restore *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->v = v;
    *out = r;
    return 0;
}

void data_restore_free(struct data_restore *r)
{
    if (!r)
        return;
    data_buf_free(&r->held);
    free(r);
}

static long restore_feed(struct data_restore *r, const char *buf, size_t len, int final,
                         struct data_buf *out)
{
    if (r->dead)
        return -ENOMEM;
    if (data_buf_put(&r->held, buf, len) != 0) {
        r->dead = 1;
        return -ENOMEM;
    }
    size_t used = 0, before = out->len;
    long n = restore_some(r->v, r->held.p ? r->held.p : "", r->held.len, final, &used, out);
    if (n < 0) {
        sodium_memzero(out->p + before, out->len - before);
        out->len = before;
        r->dead = 1;
        return n;
    }
    if (!used)
        return n;
    /* keep the unreleased tail at the front; wipe what moved out of it */
    memmove(r->held.p, r->held.p + used, r->held.len - used);
    sodium_memzero(r->held.p + (r->held.len - used), used);
    r->held.len -= used;
    return n;
}

long data_restore_feed(struct data_restore *r, const char *buf, size_t len, struct data_buf *out)
{
    return restore_feed(r, buf, len, 0, out);
}

long data_restore_end(struct data_restore *r, struct data_buf *out)
{
    return restore_feed(r, NULL, 0, 1, out);
}

size_t data_restore_pending(const struct data_restore *r)
{
    return r->held.len;
}
