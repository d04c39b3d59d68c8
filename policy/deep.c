/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deep policy checks through vectorscan and the tz database (see deep.h for why they are kept
 * out of the core).
 */
#include "policy/deep.h"

#include <dlfcn.h>
#include <errno.h>
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * vectorscan is loaded when a pattern is first checked, not when cordon starts: it brings
 * libstdc++ along, and `cordon exec`, which never checks a pattern, must not pay for that.
 */
static struct {
    int tried;
    const char *error;
    hs_error_t (*compile)(const char *, unsigned, unsigned, const hs_platform_info_t *,
                          hs_database_t **, hs_compile_error_t **);
    hs_error_t (*expression_info)(const char *, unsigned, hs_expr_info_t **,
                                  hs_compile_error_t **);
    hs_error_t (*free_compile_error)(hs_compile_error_t *);
    hs_error_t (*free_database)(hs_database_t *);
} hs;

static int hs_load(void)
{
    if (hs.tried)
        return hs.error ? -ELIBACC : 0;
    hs.tried = 1;
    void *h = dlopen(CORDON_LIBHS, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        hs.error = "cannot load vectorscan (" CORDON_LIBHS "); install the libvectorscan5 "
                   "package";
        return -ELIBACC;
    }
    *(void **)&hs.compile = dlsym(h, "hs_compile");
    *(void **)&hs.expression_info = dlsym(h, "hs_expression_info");
    *(void **)&hs.free_compile_error = dlsym(h, "hs_free_compile_error");
    *(void **)&hs.free_database = dlsym(h, "hs_free_database");
    if (!hs.compile || !hs.expression_info || !hs.free_compile_error || !hs.free_database) {
        hs.error = "the vectorscan library (" CORDON_LIBHS ") lacks hs_compile; install "
                   "the libvectorscan5 package";
        return -ELIBACC;
    }
    return 0;
}

/*
 * Compile one expression the way the API engine will; NULL on success or the reason. A data
 * class must not match the empty string (it would flag every text); a constraint may, since
 * it is matched against the whole argument and an empty argument is a value like any other.
 */
static const char *check_regex(const char *re, int need_width, char *why, size_t len)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    hs_expr_info_t *info = NULL;
    const char *res = NULL;
    unsigned flags = HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH | (need_width ? 0 : HS_FLAG_ALLOWEMPTY);

    if (hs_load() != 0) {
        snprintf(why, len, "%s", hs.error);
        return why;
    }

    if (need_width && hs.expression_info(re, HS_FLAG_UTF8, &info, &ce) == HS_SUCCESS && info &&
        info->min_width == 0) {
        snprintf(why, len, "it matches the empty string, so it would match every text");
        res = why;
        goto out;
    }
    if (ce)
        hs.free_compile_error(ce);
    ce = NULL;
    if (hs.compile(re, flags, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
        snprintf(why, len, "%s", ce && ce->message ? ce->message : "rejected");
        res = why;
    }
out:
    free(info);
    if (ce)
        hs.free_compile_error(ce);
    if (db)
        hs.free_database(db);
    return res;
}

static void check_tz(const char *tz, const char *zoneinfo, const char *path, struct diag *d)
{
    char file[512];
    struct stat st;
    if (strcmp(tz, "UTC") == 0)
        return;
    if (stat(zoneinfo, &st) != 0) {
        diag_add(d, path, "cannot check time zone \"%s\": no tz database at %s (install the "
                          "tzdata package)", tz, zoneinfo);
        return;
    }
    char magic[4] = {0};
    FILE *f = NULL;
    if ((size_t)snprintf(file, sizeof file, "%s/%s", zoneinfo, tz) < sizeof file &&
        stat(file, &st) == 0 && S_ISREG(st.st_mode) && (f = fopen(file, "rb"))) {
        if (fread(magic, 1, sizeof magic, f) != sizeof magic)
            magic[0] = '\0';
        fclose(f);
    }
    /* every zone file starts with "TZif"; other files live there too (leapseconds, tzdata.zi) */
    if (memcmp(magic, "TZif", 4) != 0)
        diag_add(d, path, "unknown time zone \"%s\"; use an IANA name such as "
                          "\"Europe/Brussels\" or \"America/New_York\"", tz);
}

size_t policy_check_deep(const struct policy *p, const char *zoneinfo, struct diag *d)
{
    size_t before = diag_total(d);
    char path[DIAG_PATH_MAX], why[256];

    for (size_t i = 0; i < p->api.n_custom; i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, "api.data.custom", (int)i);
        diag_path_key(path, ep, "pattern");
        if (check_regex(p->api.custom[i].pattern, 1, why, sizeof why))
            diag_add(d, path, "pattern /%s/ cannot be used: %s", p->api.custom[i].pattern, why);
    }
    for (size_t i = 0; i < p->api.n_constraints; i++) {
        char tp[DIAG_PATH_MAX];
        diag_path_key(tp, "api.tools.constraints", p->api.constraints[i].tool);
        diag_path_key(path, tp, p->api.constraints[i].arg);
        if (check_regex(p->api.constraints[i].pattern, 0, why, sizeof why))
            diag_add(d, path, "pattern /%s/ cannot be used: %s",
                     p->api.constraints[i].pattern, why);
    }
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, "api.schedule", (int)i);
        diag_path_key(path, ep, "tz");
        check_tz(p->api.schedule[i].tz, zoneinfo, path, d);
    }
    return diag_total(d) - before;
}
