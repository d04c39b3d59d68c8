/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deep policy checks through vectorscan and the tz database (see deep.h for why they are kept
 * out of the core).
 */
#include "policy/deep.h"
#include "base/tz.h"
#include "policy/data/data.h"
#include "policy/data/data_edm.h"
#include "policy/data/data_hs.h"
#include "base/glob.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* vectorscan through the tree's one loader (policy/data/data_hs.h says why it is dlopen'ed). */
static const struct data_hs *hs;
static const char *hs_error;

static int hs_load(void)
{
    const struct data_hs *t = data_hs_load(&hs_error);
    if (!t)
        return -ELIBACC;
    hs = t;
    return 0;
}

/*
 * Compile one expression the way the API engine will; NULL on success or the reason. A data
 * class must not match the empty string (it would flag every text); a constraint may, since
 * it is matched against the whole argument and an empty argument is a value like any other
 * (constraints go through deep_regex_compile, which calls this first).
 */
static const char *check_regex(const char *re, int need_width, char *why, size_t len)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    hs_expr_info_t *info = NULL;
    const char *res = NULL;
    unsigned flags = HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH | (need_width ? 0 : HS_FLAG_ALLOWEMPTY);

    if (hs_load() != 0) {
        snprintf(why, len, "%s", hs_error);
        return why;
    }

    if (need_width && hs->expression_info(re, HS_FLAG_UTF8, &info, &ce) == HS_SUCCESS && info &&
        info->min_width == 0) {
        snprintf(why, len, "it matches the empty string, so it would match every text");
        res = why;
        goto out;
    }
    if (ce)
        hs->free_compile_error(ce);
    ce = NULL;
    if (hs->compile(re, flags, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
        snprintf(why, len, "%s", ce && ce->message ? ce->message : "rejected");
        res = why;
    }
out:
    free(info);
    if (ce)
        hs->free_compile_error(ce);
    if (db)
        hs->free_database(db);
    return res;
}

static void check_tz(const char *tz, const char *zoneinfo, const char *path, struct diag *d)
{
    struct stat st;
    if (strcmp(tz, "UTC") == 0)
        return;
    if (stat(zoneinfo, &st) != 0) {
        diag_add(d, path,
                 "cannot check time zone \"%s\": no tz database at %s (install the "
                 "tzdata package)",
                 tz, zoneinfo);
        return;
    }
    /* read as cordond's engine will (base/tz.h), so that what passes here loads there */
    char why[400] = "";
    struct tz *z = NULL;
    int rc = tz_load(zoneinfo, tz, &z, why, sizeof why);
    tz_free(z);
    if (rc == 0 || rc == -ENOMEM)
        return;
    /* every zone file starts with "TZif"; other files live there too (leapseconds, tzdata.zi) */
    if (rc == -ENOENT || rc == TZ_ERR_MAGIC || rc == TZ_ERR_NAME)
        diag_add(d, path,
                 "unknown time zone \"%s\"; use an IANA name such as "
                 "\"Europe/Brussels\" or \"America/New_York\"",
                 tz);
    else
        diag_add(d, path, "%s%s", why,
                 rc == TZ_ERR_LEAP ? "" : "; reinstall the tzdata package or name another zone");
}

/* ---- data classes: compiled by the scanner cordond runs (policy/data/data.h) ---- */

/* An empty exact-data-match set. `cordon policy check` has no data key, so an edm class is
 * compiled without values; cordond opens the file with its key when it loads the policy. */
static struct data_edm *empty_edm(void)
{
    unsigned char k[DATA_KEY_LEN] = {0};
    struct data_edm_writer *w = NULL;
    struct data_buf b = {0};
    struct data_edm *e = NULL;
    char err[256];
    if (data_edm_writer_new(k, &w) == 0 && data_edm_writer_finish(w, &b) == 0 &&
        data_edm_load_mem(b.p, b.len, k, &e, err, sizeof err) != 0)
        e = NULL;
    data_edm_writer_free(w);
    data_buf_free(&b);
    return e;
}

static void spec_of(const struct policy_custom_class *cc, const struct data_edm *edm,
                    struct data_class_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->name = cc->cls;
    sp->pattern = cc->pattern;
    sp->words = cc->words.n ? cc->words.v : NULL;
    sp->n_words = cc->words.n;
    sp->edm = cc->edm ? edm : NULL;
    sp->allow = cc->allow.v;
    sp->n_allow = cc->allow.n;
    sp->deny = cc->deny.v;
    sp->n_deny = cc->deny.n;
}

static int named_by(const struct policy_data *dd, const char *cls)
{
    for (size_t i = 0; i < dd->n; i++)
        if (glob_match(dd->v[i].cls, cls))
            return 1;
    return 0;
}

/*
 * Every custom class alone (so that an error names its class), then the whole configuration
 * the policy's api.data makes (so that what passes here is what cordond builds): the same
 * data_scanner_new() the data stage calls.
 */
static void check_data(const struct policy *p, struct diag *d)
{
    char path[DIAG_PATH_MAX], ep[DIAG_PATH_MAX], why[256], err[512];
    struct data_edm *edm = NULL;
    struct data_class_spec *all = NULL;
    size_t bad = 0, n = 0;
    for (size_t i = 0; i < p->api.n_custom && !edm; i++)
        if (p->api.custom[i].edm && !(edm = empty_edm())) {
            diag_add(d, "api.data.custom", "out of memory while checking the data classes");
            return;
        }
    for (size_t i = 0; i < p->api.n_custom; i++) {
        const struct policy_custom_class *cc = &p->api.custom[i];
        diag_path_index(ep, "api.data.custom", (int)i);
        diag_path_key(path, ep, cc->pattern ? "pattern" : cc->edm ? "edm" : "words");
        if (cc->pattern && check_regex(cc->pattern, 1, why, sizeof why)) {
            diag_add(d, path, "pattern /%s/ cannot be used: %s", cc->pattern, why);
            bad++;
            continue;
        }
        struct data_class_spec sp;
        spec_of(cc, edm, &sp);
        struct data_config cfg = {&sp, 1, 0, 0};
        struct data_scanner *s = NULL;
        err[0] = '\0';
        int rc = data_scanner_new(&cfg, &s, err, sizeof err);
        data_scanner_free(s);
        if (rc != 0) {
            diag_add(d, path, "%s", err[0] ? err : data_strerror(rc));
            bad++;
        }
    }
    if (bad)
        goto out;
    size_t nb = 0;
    while (data_builtin_classes[nb])
        nb++;
    if (!(all = calloc(nb + p->api.n_custom + 1, sizeof *all))) {
        diag_add(d, "api.data", "out of memory while checking the data classes");
        goto out;
    }
    for (size_t i = 0; i < nb; i++) {
        int on = named_by(&p->api.data, data_builtin_classes[i]);
        for (size_t w = 0; w < p->api.n_schedule && !on; w++)
            on = named_by(&p->api.schedule[w].data, data_builtin_classes[i]);
        if (on)
            all[n++].name = data_builtin_classes[i];
    }
    for (size_t i = 0; i < p->api.n_custom; i++)
        spec_of(&p->api.custom[i], edm, &all[n++]);
    if (n) {
        struct data_config cfg = {all, n, 0, 0};
        struct data_scanner *s = NULL;
        err[0] = '\0';
        int rc = data_scanner_new(&cfg, &s, err, sizeof err);
        data_scanner_free(s);
        if (rc != 0)
            diag_add(d, "api.data", "the data classes do not compile together: %s",
                     err[0] ? err : data_strerror(rc));
    }
out:
    free(all);
    data_edm_free(edm);
}

size_t policy_check_deep(const struct policy *p, const char *zoneinfo, struct diag *d)
{
    size_t before = diag_total(d);
    char path[DIAG_PATH_MAX], why[256];

    check_data(p, d);
    for (size_t i = 0; i < p->api.n_constraints; i++) {
        char tp[DIAG_PATH_MAX];
        diag_path_key(tp, "api.tools.constraints", p->api.constraints[i].tool);
        diag_path_key(path, tp, p->api.constraints[i].arg);
        if (!p->api.constraints[i].pattern)
            continue;
        struct deep_regex *r = NULL;
        if (deep_regex_compile(p->api.constraints[i].pattern, &r, why, sizeof why) != 0)
            diag_add(d, path, "pattern /%s/ cannot be used: %s", p->api.constraints[i].pattern,
                     why);
        deep_regex_free(r);
    }
    /* sandbox.network.http[].rules[].query patterns: compiled as cordond's rule matcher
     * compiles them (policy/server/httprule.c) */
    for (size_t i = 0; i < p->sandbox.net.n_http; i++)
        for (size_t j = 0; j < p->sandbox.net.http[i].n_rules; j++) {
            const struct policy_http_rule *r = &p->sandbox.net.http[i].rules[j];
            for (size_t k = 0; k < r->n_query; k++) {
                if (!r->query[k].pattern)
                    continue;
                char hp[DIAG_PATH_MAX], rp[DIAG_PATH_MAX], qp[DIAG_PATH_MAX];
                diag_path_index(hp, "sandbox.network.http", (int)i);
                diag_path_key(rp, hp, "rules");
                diag_path_index(qp, rp, (int)j);
                diag_path_key(rp, qp, "query");
                diag_path_key(path, rp, r->query[k].name);
                struct deep_regex *re = NULL;
                if (deep_regex_compile(r->query[k].pattern, &re, why, sizeof why) != 0)
                    diag_add(d, path, "pattern /%s/ cannot be used: %s", r->query[k].pattern, why);
                deep_regex_free(re);
            }
        }
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, "api.schedule", (int)i);
        diag_path_key(path, ep, "tz");
        check_tz(p->api.schedule[i].tz, zoneinfo, path, d);
    }
    if (p->api.budget_tz && strcmp(p->api.budget_tz, "UTC") != 0)
        check_tz(p->api.budget_tz, zoneinfo, "api.budget.tz", d);
    return diag_total(d) - before;
}

/* ---- argument patterns, shared with the engine ---- */

struct deep_regex {
    hs_database_t *db;
};

int deep_regex_compile(const char *re, struct deep_regex **out, char *err, size_t errlen)
{
    *out = NULL;
    if (hs_load() != 0) {
        snprintf(err, errlen, "%s", hs_error);
        return -ELIBACC;
    }
    /* the pattern alone first, so that "a)|(b" is refused rather than closed by the anchors */
    if (check_regex(re, 0, err, errlen))
        return -EINVAL;
    size_t n = strlen(re);
    char *full = malloc(n + 12);
    struct deep_regex *r = calloc(1, sizeof *r);
    if (!full || !r) {
        free(full);
        free(r);
        return -ENOMEM;
    }
    memcpy(full, "\\A(?:", 5);
    memcpy(full + 5, re, n);
    memcpy(full + 5 + n, ")\\z", 4);
    hs_compile_error_t *ce = NULL;
    hs_error_t hr = hs->compile(full, HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY,
                                HS_MODE_BLOCK, NULL, &r->db, &ce);
    free(full);
    if (hr != HS_SUCCESS) {
        snprintf(err, errlen, "%s", ce && ce->message ? ce->message : "rejected");
        if (ce)
            hs->free_compile_error(ce);
        free(r);
        return -EINVAL;
    }
    *out = r;
    return 0;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ud)
{
    (void)id, (void)from, (void)to, (void)flags;
    *(int *)ud = 1;
    return 1; /* one match is the answer: stop */
}

/* vectorscan's UTF-8 mode requires valid UTF-8 (RFC 3629: no overlong, no surrogate). */
static int utf8_valid(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (!n || i + n > len || (n == 2 && c < 0xc2) || c > 0xf4)
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        if ((n == 3 && c == 0xe0 && s[i + 1] < 0xa0) || (n == 3 && c == 0xed && s[i + 1] > 0x9f) ||
            (n == 4 && c == 0xf0 && s[i + 1] < 0x90) || (n == 4 && c == 0xf4 && s[i + 1] > 0x8f))
            return 0;
        i += n;
    }
    return 1;
}

int deep_regex_match(const struct deep_regex *r, const char *s, size_t len)
{
    if (len > 0xffffffffu || !utf8_valid((const unsigned char *)s, len))
        return 0;
    /* scratch per scan: the pattern is shared by threads, a scratch may not be */
    hs_scratch_t *scratch = NULL;
    if (hs->alloc_scratch(r->db, &scratch) != HS_SUCCESS)
        return -ENOMEM;
    int matched = 0;
    hs_error_t hr = hs->scan(r->db, s, (unsigned)len, 0, scratch, on_match, &matched);
    hs->free_scratch(scratch);
    if (hr != HS_SUCCESS && hr != HS_SCAN_TERMINATED)
        return -EIO;
    return matched;
}

void deep_regex_free(struct deep_regex *r)
{
    if (!r)
        return;
    hs->free_database(r->db);
    free(r);
}
