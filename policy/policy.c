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
 */
#include "base/glob.h"
#include "policy/policy.h"

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
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

static const char *const default_read_write[] = {"${workspace}", "${tmp}", NULL};
static const char *const default_read_only[] = {"${cwd}", NULL};

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

struct ctx {
    struct diag *d;
    struct policy *p;
    struct policy_arena *a;
    const struct policy_env *env;
    int oom;
    size_t n_host;      /* the document's host_deny, checked */
    const char **host;
};

static void *cx_alloc(struct ctx *c, size_t n)
{
    void *p = arena_alloc(c->a, n);
    if (!p)
        c->oom = 1;
    return p;
}

static const char *cx_strdup(struct ctx *c, const char *s)
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
static int check_object(struct ctx *c, const cJSON *o, const char *path,
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

static int get_enum(struct ctx *c, const cJSON *v, const char *path, const char *const *names,
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

static int get_bool(struct ctx *c, const cJSON *v, const char *path, int def)
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

static long long get_int(struct ctx *c, const cJSON *v, const char *path, long long lo,
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

static double get_num(struct ctx *c, const cJSON *v, const char *path, double lo, double hi,
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
static uint64_t get_limit(struct ctx *c, const cJSON *v, const char *path, const char *unit,
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

static const char *get_str(struct ctx *c, const cJSON *v, const char *path);

/*
 * A size in bytes: a whole number, or a string of digits with an optional suffix K, M, G or
 * T (powers of 1024, either case), as systemd's MemoryMax= and docker's --memory write it.
 * Returns the bytes, 0 (with an error) when it is malformed, overflows or lies outside
 * lo..hi.
 */
static uint64_t get_size(struct ctx *c, const cJSON *v, const char *path, uint64_t lo,
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
        const char *s = v->valuestring[0] ? get_str(c, v, path) : v->valuestring;
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
static const char *get_str(struct ctx *c, const cJSON *v, const char *path)
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
static int check_array(struct ctx *c, const cJSON *v, const char *path, const char *of)
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

/* Room for the entries of array v (checked as check_array does), or NULL when it is empty,
 * not an array, too long, or memory ran out; the error, if any, is already added. */
static void *array_room(struct ctx *c, const cJSON *v, const char *path, const char *of,
                        size_t elem)
{
    int n = check_array(c, v, path, of);
    return n > 0 ? cx_alloc(c, elem * (size_t)n) : NULL;
}

/* ---------------------------------------------------------------- name checks */

/* Characters of model, tool and class names and their globs. */
static int valid_name(const char *s, int allow_glob, int allow_slash)
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
static struct policy_list get_names(struct ctx *c, const cJSON *v, const char *path,
                                    const char *what, int allow_slash)
{
    struct policy_list l = {0, NULL};
    char of[48];
    snprintf(of, sizeof of, "%s names", what);
    const char **arr = array_room(c, v, path, of, sizeof *arr);
    if (!arr)
        return l;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        const char *s = get_str(c, e, ep);
        if (!s)
            continue;
        if (!valid_name(s, 1, allow_slash)) {
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
        arr[l.n++] = cx_strdup(c, s);
    }
    l.v = arr;
    return l;
}

/* ---------------------------------------------------------------- paths */

static int compile_path(struct ctx *c, const char *raw, const char *path,
                        enum policy_origin origin, struct policy_path *out)
{
    char exp[PATH_MAXLEN], why[200];
    if (origin == POLICY_ORIGIN_HOST && raw[0] == '/') {
        /* a host secret is an absolute path as cordond or the environment named it: taken
         * literally, never expanded ("${" is just a name there) */
        if (strlen(raw) >= sizeof exp)
            return -1;
        memcpy(exp, raw, strlen(raw) + 1);
        if (path_normalize(exp) != PATH_OK)
            return -1;
    } else if (path_expand(raw, &c->env->vars, exp, why, sizeof why) != PATH_OK) {
        char q[96];
        diag_quote(raw, q, sizeof q);
        diag_add(c->d, path, "%s (in %s)", why, q);
        return -1;
    }
    out->raw = cx_strdup(c, raw);
    out->path = cx_strdup(c, exp);
    out->real = NULL;
    out->origin = origin;
    if (c->env->resolve_symlinks) {
        char real[PATH_MAXLEN];
        if (path_resolve(exp, real) == 0)
            out->real = strcmp(real, exp) == 0 ? out->path : cx_strdup(c, real);
    }
    return 0;
}

/* The entry of v (n entries) with path p, or NULL. */
static const struct policy_path *path_listed(const struct policy_path *v, size_t n,
                                             const char *p)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].path, p) == 0)
            return &v[i];
    return NULL;
}

/* A path written without ~ or a ${variable}: its meaning does not depend on the machine. */
static int path_literal(const char *raw)
{
    return raw[0] != '~' && !strstr(raw, "${");
}

/*
 * Two entries naming one directory are the writer's mistake when they are written the same
 * way or both literally ("/srv" and "/srv/"). When a variable made them meet (${tmp} and
 * ${workspace} when the agent works in /tmp) the policy is fine on other machines, so the
 * second is folded into the first without a word.
 */
static int same_entry_is_mistake(const struct policy_path *a, const struct policy_path *b)
{
    return strcmp(a->raw, b->raw) == 0 || (path_literal(a->raw) && path_literal(b->raw));
}

/*
 * A list of paths: the document's entries when present, the defaults otherwise, then the
 * extra entries (the credential set for deny). Duplicates after expansion are folded.
 */
static struct policy_paths get_paths(struct ctx *c, const cJSON *v, const char *path,
                                     const char *const *defaults, const char *const *extra)
{
    struct policy_paths l = {0, NULL};
    int n = 0;
    if (v) {
        n = check_array(c, v, path, "paths");
        if (n < 0)
            return l;
    } else {
        for (; defaults && defaults[n]; n++)
            ;
    }
    size_t nextra = 0;
    for (; extra && extra[nextra]; nextra++)
        ;
    struct policy_path *arr = cx_alloc(c, sizeof *arr * ((size_t)n + nextra + 1));
    if (!arr)
        return l;
    if (v) {
        int i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            char ep[DIAG_PATH_MAX];
            diag_path_index(ep, path, i);
            const char *s = get_str(c, e, ep);
            if (!s)
                continue;
            if (compile_path(c, s, ep, POLICY_ORIGIN_POLICY, &arr[l.n]) != 0)
                continue;
            const struct policy_path *prev = path_listed(arr, l.n, arr[l.n].path);
            if (prev && same_entry_is_mistake(prev, &arr[l.n])) {
                char q[96];
                diag_quote(s, q, sizeof q);
                diag_add(c->d, ep, "%s names a path already listed here", q);
                continue;
            }
            if (!prev)
                l.n++;
        }
    } else {
        for (int i = 0; i < n; i++)
            if (compile_path(c, defaults[i], path, POLICY_ORIGIN_DEFAULT, &arr[l.n]) == 0 &&
                !path_listed(arr, l.n, arr[l.n].path))
                l.n++;
    }
    for (size_t i = 0; i < nextra; i++)
        if (compile_path(c, extra[i], path, POLICY_ORIGIN_CREDENTIALS, &arr[l.n]) == 0 &&
            !path_listed(arr, l.n, arr[l.n].path))
            l.n++;
    l.v = arr;
    return l;
}

/*
 * Append the host secret set to the deny list l: the fixed paths (policy_host_paths), the
 * state directory of $XDG_STATE_HOME, the caller's host secrets (cordond's, before it signs)
 * and the document's host_deny. They are denied whatever the document says, deny_credentials
 * included; check_fs_conflicts() refuses a grant inside one of them.
 */
static void add_host_paths(struct ctx *c, struct policy_paths *l)
{
    const struct policy_env *env = c->env;
    size_t nfixed = 0;
    for (; policy_host_paths[nfixed]; nfixed++)
        ;
    size_t nlit = 1 + env->n_host_deny + c->n_host;
    const char **lit = cx_alloc(c, sizeof *lit * nlit);
    struct policy_path *arr = cx_alloc(c, sizeof *arr * (l->n + nfixed + nlit + 1));
    if (!lit || !arr)
        return;
    size_t k = 0;
    const char *st = env->state_home;
    if (st && st[0] == '/' && !strstr(st, "/..") && strlen(st) + 8 < PATH_MAXLEN) {
        char *s = cx_alloc(c, strlen(st) + 8);
        if (s) {
            snprintf(s, strlen(st) + 8, "%s/cordon", st);
            lit[k++] = s;
        }
    }
    for (size_t i = 0; i < env->n_host_deny; i++)
        if (env->host_deny[i] && env->host_deny[i][0] == '/')
            lit[k++] = env->host_deny[i];
    for (size_t i = 0; i < c->n_host; i++)
        lit[k++] = c->host[i];
    if (l->n)
        memcpy(arr, l->v, sizeof *arr * l->n);
    size_t n = l->n;
    for (size_t i = 0; i < nfixed + k; i++) {
        const char *raw = i < nfixed ? policy_host_paths[i] : lit[i - nfixed];
        if (compile_path(c, raw, "sandbox.filesystem.deny", POLICY_ORIGIN_HOST, &arr[n]) == 0 &&
            !path_listed(arr, n, arr[n].path))
            n++;
    }
    l->v = arr;
    l->n = n;
}

/*
 * host_deny: the absolute paths the signer (cordond) keeps secret, added to the signed payload
 * like the stamp. They become deny rules of origin "host". Each must be absolute, without "..",
 * and not "/" itself; at most POLICY_HOST_DENY_MAX of them.
 */
static void get_host_deny(struct ctx *c, const cJSON *v)
{
    const char *path = "host_deny";
    if (!cJSON_IsArray(v)) {
        diag_add(c->d, path, "expected an array of absolute paths (the files and directories "
                             "cordond keeps secret, added when it signs), got %s",
                 diag_json_type(v));
        return;
    }
    int n = cJSON_GetArraySize(v);
    if (n > POLICY_HOST_DENY_MAX) {
        diag_add(c->d, path, "too many entries (%d); at most %d are accepted", n,
                 POLICY_HOST_DENY_MAX);
        return;
    }
    const char **arr = n ? cx_alloc(c, sizeof *arr * (size_t)n) : NULL;
    if (n && !arr)
        return;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], q[96], norm[PATH_MAXLEN];
        diag_path_index(ep, path, i);
        const char *s = get_str(c, e, ep);
        if (!s)
            continue;
        diag_quote(s, q, sizeof q);
        if (s[0] != '/') {
            diag_add(c->d, ep, "expected an absolute path, got %s; host_deny names files and "
                               "directories from /", q);
            continue;
        }
        if (strlen(s) >= sizeof norm) {
            diag_add(c->d, ep, "path is longer than %d bytes", PATH_MAXLEN - 1);
            continue;
        }
        memcpy(norm, s, strlen(s) + 1);
        if (path_normalize(norm) != PATH_OK) {
            diag_add(c->d, ep, "path must not contain \"..\" (got %s)", q);
            continue;
        }
        if (strcmp(norm, "/") == 0) {
            diag_add(c->d, ep, "\"/\" would deny the whole file system; host_deny names "
                               "cordond's own files and directories");
            continue;
        }
        arr[c->n_host++] = cx_strdup(c, s);
    }
    c->host = arr;
}

/* ---------------------------------------------------------------- sandbox */

static int is_path_entry(const char *s)
{
    return strchr(s, '/') || s[0] == '~' || strncmp(s, "${", 2) == 0;
}

static void get_exec_rules(struct ctx *c, const cJSON *v, const char *path,
                           struct policy_list *names, struct policy_paths *paths,
                           const char *def_name)
{
    names->n = 0;
    names->v = NULL;
    paths->n = 0;
    paths->v = NULL;
    if (!v) {
        if (def_name) {
            const char **one = cx_alloc(c, sizeof *one);
            if (one) {
                one[0] = def_name;
                names->n = 1;
                names->v = one;
            }
        }
        return;
    }
    int n = check_array(c, v, path, "program names or paths");
    if (n <= 0)
        return;
    const char **nv = cx_alloc(c, sizeof *nv * (size_t)n);
    struct policy_path *pv = cx_alloc(c, sizeof *pv * (size_t)n);
    if (!nv || !pv)
        return;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        const char *s = get_str(c, e, ep);
        if (!s)
            continue;
        int dup = 0;
        for (const cJSON *f = v->child; f != e; f = f->next)
            if (cJSON_IsString(f) && strcmp(f->valuestring, s) == 0)
                dup = 1;
        if (dup) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(c->d, ep, "%s is listed twice", q);
            continue;
        }
        if (is_path_entry(s)) {
            if (strpbrk(s, "*?[")) {
                char q[96];
                diag_quote(s, q, sizeof q);
                diag_add(c->d, ep, "globs are matched against program names, not paths (got "
                                   "%s); name the file or the directory whose programs may run",
                         q);
                continue;
            }
            if (compile_path(c, s, ep, POLICY_ORIGIN_POLICY, &pv[paths->n]) == 0)
                paths->n++;
            continue;
        }
        if (!valid_name(s, 1, 0)) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(c->d, ep,
                     "expected a program name or glob (\"rm\", \"python3*\") or an absolute "
                     "path, got %s",
                     q);
            continue;
        }
        nv[names->n++] = cx_strdup(c, s);
    }
    names->v = nv;
    paths->v = pv;
}

static int parse_port(const char *s, uint16_t *port)
{
    if (strcmp(s, "*") == 0) {
        *port = 0;
        return 0;
    }
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < 1 || v > 65535 || s[0] == '0')
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int valid_hostname(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];
        if (ch == '.') {
            if (label == 0 || h[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!(isalnum(ch) || ch == '-' || ch == '_'))
            return 0;
        if (label == 0 && ch == '-')
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && h[n - 1] != '-';
}

static int valid_ip6(const char *h)
{
    size_t n = strlen(h);
    if (n < 2 || n > 45)
        return 0;
    int colons = 0;
    for (const char *p = h; *p; p++) {
        if (*p == ':')
            colons++;
        else if (!isxdigit((unsigned char)*p) && *p != '.')
            return 0;
    }
    return colons >= 2;
}

static void get_endpoints(struct ctx *c, const cJSON *v, const char *path)
{
    if (!v)
        return;
    struct policy_endpoint *arr = array_room(c, v, path, "\"host:port\" strings", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], q[96], host[300];
        diag_path_index(ep, path, i);
        const char *s = get_str(c, e, ep);
        if (!s)
            continue;
        diag_quote(s, q, sizeof q);
        const char *colon = strrchr(s, ':');
        if (!colon || strlen(s) > 260) {
            diag_add(c->d, ep,
                     "expected \"host:port\" (\"api.example.com:443\", \"*.github.com:443\", "
                     "\"[::1]:8080\", \"host:*\"), got %s",
                     q);
            continue;
        }
        size_t hl = (size_t)(colon - s);
        memcpy(host, s, hl);
        host[hl] = '\0';
        uint16_t port;
        if (parse_port(colon + 1, &port) != 0) {
            diag_add(c->d, ep, "expected a port from 1 to 65535 or \"*\" after the last \":\", "
                               "got %s",
                     q);
            continue;
        }
        int wildcard = 0, ok;
        char *h = host;
        if (h[0] == '[') {
            ok = hl > 2 && h[hl - 1] == ']';
            if (ok) {
                h[hl - 1] = '\0';
                h++;
                ok = valid_ip6(h);
            }
        } else {
            if (strncmp(h, "*.", 2) == 0) {
                wildcard = 1;
                ok = valid_hostname(h + 2) && strchr(h + 2, '.') != NULL;
            } else {
                ok = valid_hostname(h);
                /* all digits and dots: it is meant as an IPv4 address, so it must be one */
                if (ok && strspn(h, "0123456789.") == strlen(h)) {
                    struct in_addr a4;
                    ok = inet_pton(AF_INET, h, &a4) == 1;
                }
            }
        }
        if (!ok) {
            diag_add(c->d, ep,
                     "expected a host name, \"*.\" followed by a domain with at least two "
                     "labels, an IPv4 address or a bracketed IPv6 address before the port, "
                     "got %s",
                     q);
            continue;
        }
        for (char *p = h; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            if (strcmp(arr[j].host, h) == 0 && arr[j].port == port)
                dup = 1;
        if (dup) {
            diag_add(c->d, ep, "%s is listed twice", q);
            continue;
        }
        arr[k].raw = cx_strdup(c, s);
        arr[k].host = cx_strdup(c, h);
        arr[k].wildcard = wildcard;
        arr[k].port = port;
        k++;
    }
    c->p->sandbox.net.allow = arr;
    c->p->sandbox.net.n_allow = k;
}

static const char *const k_top[] = {"cordon_policy", "agent",  "mode",       "sandbox",
                                    "api",           "poll_seconds", "version", "issued_at",
                                    "expires_at",    "description", "host_deny", NULL};
static const char *const k_sandbox[] = {"enforcement", "filesystem", "exec", "network", "ipc",
                                        "limits", NULL};
static const char *const k_fs[] = {"read_write", "read_only", "deny", "deny_credentials", NULL};
static const char *const k_exec[] = {"allow", "deny", "search", NULL};
static const char *const k_net[] = {"mode", "allow", NULL};
static const char *const k_ipc[] = {"signals", "abstract_unix", "unix_sockets", "sysv", NULL};
static const char *const k_limits[] = {"processes", "memory", "cpu_seconds", "open_files", NULL};
static const char *const k_api[] = {"models", "data", "tools", "budget", "schedule", "anomaly",
                                    "audit", NULL};
static const char *const k_tools[] = {"allow", "deny", "constraints", NULL};
static const char *const k_budget[] = {"session_usd", "day_usd", "prices", NULL};
static const char *const k_price[] = {"input_per_mtok", "output_per_mtok", NULL};
static const char *const k_window[] = {"outside", "inside", "tz", "data", "tools", "models",
                                       "block", NULL};
static const char *const k_window_tools[] = {"deny", NULL};
static const char *const k_anomaly[] = {"requests_per_minute", "denials_per_10_minutes",
                                        "on_trigger", NULL};
static const char *const k_audit[] = {"prompts", "tool_arguments", NULL};
static const char *const k_custom[] = {"class", "pattern", "action", NULL};

static const char *const n_mode[] = {"enforce", "observe", NULL};
static const char *const n_enf[] = {"strict", "best_effort", NULL};
static const char *const n_net[] = {"none", "proxy", "host", NULL};
static const char *const n_scope[] = {"scoped", "open", NULL};
static const char *const n_unix[] = {"open", "pairs", NULL};
static const char *const n_sysv[] = {"deny", "private", NULL};
static const char *const n_action[] = {"allow", "log", "redact", "block", NULL};
static const char *const n_trigger[] = {"log", "throttle", "quarantine", NULL};
static const char *const n_record[] = {"digest", "text", NULL};
static const char *const n_origin[] = {"policy", "default", "credentials", "host", NULL};

/*
 * Rules that contradict each other are errors rather than precedence puzzles: the same entry
 * written in two lists, or a grant beneath a denied directory such as one of the default
 * credential set (the person must switch the set off on purpose, not by accident). Two
 * different entries that expand to the same directory here (${cwd} and ${workspace} when the
 * agent runs in its workspace) are not the writer's mistake: the wider grant applies.
 */
static void check_fs_conflicts(struct ctx *c)
{
    const struct policy_paths *rw = &c->p->sandbox.fs.read_write;
    const struct policy_paths *ro = &c->p->sandbox.fs.read_only;
    const struct policy_paths *dn = &c->p->sandbox.fs.deny;
    for (size_t i = 0; i < ro->n; i++)
        for (size_t j = 0; j < rw->n; j++)
            if (strcmp(ro->v[i].path, rw->v[j].path) == 0 &&
                same_entry_is_mistake(&ro->v[i], &rw->v[j]) &&
                ro->v[i].origin == POLICY_ORIGIN_POLICY &&
                rw->v[j].origin == POLICY_ORIGIN_POLICY) {
                char q[96];
                diag_quote(ro->v[i].raw, q, sizeof q);
                diag_add(c->d, "sandbox.filesystem.read_only",
                         "%s is also in read_write; list each path once", q);
            }
    const struct policy_paths *grants[] = {rw, ro};
    const char *names[] = {"sandbox.filesystem.read_write", "sandbox.filesystem.read_only"};
    for (size_t g = 0; g < 2; g++)
        for (size_t i = 0; i < grants[g]->n; i++) {
            const struct policy_path *gp = &grants[g]->v[i];
            for (size_t j = 0; j < dn->n; j++) {
                const struct policy_path *dp = &dn->v[j];
                /* judged on the paths as written and, once resolved, on the targets: a
                 * symlink must not carry a grant into a denied directory */
                if (!path_within(gp->path, dp->path) &&
                    !(gp->real && dp->real && path_within(gp->real, dp->real)))
                    continue;
                char q[96], qd[96];
                diag_quote(gp->raw, q, sizeof q);
                diag_quote(dp->raw, qd, sizeof qd);
                if (dp->origin == POLICY_ORIGIN_HOST)
                    diag_add(c->d, names[g],
                             "%s lies in %s, which holds cordond's secrets (its keys, admin "
                             "token, state or audit log); it belongs to cordond and cannot be "
                             "granted: choose a directory outside it",
                             q, qd);
                else if (dp->origin == POLICY_ORIGIN_CREDENTIALS)
                    diag_add(c->d, names[g],
                             "%s lies in %s, which the default credential deny set covers; "
                             "set sandbox.filesystem.deny_credentials to false and list in "
                             "deny the credential paths you still want denied",
                             q, qd);
                else if (strcmp(gp->path, dp->path) == 0 ||
                         (gp->real && dp->real && strcmp(gp->real, dp->real) == 0))
                    diag_add(c->d, names[g], "%s is also in deny; list each path once", q);
                else
                    diag_add(c->d, names[g],
                             "%s lies inside the denied %s, and a deny covers everything "
                             "beneath it; remove one of the two rules",
                             q, qd);
            }
        }
}

static void walk_sandbox(struct ctx *c, const cJSON *sb)
{
    struct policy *p = c->p;
    const cJSON *fs = NULL, *ex = NULL, *net = NULL, *ipc = NULL, *limits = NULL;
    if (sb && check_object(c, sb, "sandbox", k_sandbox)) {
        p->sandbox.enforcement = (enum policy_enforcement)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(sb, "enforcement"), "sandbox.enforcement",
            n_enf, POLICY_STRICT);
        fs = cJSON_GetObjectItemCaseSensitive(sb, "filesystem");
        ex = cJSON_GetObjectItemCaseSensitive(sb, "exec");
        net = cJSON_GetObjectItemCaseSensitive(sb, "network");
        ipc = cJSON_GetObjectItemCaseSensitive(sb, "ipc");
        limits = cJSON_GetObjectItemCaseSensitive(sb, "limits");
    }

    /* filesystem */
    const cJSON *rw = NULL, *ro = NULL, *deny = NULL;
    int creds = 1;
    if (fs && check_object(c, fs, "sandbox.filesystem", k_fs)) {
        rw = cJSON_GetObjectItemCaseSensitive(fs, "read_write");
        ro = cJSON_GetObjectItemCaseSensitive(fs, "read_only");
        deny = cJSON_GetObjectItemCaseSensitive(fs, "deny");
        creds = get_bool(c, cJSON_GetObjectItemCaseSensitive(fs, "deny_credentials"),
                         "sandbox.filesystem.deny_credentials", 1);
    }
    p->sandbox.fs.deny_credentials = creds;
    p->sandbox.fs.read_write =
        get_paths(c, rw, "sandbox.filesystem.read_write", default_read_write, NULL);
    p->sandbox.fs.read_only =
        get_paths(c, ro, "sandbox.filesystem.read_only", default_read_only, NULL);
    p->sandbox.fs.deny = get_paths(c, deny, "sandbox.filesystem.deny", NULL,
                                   creds ? policy_credential_paths : NULL);
    add_host_paths(c, &p->sandbox.fs.deny);

    check_fs_conflicts(c);

    /* exec */
    const cJSON *ea = NULL, *ed = NULL, *es = NULL;
    if (ex && check_object(c, ex, "sandbox.exec", k_exec)) {
        ea = cJSON_GetObjectItemCaseSensitive(ex, "allow");
        ed = cJSON_GetObjectItemCaseSensitive(ex, "deny");
        es = cJSON_GetObjectItemCaseSensitive(ex, "search");
    }
    get_exec_rules(c, ea, "sandbox.exec.allow", &p->sandbox.exec.allow_names,
                   &p->sandbox.exec.allow_paths, "*");
    get_exec_rules(c, ed, "sandbox.exec.deny", &p->sandbox.exec.deny_names,
                   &p->sandbox.exec.deny_paths, NULL);
    p->sandbox.exec.search =
        get_paths(c, es, "sandbox.exec.search", policy_exec_search_default, NULL);

    /* network */
    p->sandbox.net.mode = POLICY_NET_PROXY;
    if (net && check_object(c, net, "sandbox.network", k_net)) {
        p->sandbox.net.mode = (enum policy_net)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(net, "mode"), "sandbox.network.mode", n_net,
            POLICY_NET_PROXY);
        const cJSON *allow = cJSON_GetObjectItemCaseSensitive(net, "allow");
        get_endpoints(c, allow, "sandbox.network.allow");
        if (allow && p->sandbox.net.mode == POLICY_NET_NONE && cJSON_GetArraySize(allow) > 0)
            diag_add(c->d, "sandbox.network.allow",
                     "mode \"none\" permits no connection, so an allow list has no effect; "
                     "set \"mode\": \"proxy\" or remove the list");
    }

    /* ipc */
    p->sandbox.ipc.signals = POLICY_SCOPE_SCOPED;
    p->sandbox.ipc.abstract_unix = POLICY_SCOPE_SCOPED;
    if (ipc && check_object(c, ipc, "sandbox.ipc", k_ipc)) {
        p->sandbox.ipc.signals = (enum policy_scope)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(ipc, "signals"), "sandbox.ipc.signals", n_scope,
            POLICY_SCOPE_SCOPED);
        p->sandbox.ipc.abstract_unix = (enum policy_scope)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(ipc, "abstract_unix"),
            "sandbox.ipc.abstract_unix", n_scope, POLICY_SCOPE_SCOPED);
        p->sandbox.ipc.unix_sockets = (enum policy_unix)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(ipc, "unix_sockets"), "sandbox.ipc.unix_sockets",
            n_unix, POLICY_UNIX_OPEN);
        p->sandbox.ipc.sysv = (enum policy_sysv)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(ipc, "sysv"), "sandbox.ipc.sysv", n_sysv,
            POLICY_SYSV_DENY);
    }

    /* limits */
    if (limits && check_object(c, limits, "sandbox.limits", k_limits)) {
        p->sandbox.limits.processes =
            get_limit(c, cJSON_GetObjectItemCaseSensitive(limits, "processes"),
                      "sandbox.limits.processes", "processes", 1, POLICY_LIMIT_PROCESSES_MAX);
        p->sandbox.limits.memory = get_size(c, cJSON_GetObjectItemCaseSensitive(limits, "memory"),
                                            "sandbox.limits.memory", POLICY_LIMIT_MEMORY_MIN,
                                            POLICY_LIMIT_MEMORY_MAX);
        p->sandbox.limits.cpu_seconds =
            get_limit(c, cJSON_GetObjectItemCaseSensitive(limits, "cpu_seconds"),
                      "sandbox.limits.cpu_seconds", "seconds", 1, POLICY_LIMIT_CPU_MAX);
        p->sandbox.limits.open_files = get_limit(
            c, cJSON_GetObjectItemCaseSensitive(limits, "open_files"), "sandbox.limits.open_files",
            "open files", POLICY_LIMIT_OPEN_FILES_MIN, POLICY_LIMIT_OPEN_FILES_MAX);
    }
}

/* ---------------------------------------------------------------- api */

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

static void get_custom(struct ctx *c, const cJSON *v, const char *path)
{
    struct policy_custom_class *arr = array_room(c, v, path, "custom classes", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], fp[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        if (!check_object(c, e, ep, k_custom))
            continue;
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(e, "class");
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(e, "pattern");
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(e, "action");
        int ok = 1;
        if (!cls || !pat || !act) {
            diag_add(c->d, ep, "a custom class needs \"class\", \"pattern\" and \"action\"%s%s%s",
                     cls ? "" : " (class is missing)", pat ? "" : " (pattern is missing)",
                     act ? "" : " (action is missing)");
            continue;
        }
        diag_path_key(fp, ep, "class");
        const char *cs = get_str(c, cls, fp);
        if (cs && !valid_class_name(cs)) {
            char q[96];
            diag_quote(cs, q, sizeof q);
            diag_add(c->d, fp, "expected a class name of lowercase letters, digits and _ "
                               "starting with a letter (at most 32), got %s", q);
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
        diag_path_key(fp, ep, "pattern");
        const char *ps = get_str(c, pat, fp);
        diag_path_key(fp, ep, "action");
        enum policy_action a = (enum policy_action)get_enum(c, act, fp, n_action, -1);
        if (!cs || !ps || (int)a < 0)
            continue;
        arr[k].cls = cx_strdup(c, cs);
        arr[k].pattern = cx_strdup(c, ps);
        arr[k].action = a;
        k++;
    }
    c->p->api.custom = arr;
    c->p->api.n_custom = k;
}

/* A data object: class (or glob) -> action; "custom" allowed only at top level. */
static struct policy_data get_data(struct ctx *c, const cJSON *v, const char *path,
                                   int top_level)
{
    struct policy_data l = {0, NULL};
    if (!check_object(c, v, path, NULL))
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
    struct policy_data_rule *arr = cx_alloc(c, sizeof *arr * (size_t)(n ? n : 1));
    if (!arr)
        return l;
    for (const cJSON *e = v->child; e; e = e->next) {
        char ep[DIAG_PATH_MAX];
        diag_path_key(ep, path, e->string);
        if (strcmp(e->string, "custom") == 0) {
            if (!top_level)
                diag_add(c->d, ep, "custom classes are defined once, in api.data.custom; "
                                   "refer to them here by name");
            continue;
        }
        int is_glob = strpbrk(e->string, "*?") != NULL;
        if (!valid_name(e->string, 1, 0) || !class_known(e->string, c->p, is_glob)) {
            char q[96];
            diag_quote(e->string, q, sizeof q);
            diag_add(c->d, ep,
                     "unknown data class %s; built-in classes are pii.*, secret.*, health and "
                     "financial (see docs/POLICY.md), custom ones come from api.data.custom",
                     q);
            continue;
        }
        int a = get_enum(c, e, ep, n_action, -1);
        if (a < 0)
            continue;
        arr[l.n].cls = cx_strdup(c, e->string);
        arr[l.n].action = (enum policy_action)a;
        l.n++;
    }
    l.v = arr;
    return l;
}

static void get_constraints(struct ctx *c, const cJSON *v, const char *path)
{
    if (!check_object(c, v, path, NULL))
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
    struct policy_constraint *arr = cx_alloc(c, sizeof *arr * (total ? total : 1));
    if (!arr)
        return;
    size_t k = 0;
    for (const cJSON *t = v->child; t; t = t->next) {
        char tp[DIAG_PATH_MAX];
        diag_path_key(tp, path, t->string);
        if (!valid_name(t->string, 1, 0)) {
            char q[96];
            diag_quote(t->string, q, sizeof q);
            diag_add(c->d, tp, "expected a tool name or glob as the key, got %s", q);
            continue;
        }
        if (!check_object(c, t, tp, NULL))
            continue;
        if (!t->child)
            diag_add(c->d, tp, "expected at least one \"argument\": \"pattern\" pair");
        for (const cJSON *a = t->child; a; a = a->next) {
            char ap[DIAG_PATH_MAX];
            diag_path_key(ap, tp, a->string);
            if (!valid_name(a->string, 0, 0)) {
                char q[96];
                diag_quote(a->string, q, sizeof q);
                diag_add(c->d, ap, "expected an argument name as the key, got %s", q);
                continue;
            }
            const char *pat = get_str(c, a, ap);
            if (!pat)
                continue;
            arr[k].tool = cx_strdup(c, t->string);
            arr[k].arg = cx_strdup(c, a->string);
            arr[k].pattern = cx_strdup(c, pat);
            k++;
        }
    }
    c->p->api.constraints = arr;
    c->p->api.n_constraints = k;
}

static void get_prices(struct ctx *c, const cJSON *v, const char *path)
{
    if (!check_object(c, v, path, NULL))
        return;
    int n = cJSON_GetArraySize(v);
    struct policy_price *arr = cx_alloc(c, sizeof *arr * (size_t)(n ? n : 1));
    if (!arr)
        return;
    size_t k = 0;
    for (const cJSON *m = v->child; m; m = m->next) {
        char mp[DIAG_PATH_MAX], fp[DIAG_PATH_MAX];
        diag_path_key(mp, path, m->string);
        if (!valid_name(m->string, 1, 1)) {
            char q[96];
            diag_quote(m->string, q, sizeof q);
            diag_add(c->d, mp, "expected a model name or glob as the key, got %s", q);
            continue;
        }
        if (!check_object(c, m, mp, k_price))
            continue;
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(m, "input_per_mtok");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(m, "output_per_mtok");
        if (!in || !out) {
            diag_add(c->d, mp, "a price needs both \"input_per_mtok\" and \"output_per_mtok\" "
                               "(US dollars per million tokens)");
            continue;
        }
        diag_path_key(fp, mp, "input_per_mtok");
        arr[k].input_per_mtok = get_num(c, in, fp, 0, 10000, 0);
        diag_path_key(fp, mp, "output_per_mtok");
        arr[k].output_per_mtok = get_num(c, out, fp, 0, 10000, 0);
        arr[k].model = cx_strdup(c, m->string);
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
    return -1;
}

static int parse_hhmm(const char *s, unsigned *min)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    unsigned h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    unsigned m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *min = h * 60 + m;
    return 0;
}

/* "Mon-Fri 08:00-18:00", "Sat,Sun 00:00-24:00", "Mon-Sun 22:00-06:00" */
static int parse_window(const char *s, struct policy_window *w)
{
    const char *sp = strchr(s, ' ');
    if (!sp)
        return -1;
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
            return -1;
        for (int d = a;; d = (d + 1) % 7) {
            days |= (uint8_t)(1u << d);
            if (d == b)
                break;
        }
        p = comma ? comma + 1 : sp;
        if (comma && p == sp)
            return -1;
    }
    const char *t = sp + 1;
    unsigned a, b;
    if (strlen(t) != 11 || t[5] != '-' || parse_hhmm(t, &a) != 0 || parse_hhmm(t + 6, &b) != 0)
        return -1;
    if (a == b || a == 24 * 60)
        return -1;
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
    struct policy_window *arr = array_room(c, v, path, "schedule rules", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], fp[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        if (!check_object(c, e, ep, k_window))
            continue;
        struct policy_window *w = &arr[k];
        memset(w, 0, sizeof *w);
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(e, "outside");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(e, "inside");
        if (!!out == !!in) {
            diag_add(c->d, ep, "a schedule rule needs exactly one of \"outside\" or \"inside\" "
                               "(a window such as \"Mon-Fri 08:00-18:00\")");
            continue;
        }
        diag_path_key(fp, ep, out ? "outside" : "inside");
        const char *spec = get_str(c, out ? out : in, fp);
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
        w->spec = spec ? cx_strdup(c, spec) : NULL;
        const cJSON *tz = cJSON_GetObjectItemCaseSensitive(e, "tz");
        w->tz = "UTC";
        if (tz) {
            diag_path_key(fp, ep, "tz");
            const char *ts = get_str(c, tz, fp);
            if (ts && !valid_tz(ts)) {
                char q[96];
                diag_quote(ts, q, sizeof q);
                diag_add(c->d, fp, "expected an IANA time zone name (\"Europe/Brussels\", "
                                   "\"UTC\"), got %s",
                         q);
                ts = NULL;
            }
            if (!ts)
                ok = 0;
            else
                w->tz = cx_strdup(c, ts);
        }
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
        if (data) {
            diag_path_key(fp, ep, "data");
            w->data = get_data(c, data, fp, 0);
        }
        const cJSON *tools = cJSON_GetObjectItemCaseSensitive(e, "tools");
        if (tools) {
            diag_path_key(fp, ep, "tools");
            if (check_object(c, tools, fp, k_window_tools)) {
                char dp[DIAG_PATH_MAX];
                diag_path_key(dp, fp, "deny");
                const cJSON *td = cJSON_GetObjectItemCaseSensitive(tools, "deny");
                if (td)
                    w->tools_deny = get_names(c, td, dp, "tool", 0);
            }
        }
        const cJSON *models = cJSON_GetObjectItemCaseSensitive(e, "models");
        if (models) {
            diag_path_key(fp, ep, "models");
            w->has_models = 1;
            w->models = get_names(c, models, fp, "model", 1);
        }
        diag_path_key(fp, ep, "block");
        w->block = get_bool(c, cJSON_GetObjectItemCaseSensitive(e, "block"), fp, 0);
        if (!w->data.n && !w->tools_deny.n && !models && !w->block) {
            diag_add(c->d, ep, "this rule changes nothing; give it \"data\", \"tools\", "
                               "\"models\" or \"block\": true");
            ok = 0;
        }
        if (ok)
            k++;
    }
    c->p->api.schedule = arr;
    c->p->api.n_schedule = k;
}

static void walk_api(struct ctx *c, const cJSON *api)
{
    struct policy *p = c->p;
    p->api.session_usd = -1;
    p->api.day_usd = -1;
    if (!api || !check_object(c, api, "api", k_api))
        return;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "models")))
        p->api.models = get_names(c, v, "api.models", "model", 1);
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "data")))
        p->api.data = get_data(c, v, "api.data", 1);
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "tools")) &&
        check_object(c, v, "api.tools", k_tools)) {
        const cJSON *t;
        if ((t = cJSON_GetObjectItemCaseSensitive(v, "allow")))
            p->api.tools_allow = get_names(c, t, "api.tools.allow", "tool", 0);
        if ((t = cJSON_GetObjectItemCaseSensitive(v, "deny")))
            p->api.tools_deny = get_names(c, t, "api.tools.deny", "tool", 0);
        if ((t = cJSON_GetObjectItemCaseSensitive(v, "constraints")))
            get_constraints(c, t, "api.tools.constraints");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "budget")) &&
        check_object(c, v, "api.budget", k_budget)) {
        p->api.session_usd = get_num(c, cJSON_GetObjectItemCaseSensitive(v, "session_usd"),
                                     "api.budget.session_usd", 0, 1e6, -1);
        p->api.day_usd = get_num(c, cJSON_GetObjectItemCaseSensitive(v, "day_usd"),
                                 "api.budget.day_usd", 0, 1e6, -1);
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(v, "prices");
        if (pr)
            get_prices(c, pr, "api.budget.prices");
        if (p->api.session_usd >= 0 && p->api.day_usd >= 0 &&
            p->api.session_usd > p->api.day_usd)
            diag_add(c->d, "api.budget.session_usd",
                     "a session budget of %g exceeds the day budget of %g; the day budget "
                     "would always bind first",
                     p->api.session_usd, p->api.day_usd);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "schedule")))
        get_schedule(c, v, "api.schedule");
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "anomaly")) &&
        check_object(c, v, "api.anomaly", k_anomaly)) {
        p->api.has_anomaly = 1;
        p->api.requests_per_minute = (unsigned)get_int(
            c, cJSON_GetObjectItemCaseSensitive(v, "requests_per_minute"),
            "api.anomaly.requests_per_minute", 1, 100000, 0);
        p->api.denials_per_10_minutes = (unsigned)get_int(
            c, cJSON_GetObjectItemCaseSensitive(v, "denials_per_10_minutes"),
            "api.anomaly.denials_per_10_minutes", 1, 100000, 0);
        p->api.on_trigger = (enum policy_trigger)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "on_trigger"), "api.anomaly.on_trigger",
            n_trigger, POLICY_TRIGGER_LOG);
        if (!p->api.requests_per_minute && !p->api.denials_per_10_minutes)
            diag_add(c->d, "api.anomaly", "no trigger is set; give requests_per_minute, "
                                          "denials_per_10_minutes or both");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(api, "audit")) &&
        check_object(c, v, "api.audit", k_audit)) {
        p->api.record_prompts = (enum policy_record)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "prompts"), "api.audit.prompts", n_record,
            POLICY_RECORD_DIGEST);
        p->api.record_tool_arguments = (enum policy_record)get_enum(
            c, cJSON_GetObjectItemCaseSensitive(v, "tool_arguments"),
            "api.audit.tool_arguments", n_record, POLICY_RECORD_DIGEST);
    }
}

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

    if (!check_object(&c, root, "", k_top)) {
        diag_add(d, "", "a policy is a JSON object with \"cordon_policy\": %d and \"agent\"",
                 POLICY_SCHEMA);
        goto out;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "cordon_policy");
    if (!schema)
        diag_add(d, "cordon_policy", "missing; the first line of every policy is "
                                     "\"cordon_policy\": %d", POLICY_SCHEMA);
    else
        p->schema = (int)get_int(&c, schema, "cordon_policy", POLICY_SCHEMA, POLICY_SCHEMA, 0);

    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    if (!agent) {
        diag_add(d, "agent", "missing; name the agent identity this policy governs");
    } else {
        const char *s = get_str(&c, agent, "agent");
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
            p->agent = cx_strdup(&c, s);
        }
    }
    p->mode = (enum policy_mode)get_enum(&c, cJSON_GetObjectItemCaseSensitive(root, "mode"),
                                         "mode", n_mode, POLICY_MODE_ENFORCE);
    p->poll_seconds = (unsigned)get_int(
        &c, cJSON_GetObjectItemCaseSensitive(root, "poll_seconds"), "poll_seconds", 5, 86400, 60);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc)
        (void)get_str(&c, desc, "description");

    /* The stamp is added by signing; it is read here so that the payload of an envelope is
     * itself a valid policy, and so explain can show it. envelope.c checks its meaning. */
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver)
        p->version = (uint64_t)get_int(&c, ver, "version", 1, 9007199254740992LL, 0);
    const cJSON *ia = cJSON_GetObjectItemCaseSensitive(root, "issued_at");
    if (ia && (p->issued_at = get_str(&c, ia, "issued_at")))
        p->issued_at = cx_strdup(&c, p->issued_at);
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(root, "expires_at");
    if (ea && (p->expires_at = get_str(&c, ea, "expires_at")))
        p->expires_at = cx_strdup(&c, p->expires_at);

    /* host_deny is stamped in by cordond (envelope.c) and read before the sandbox, whose deny
     * list it joins. */
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "host_deny");
    if (hd)
        get_host_deny(&c, hd);

    walk_sandbox(&c, cJSON_GetObjectItemCaseSensitive(root, "sandbox"));
    walk_api(&c, cJSON_GetObjectItemCaseSensitive(root, "api"));

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

const char *policy_mode_name(enum policy_mode m) { return n_mode[m]; }
const char *policy_enforcement_name(enum policy_enforcement e) { return n_enf[e]; }
const char *policy_net_name(enum policy_net n) { return n_net[n]; }
const char *policy_scope_name(enum policy_scope s) { return n_scope[s]; }
const char *policy_unix_name(enum policy_unix u) { return n_unix[u]; }
const char *policy_sysv_name(enum policy_sysv s) { return n_sysv[s]; }
const char *policy_action_name(enum policy_action a) { return n_action[a]; }
const char *policy_trigger_name(enum policy_trigger t) { return n_trigger[t]; }
const char *policy_record_name(enum policy_record r) { return n_record[r]; }
const char *policy_origin_name(enum policy_origin o) { return n_origin[o]; }
