/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scanner: one vectorscan database of literal anchors (built-in secrets, health terms,
 * custom words and deny values) and custom patterns, one C pass for the digit-shaped classes
 * and e-mail (data_num.c), confirmers in C (data_classes.c), then allow lists and the
 * resolution of overlaps. Block mode scans a text at once; a stream keeps vectorscan's stream
 * state, the confirmers' held candidates and the bytes that are not final yet.
 *
 * Where the time goes, and why it is split this way: docs/INTERNALS.md, "The data room".
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data_hs.h"
#include "policy/data/internal.h"

const char *data_strerror(int rc)
{
    switch (rc) {
    case DATA_ERR_PATTERN:
        return "a custom data class pattern that vectorscan cannot compile";
    case DATA_ERR_PATHOLOGICAL:
        return "a custom data class pattern too costly to run";
    case DATA_ERR_BUDGET:
        return "the data scan went over its match or memory budget; the text was not forwarded";
    case DATA_ERR_SCAN:
        return "the data scanner failed; the text was not forwarded";
    case DATA_ERR_EDM:
        return "an exact-data-match file that cannot be read";
    default:
        return "unknown data scanner error";
    }
}

struct cls_info {
    char *name;
    int builtin; /* B_* or -1 */
    int numeric; /* the allow list compares alphanumerics, upper-cased */
    char **allow;
    size_t n_allow;
    hs_database_t *som; /* custom pattern: where a match starts */
    unsigned width;     /* custom pattern: its longest match */
    const struct data_edm *edm;
};

struct data_scanner {
    const struct data_hs *hs;
    size_t n;
    struct cls_info *c;
    int bcls[B_COUNT];
    int any_num;
    hs_database_t *db_block, *db_stream;
    struct danchor *anc;
    size_t n_anc;
    size_t tail;   /* bytes a stream holds at its end: an anchor or pattern may be arriving */
    size_t window; /* the longest match */
    size_t max_matches, max_memory;
    pthread_mutex_t mu;
    hs_scratch_t **pool;
    size_t n_pool, cap_pool;
};

int data_builtin_cls(const struct data_scanner *s, int b)
{
    return s->bcls[b];
}
size_t data_scanner_window(const struct data_scanner *s)
{
    return s->window;
}
size_t data_scanner_n_classes(const struct data_scanner *s)
{
    return s->n;
}
const char *data_scanner_class_name(const struct data_scanner *s, size_t cls)
{
    return cls < s->n ? s->c[cls].name : NULL;
}

int dsink_add(struct dsink *k, uint32_t cls, uint32_t prio, size_t start, size_t end)
{
    if (k->err)
        return k->err;
    if (k->n >= k->limit)
        return k->err = DATA_ERR_BUDGET;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 64;
        struct dcand *nv = realloc(k->v, nc * sizeof(*nv));
        if (!nv)
            return k->err = -ENOMEM;
        k->v = nv;
        k->cap = nc;
    }
    k->v[k->n++] = (struct dcand){cls, prio, k->base + start, k->base + end};
    return 0;
}

/* ---- building ------------------------------------------------------------------------- */

struct pat {
    char **expr;
    unsigned *flags, *ids;
    size_t n, cap;
};

static int pat_add(struct pat *p, char *expr, unsigned flags)
{
    if (!expr)
        return -ENOMEM;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 128;
        char **e = realloc(p->expr, nc * sizeof(*e));
        if (e)
            p->expr = e;
        unsigned *f = realloc(p->flags, nc * sizeof(*f));
        if (f)
            p->flags = f;
        unsigned *i = realloc(p->ids, nc * sizeof(*i));
        if (i)
            p->ids = i;
        if (!e || !f || !i) {
            free(expr);
            return -ENOMEM;
        }
        p->cap = nc;
    }
    p->expr[p->n] = expr;
    p->flags[p->n] = flags;
    p->ids[p->n] = (unsigned)p->n;
    p->n++;
    return 0;
}

static char *lit_regex(const char *lit, size_t len)
{
    char *r = malloc(len * 4 + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i < len; i++)
        snprintf(r + i * 4, 5, "\\x%02x", (unsigned char)lit[i]);
    r[len * 4] = 0;
    return r;
}

static int anc_add(struct data_scanner *s, struct pat *p, const char *lit, unsigned caseless,
                   struct danchor a)
{
    size_t len = strlen(lit);
    if (len == 0)
        return 0;
    struct danchor *na = realloc(s->anc, (s->n_anc + 1) * sizeof(*na));
    if (!na)
        return -ENOMEM;
    s->anc = na;
    a.len = (uint32_t)len;
    s->anc[s->n_anc++] = a;
    if (len > s->tail)
        s->tail = len;
    return pat_add(p, lit_regex(lit, len), caseless ? HS_FLAG_CASELESS : 0);
}

static char *dupn(const char *v, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, v, n);
        r[n] = 0;
    }
    return r;
}

/* The allow-list form of a value: alphanumerics upper-cased for the numeric classes, the
 * bytes lower-cased for the others. */
static size_t normalize(const struct cls_info *c, const char *v, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (c->numeric) {
            if ((ch | 32) >= 'a' && (ch | 32) <= 'z')
                out[k++] = (char)(ch & ~32);
            else if (ch >= '0' && ch <= '9')
                out[k++] = (char)ch;
        } else {
            out[k++] = (char)((ch >= 'A' && ch <= 'Z') ? ch | 32 : ch);
        }
    }
    return k;
}

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

static int check_regex(struct data_scanner *s, struct cls_info *c, const char *re, char *err,
                       size_t errlen)
{
    const struct data_hs *hs = s->hs;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    unsigned flags = 0;
    for (const char *q = re; *q; q++)
        if ((unsigned char)*q >= 0x80)
            flags = HS_FLAG_UTF8;
    int rc = 0;
    if (hs->expression_info(re, flags, &info, &ce) != HS_SUCCESS) {
        snprintf(err, errlen, "data class \"%s\": vectorscan cannot compile its pattern: %s",
                 c->name, ce && ce->message ? ce->message : "rejected");
        rc = DATA_ERR_PATTERN;
        goto out;
    }
    if (info->min_width == 0) {
        snprintf(err, errlen,
                 "data class \"%s\": its pattern matches the empty string, so it would match "
                 "every text; make it match at least one character",
                 c->name);
        rc = DATA_ERR_PATHOLOGICAL;
        goto out;
    }
    if (info->max_width > DATA_REGEX_MAX) {
        snprintf(err, errlen,
                 "data class \"%s\": its pattern %s, so a stream would have to hold back "
                 "everything; bound every repetition (e.g. {1,64}) so that a match is at most "
                 "%d bytes",
                 c->name,
                 info->max_width == UINT_MAX ? "has no longest match (unbounded repetition)"
                                             : "can match more than the widest a stream holds",
                 DATA_REGEX_MAX);
        rc = DATA_ERR_PATHOLOGICAL;
        goto out;
    }
    c->width = info->max_width;
    if (ce)
        hs->free_compile_error(ce);
    ce = NULL;
    if (hs->compile(re, flags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, NULL, &c->som, &ce) !=
        HS_SUCCESS) {
        snprintf(err, errlen,
                 "data class \"%s\": its pattern is too costly to run (vectorscan: %s); "
                 "simplify it",
                 c->name, ce && ce->message ? ce->message : "rejected");
        rc = DATA_ERR_PATHOLOGICAL;
        goto out;
    }
    size_t sz = 0;
    if (hs->database_size(c->som, &sz) == HS_SUCCESS && sz > 8u * 1024 * 1024) {
        snprintf(err, errlen,
                 "data class \"%s\": its pattern compiles to %zu MiB of automata; simplify it",
                 c->name, sz >> 20);
        rc = DATA_ERR_PATHOLOGICAL;
    }
out:
    free(info);
    if (ce)
        hs->free_compile_error(ce);
    return rc;
}

static int builtin_id(const char *name)
{
    for (int b = 0; data_builtin_classes[b]; b++)
        if (strcmp(name, data_builtin_classes[b]) == 0)
            return b;
    return -1;
}

/* The longest match of a built-in class, for the window. */
static size_t builtin_width(int b)
{
    switch (b) {
    case B_PRIVKEY:
    case B_SSHKEY:
        return DATA_PEM_CAP;
    case B_JWT:
        return DATA_JWT_CAP;
    case B_DBURL:
        return DATA_URL_CAP;
    case B_GENERIC:
    case B_AWS_SECRET:
        return 24 + 40 + 60 + 2 + DATA_VALUE_CAP + 32;
    case B_GITHUB:
    case B_SLACK:
    case B_STRIPE:
        return 264;
    default:
        return 128;
    }
}

static int compile_db(struct data_scanner *s, struct pat *p, unsigned mode, hs_database_t **db,
                      char *err, size_t errlen)
{
    hs_compile_error_t *ce = NULL;
    if (s->hs->compile_multi((const char *const *)p->expr, p->flags, p->ids, (unsigned)p->n, mode,
                             NULL, db, &ce) != HS_SUCCESS) {
        int bad = ce ? ce->expression : -1;
        snprintf(err, errlen, "data classes: vectorscan cannot compile the database (%s%s%s)",
                 ce && ce->message ? ce->message : "rejected",
                 bad >= 0 && (size_t)bad < s->n_anc && s->anc[bad].cls < s->n ? ", class " : "",
                 bad >= 0 && (size_t)bad < s->n_anc && s->anc[bad].cls < s->n
                     ? s->c[s->anc[bad].cls].name
                     : "");
        if (ce)
            s->hs->free_compile_error(ce);
        return DATA_ERR_PATTERN;
    }
    return 0;
}

int data_scanner_new(const struct data_config *cfg, struct data_scanner **out, char *err,
                     size_t errlen)
{
    struct data_scanner *s = NULL;
    struct pat p = {0};
    int rc = -ENOMEM;
    const char *why = NULL;
    *out = NULL;
    if (errlen)
        err[0] = 0;
    const struct data_hs *hs = data_hs_load(&why);
    if (!hs) {
        snprintf(err, errlen, "%s", why);
        return -ELIBACC;
    }
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->hs = hs;
    pthread_mutex_init(&s->mu, NULL);
    s->max_matches = cfg->max_matches ? cfg->max_matches : 100000;
    s->max_memory = cfg->max_memory ? cfg->max_memory : 1024 * 1024;
    for (int b = 0; b < B_COUNT; b++)
        s->bcls[b] = -1;
    s->window = DATA_TAIL_CAP + 1;
    if (!(s->c = calloc(cfg->n_classes ? cfg->n_classes : 1, sizeof(*s->c))))
        goto out;
    s->n = cfg->n_classes;
    for (size_t i = 0; i < cfg->n_classes; i++) {
        const struct data_class_spec *sp = &cfg->classes[i];
        struct cls_info *c = &s->c[i];
        if (!sp->name || !sp->name[0]) {
            snprintf(err, errlen, "data class %zu has no name", i);
            rc = -EINVAL;
            goto out;
        }
        if (!(c->name = strdup(sp->name)))
            goto out;
        int given = (sp->pattern != NULL) + (sp->words != NULL) + (sp->edm != NULL);
        c->builtin = builtin_id(sp->name);
        if (c->builtin >= 0 && given) {
            snprintf(err, errlen,
                     "data class \"%s\" is built in; a custom class needs a name of its own",
                     sp->name);
            rc = -EINVAL;
            goto out;
        }
        if (c->builtin < 0 && given != 1) {
            snprintf(err, errlen,
                     "data class \"%s\" is not built in, so it needs exactly one of pattern, "
                     "words or edm",
                     sp->name);
            rc = -EINVAL;
            goto out;
        }
        if (c->builtin >= 0) {
            if (s->bcls[c->builtin] >= 0) {
                snprintf(err, errlen, "data class \"%s\" is named twice", sp->name);
                rc = -EINVAL;
                goto out;
            }
            s->bcls[c->builtin] = (int)i;
            int b = c->builtin;
            c->numeric =
                b == B_PHONE || b == B_CARD || b == B_SSN || b == B_IBAN || b == B_FINANCIAL;
            s->window = max_sz(s->window, builtin_width(b));
            if (b == B_SSHKEY)
                s->window = max_sz(s->window, DATA_PEM_CAP);
        }
        if (sp->n_allow) {
            if (!(c->allow = calloc(sp->n_allow, sizeof(char *))))
                goto out;
            for (size_t k = 0; k < sp->n_allow; k++) {
                char tmp[512];
                size_t l = normalize(c, sp->allow[k], strlen(sp->allow[k]), tmp, sizeof(tmp));
                if (!(c->allow[k] = dupn(tmp, l)))
                    goto out;
                c->n_allow++;
            }
        }
        for (size_t k = 0; k < sp->n_deny; k++) {
            struct danchor a = {A_WORD, B_COUNT, 1, (uint32_t)i, 0};
            if ((rc = anc_add(s, &p, sp->deny[k], 1, a)) != 0)
                goto out;
            s->window = max_sz(s->window, strlen(sp->deny[k]) + 1);
        }
        if (sp->pattern) {
            if ((rc = check_regex(s, c, sp->pattern, err, errlen)) != 0)
                goto out;
            struct danchor a = {A_REGEX, B_COUNT, 0, (uint32_t)i, 0};
            struct danchor *na = realloc(s->anc, (s->n_anc + 1) * sizeof(*na));
            if (!na)
                goto out;
            s->anc = na;
            s->anc[s->n_anc++] = a;
            unsigned fl = 0;
            for (const char *q = sp->pattern; *q; q++)
                if ((unsigned char)*q >= 0x80)
                    fl = HS_FLAG_UTF8;
            if ((rc = pat_add(&p, strdup(sp->pattern), fl)) != 0)
                goto out;
            s->tail = max_sz(s->tail, c->width);
            s->window = max_sz(s->window, c->width);
        }
        for (size_t k = 0; sp->words && k < sp->n_words; k++) {
            struct danchor a = {A_WORD, B_COUNT, 0, (uint32_t)i, 0};
            if ((rc = anc_add(s, &p, sp->words[k], 1, a)) != 0)
                goto out;
            s->window = max_sz(s->window, strlen(sp->words[k]) + 1);
        }
        c->edm = sp->edm;
        if (c->edm)
            s->window = max_sz(s->window, DATA_EDM_WINDOW);
    }
    for (size_t k = 0; k < data_n_builtin_lits; k++) {
        const struct dlit *l = &data_builtin_lits[k];
        int cls = s->bcls[l->builtin];
        if (l->kind == A_PEM && cls < 0)
            cls = s->bcls[B_SSHKEY];
        if (cls < 0)
            continue;
        struct danchor a = {l->kind, l->builtin, l->sub, (uint32_t)cls, 0};
        if ((rc = anc_add(s, &p, l->lit, l->caseless, a)) != 0)
            goto out;
    }
    if (s->bcls[B_HEALTH] >= 0) {
        for (size_t k = 0; data_health_terms[k]; k++) {
            struct danchor a = {A_WORD, B_HEALTH, 0, (uint32_t)s->bcls[B_HEALTH], 0};
            if ((rc = anc_add(s, &p, data_health_terms[k], 1, a)) != 0)
                goto out;
        }
    }
    for (int b = 0; b < B_COUNT; b++)
        if (s->bcls[b] >= 0 && (b <= B_IP || b == B_HEALTH || b == B_FINANCIAL))
            s->any_num = 1;
    if (s->any_num)
        s->window = max_sz(s->window, 512); /* a numeric token: 8 groups of up to 40 digits */
    unsigned kinds = (s->bcls[B_PHONE] >= 0 ? CTX_PHONE : 0) | (s->bcls[B_SSN] >= 0 ? CTX_SSN : 0) |
                     (s->bcls[B_FINANCIAL] >= 0 ? CTX_ROUTING | CTX_ACCOUNT | CTX_SORT : 0) |
                     (s->bcls[B_IP] >= 0 ? CTX_VERSION : 0) |
                     (s->bcls[B_HEALTH] >= 0 ? CTX_ICD : 0) |
                     (s->bcls[B_CARD] >= 0 ? CTX_NOTCARD : 0);
    for (size_t k = 0; data_ctx_words[k].w; k++) {
        if (!(data_ctx_words[k].kinds & kinds))
            continue;
        struct danchor a = {A_CTX, B_COUNT, (uint16_t)data_ctx_words[k].kinds, 0, 0};
        if ((rc = anc_add(s, &p, data_ctx_words[k].w, 1, a)) != 0)
            goto out;
    }
    if (p.n) {
        if ((rc = compile_db(s, &p, HS_MODE_BLOCK, &s->db_block, err, errlen)) != 0)
            goto out;
        if ((rc = compile_db(s, &p, HS_MODE_STREAM, &s->db_stream, err, errlen)) != 0)
            goto out;
    }
    s->window = max_sz(s->window, s->tail);
    if (s->any_num || s->bcls[B_EMAIL] >= 0)
        s->window += DATA_NUM_LAG; /* a match is final once the C pass is past it */
    *out = s;
    s = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < p.n; i++)
        free(p.expr[i]);
    free(p.expr);
    free(p.flags);
    free(p.ids);
    if (rc == -ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "data classes: out of memory");
    data_scanner_free(s);
    return rc;
}

void data_scanner_free(struct data_scanner *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->c[i].name);
        for (size_t k = 0; k < s->c[i].n_allow; k++)
            free(s->c[i].allow[k]);
        free(s->c[i].allow);
        if (s->c[i].som)
            s->hs->free_database(s->c[i].som);
    }
    free(s->c);
    free(s->anc);
    for (size_t i = 0; i < s->n_pool; i++)
        s->hs->free_scratch(s->pool[i]);
    free(s->pool);
    if (s->db_block)
        s->hs->free_database(s->db_block);
    if (s->db_stream)
        s->hs->free_database(s->db_stream);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- scratch space: one per scan in progress, kept for the next ------------------------- */

static hs_scratch_t *scratch_get(struct data_scanner *s)
{
    hs_scratch_t *x = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_pool)
        x = s->pool[--s->n_pool];
    pthread_mutex_unlock(&s->mu);
    if (x)
        return x;
    if (s->db_block && s->hs->alloc_scratch(s->db_block, &x) != HS_SUCCESS)
        return NULL;
    if (s->db_stream && s->hs->alloc_scratch(s->db_stream, &x) != HS_SUCCESS)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->c[i].som && s->hs->alloc_scratch(s->c[i].som, &x) != HS_SUCCESS)
            return NULL;
    return x;
}

static void scratch_put(struct data_scanner *s, hs_scratch_t *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->n_pool == s->cap_pool) {
        size_t nc = s->cap_pool ? s->cap_pool * 2 : 4;
        hs_scratch_t **np = realloc(s->pool, nc * sizeof(*np));
        if (!np) {
            pthread_mutex_unlock(&s->mu);
            s->hs->free_scratch(x);
            return;
        }
        s->pool = np;
        s->cap_pool = nc;
    }
    s->pool[s->n_pool++] = x;
    pthread_mutex_unlock(&s->mu);
}

/* ---- anchors -------------------------------------------------------------------------- */

struct hit {
    uint32_t id;
    uint64_t end; /* offset in the text or stream */
};
struct hits {
    struct hit *v;
    size_t n, cap;
    size_t limit;
    int err;
};

struct som_ctx {
    unsigned long long end, best;
};

static int on_som(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    (void)id;
    (void)flags;
    struct som_ctx *c = ctx;
    if (to == c->end && from < c->best)
        c->best = from;
    return 0;
}

/* The earliest offset a hit's match may start at. */
static uint64_t hit_start(const struct data_scanner *s, const struct hit *h)
{
    const struct danchor *a = &s->anc[h->id];
    size_t w = a->kind == A_REGEX ? s->c[a->cls].width : a->len;
    return h->end > w ? h->end - w : 0;
}

static int allowed(const struct cls_info *c, const unsigned char *v, size_t n)
{
    if (!c->n_allow)
        return 0;
    char tmp[512];
    size_t l = normalize(c, (const char *)v, n, tmp, sizeof(tmp));
    for (size_t i = 0; i < c->n_allow; i++)
        if (strlen(c->allow[i]) == l && memcmp(c->allow[i], tmp, l) == 0)
            return 1;
    return 0;
}

/* Confirm one hit on view v (index 0 = offset base). 1: decided (a candidate may have been
 * added), 0: needs more text, < 0: error. */
static int confirm_hit(struct data_scanner *s, const struct hit *h, struct dview *v, uint64_t base,
                       hs_scratch_t *scr, struct dsink *k)
{
    const struct danchor *a = &s->anc[h->id];
    size_t ae = (size_t)(h->end - base);
    if (a->kind == A_REGEX) {
        const struct cls_info *c = &s->c[a->cls];
        size_t from = ae > c->width ? ae - c->width : 0;
        if (from < v->lo)
            from = v->lo;
        struct som_ctx sc = {ae - from, ULLONG_MAX};
        if (s->hs->scan(c->som, (const char *)v->p + from, (unsigned)(ae - from), 0, scr, on_som,
                        &sc) != HS_SUCCESS)
            return DATA_ERR_SCAN;
        if (sc.best == ULLONG_MAX)
            return 1;
        size_t ms = from + (size_t)sc.best;
        if (allowed(c, v->p + ms, ae - ms))
            return 1;
        return dsink_add(k, a->cls, 0, ms, ae) ? k->err : 1;
    }
    size_t as = ae - a->len, ms = as;
    int b = a->builtin;
    long r = data_confirm(a, v, as, ae, &ms, &b);
    if (r == D_MORE)
        return 0;
    if (r <= 0)
        return 1;
    uint32_t cls = a->cls;
    if (b < B_COUNT && b != a->builtin) {
        if (s->bcls[b] < 0)
            return 1;
        cls = (uint32_t)s->bcls[b];
    }
    int deny = a->kind == A_WORD && a->sub == 1;
    if (!deny && allowed(&s->c[cls], v->p + ms, (size_t)r - ms))
        return 1;
    uint32_t prio = deny ? 0 : b < B_COUNT ? (uint32_t)b + 1 : 0;
    return dsink_add(k, cls, prio, ms, (size_t)r) ? k->err : 1;
}

/* Candidates of the C pass go through the allow lists here. */
static void filter_allow(const struct data_scanner *s, struct dsink *k, size_t from,
                         const unsigned char *p, uint64_t base)
{
    size_t o = from;
    for (size_t i = from; i < k->n; i++) {
        const struct dcand *c = &k->v[i];
        if (allowed(&s->c[c->cls], p + (c->start - base), (size_t)(c->end - c->start)))
            continue;
        k->v[o++] = *c;
    }
    k->n = o;
}

/* ---- overlaps ------------------------------------------------------------------------- */

static int by_start(const void *x, const void *y)
{
    const struct dcand *a = x, *b = y;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->end != b->end)
        return a->end > b->end ? -1 : 1;
    return a->prio < b->prio ? -1 : a->prio > b->prio;
}

static int by_rank(const void *x, const void *y)
{
    const struct dcand *a = x, *b = y;
    uint64_t la = a->end - a->start, lb = b->end - b->start;
    if (la != lb)
        return la > lb ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->prio < b->prio ? -1 : a->prio > b->prio;
}

/* Resolve one cluster v[0..n) (sorted by start): the longer, then the earlier, then the
 * class of higher priority wins; the winners are appended to out in order of start. */
static int resolve(struct dcand *v, size_t n, struct data_match **out, size_t *no, size_t *cap)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), by_rank);
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = 1;
        for (size_t j = 0; j < keep && ok; j++)
            ok = v[i].end <= v[j].start || v[i].start >= v[j].end;
        if (ok)
            v[keep++] = v[i];
    }
    if (keep > 1)
        qsort(v, keep, sizeof(*v), by_start);
    if (*no + keep > *cap) {
        size_t nc = max_sz(*cap * 2, *no + keep + 16);
        struct data_match *nm = realloc(*out, nc * sizeof(*nm));
        if (!nm)
            return -ENOMEM;
        *out = nm;
        *cap = nc;
    }
    for (size_t i = 0; i < keep; i++)
        (*out)[(*no)++] = (struct data_match){v[i].cls, v[i].start, v[i].end};
    return 0;
}

/* Resolve the clusters of k that end at or before `upto`; they are removed from k. Returns
 * the start of the first cluster left (or upto). */
static int resolve_upto(struct dsink *k, uint64_t upto, struct data_match **out, size_t *no,
                        size_t *cap, uint64_t *left)
{
    *left = upto;
    if (k->n > 1)
        qsort(k->v, k->n, sizeof(*k->v), by_start);
    size_t i = 0;
    while (i < k->n) {
        size_t j = i + 1;
        uint64_t end = k->v[i].end;
        while (j < k->n && k->v[j].start < end) {
            if (k->v[j].end > end)
                end = k->v[j].end;
            j++;
        }
        if (end > upto) {
            *left = k->v[i].start < upto ? k->v[i].start : upto;
            break;
        }
        int rc = resolve(k->v + i, j - i, out, no, cap);
        if (rc)
            return rc;
        i = j;
    }
    if (i && i < k->n)
        memmove(k->v, k->v + i, (k->n - i) * sizeof(*k->v));
    k->n -= i;
    return 0;
}

/* ---- one pass ------------------------------------------------------------------------- */

struct ctxs {
    struct dctx *v;
    size_t n, cap;
};

struct hctx {
    struct data_scanner *s;
    struct dview *v;
    uint64_t base;
    hs_scratch_t *scr;
    struct dsink *k;
    struct hits *pend; /* hits that wait for more text, and custom patterns */
    struct ctxs *ctx;
    int err;
};

static int push_ctx(struct ctxs *c, uint64_t start, uint64_t end, unsigned kinds)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        struct dctx *nv = realloc(c->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        c->v = nv;
        c->cap = nc;
    }
    size_t i = c->n++;
    while (i > 0 && c->v[i - 1].start > start) {
        c->v[i] = c->v[i - 1];
        i--;
    }
    c->v[i] = (struct dctx){start, end, kinds};
    return 0;
}

static int push_hit(struct hits *h, uint32_t id, uint64_t end)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 32;
        struct hit *nv = realloc(h->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        h->v = nv;
        h->cap = nc;
    }
    h->v[h->n++] = (struct hit){id, end};
    return 0;
}

static int on_anchor(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                     void *ctx)
{
    (void)from;
    (void)flags;
    struct hctx *c = ctx;
    struct hit h = {id, to};
    const struct danchor *a = &c->s->anc[id];
    if (a->kind == A_CTX) {
        uint64_t st = to - a->len;
        int before = st > c->base ? c->v->p[st - c->base - 1] : 0;
        if ((unsigned)((before | 32) - 'a') < 26)
            return 0; /* inside a word */
        if ((c->err = push_ctx(c->ctx, st, to, a->sub)) != 0)
            return 1;
        return 0;
    }
    if (a->kind == A_REGEX) {
        if ((c->err = push_hit(c->pend, id, to)) != 0)
            return 1;
        return 0;
    }
    if (to < c->base + c->s->anc[id].len) {
        c->err = DATA_ERR_SCAN; /* an anchor before the bytes kept: never happens */
        return 1;
    }
    int r = confirm_hit(c->s, &h, c->v, c->base, c->scr, c->k);
    if (r < 0) {
        c->err = r;
        return 1;
    }
    if (r == 0 && (c->err = push_hit(c->pend, id, to)) != 0)
        return 1;
    return 0;
}

/* Confirm the waiting hits again; those that still wait stay. */
static int retry_pending(struct hctx *c)
{
    size_t o = 0;
    for (size_t i = 0; i < c->pend->n; i++) {
        int r = confirm_hit(c->s, &c->pend->v[i], c->v, c->base, c->scr, c->k);
        if (r < 0)
            return r;
        if (r == 0)
            c->pend->v[o++] = c->pend->v[i];
    }
    c->pend->n = o;
    return 0;
}

/* ---- exact data match (data_edmscan.c) ---------------------------------------------- */

/* The exact-data-match classes over v from from_of[cls] (NULL: a block scan, everything);
 * in a stream the next pass starts where data_edm_scan() says, and the stream holds there. */
static int edm_pass(struct data_scanner *s, const struct dview *v, struct dsink *k,
                    uint64_t *from_of, uint64_t base, uint64_t *hold)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->c[i].edm)
            continue;
        size_t from = from_of ? (size_t)(from_of[i] - base) : 0, next = 0, k0 = k->n;
        int rc = data_edm_scan(s->c[i].edm, (uint32_t)i, v, from, k, &next);
        if (rc)
            return rc;
        filter_allow(s, k, k0, v->p, base);
        if (from_of) {
            from_of[i] = base + next;
            if (from_of[i] < *hold)
                *hold = from_of[i];
        }
    }
    return 0;
}

long data_scan(const struct data_scanner *cs, const char *text, size_t len, struct data_match **out)
{
    struct data_scanner *s = (struct data_scanner *)cs;
    struct dview v = {(const unsigned char *)text, 0, len, 1, 0, 0, NULL, 0};
    struct dsink k = {.limit = s->max_matches};
    struct hits pend = {0};
    struct ctxs ctx = {0};
    struct data_match *m = NULL;
    size_t nm = 0, cap = 0;
    hs_scratch_t *scr = NULL;
    long rc = 0;
    *out = NULL;
    if (len > UINT_MAX)
        return DATA_ERR_BUDGET;
    if (!text && len)
        return -EINVAL;
    if (s->db_block) {
        if (!(scr = scratch_get(s)))
            return -ENOMEM;
        struct hctx c = {s, &v, 0, scr, &k, &pend, &ctx, 0};
        hs_error_t hr =
            s->hs->scan(s->db_block, text ? text : "", (unsigned)len, 0, scr, on_anchor, &c);
        if (c.err) {
            rc = c.err;
            goto out;
        }
        if (hr != HS_SUCCESS) {
            rc = DATA_ERR_SCAN;
            goto out;
        }
        if ((rc = retry_pending(&c)) != 0)
            goto out;
    }
    v.ctx = ctx.v;
    v.n_ctx = ctx.n;
    if (s->any_num || s->bcls[B_EMAIL] >= 0) {
        size_t from = k.n, hold;
        struct dnum_state ns = {0};
        if ((rc = data_num_scan(s, &v, &ns, &k, &hold)) != 0)
            goto out;
        filter_allow(s, &k, from, v.p, 0);
    }
    uint64_t unused = 0;
    if ((rc = edm_pass(s, &v, &k, NULL, 0, &unused)) != 0)
        goto out;
    uint64_t left;
    if ((rc = resolve_upto(&k, UINT64_MAX, &m, &nm, &cap, &left)) != 0)
        goto out;
    *out = m;
    m = NULL;
    rc = (long)nm;
out:
    scratch_put(s, scr);
    free(m);
    free(k.v);
    free(pend.v);
    free(ctx.v);
    return rc;
}

/* ---- streams -------------------------------------------------------------------------- */

struct data_stream {
    struct data_scanner *s;
    hs_stream_t *hss;
    hs_scratch_t *scr;
    unsigned char *buf;
    size_t cap;
    uint64_t bbase; /* offset of buf[0] */
    uint64_t end;   /* bytes fed */
    uint64_t rel;   /* bytes released */
    uint64_t ready; /* bytes final */
    /* where the C pass resumes (the trigger it paused at), and the state it resumes in */
    uint64_t num_from, num_v6;
    int num_in_word;
    struct hits pend;
    struct ctxs ctx;
    uint64_t *edm_from; /* per class: where its next exact-data-match pass starts */
    struct dsink k;
    struct data_match *fin;
    size_t nfin, capfin, fin0, total;
    int dead, ended;
};

int data_stream_new(const struct data_scanner *cs, struct data_stream **out)
{
    struct data_scanner *s = (struct data_scanner *)cs;
    struct data_stream *st = calloc(1, sizeof(*st));
    *out = NULL;
    if (!st)
        return -ENOMEM;
    st->s = s;
    st->k.limit = s->max_matches + 1;
    if (!(st->edm_from = calloc(s->n ? s->n : 1, sizeof(uint64_t)))) {
        free(st);
        return -ENOMEM;
    }
    if (s->db_stream) {
        if (!(st->scr = scratch_get(s)) ||
            s->hs->open_stream(s->db_stream, 0, &st->hss) != HS_SUCCESS) {
            data_stream_free(st);
            return -ENOMEM;
        }
    }
    *out = st;
    return 0;
}

void data_stream_free(struct data_stream *st)
{
    if (!st)
        return;
    if (st->hss)
        st->s->hs->close_stream(st->hss, NULL, NULL, NULL);
    scratch_put(st->s, st->scr);
    free(st->buf);
    free(st->pend.v);
    free(st->ctx.v);
    free(st->edm_from);
    free(st->k.v);
    free(st->fin);
    free(st);
}

static int advance(struct data_stream *st, size_t new_at, size_t new_len, int eof)
{
    struct data_scanner *s = st->s;
    struct dview v = {st->buf, 0, (size_t)(st->end - st->bbase), eof, 0, st->bbase, NULL, 0};
    struct hctx c = {s, &v, st->bbase, st->scr, &st->k, &st->pend, &st->ctx, 0};
    int rc;
    /* context words older than the look-back of any candidate still to come */
    uint64_t old = st->rel > DATA_KEEP ? st->rel - DATA_KEEP : 0;
    size_t drop = 0;
    while (drop < st->ctx.n && st->ctx.v[drop].start < old)
        drop++;
    if (drop) {
        memmove(st->ctx.v, st->ctx.v + drop, (st->ctx.n - drop) * sizeof(*st->ctx.v));
        st->ctx.n -= drop;
    }
    st->k.base = st->bbase;
    if (st->hss && new_len) {
        hs_error_t hr = s->hs->scan_stream(st->hss, (const char *)st->buf + new_at,
                                           (unsigned)new_len, 0, st->scr, on_anchor, &c);
        if (c.err)
            return c.err;
        if (hr != HS_SUCCESS)
            return DATA_ERR_SCAN;
    }
    if (eof && st->hss) {
        hs_error_t hr = s->hs->close_stream(st->hss, st->scr, on_anchor, &c);
        st->hss = NULL;
        if (c.err)
            return c.err;
        if (hr != HS_SUCCESS)
            return DATA_ERR_SCAN;
    }
    if ((rc = retry_pending(&c)) != 0)
        return rc;
    uint64_t hold = st->end;
    v.ctx = st->ctx.v;
    v.n_ctx = st->ctx.n;
    if (s->any_num || s->bcls[B_EMAIL] >= 0) {
        /* the pass resumes exactly where the last one paused, in the same state: it reads
         * the triggers a block scan reads, in its order, and never one twice */
        size_t from = st->k.n, h;
        struct dnum_state ns = {(size_t)(st->num_from - st->bbase),
                                st->num_v6 > st->bbase ? (size_t)(st->num_v6 - st->bbase) : 0,
                                st->num_in_word};
        if ((rc = data_num_scan(s, &v, &ns, &st->k, &h)) != 0)
            return rc;
        filter_allow(s, &st->k, from, v.p, st->bbase);
        st->num_from = st->bbase + ns.next;
        st->num_v6 = st->bbase + ns.v6_skip;
        st->num_in_word = ns.in_word;
        hold = st->bbase + h;
    }
    if ((rc = edm_pass(s, &v, &st->k, st->edm_from, st->bbase, &hold)) != 0)
        return rc;
    if (!eof) {
        for (size_t i = 0; i < st->pend.n; i++) {
            uint64_t hs0 = hit_start(s, &st->pend.v[i]);
            if (hs0 < hold)
                hold = hs0;
        }
        uint64_t t = s->tail > 1 ? s->tail - 1 : 0;
        if (st->end - st->rel > t && st->end - t < hold)
            hold = st->end - t;
        else if (st->end - st->rel <= t)
            hold = st->rel;
    }
    if (hold < st->rel)
        hold = st->rel;
    for (size_t i = 0; i < st->k.n; i++)
        if (st->k.v[i].start < st->rel)
            return DATA_ERR_SCAN; /* a match in released text: never happens; fail closed */
    uint64_t left;
    if ((rc = resolve_upto(&st->k, hold, &st->fin, &st->nfin, &st->capfin, &left)) != 0)
        return rc;
    if (left > st->ready)
        st->ready = left;
    if (st->nfin - st->fin0 + st->total > s->max_matches)
        return DATA_ERR_BUDGET;
    if (st->end - st->rel > s->max_memory)
        return DATA_ERR_BUDGET;
    return 0;
}

int data_stream_feed(struct data_stream *st, const char *buf, size_t len)
{
    if (st->dead)
        return st->dead;
    if (st->ended)
        return -EINVAL;
    if (len == 0)
        return 0;
    if (len > UINT_MAX || st->end - st->rel + len > st->s->max_memory + (size_t)DATA_KEEP) {
        if (st->end - st->rel + len > st->s->max_memory)
            return st->dead = DATA_ERR_BUDGET;
    }
    /* keep DATA_KEEP released bytes for look-back; move the rest out */
    uint64_t keep = st->rel > DATA_KEEP ? st->rel - DATA_KEEP : 0;
    size_t drop = (size_t)(keep - st->bbase);
    size_t have = (size_t)(st->end - st->bbase);
    if (drop > 4096 && drop > have / 2) {
        memmove(st->buf, st->buf + drop, have - drop);
        st->bbase += drop;
        have -= drop;
    }
    if (have + len > st->cap) {
        size_t nc = max_sz(st->cap * 2, have + len + 1024);
        unsigned char *nb = realloc(st->buf, nc);
        if (!nb)
            return st->dead = -ENOMEM;
        st->buf = nb;
        st->cap = nc;
    }
    memcpy(st->buf + have, buf, len);
    st->end += len;
    int rc = advance(st, have, len, 0);
    if (rc)
        st->dead = rc;
    return rc;
}

int data_stream_end(struct data_stream *st)
{
    if (st->dead)
        return st->dead;
    if (st->ended)
        return 0;
    st->ended = 1;
    int rc = advance(st, (size_t)(st->end - st->bbase), 0, 1);
    if (rc)
        return st->dead = rc;
    st->ready = st->end;
    return 0;
}

const char *data_stream_pending(const struct data_stream *st, uint64_t *base, size_t *len)
{
    *base = st->rel;
    *len = st->dead ? 0 : (size_t)(st->end - st->rel);
    return st->buf ? (const char *)st->buf + (st->rel - st->bbase) : "";
}

size_t data_stream_ready(const struct data_stream *st)
{
    return st->dead ? 0 : (size_t)(st->ready - st->rel);
}

const struct data_match *data_stream_matches(const struct data_stream *st, size_t *n)
{
    *n = st->dead ? 0 : st->nfin - st->fin0;
    return st->fin ? st->fin + st->fin0 : NULL;
}

void data_stream_release(struct data_stream *st, size_t n)
{
    if (n > st->ready - st->rel)
        n = (size_t)(st->ready - st->rel);
    st->rel += n;
    while (st->fin0 < st->nfin && st->fin[st->fin0].start < st->rel) {
        st->fin0++;
        st->total++;
    }
    if (st->fin0 == st->nfin) {
        st->nfin = st->fin0 = 0;
    } else if (st->fin0 > 64 && st->fin0 > st->nfin / 2) {
        memmove(st->fin, st->fin + st->fin0, (st->nfin - st->fin0) * sizeof(*st->fin));
        st->nfin -= st->fin0;
        st->fin0 = 0;
    }
}
