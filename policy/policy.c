/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy parse, validation and compilation. One pass walks the cJSON tree with a table of the
 * keys each object may hold, records every error with its JSON path (an unknown key is an
 * error: a typo must never switch a rule off in silence), and fills the compiled struct as it
 * goes. The compiled form is only handed out when the document had no error at all.
 *
 * Hostile input is bounded before cJSON sees it: size, nesting depth and "\u0000" escapes are
 * checked on the raw bytes; string lengths, array and object sizes and duplicate keys (which
 * cJSON keeps, letting a second "deny" hide behind the first) during the walk.
 *
 * This file holds the document: the raw-byte guards, the top-level keys, the arena and the
 * readers that every part of the walk shares (policy_walk.h). The "sandbox" half of the walk
 * is policy_sandbox.c, the "api" half policy_api.c.
 */
#include "policy/policy.h"
#include "policy/policy_walk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


const char *const policy_data_classes[] = {
    "pii.email",          "pii.phone",          "pii.credit_card",       "pii.iban",
    "pii.ssn",            "pii.ip_address",     "secret.aws_access_key", "secret.github_token",
    "secret.private_key", "secret.jwt",         "secret.openai_key",     "secret.anthropic_key",
    "secret.api_key",     "health",             "financial",             NULL,
};

/* docs/POLICY.md, "The credential deny set", says what each entry holds. The first 14 are the
 * original set, in their original order. */
const char *const policy_credential_paths[] = {
    /* keys, clouds and clusters */
    "~/.ssh", "~/.gnupg", "~/.aws", "~/.azure", "~/.config/gcloud", "~/.kube", "~/.docker",
    "~/.git-credentials", "~/.netrc", "~/.npmrc", "~/.pypirc", "~/.vault-token",
    "~/.terraform.d", "~/.config/gh",
    "~/.config/hub", "~/.config/glab-cli", "~/.config/git/credentials", "~/.oci",
    "~/.config/doctl", "~/.config/hcloud", "~/.config/netlify", "~/.terraformrc", "~/.s3cfg",
    "~/.boto", "~/.config/rclone", "~/.config/containers/auth.json", "~/.config/sops",
    "~/.huggingface", "~/.cache/huggingface/token", "~/.kaggle",
    /* package registries */
    "~/.yarnrc", "~/.yarnrc.yml", "~/.gem/credentials", "~/.cargo/credentials",
    "~/.cargo/credentials.toml", "~/.composer/auth.json", "~/.config/composer/auth.json",
    "~/.m2/settings-security.xml",
    /* databases */
    "~/.pgpass", "~/.my.cnf", "~/.mylogin.cnf",
    /* password stores and keyrings */
    "~/.password-store", "~/.local/share/keyrings", "~/.local/share/kwalletd",
    "~/.local/share/python_keyring", "~/.config/op", "~/.pki",
    /* browser and mail profiles */
    "~/.mozilla", "~/.thunderbird", "~/.config/google-chrome", "~/.config/chromium",
    "~/.config/BraveSoftware", "~/.config/microsoft-edge", "~/.config/vivaldi",
    "~/.config/opera",
    /* shell and REPL histories */
    "~/.bash_history", "~/.zsh_history", "~/.histfile", "~/.sh_history",
    "~/.local/share/fish/fish_history", "~/.python_history", "~/.node_repl_history",
    "~/.psql_history", "~/.mysql_history", "~/.sqlite_history", "~/.irb_history",
    "~/.rediscli_history", "~/.lesshst", "~/.wget-hsts", "~/.viminfo",
    NULL,
};

const char *const policy_host_paths[] = {
    "/etc/cordon", "/var/lib/cordond", "/run/cordond", "~/.local/state/cordon", NULL,
};

const char *const policy_exec_search_default[] = {
    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL,
};


/* ---------------------------------------------------------------- arena */

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    max_align_t data[];
};

struct policy_arena {
    struct arena_block *head;
};

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
int pw_check_object(struct ctx *c, const cJSON *o, const char *path,
                        const char *const *allowed)
{
    if (!cJSON_IsObject(o)) {
        diag_add(c->d, path, "expected an object, got %s", diag_json_type(o));
        return 0;
    }
    int n = cJSON_GetArraySize(o);
    if (n > (int)POLICY_MAX_ITEMS) {
        diag_add(c->d, path, "too many members (%d); at most %u are accepted", n,
                 POLICY_MAX_ITEMS);
        return 0;
    }
    for (const cJSON *k = o->child; k; k = k->next) {
        char kp[DIAG_PATH_MAX];
        diag_path_key(kp, path, k->string);
        for (const cJSON *e = o->child; e != k; e = e->next)
            if (strcmp(e->string, k->string) == 0) {
                diag_add(c->d, kp, "duplicate key; each key may appear once (a second copy "
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
            o2 += (size_t)snprintf(list + o2, sizeof list - o2, "%s%s", i ? ", " : "",
                                   allowed[i]);
        if (best)
            diag_add(c->d, kp, "unknown key; did you mean \"%s\"? (expected one of %s)", best,
                     list);
        else
            diag_add(c->d, kp, "unknown key; expected one of %s", list);
    }
    return 1;
}

/* ---------------------------------------------------------------- scalars */

int pw_get_enum(struct ctx *c, const cJSON *v, const char *path, const char *const *names,
                    int def)
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

long long pw_get_int(struct ctx *c, const cJSON *v, const char *path, long long lo,
                         long long hi, long long def)
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

double pw_get_num(struct ctx *c, const cJSON *v, const char *path, double lo, double hi,
                      double def)
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
                 cJSON_IsNumber(v) && v->valuedouble == 0
                     ? " (to set no limit, leave the key out)"
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
uint64_t pw_get_size(struct ctx *c, const cJSON *v, const char *path, uint64_t lo,
                         uint64_t hi)
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
            case 'k': case 'K': mult = 1ULL << 10; break;
            case 'm': case 'M': mult = 1ULL << 20; break;
            case 'g': case 'G': mult = 1ULL << 30; break;
            case 't': case 'T': mult = 1ULL << 40; break;
            default: mult = 0; break;
            }
            if (mult && suf[1]) {
                /* "512MB", "2GiB": the unit is the suffix alone */
                if (n > 0 && n <= 16 && (strcmp(suf + 1, "B") == 0 || strcmp(suf + 1, "iB") == 0 ||
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
        diag_add(c->d, path, "string is %zu bytes; at most %u are accepted", n,
                 POLICY_MAX_STRING);
        return NULL;
    }
    for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++)
        if (*s < 0x20 || *s == 0x7f) {
            diag_add(c->d, path, "string contains a control character (0x%02x); remove it",
                     *s);
            return NULL;
        }
    return v->valuestring;
}

/* Array of at most POLICY_MAX_ITEMS; returns its size or -1 (error already added). */
int pw_check_array(struct ctx *c, const cJSON *v, const char *path, const char *of)
{
    if (!cJSON_IsArray(v)) {
        diag_add(c->d, path, "expected an array of %s, got %s", of, diag_json_type(v));
        return -1;
    }
    int n = cJSON_GetArraySize(v);
    if (n > (int)POLICY_MAX_ITEMS) {
        diag_add(c->d, path, "too many entries (%d); at most %u are accepted", n,
                 POLICY_MAX_ITEMS);
        return -1;
    }
    return n;
}

/* Room for the entries of array v (checked as pw_check_array does), or NULL when it is empty,
 * not an array, too long, or memory ran out; the error, if any, is already added. */
void *pw_array_room(struct ctx *c, const cJSON *v, const char *path, const char *of,
                        size_t elem)
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
struct policy_list pw_get_names(struct ctx *c, const cJSON *v, const char *path,
                                    const char *what, int allow_slash)
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

static const char *const k_top[] = {"cordon_policy", "agent",  "mode",       "sandbox",
                                    "api",           "poll_seconds", "version", "issued_at",
                                    "expires_at",    "description", "host_deny", NULL};

const char *const pw_n_mode[] = {"enforce", "observe", NULL};
const char *const pw_n_enf[] = {"strict", "best_effort", NULL};
const char *const pw_n_net[] = {"none", "proxy", "host", NULL};
const char *const pw_n_scope[] = {"scoped", "open", NULL};
const char *const pw_n_unix[] = {"open", "pairs", NULL};
const char *const pw_n_sysv[] = {"deny", "private", NULL};
const char *const pw_n_action[] = {"allow", "log", "redact", "block", NULL};
const char *const pw_n_trigger[] = {"log", "throttle", "quarantine", NULL};
const char *const pw_n_record[] = {"digest", "text", NULL};
const char *const pw_n_origin[] = {"policy", "default", "credentials", "host", NULL};


/* ---------------------------------------------------------------- raw-byte guards */

/* Depth of nesting and "\u0000" escapes, before cJSON recurses into anything. */
static int prescan(const char *buf, size_t len, struct diag *d)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch == '\0') {
            diag_add(d, "", "the document contains a NUL byte at offset %zu; a policy is "
                            "UTF-8 JSON text", i);
            return -1;
        }
        if (in_str) {
            if (ch == '\\' && i + 1 < len) {
                if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0) {
                    diag_add(d, "", "the document contains the escape \\u0000 at offset %zu; "
                                    "NUL characters are not accepted in a policy", i);
                    return -1;
                }
                i++;
            } else if (ch == '"') {
                in_str = 0;
            }
            continue;
        }
        if (ch == '"')
            in_str = 1;
        else if (ch == '{' || ch == '[') {
            if (++depth > POLICY_MAX_DEPTH) {
                diag_add(d, "", "the document nests deeper than %d levels (offset %zu); the "
                                "schema needs far fewer", POLICY_MAX_DEPTH, i);
                return -1;
            }
        } else if (ch == '}' || ch == ']')
            depth--;
    }
    return 0;
}

static void parse_error(const char *buf, size_t len, const char *at, struct diag *d)
{
    size_t off = at && at >= buf && at <= buf + len ? (size_t)(at - buf) : len;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char near[40] = "";
    size_t k = 0;
    for (size_t i = off; i < len && k < 20 && buf[i] != '\n'; i++)
        near[k++] = buf[i];
    near[k] = '\0';
    char q[96];
    diag_quote(near, q, sizeof q);
    diag_add(d, "", "not valid JSON at line %zu, column %zu (near %s); check for a missing "
                    "comma, quote or brace",
             line, col, q);
}

/* ---------------------------------------------------------------- entry points */

int policy_load(const char *buf, size_t len, const struct policy_env *env, struct policy **out,
                struct diag *d)
{
    int rc = -EINVAL;
    cJSON *root = NULL;
    struct policy *p = NULL;
    size_t errors_before = diag_total(d);

    *out = NULL;
    if (len > POLICY_MAX_BYTES) {
        diag_add(d, "", "the document is %zu bytes; a policy may be at most %u bytes", len,
                 POLICY_MAX_BYTES);
        goto out;
    }
    if (len == 0) {
        diag_add(d, "", "the document is empty; a policy is a JSON object");
        goto out;
    }
    if (prescan(buf, len, d) != 0)
        goto out;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        parse_error(buf, len, cJSON_GetErrorPtr(), d);
        goto out;
    }
    /* cJSON stops after the first value; anything but white space after it is an error. */
    for (const char *t = end; t && t < buf + len; t++)
        if (!strchr(" \t\r\n", *t)) {
            parse_error(buf, len, t, d);
            goto out;
        }

    struct policy_arena *a = calloc(1, sizeof *a);
    p = calloc(1, sizeof *p);
    if (!a || !p) {
        free(a);
        rc = -ENOMEM;
        goto out;
    }
    p->arena = a;
    p->paths_resolved = env->resolve_symlinks;
    struct ctx c = {.d = d, .p = p, .a = a, .env = env, .oom = 0};

    if (!pw_check_object(&c, root, "", k_top)) {
        diag_add(d, "", "a policy is a JSON object with \"cordon_policy\": %d and \"agent\"",
                 POLICY_SCHEMA);
        goto out;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "cordon_policy");
    if (!schema)
        diag_add(d, "cordon_policy", "missing; the first line of every policy is "
                                     "\"cordon_policy\": %d", POLICY_SCHEMA);
    else
        p->schema = (int)pw_get_int(&c, schema, "cordon_policy", POLICY_SCHEMA, POLICY_SCHEMA, 0);

    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    if (!agent) {
        diag_add(d, "agent", "missing; name the agent identity this policy governs");
    } else {
        const char *s = pw_get_str(&c, agent, "agent");
        int ok = s != NULL;
        for (const char *q = s; ok && *q; q++)
            if (!isalnum((unsigned char)*q) && !strchr("._-", *q))
                ok = 0;
        if (s && (!ok || strlen(s) > 64 || s[0] == '.' || s[0] == '-')) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(d, "agent", "expected 1 to 64 letters, digits, '.', '_' or '-' not "
                                 "starting with '.' or '-', got %s", q);
        } else if (s) {
            p->agent = pw_cx_strdup(&c, s);
        }
    }
    p->mode = (enum policy_mode)pw_get_enum(&c, cJSON_GetObjectItemCaseSensitive(root, "mode"),
                                         "mode", pw_n_mode, POLICY_MODE_ENFORCE);
    p->poll_seconds = (unsigned)pw_get_int(
        &c, cJSON_GetObjectItemCaseSensitive(root, "poll_seconds"), "poll_seconds", 5, 86400, 60);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc)
        (void)pw_get_str(&c, desc, "description");

    /* The stamp is added by signing; it is read here so that the payload of an envelope is
     * itself a valid policy, and so explain can show it. envelope.c checks its meaning. */
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver)
        p->version = (uint64_t)pw_get_int(&c, ver, "version", 1, 9007199254740992LL, 0);
    const cJSON *ia = cJSON_GetObjectItemCaseSensitive(root, "issued_at");
    if (ia && (p->issued_at = pw_get_str(&c, ia, "issued_at")))
        p->issued_at = pw_cx_strdup(&c, p->issued_at);
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(root, "expires_at");
    if (ea && (p->expires_at = pw_get_str(&c, ea, "expires_at")))
        p->expires_at = pw_cx_strdup(&c, p->expires_at);

    /* host_deny is stamped in by cordond (envelope.c) and read before the sandbox, whose deny
     * list it joins. */
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "host_deny");
    if (hd)
        pw_get_host_deny(&c, hd);

    pw_walk_sandbox(&c, cJSON_GetObjectItemCaseSensitive(root, "sandbox"));
    pw_walk_api(&c, cJSON_GetObjectItemCaseSensitive(root, "api"));

    if (c.oom) {
        rc = -ENOMEM;
        goto out;
    }
    if (diag_total(d) != errors_before)
        goto out;
    crypto_hash_sha256(p->digest, (const unsigned char *)buf, len);
    *out = p;
    p = NULL; /* transferred */
    rc = 0;
out:
    policy_free(p);
    cJSON_Delete(root);
    return rc;
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    arena_free(p->arena);
    free(p);
}

static int copy_abs(char dst[PATH_MAXLEN], const char *src)
{
    if (!src || src[0] != '/' || strlen(src) >= PATH_MAXLEN)
        return -EINVAL;
    memcpy(dst, src, strlen(src) + 1);
    return path_normalize(dst) == PATH_OK ? 0 : -EINVAL;
}

int policy_env_from_process(struct policy_env *env, struct policy_env_storage *st,
                            const char *workspace)
{
    memset(env, 0, sizeof *env);
    env->resolve_symlinks = 1;
    /* HOME first, as a shell would; the passwd entry when HOME is unset or unusable */
    const char *home = getenv("HOME");
    if (home && copy_abs(st->home, home) == 0) {
        env->vars.home = st->home;
    } else {
        struct passwd *pw = getpwuid(getuid());
        if (pw && copy_abs(st->home, pw->pw_dir) == 0)
            env->vars.home = st->home;
    }
    if (getcwd(st->cwd, sizeof st->cwd))
        env->vars.cwd = st->cwd;
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && copy_abs(st->state, xdg) == 0)
        env->state_home = st->state;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || copy_abs(st->tmp, tmp) != 0) {
        if (copy_abs(st->tmp, "/tmp") != 0)
            return -EINVAL;
    }
    env->vars.tmp = st->tmp;
    if (workspace) {
        char real[PATH_MAXLEN];
        int rc = path_resolve(workspace, real);
        if (rc != 0)
            return rc;
        memcpy(st->workspace, real, strlen(real) + 1);
        env->vars.workspace = st->workspace;
    } else if (env->vars.cwd) {
        memcpy(st->workspace, st->cwd, strlen(st->cwd) + 1);
        env->vars.workspace = st->workspace;
    }
    return 0;
}

const struct policy_path *policy_grant_covering(const struct policy *p, const char *path,
                                                int write_only, char canon[PATH_MAXLEN],
                                                int *rc)
{
    const struct policy_paths *lists[] = {&p->sandbox.fs.read_write, &p->sandbox.fs.read_only};
    if ((*rc = path_canonical(path, canon)) != 0)
        return NULL;
    for (size_t l = 0; l < (write_only ? 1u : 2u); l++)
        for (size_t i = 0; i < lists[l]->n; i++) {
            const struct policy_path *g = &lists[l]->v[i];
            char gc[PATH_MAXLEN];
            /* a grant is added by the kernel through its resolved path; one that does not
             * exist now may by the time the sandbox is built, so its folded name counts */
            if (path_canonical(g->path, gc) != 0)
                snprintf(gc, sizeof gc, "%s", g->real ? g->real : g->path);
            if (path_within(canon, gc) || path_within(canon, g->path) ||
                (g->real && path_within(canon, g->real)))
                return g;
        }
    return NULL;
}

int policy_check_policy_file(const struct policy *p, const char *path, char *err, size_t errlen)
{
    char canon[PATH_MAXLEN];
    int rc;
    const struct policy_path *g = policy_grant_covering(p, path, 1, canon, &rc);
    if (rc != 0) {
        diag_set(err, errlen, "the policy file %s cannot be resolved (%s), so it cannot be "
                              "judged against the agent's grants", path, strerror(-rc));
        return rc;
    }
    if (!g)
        return 0;
    int differs = strcmp(path, canon) != 0;
    diag_set(err, errlen, "the policy file %s%s%s%s lies inside the agent's read_write grant "
                          "%s (%s): the agent could rewrite the policy that governs its next "
                          "run; keep the policy file where the sandbox cannot write (outside the "
                          "workspace, ${tmp} and every read_write path)", path,
             differs ? ", which resolves to " : "", differs ? canon : "", differs ? "," : "",
             g->raw, g->real ? g->real : g->path);
    return -EPERM;
}

const char *policy_mode_name(enum policy_mode m) { return pw_n_mode[m]; }
const char *policy_enforcement_name(enum policy_enforcement e) { return pw_n_enf[e]; }
const char *policy_net_name(enum policy_net n) { return pw_n_net[n]; }
const char *policy_scope_name(enum policy_scope s) { return pw_n_scope[s]; }
const char *policy_unix_name(enum policy_unix u) { return pw_n_unix[u]; }
const char *policy_sysv_name(enum policy_sysv s) { return pw_n_sysv[s]; }
const char *policy_action_name(enum policy_action a) { return pw_n_action[a]; }
const char *policy_trigger_name(enum policy_trigger t) { return pw_n_trigger[t]; }
const char *policy_record_name(enum policy_record r) { return pw_n_record[r]; }
const char *policy_origin_name(enum policy_origin o) { return pw_n_origin[o]; }
