/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API half of the policy walk that policy_load.c drives: "api" (models, data classes and
 * custom patterns, tools and their argument constraints, budget and prices, schedule windows,
 * anomaly triggers, what the audit records). cordond's stages read what it compiles; nothing
 * here is enforced by the kernel.
 */
#include "base/glob.h"
#include "policy/policy_api.h"
#include "policy/policy.h"
#include "policy/policy_walk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_api[] = {"models",   "data",    "tools", "budget",
                                    "schedule", "anomaly", "audit", "previous_response_id",
                                    NULL};
static const char *const k_tools[] = {
    "allow", "deny", "constraints", "on_denied_definition", "on_denied_call", NULL};
static const char *const k_constraint[] = {"pattern", "enum", "min", "max", "optional", NULL};
static const char *const k_budget[] = {"session_usd", "day_usd", "prices", NULL};
static const char *const k_price[] = {"input_per_mtok", "output_per_mtok", NULL};
static const char *const k_window[] = {"outside", "inside", "tz",    "data",
                                       "tools",   "models", "block", NULL};
static const char *const k_window_tools[] = {"deny", NULL};
static const char *const k_anomaly[] = {"requests_per_minute", "denials_per_10_minutes",
                                        "on_trigger", NULL};
static const char *const k_audit[] = {"prompts", "tool_arguments", NULL};
static const char *const k_custom[] = {"class",   "pattern",  "words", "edm",  "action",
                                       "request", "response", "allow", "deny", NULL};
static const char *const k_rule[] = {"action", "request", "response", "allow", "deny", NULL};

static int valid_class_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || !islower((unsigned char)s[0]))
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int name_equal(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static int class_known(const char *glob, const struct policy *p, int is_glob)
{
    int (*match)(const char *, const char *) = is_glob ? glob_match : name_equal;
    for (size_t i = 0; policy_data_classes[i]; i++)
        if (match(glob, policy_data_classes[i]))
            return 1;
    for (size_t i = 0; i < p->api.n_custom; i++)
        if (match(glob, p->api.custom[i].cls))
            return 1;
    return 0;
}

/* A list of values (allow, deny, words): non-empty strings, no duplicates. */
static struct policy_list get_values(struct ctx *c, const cJSON *v, const char *path,
                                     const char *of)
{
    struct policy_list l = {0, NULL};
    const char **arr = pw_array_room(c, v, path, of, sizeof *arr);
    if (!arr)
        return l;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        const char *s = pw_get_str(c, e, ep);
        if (!s)
            continue;
        int dup = 0;
        for (size_t j = 0; j < l.n && !dup; j++)
            dup = strcmp(arr[j], s) == 0;
        if (dup) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(c->d, ep, "%s is listed twice", q);
            continue;
        }
        arr[l.n++] = pw_cx_strdup(c, s);
    }
    l.v = arr;
    return l;
}

/* The actions of one class: a string sets both directions; an object (o, at path) gives
 * "action" (both), "request" and "response" (each overrides "action"), "allow" and "deny".
 * Returns 1 when both directions are known. */
static int get_actions(struct ctx *c, const cJSON *o, const char *path, enum policy_action *req,
                       enum policy_action *resp, struct policy_list *allow,
                       struct policy_list *deny)
{
    char fp[DIAG_PATH_MAX];
    *allow = *deny = (struct policy_list){0, NULL};
    if (cJSON_IsString(o)) {
        int a = pw_get_enum(c, o, path, pw_n_action, -1);
        if (a < 0)
            return 0;
        *req = *resp = (enum policy_action)a;
        return 1;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "action");
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(o, "request");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "response");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "allow");
    const cJSON *de = cJSON_GetObjectItemCaseSensitive(o, "deny");
    int ok = 1, a = -1, q = -1, r = -1;
    if (act) {
        diag_path_key(fp, path, "action");
        if ((a = pw_get_enum(c, act, fp, pw_n_action, -1)) < 0)
            ok = 0;
    }
    if (rq) {
        diag_path_key(fp, path, "request");
        if ((q = pw_get_enum(c, rq, fp, pw_n_action, -1)) < 0)
            ok = 0;
    }
    if (rs) {
        diag_path_key(fp, path, "response");
        if ((r = pw_get_enum(c, rs, fp, pw_n_action, -1)) < 0)
            ok = 0;
    }
    if (al) {
        diag_path_key(fp, path, "allow");
        *allow = get_values(c, al, fp, "allowed values");
    }
    if (de) {
        diag_path_key(fp, path, "deny");
        *deny = get_values(c, de, fp, "denied values");
    }
    if (!ok)
        return 0;
    if (!act && (!rq || !rs)) {
        diag_add(c->d, path,
                 "no action for the %s; give \"action\" (both directions), or both \"request\" "
                 "and \"response\"",
                 !rq && !rs ? "request or the response"
                 : !rq      ? "request"
                            : "response");
        return 0;
    }
    *req = (enum policy_action)(q >= 0 ? q : a);
    *resp = (enum policy_action)(r >= 0 ? r : a);
    return 1;
}

static void get_custom(struct ctx *c, const cJSON *v, const char *path)
{
    struct policy_custom_class *arr = pw_array_room(c, v, path, "custom classes", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], fp[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        if (!pw_check_object(c, e, ep, k_custom))
            continue;
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(e, "class");
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(e, "pattern");
        const cJSON *wds = cJSON_GetObjectItemCaseSensitive(e, "words");
        const cJSON *edm = cJSON_GetObjectItemCaseSensitive(e, "edm");
        int ok = 1;
        int kinds = !!pat + !!wds + !!edm;
        if (!cls || kinds != 1) {
            diag_add(c->d, ep,
                     "a custom class needs \"class\" and exactly one of \"pattern\", \"words\" "
                     "and \"edm\"%s%s",
                     cls ? "" : " (class is missing)",
                     kinds == 0  ? " (none of them is given)"
                     : kinds > 1 ? " (several are given)"
                                 : "");
            continue;
        }
        diag_path_key(fp, ep, "class");
        const char *cs = pw_get_str(c, cls, fp);
        if (cs && !valid_class_name(cs)) {
            char q[96];
            diag_quote(cs, q, sizeof q);
            diag_add(c->d, fp,
                     "expected a class name of lowercase letters, digits and _ "
                     "starting with a letter (at most 32), got %s",
                     q);
            cs = NULL;
        }
        if (cs) {
            for (size_t j = 0; policy_data_classes[j]; j++)
                if (strcmp(cs, policy_data_classes[j]) == 0)
                    ok = 0;
            for (size_t j = 0; j < k; j++)
                if (strcmp(arr[j].cls, cs) == 0)
                    ok = 0;
            if (!ok) {
                char q[96];
                diag_quote(cs, q, sizeof q);
                diag_add(c->d, fp, "class %s is already defined; choose another name", q);
                cs = NULL;
            }
        }
        const char *ps = NULL, *es = NULL;
        struct policy_list words = {0, NULL};
        if (pat) {
            diag_path_key(fp, ep, "pattern");
            if (!(ps = pw_get_str(c, pat, fp)))
                ok = 0;
        } else if (wds) {
            diag_path_key(fp, ep, "words");
            words = get_values(c, wds, fp, "words");
            if (!words.n) {
                if (pw_check_array(c, wds, fp, "words") == 0)
                    diag_add(c->d, fp, "a word list needs at least one word");
                ok = 0;
            }
        } else {
            diag_path_key(fp, ep, "edm");
            if (!(es = pw_get_str(c, edm, fp))) {
                ok = 0;
            } else if (es[0] != '/') {
                char q[96];
                diag_quote(es, q, sizeof q);
                diag_add(c->d, fp,
                         "expected an absolute path to an exact-data-match file (cordond opens "
                         "it as written, wherever the policy came from), got %s",
                         q);
                ok = 0;
            }
        }
        struct policy_custom_class *cc = &arr[k];
        if (!get_actions(c, e, ep, &cc->request, &cc->response, &cc->allow, &cc->deny))
            ok = 0;
        if (!cs || !ok)
            continue;
        cc->cls = pw_cx_strdup(c, cs);
        cc->pattern = ps ? pw_cx_strdup(c, ps) : NULL;
        cc->words = words;
        cc->edm = es ? pw_cx_strdup(c, es) : NULL;
        k++;
    }
    c->p->api.custom = arr;
    c->p->api.n_custom = k;
}

/* A data object: class (or glob) -> action or {action, request, response, allow, deny};
 * "custom" allowed only at top level. */
static struct policy_data get_data(struct ctx *c, const cJSON *v, const char *path, int top_level)
{
    struct policy_data l = {0, NULL};
    if (!pw_check_object(c, v, path, NULL))
        return l;
    if (top_level) {
        const cJSON *cu = cJSON_GetObjectItemCaseSensitive(v, "custom");
        if (cu) {
            char cp[DIAG_PATH_MAX];
            diag_path_key(cp, path, "custom");
            get_custom(c, cu, cp);
        }
    }
    int n = cJSON_GetArraySize(v);
    struct policy_data_rule *arr = pw_cx_alloc(c, sizeof *arr * (size_t)(n ? n : 1));
    if (!arr)
        return l;
    for (const cJSON *e = v->child; e; e = e->next) {
        char ep[DIAG_PATH_MAX];
        diag_path_key(ep, path, e->string);
        if (strcmp(e->string, "custom") == 0) {
            if (!top_level)
                diag_add(c->d, ep,
                         "custom classes are defined once, in api.data.custom; "
                         "refer to them here by name");
            continue;
        }
        int is_glob = strpbrk(e->string, "*?") != NULL;
        if (!pw_valid_name(e->string, 1, 0) || !class_known(e->string, c->p, is_glob)) {
            char q[96];
            diag_quote(e->string, q, sizeof q);
            diag_add(c->d, ep,
                     "unknown data class %s; built-in classes are pii.*, secret.*, health and "
                     "financial (see docs/POLICY.md), custom ones come from api.data.custom",
                     q);
            continue;
        }
        if (!cJSON_IsString(e) && !cJSON_IsObject(e)) {
            diag_add(c->d, ep,
                     "expected an action (\"redact\") or an object with \"action\" or "
                     "\"request\" and \"response\", got %s",
                     diag_json_type(e));
            continue;
        }
        if (cJSON_IsObject(e) && !pw_check_object(c, e, ep, k_rule))
            continue;
        struct policy_data_rule *r = &arr[l.n];
        if (!get_actions(c, e, ep, &r->request, &r->response, &r->allow, &r->deny))
            continue;
        r->cls = pw_cx_strdup(c, e->string);
        l.n++;
    }
    l.v = arr;
    return l;
}

/* "arg": {"pattern": RE, "enum": [...], "min": N, "max": N, "optional": bool}. Returns 1 and
 * fills k (all but tool and arg) when it is valid. */
static int get_constraint_object(struct ctx *c, const cJSON *a, const char *ap,
                                 struct policy_constraint *k)
{
    char fp[DIAG_PATH_MAX];
    size_t before = diag_total(c->d);
    if (!pw_check_object(c, a, ap, k_constraint))
        return 0;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(a, "pattern"))) {
        diag_path_key(fp, ap, "pattern");
        const char *pat = pw_get_str(c, v, fp);
        if (pat)
            k->pattern = pw_cx_strdup(c, pat);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(a, "enum"))) {
        diag_path_key(fp, ap, "enum");
        int n = pw_check_array(c, v, fp, "values");
        if (n == 0)
            diag_add(c->d, fp,
                     "expected at least one value (strings or numbers); remove "
                     "\"enum\" to allow any value");
        const char **vals = n > 0 ? pw_cx_alloc(c, sizeof *vals * (size_t)n) : NULL;
        int i = 0;
        for (const cJSON *e = vals ? v->child : NULL; e; e = e->next, i++) {
            char ep[DIAG_PATH_MAX], num[64];
            diag_path_index(ep, fp, i);
            const char *s = NULL;
            if (cJSON_IsString(e)) {
                s = e->valuestring;
            } else if (cJSON_IsNumber(e) && isfinite(e->valuedouble)) {
                /* the text the engine gives a number argument to compare with */
                double d = e->valuedouble;
                if (d == floor(d) && fabs(d) < 1e15)
                    snprintf(num, sizeof num, "%.0f", d);
                else
                    snprintf(num, sizeof num, "%.17g", d);
                s = num;
            } else {
                diag_add(c->d, ep, "expected a string or a number");
                continue;
            }
            for (size_t j = 0; j < k->n_enum; j++)
                if (strcmp(vals[j], s) == 0) {
                    char q[96];
                    diag_quote(s, q, sizeof q);
                    diag_add(c->d, ep, "%s is listed twice; remove one", q);
                    s = NULL;
                    break;
                }
            if (s)
                vals[k->n_enum++] = pw_cx_strdup(c, s);
        }
        k->enum_v = vals;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(a, "min"))) {
        diag_path_key(fp, ap, "min");
        k->min = pw_get_num(c, v, fp, -1e15, 1e15, 0);
        k->has_min = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(a, "max"))) {
        diag_path_key(fp, ap, "max");
        k->max = pw_get_num(c, v, fp, -1e15, 1e15, 0);
        k->has_max = 1;
    }
    if (k->has_min && k->has_max && k->min > k->max)
        diag_add(c->d, ap, "min %g is above max %g, so no value could pass; swap them", k->min,
                 k->max);
    diag_path_key(fp, ap, "optional");
    k->optional = pw_get_bool(c, cJSON_GetObjectItemCaseSensitive(a, "optional"), fp, 0);
    if (!k->pattern && !k->n_enum && !k->has_min && !k->has_max && diag_total(c->d) == before)
        diag_add(c->d, ap,
                 "this constraint checks nothing; give it \"pattern\", \"enum\", "
                 "\"min\" or \"max\"");
    return diag_total(c->d) == before;
}

static void get_constraints(struct ctx *c, const cJSON *v, const char *path)
{
    if (!pw_check_object(c, v, path, NULL))
        return;
    size_t total = 0;
    for (const cJSON *t = v->child; t; t = t->next)
        if (cJSON_IsObject(t))
            total += (size_t)cJSON_GetArraySize(t);
    if (total > POLICY_MAX_ITEMS) {
        diag_add(c->d, path, "too many constraints (%zu); at most %u are accepted", total,
                 POLICY_MAX_ITEMS);
        return;
    }
    struct policy_constraint *arr = pw_cx_alloc(c, sizeof *arr * (total ? total : 1));
    if (!arr)
        return;
    size_t k = 0;
    for (const cJSON *t = v->child; t; t = t->next) {
        char tp[DIAG_PATH_MAX];
        diag_path_key(tp, path, t->string);
        if (!pw_valid_name(t->string, 1, 0)) {
            char q[96];
            diag_quote(t->string, q, sizeof q);
            diag_add(c->d, tp, "expected a tool name or glob as the key, got %s", q);
            continue;
        }
        if (!pw_check_object(c, t, tp, NULL))
            continue;
        if (!t->child)
            diag_add(c->d, tp,
                     "expected at least one \"argument\": \"pattern\" pair (or "
                     "\"argument\": {\"pattern\", \"enum\", \"min\", \"max\", "
                     "\"optional\"})");
        for (const cJSON *a = t->child; a; a = a->next) {
            char ap[DIAG_PATH_MAX];
            diag_path_key(ap, tp, a->string);
            if (!pw_valid_name(a->string, 0, 0)) {
                char q[96];
                diag_quote(a->string, q, sizeof q);
                diag_add(c->d, ap, "expected an argument name as the key, got %s", q);
                continue;
            }
            memset(&arr[k], 0, sizeof arr[k]);
            if (cJSON_IsObject(a)) {
                if (!get_constraint_object(c, a, ap, &arr[k]))
                    continue;
            } else {
                const char *pat = pw_get_str(c, a, ap);
                if (!pat)
                    continue;
                arr[k].pattern = pw_cx_strdup(c, pat);
            }
            arr[k].tool = pw_cx_strdup(c, t->string);
            arr[k].arg = pw_cx_strdup(c, a->string);
            k++;
        }
    }
    c->p->api.constraints = arr;
    c->p->api.n_constraints = k;
}

static void get_prices(struct ctx *c, const cJSON *v, const char *path)
{
    if (!pw_check_object(c, v, path, NULL))
        return;
    int n = cJSON_GetArraySize(v);
    struct policy_price *arr = pw_cx_alloc(c, sizeof *arr * (size_t)(n ? n : 1));
    if (!arr)
        return;
    size_t k = 0;
    for (const cJSON *m = v->child; m; m = m->next) {
        char mp[DIAG_PATH_MAX], fp[DIAG_PATH_MAX];
        diag_path_key(mp, path, m->string);
        if (!pw_valid_name(m->string, 1, 1)) {
            char q[96];
            diag_quote(m->string, q, sizeof q);
            diag_add(c->d, mp, "expected a model name or glob as the key, got %s", q);
            continue;
        }
        if (!pw_check_object(c, m, mp, k_price))
            continue;
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(m, "input_per_mtok");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(m, "output_per_mtok");
        if (!in || !out) {
            diag_add(c->d, mp,
                     "a price needs both \"input_per_mtok\" and \"output_per_mtok\" "
                     "(US dollars per million tokens)");
            continue;
        }
        diag_path_key(fp, mp, "input_per_mtok");
        arr[k].input_per_mtok = pw_get_num(c, in, fp, 0, 10000, 0);
        diag_path_key(fp, mp, "output_per_mtok");
        arr[k].output_per_mtok = pw_get_num(c, out, fp, 0, 10000, 0);
        arr[k].model = pw_cx_strdup(c, m->string);
        k++;
    }
    c->p->api.prices = arr;
    c->p->api.n_prices = k;
}

static const char *const day_names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

static int parse_day(const char *s, size_t n)
{
    for (int i = 0; i < 7; i++)
        if (n == 3 && memcmp(s, day_names[i], 3) == 0)
            return i;
    return -EINVAL;
}

static int parse_hhmm(const char *s, unsigned *min)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -EINVAL;
    unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -EINVAL;
    *min = h * 60 + m;
    return 0;
}

/* "Mon-Fri 08:00-18:00", "Sat,Sun 00:00-24:00", "Mon-Sun 22:00-06:00" */
static int parse_window(const char *s, struct policy_window *w)
{
    const char *sp = strchr(s, ' ');
    if (!sp)
        return -EINVAL;
    uint8_t days = 0;
    const char *p = s;
    while (p < sp) {
        const char *comma = memchr(p, ',', (size_t)(sp - p));
        const char *end = comma ? comma : sp;
        const char *dash = memchr(p, '-', (size_t)(end - p));
        int a, b;
        if (dash) {
            a = parse_day(p, (size_t)(dash - p));
            b = parse_day(dash + 1, (size_t)(end - dash - 1));
        } else {
            a = b = parse_day(p, (size_t)(end - p));
        }
        if (a < 0 || b < 0)
            return -EINVAL;
        for (int d = a;; d = (d + 1) % 7) {
            days |= (uint8_t)(1u << d);
            if (d == b)
                break;
        }
        p = comma ? comma + 1 : sp;
        if (comma && p == sp)
            return -EINVAL;
    }
    const char *t = sp + 1;
    unsigned a, b;
    if (strlen(t) != 11 || t[5] != '-' || parse_hhmm(t, &a) != 0 || parse_hhmm(t + 6, &b) != 0)
        return -EINVAL;
    if (a == b || a == 24 * 60)
        return -EINVAL;
    w->days = days;
    w->start_min = (uint16_t)a;
    w->end_min = (uint16_t)b;
    return 0;
}

static int valid_tz(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '/' || strstr(s, ".."))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("/_-+", *s))
            return 0;
    return 1;
}

static void get_schedule(struct ctx *c, const cJSON *v, const char *path)
{
    struct policy_window *arr = pw_array_room(c, v, path, "schedule rules", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], fp[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        if (!pw_check_object(c, e, ep, k_window))
            continue;
        struct policy_window *w = &arr[k];
        memset(w, 0, sizeof *w);
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(e, "outside");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "inside");
        if (!!out == !!in) {
            diag_add(c->d, ep,
                     "a schedule rule needs exactly one of \"outside\" or \"inside\" "
                     "(a window such as \"Mon-Fri 08:00-18:00\")");
            continue;
        }
        diag_path_key(fp, ep, out ? "outside" : "inside");
        const char *spec = pw_get_str(c, out ? out : in, fp);
        int ok = spec != NULL;
        if (spec && parse_window(spec, w) != 0) {
            char q[96];
            diag_quote(spec, q, sizeof q);
            diag_add(c->d, fp,
                     "expected \"DAYS HH:MM-HH:MM\" with days from Mon Tue Wed Thu Fri Sat Sun "
                     "as a list or range (\"Mon-Fri 08:00-18:00\"), got %s",
                     q);
            ok = 0;
        }
        w->outside = out != NULL;
        w->spec = spec ? pw_cx_strdup(c, spec) : NULL;
        const cJSON *tz = cJSON_GetObjectItemCaseSensitive(e, "tz");
        w->tz = "UTC";
        if (tz) {
            diag_path_key(fp, ep, "tz");
            const char *ts = pw_get_str(c, tz, fp);
            if (ts && !valid_tz(ts)) {
                char q[96];
                diag_quote(ts, q, sizeof q);
                diag_add(c->d, fp,
                         "expected an IANA time zone name (\"Europe/Brussels\", "
                         "\"UTC\"), got %s",
                         q);
                ts = NULL;
            }
            if (!ts)
                ok = 0;
            else
                w->tz = pw_cx_strdup(c, ts);
        }
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
        if (data) {
            diag_path_key(fp, ep, "data");
            w->data = get_data(c, data, fp, 0);
        }
        const cJSON *tools = cJSON_GetObjectItemCaseSensitive(e, "tools");
        if (tools) {
            diag_path_key(fp, ep, "tools");
            if (pw_check_object(c, tools, fp, k_window_tools)) {
                char dp[DIAG_PATH_MAX];
                diag_path_key(dp, fp, "deny");
                const cJSON *td = cJSON_GetObjectItemCaseSensitive(tools, "deny");
                if (td)
                    w->tools_deny = pw_get_names(c, td, dp, "tool", 0);
            }
        }
        const cJSON *models = cJSON_GetObjectItemCaseSensitive(e, "models");
        if (models) {
            diag_path_key(fp, ep, "models");
            w->has_models = 1;
            w->models = pw_get_names(c, models, fp, "model", 1);
        }
        diag_path_key(fp, ep, "block");
        w->block = pw_get_bool(c, cJSON_GetObjectItemCaseSensitive(e, "block"), fp, 0);
        if (!w->data.n && !w->tools_deny.n && !models && !w->block) {
            diag_add(c->d, ep,
                     "this rule changes nothing; give it \"data\", \"tools\", "
                     "\"models\" or \"block\": true");
            ok = 0;
        }
        if (ok)
            k++;
    }
    c->p->api.schedule = arr;
    c->p->api.n_schedule = k;
}

void pw_walk_api(struct ctx *c, const cJSON *api)
{
    struct policy *p = c->p;
    p->api.session_usd = -1;
    p->api.day_usd = -1;
    if (!api || !pw_check_object(c, api, "api", k_api))
        return;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "models")))
        p->api.models = pw_get_names(c, v, "api.models", "model", 1);
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "data")))
        p->api.data = get_data(c, v, "api.data", 1);
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "tools")) &&
        pw_check_object(c, v, "api.tools", k_tools)) {
        const cJSON *t;
        if ((t = cJSON_GetObjectItemCaseSensitive(v, "allow")))
            p->api.tools_allow = pw_get_names(c, t, "api.tools.allow", "tool", 0);
        if ((t = cJSON_GetObjectItemCaseSensitive(v, "deny")))
            p->api.tools_deny = pw_get_names(c, t, "api.tools.deny", "tool", 0);
        if ((t = cJSON_GetObjectItemCaseSensitive(v, "constraints")))
            get_constraints(c, t, "api.tools.constraints");
        p->api.on_denied_definition = (enum policy_denied_definition)pw_get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "on_denied_definition"),
            "api.tools.on_denied_definition", pw_n_definition, POLICY_DEFINITION_STRIP);
        p->api.on_denied_call = (enum policy_denied_call)pw_get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "on_denied_call"), "api.tools.on_denied_call",
            pw_n_denied_call, POLICY_CALL_DROP);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "budget")) &&
        pw_check_object(c, v, "api.budget", k_budget)) {
        p->api.session_usd = pw_get_num(c, cJSON_GetObjectItemCaseSensitive(v, "session_usd"),
                                        "api.budget.session_usd", 0, 1e6, -1);
        p->api.day_usd = pw_get_num(c, cJSON_GetObjectItemCaseSensitive(v, "day_usd"),
                                    "api.budget.day_usd", 0, 1e6, -1);
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(v, "prices");
        if (pr)
            get_prices(c, pr, "api.budget.prices");
        if (p->api.session_usd >= 0 && p->api.day_usd >= 0 && p->api.session_usd > p->api.day_usd)
            diag_add(c->d, "api.budget.session_usd",
                     "a session budget of %g exceeds the day budget of %g; the day budget "
                     "would always bind first",
                     p->api.session_usd, p->api.day_usd);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "schedule")))
        get_schedule(c, v, "api.schedule");
    p->api.previous_response_id = (enum policy_stored_context)pw_get_enum(
        c, cJSON_GetObjectItemCaseSensitive(api, "previous_response_id"),
        "api.previous_response_id", pw_n_stored, POLICY_STORED_REFUSE);
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "anomaly")) &&
        pw_check_object(c, v, "api.anomaly", k_anomaly)) {
        p->api.has_anomaly = 1;
        p->api.requests_per_minute =
            (unsigned)pw_get_int(c, cJSON_GetObjectItemCaseSensitive(v, "requests_per_minute"),
                                 "api.anomaly.requests_per_minute", 1, 100000, 0);
        p->api.denials_per_10_minutes =
            (unsigned)pw_get_int(c, cJSON_GetObjectItemCaseSensitive(v, "denials_per_10_minutes"),
                                 "api.anomaly.denials_per_10_minutes", 1, 100000, 0);
        p->api.on_trigger = (enum policy_trigger)pw_get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "on_trigger"), "api.anomaly.on_trigger",
            pw_n_trigger, POLICY_TRIGGER_LOG);
        if (!p->api.requests_per_minute && !p->api.denials_per_10_minutes)
            diag_add(c->d, "api.anomaly",
                     "no trigger is set; give requests_per_minute, "
                     "denials_per_10_minutes or both");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "audit")) &&
        pw_check_object(c, v, "api.audit", k_audit)) {
        p->api.record_prompts =
            (enum policy_record)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(v, "prompts"),
                                            "api.audit.prompts", pw_n_record, POLICY_RECORD_DIGEST);
        p->api.record_tool_arguments = (enum policy_record)pw_get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "tool_arguments"), "api.audit.tool_arguments",
            pw_n_record, POLICY_RECORD_DIGEST);
    }
}
