/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The labelled data-class corpus (tests/data/classify/corpus.jsonl, see its README.md) for
 * the Criterion suites that score and stream it: loading, the scanners its records ask for
 * (every built-in class, with the record's allow and deny lists), and a stream driver that
 * checks the holdback contract of data.h at every step. Header-only: each suite is one
 * translation unit.
 */
#ifndef CORDON_TESTS_DATA_CORPUS_H
#define CORDON_TESTS_DATA_CORPUS_H

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data.h"
#include "support.h"

#define CORPUS_PATH CORDON_TEST_DATA "/classify/corpus.jsonl"

struct corpus_value {
    const char *cls;
    size_t start, end;
};

struct corpus_rec {
    const char *id, *note;
    const char *text;
    size_t len;
    struct corpus_value *expect, *ignore;
    size_t n_expect, n_ignore;
    cJSON *allow, *deny; /* objects class -> [values], or NULL */
    cJSON *json;         /* owns the strings above */
};

struct corpus {
    struct corpus_rec *r;
    size_t n;
};

/* The values of a record's "expect" or "ignore" array, located in the text: expect in order
 * of appearance, ignore anywhere. */
static inline struct corpus_value *corpus_values(const struct corpus_rec *rec, cJSON *arr,
                                                 int ordered, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    struct corpus_value *v = calloc(*n ? *n : 1, sizeof *v);
    cr_assert_not_null(v);
    size_t from = 0, i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        cJSON *c = cJSON_GetObjectItem(e, "class"), *val = cJSON_GetObjectItem(e, "value");
        cr_assert(cJSON_IsString(c) && cJSON_IsString(val), "%s: a value lacks class or value",
                  rec->id);
        const char *at = strstr(rec->text + (ordered ? from : 0), val->valuestring);
        cr_assert_not_null(at, "%s: value '%s' is not in the text", rec->id, val->valuestring);
        v[i].cls = c->valuestring;
        v[i].start = (size_t)(at - rec->text);
        v[i].end = v[i].start + strlen(val->valuestring);
        from = v[i].end;
        i++;
    }
    return v;
}

static inline struct corpus corpus_load(void)
{
    size_t len;
    char *all = read_file(CORPUS_PATH, &len);
    struct corpus c = {0};
    size_t cap = 0;
    for (char *line = all, *nl; line < all + len; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            nl = all + len;
        *nl = '\0';
        if (!*line)
            continue;
        if (c.n == cap) {
            cap = cap ? cap * 2 : 1024;
            c.r = realloc(c.r, cap * sizeof *c.r);
            cr_assert_not_null(c.r);
        }
        struct corpus_rec *r = &c.r[c.n++];
        memset(r, 0, sizeof *r);
        r->json = cJSON_Parse(line);
        cr_assert_not_null(r->json, "corpus line %zu does not parse as JSON", c.n);
        cJSON *id = cJSON_GetObjectItem(r->json, "id"), *t = cJSON_GetObjectItem(r->json, "text");
        cr_assert(cJSON_IsString(id) && cJSON_IsString(t), "corpus line %zu: no id or text", c.n);
        r->id = id->valuestring;
        r->text = t->valuestring;
        r->len = strlen(r->text);
        cJSON *note = cJSON_GetObjectItem(r->json, "note");
        r->note = cJSON_IsString(note) ? note->valuestring : "";
        r->expect = corpus_values(r, cJSON_GetObjectItem(r->json, "expect"), 1, &r->n_expect);
        cJSON *ign = cJSON_GetObjectItem(r->json, "ignore");
        r->ignore = ign ? corpus_values(r, ign, 0, &r->n_ignore) : calloc(1, sizeof *r->ignore);
        r->allow = cJSON_GetObjectItem(r->json, "allow");
        r->deny = cJSON_GetObjectItem(r->json, "deny");
    }
    free(all);
    cr_assert_gt(c.n, 0, "the corpus %s is empty", CORPUS_PATH);
    return c;
}

static inline void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->r[i].expect);
        free(c->r[i].ignore);
        cJSON_Delete(c->r[i].json);
    }
    free(c->r);
    c->r = NULL;
    c->n = 0;
}

static inline size_t corpus_n_builtin(void)
{
    size_t n = 0;
    while (data_builtin_classes[n])
        n++;
    return n;
}

/* The index of a built-in class by name, or -1. */
static inline long corpus_builtin(const char *name)
{
    for (size_t i = 0; data_builtin_classes[i]; i++)
        if (!strcmp(data_builtin_classes[i], name))
            return (long)i;
    return -1;
}

/* A list of strings out of a JSON array (the pointers borrow from the JSON). */
static inline const char **corpus_list(cJSON *arr, size_t *n)
{
    *n = 0;
    if (!cJSON_IsArray(arr))
        return NULL;
    const char **v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof *v);
    cr_assert_not_null(v);
    cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        cr_assert(cJSON_IsString(e));
        v[(*n)++] = e->valuestring;
    }
    return v;
}

/* A scanner of every built-in class, with per-class allow and deny lists from the JSON
 * objects (NULL: none). The class index of a match is its index in data_builtin_classes. */
static inline struct data_scanner *corpus_scanner(cJSON *allow, cJSON *deny)
{
    size_t n = corpus_n_builtin();
    struct data_class_spec *spec = calloc(n, sizeof *spec);
    cr_assert_not_null(spec);
    for (size_t i = 0; i < n; i++) {
        spec[i].name = data_builtin_classes[i];
        spec[i].allow = corpus_list(cJSON_GetObjectItem(allow, spec[i].name), &spec[i].n_allow);
        spec[i].deny = corpus_list(cJSON_GetObjectItem(deny, spec[i].name), &spec[i].n_deny);
    }
    cJSON *e;
    cJSON_ArrayForEach(e, allow)
        cr_assert_geq(corpus_builtin(e->string), 0, "allow list of unknown class %s", e->string);
    cJSON_ArrayForEach(e, deny)
        cr_assert_geq(corpus_builtin(e->string), 0, "deny list of unknown class %s", e->string);
    struct data_config cfg = {.classes = spec, .n_classes = n};
    struct data_scanner *s = NULL;
    char err[512] = "";
    int rc = data_scanner_new(&cfg, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "data_scanner_new of every built-in class: %s (%s)", data_strerror(rc),
                 err);
    for (size_t i = 0; i < n; i++) {
        free((void *)spec[i].allow);
        free((void *)spec[i].deny);
    }
    free(spec);
    return s;
}

static inline int corpus_overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 < b1 && b0 < a1;
}

/* Print a value for a report: printable ASCII and UTF-8 as is, the rest escaped. */
static inline void corpus_print_value(FILE *f, const char *p, size_t n)
{
    for (size_t i = 0; i < n && i < 160; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    if (n > 160)
        fputs("...", f);
}

/*
 * Stream text through s in the pieces cuts[0..n_cuts) mark (strictly increasing offsets
 * inside (0, len)), taking the final bytes after every feed as a caller does. Checks data.h's
 * contract at every step: the pending text is exactly the input not yet released, matches lie
 * inside the final bytes, and no pending byte is held once more than data_scanner_window()
 * bytes came after it. Returns the feed's or end's error (0 when none) and the matches in
 * *out (caller frees).
 */
static inline int corpus_stream(const struct data_scanner *s, const char *text, size_t len,
                                const size_t *cuts, size_t n_cuts, struct data_match **out,
                                size_t *n_out, const char *what)
{
    struct data_stream *st = NULL;
    cr_assert_eq(data_stream_new(s, &st), 0, "%s: data_stream_new", what);
    size_t window = data_scanner_window(s), cap = 16, n = 0, fed = 0;
    struct data_match *all = malloc(cap * sizeof *all);
    cr_assert_not_null(all);
    int rc = 0;
    for (size_t k = 0; k <= n_cuts + 1 && !rc; k++) {
        if (k <= n_cuts) {
            size_t to = k < n_cuts ? cuts[k] : len;
            rc = data_stream_feed(st, text + fed, to - fed);
            fed = to;
        } else {
            rc = data_stream_end(st);
        }
        if (rc)
            break;
        uint64_t base;
        size_t plen, nm;
        const char *p = data_stream_pending(st, &base, &plen);
        size_t ready = data_stream_ready(st);
        cr_assert_eq(base + plen, fed, "%s: pending ends at %llu, %zu bytes were fed", what,
                     (unsigned long long)(base + plen), fed);
        cr_assert(plen == 0 || !memcmp(p, text + base, plen),
                  "%s: the pending text is not the input's", what);
        cr_assert_leq(ready, plen, "%s: %zu ready of %zu pending", what, ready, plen);
        if (k > n_cuts)
            cr_assert_eq(ready, plen, "%s: after data_stream_end %zu of %zu pending are final",
                         what, ready, plen);
        else
            cr_assert_leq(plen - ready, window,
                          "%s: %zu pending bytes held after feed %zu, window %zu", what,
                          plen - ready, k, window);
        const struct data_match *m = data_stream_matches(st, &nm);
        for (size_t i = 0; i < nm; i++) {
            cr_assert(m[i].start >= base && m[i].end <= base + ready && m[i].start < m[i].end,
                      "%s: match [%llu,%llu) outside the final bytes [%llu,%llu)", what,
                      (unsigned long long)m[i].start, (unsigned long long)m[i].end,
                      (unsigned long long)base, (unsigned long long)(base + ready));
            if (n == cap) {
                cap *= 2;
                all = realloc(all, cap * sizeof *all);
                cr_assert_not_null(all);
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

#endif
