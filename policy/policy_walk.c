/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The readers every part of the policy walk shares (policy_walk.h): the arena the compiled
 * policy lives in, object and key checks (an unknown key is an error, with the nearest known
 * one suggested), scalars, strings, arrays and name lists, each recording its errors with the
 * JSON path it was given, and the names of the policy's enums.
 */
#include "policy/policy.h"
#include "policy/policy_walk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    max_align_t data[];
};

struct policy_arena {
    struct arena_block *head;
};

struct policy_arena *pw_arena_new(void)
{
    return calloc(1, sizeof(struct policy_arena));
}

static void *arena_alloc(struct policy_arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (n == 0)
        n = sizeof(max_align_t);
    struct arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > 16384 ? n : 16384;
        b = calloc(1, sizeof *b + size);
        if (!b)
            return NULL;
        b->size = size;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static char *arena_strdup(struct policy_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void arena_free(struct policy_arena *a)
{
    if (!a)
        return;
    for (struct arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

/* ---------------------------------------------------------------- walk context */

void *pw_cx_alloc(struct ctx *c, size_t n)
{
    void *p = arena_alloc(c->a, n);
    if (!p)
        c->oom = 1;
    return p;
}

const char *pw_cx_strdup(struct ctx *c, const char *s)
{
    char *p = arena_strdup(c->a, s);
    if (!p)
        c->oom = 1;
    return p ? p : "";
}

static void describe(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsString(v))
        diag_quote(v->valuestring, buf, len);
    else if (cJSON_IsNumber(v))
        snprintf(buf, len, "%.15g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else
        snprintf(buf, len, "%s", diag_json_type(v));
}

/* ---------------------------------------------------------------- keys */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    size_t row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

/*
 * Check an object: it is an object, has at most POLICY_MAX_ITEMS members, no duplicate key,
 * and only keys from allowed (NULL-terminated). Returns 1 when the object may be walked.
 */
int pw_check_object(struct ctx *c, const cJSON *o, const char *path, const char *const *allowed)
{
    if (!cJSON_IsObject(o)) {
        diag_add(c->d, path, "expected an object, got %s", diag_json_type(o));
        return 0;
    }
    int n = cJSON_GetArraySize(o);
    if (n > (int)POLICY_MAX_ITEMS) {
        diag_add(c->d, path, "too many members (%d); at most %u are accepted", n, POLICY_MAX_ITEMS);
        return 0;
    }
    for (const cJSON *k = o->child; k; k = k->next) {
        char kp[DIAG_PATH_MAX];
        diag_path_key(kp, path, k->string);
        for (const cJSON *e = o->child; e != k; e = e->next)
            if (strcmp(e->string, k->string) == 0) {
                diag_add(c->d, kp,
                         "duplicate key; each key may appear once (a second copy "
                         "would silently replace the first)");
                break;
            }
        if (!allowed)
            continue;
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], k->string) == 0;
        if (ok)
            continue;
        const char *best = NULL;
        size_t bestd = 3;
        for (size_t i = 0; allowed[i]; i++) {
            size_t dist = edit_distance(allowed[i], k->string);
            if (dist < bestd) {
                bestd = dist;
                best = allowed[i];
            }
        }
        char list[256] = "";
        size_t o2 = 0;
        for (size_t i = 0; allowed[i] && o2 < sizeof list; i++)
            o2 += (size_t)snprintf(list + o2, sizeof list - o2, "%s%s", i ? ", " : "", allowed[i]);
        if (best)
            diag_add(c->d, kp, "unknown key; did you mean \"%s\"? (expected one of %s)", best,
                     list);
        else
            diag_add(c->d, kp, "unknown key; expected one of %s", list);
    }
    return 1;
}

/* ---------------------------------------------------------------- scalars */

int pw_get_enum(struct ctx *c, const cJSON *v, const char *path, const char *const *names, int def)
{
    if (!v)
        return def;
    char alts[160] = "";
    size_t o = 0;
    for (size_t i = 0; names[i] && o < sizeof alts; i++)
        o += (size_t)snprintf(alts + o, sizeof alts - o, "%s%s", i ? "|" : "", names[i]);
    if (cJSON_IsString(v)) {
        for (int i = 0; names[i]; i++)
            if (strcmp(names[i], v->valuestring) == 0)
                return i;
    }
    char got[96];
    describe(v, got, sizeof got);
    diag_add(c->d, path, "expected one of %s, got %s", alts, got);
    return def;
}

int pw_get_bool(struct ctx *c, const cJSON *v, const char *path, int def)
{
    if (!v)
        return def;
    if (!cJSON_IsBool(v)) {
        char got[96];
        describe(v, got, sizeof got);
        diag_add(c->d, path, "expected true or false, got %s", got);
        return def;
    }
    return cJSON_IsTrue(v);
}

long long pw_get_int(struct ctx *c, const cJSON *v, const char *path, long long lo, long long hi,
                     long long def)
{
    if (!v)
        return def;
    char got[96];
    describe(v, got, sizeof got);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble)) {
        diag_add(c->d, path, "expected a whole number from %lld to %lld, got %s", lo, hi, got);
        return def;
    }
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        diag_add(c->d, path, "expected a whole number from %lld to %lld, got %s", lo, hi, got);
        return def;
    }
    return (long long)v->valuedouble;
}

double pw_get_num(struct ctx *c, const cJSON *v, const char *path, double lo, double hi, double def)
{
    if (!v)
        return def;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char got[96];
        describe(v, got, sizeof got);
        diag_add(c->d, path, "expected a number from %.15g to %.15g, got %s", lo, hi, got);
        return def;
    }
    return v->valuedouble;
}

/*
 * A limit of sandbox.limits: a whole number from lo to hi. Absent means no limit (0), and the
 * error for 0 says so, since "0 for unlimited" is a common habit that would here be wrong.
 */
uint64_t pw_get_limit(struct ctx *c, const cJSON *v, const char *path, const char *unit,
                      uint64_t lo, uint64_t hi)
{
    if (!v)
        return 0;
    char got[96];
    describe(v, got, sizeof got);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi) {
        diag_add(c->d, path, "expected a whole number of %s from %llu to %llu, got %s%s", unit,
                 (unsigned long long)lo, (unsigned long long)hi, got,
                 cJSON_IsNumber(v) && v->valuedouble == 0 ? " (to set no limit, leave the key out)"
                                                          : "");
        return 0;
    }
    return (uint64_t)v->valuedouble;
}

const char *pw_get_str(struct ctx *c, const cJSON *v, const char *path);

/*
 * A size in bytes: a whole number, or a string of digits with an optional suffix K, M, G or
 * T (powers of 1024, either case), as systemd's MemoryMax= and docker's --memory write it.
 * Returns the bytes, 0 (with an error) when it is malformed, overflows or lies outside
 * lo..hi.
 */
uint64_t pw_get_size(struct ctx *c, const cJSON *v, const char *path, uint64_t lo, uint64_t hi)
{
    if (!v)
        return 0;
    char got[96], hint[64] = "";
    describe(v, got, sizeof got);
    uint64_t bytes = 0;
    int ok = 0;
    if (cJSON_IsNumber(v)) {
        ok = isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
             v->valuedouble >= (double)lo && v->valuedouble <= (double)hi;
        if (ok)
            bytes = (uint64_t)v->valuedouble;
        else if (isfinite(v->valuedouble) && v->valuedouble < (double)lo)
            snprintf(hint, sizeof hint, " (below the minimum of 1M)");
        else if (isfinite(v->valuedouble) && v->valuedouble > (double)hi)
            snprintf(hint, sizeof hint, " (above the maximum of 1024T)");
    } else if (cJSON_IsString(v)) {
        /* length and control characters; "" falls through to the size message */
        const char *s = v->valuestring[0] ? pw_get_str(c, v, path) : v->valuestring;
        if (!s)
            return 0;
        size_t n = strspn(s, "0123456789");
        uint64_t mult = 1;
        const char *suf = s + n;
        if (*suf) {
            switch (*suf) {
            case 'k':
            case 'K':
                mult = 1ULL << 10;
                break;
            case 'm':
            case 'M':
                mult = 1ULL << 20;
                break;
            case 'g':
            case 'G':
                mult = 1ULL << 30;
                break;
            case 't':
            case 'T':
                mult = 1ULL << 40;
                break;
            default:
                mult = 0;
                break;
            }
            if (mult && suf[1]) {
                /* "512MB", "2GiB": the unit is the suffix alone */
                if (n > 0 && n <= 16 &&
                    (strcmp(suf + 1, "B") == 0 || strcmp(suf + 1, "iB") == 0 ||
                     strcmp(suf + 1, "b") == 0))
                    snprintf(hint, sizeof hint, "; did you mean \"%.*s%c\"?", (int)n, s, *suf);
                mult = 0;
            }
        }
        if (n > 0 && n <= 16 && mult) {
            uint64_t num = 0;
            for (size_t i = 0; i < n; i++)
                num = num * 10 + (uint64_t)(s[i] - '0');
            ok = num <= UINT64_MAX / mult && num * mult >= lo && num * mult <= hi;
            if (ok)
                bytes = num * mult;
            else if (num <= UINT64_MAX / mult && num * mult < lo)
                snprintf(hint, sizeof hint, " (below the minimum of 1M)");
            else
                snprintf(hint, sizeof hint, " (above the maximum of 1024T)");
        } else if (s[n] == '.') {
            snprintf(hint, sizeof hint, " (whole numbers only: \"1536M\", not \"1.5G\")");
        }
    }
    if (!ok) {
        diag_add(c->d, path,
                 "expected a size from 1M to 1024T: a whole number of bytes, or a string of "
                 "digits with K, M, G or T (powers of 1024) such as \"512M\" or \"2G\"; "
                 "got %s%s",
                 got, hint);
        return 0;
    }
    return bytes;
}

/* A string within POLICY_MAX_STRING, non-empty. NULL (with an error) otherwise. */
const char *pw_get_str(struct ctx *c, const cJSON *v, const char *path)
{
    if (!cJSON_IsString(v)) {
        char got[96];
        describe(v, got, sizeof got);
        diag_add(c->d, path, "expected a string, got %s", got);
        return NULL;
    }
    size_t n = strlen(v->valuestring);
    if (n == 0) {
        diag_add(c->d, path, "expected a non-empty string");
        return NULL;
    }
    if (n > POLICY_MAX_STRING) {
        diag_add(c->d, path, "string is %zu bytes; at most %u are accepted", n, POLICY_MAX_STRING);
        return NULL;
    }
    for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++)
        if (*s < 0x20 || *s == 0x7f) {
            diag_add(c->d, path, "string contains a control character (0x%02x); remove it", *s);
            return NULL;
        }
    return v->valuestring;
}

/* Array of at most POLICY_MAX_ITEMS; returns its size or -1 (error already added). */
int pw_check_array(struct ctx *c, const cJSON *v, const char *path, const char *of)
{
    if (!cJSON_IsArray(v)) {
        diag_add(c->d, path, "expected an array of %s, got %s", of, diag_json_type(v));
        return -EINVAL;
    }
    int n = cJSON_GetArraySize(v);
    if (n > (int)POLICY_MAX_ITEMS) {
        diag_add(c->d, path, "too many entries (%d); at most %u are accepted", n, POLICY_MAX_ITEMS);
        return -E2BIG;
    }
    return n;
}

/* Room for the entries of array v (checked as pw_check_array does), or NULL when it is empty,
 * not an array, too long, or memory ran out; the error, if any, is already added. */
void *pw_array_room(struct ctx *c, const cJSON *v, const char *path, const char *of, size_t elem)
{
    int n = pw_check_array(c, v, path, of);
    return n > 0 ? pw_cx_alloc(c, elem * (size_t)n) : NULL;
}

/* ---------------------------------------------------------------- name checks */

/* Characters of model, tool and class names and their globs. */
int pw_valid_name(const char *s, int allow_glob, int allow_slash)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '_' || ch == '-' || ch == '.' || ch == ':' || ch == '@' ||
            ch == '+')
            continue;
        if (allow_glob && (ch == '*' || ch == '?'))
            continue;
        if (allow_slash && ch == '/')
            continue;
        return 0;
    }
    return n > 0 && n <= 128;
}

/* A list of names (models, tools): strings, valid characters, no duplicates. */
struct policy_list pw_get_names(struct ctx *c, const cJSON *v, const char *path, const char *what,
                                int allow_slash)
{
    struct policy_list l = {0, NULL};
    char of[48];
    snprintf(of, sizeof of, "%s names", what);
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
        if (!pw_valid_name(s, 1, allow_slash)) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(c->d, ep,
                     "expected a %s name or glob (letters, digits, _ - . : @ +%s, * and ?; at "
                     "most 128), got %s",
                     what, allow_slash ? " /" : "", q);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < l.n; j++)
            if (strcmp(arr[j], s) == 0)
                dup = 1;
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

const char *const pw_n_mode[] = {"enforce", "observe", NULL};
const char *const pw_n_enf[] = {"strict", "best_effort", NULL};
const char *const pw_n_net[] = {"none", "proxy", "host", NULL};
const char *const pw_n_scope[] = {"scoped", "open", NULL};
const char *const pw_n_unix[] = {"open", "pairs", NULL};
const char *const pw_n_sysv[] = {"deny", "private", NULL};
const char *const pw_n_action[] = {"allow", "log",      "redact", "mask",
                                   "hash",  "tokenize", "block",  NULL};
const char *const pw_n_trigger[] = {"alert", "throttle", "quarantine", NULL};
const char *const pw_n_record[] = {"digest", "text", NULL};
const char *const pw_n_origin[] = {"policy", "default", "credentials", "host", "preset", NULL};
const char *const pw_n_definition[] = {"strip", "refuse", NULL};
const char *const pw_n_denied_call[] = {"drop", "notice", NULL};
const char *const pw_n_stored[] = {"refuse", "allow", NULL};
const char *const pw_n_http_tls[] = {"none", "terminate", NULL};
const char *const pw_n_http_action[] = {"allow", "deny", NULL};

void policy_free(struct policy *p)
{
    if (!p)
        return;
    arena_free(p->arena);
    free(p);
}

const char *policy_mode_name(enum policy_mode m)
{
    return pw_n_mode[m];
}
const char *policy_enforcement_name(enum policy_enforcement e)
{
    return pw_n_enf[e];
}
const char *policy_net_name(enum policy_net n)
{
    return pw_n_net[n];
}
const char *policy_scope_name(enum policy_scope s)
{
    return pw_n_scope[s];
}
const char *policy_unix_name(enum policy_unix u)
{
    return pw_n_unix[u];
}
const char *policy_sysv_name(enum policy_sysv s)
{
    return pw_n_sysv[s];
}
const char *policy_action_name(enum policy_action a)
{
    return pw_n_action[a];
}
const char *policy_trigger_name(enum policy_trigger t)
{
    return pw_n_trigger[t];
}
const char *policy_record_name(enum policy_record r)
{
    return pw_n_record[r];
}
const char *policy_origin_name(enum policy_origin o)
{
    return pw_n_origin[o];
}
const char *policy_http_tls_name(enum policy_http_tls t)
{
    return pw_n_http_tls[t];
}
const char *policy_http_action_name(enum policy_http_action a)
{
    return pw_n_http_action[a];
}
const char *policy_denied_definition_name(enum policy_denied_definition d)
{
    return pw_n_definition[d];
}
const char *policy_denied_call_name(enum policy_denied_call d)
{
    return pw_n_denied_call[d];
}
const char *policy_stored_context_name(enum policy_stored_context s)
{
    return pw_n_stored[s];
}
