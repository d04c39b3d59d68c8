/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox half of the policy walk that policy_load.c drives: "sandbox" (filesystem grants
 * and denials with their expansion and conflicts, exec rules, network endpoints, IPC scopes,
 * resource limits) and the "host_deny" list that cordond stamps in. What the kernel is asked
 * to enforce is decided here; sandbox/ only applies it.
 */
#include "policy/policy_sandbox.h"
#include "policy/policy.h"
#include "policy/policy_walk.h"

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_read_write[] = {"${workspace}", "${tmp}", NULL};
static const char *const default_read_only[] = {"${cwd}", NULL};

static const char *const k_sandbox[] = {"enforcement", "filesystem", "exec",    "network", "ipc",
                                        "limits",      "env",        "presets", NULL};
static const char *const k_fs[] = {"read_write", "read_only", "deny", "deny_credentials", NULL};
static const char *const k_exec[] = {"allow", "deny", "search", NULL};
static const char *const k_net[] = {"mode", "allow", "http", NULL};
static const char *const k_http[] = {"host", "tls", "rules", "default", "scan", NULL};
static const char *const k_http_rule[] = {"method", "path", "query", "action", NULL};
static const char *const k_ipc[] = {"signals", "abstract_unix", "unix_sockets", "sysv", NULL};
static const char *const k_env[] = {"hide", "allow", "hide_credentials", NULL};
static const char *const k_limits[] = {"processes", "memory", "cpu_seconds", "open_files", NULL};

/* ---------------------------------------------------------------- paths */

static int compile_path(struct ctx *c, const char *raw, const char *path, enum policy_origin origin,
                        struct policy_path *out)
{
    char exp[PATH_MAXLEN], why[200];
    if (origin == POLICY_ORIGIN_HOST && raw[0] == '/') {
        /* a host secret is an absolute path as cordond or the environment named it: taken
         * literally, never expanded ("${" is just a name there) */
        if (strlen(raw) >= sizeof exp)
            return -EINVAL;
        memcpy(exp, raw, strlen(raw) + 1);
        if (path_normalize(exp) != PATH_OK)
            return -EINVAL;
    } else if (path_expand(raw, &c->env->vars, exp, why, sizeof why) != PATH_OK) {
        char q[96];
        diag_quote(raw, q, sizeof q);
        diag_add(c->d, path, "%s (in %s)", why, q);
        return -EINVAL;
    }
    out->raw = pw_cx_strdup(c, raw);
    out->path = pw_cx_strdup(c, exp);
    out->real = NULL;
    out->origin = origin;
    if (c->env->resolve_symlinks) {
        char real[PATH_MAXLEN];
        if (path_resolve(exp, real) == 0)
            out->real = strcmp(real, exp) == 0 ? out->path : pw_cx_strdup(c, real);
    }
    return 0;
}

/* The entry of v (n entries) with path p, or NULL. */
static const struct policy_path *path_listed(const struct policy_path *v, size_t n, const char *p)
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
        n = pw_check_array(c, v, path, "paths");
        if (n < 0)
            return l;
    } else {
        for (; defaults && defaults[n]; n++)
            ;
    }
    size_t nextra = 0;
    for (; extra && extra[nextra]; nextra++)
        ;
    struct policy_path *arr = pw_cx_alloc(c, sizeof *arr * ((size_t)n + nextra + 1));
    if (!arr)
        return l;
    if (v) {
        int i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            char ep[DIAG_PATH_MAX];
            diag_path_index(ep, path, i);
            const char *s = pw_get_str(c, e, ep);
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
    const char **lit = pw_cx_alloc(c, sizeof *lit * nlit);
    struct policy_path *arr = pw_cx_alloc(c, sizeof *arr * (l->n + nfixed + nlit + 1));
    if (!lit || !arr)
        return;
    size_t k = 0;
    const char *st = env->state_home;
    if (st && st[0] == '/' && !strstr(st, "/..") && strlen(st) + 8 < PATH_MAXLEN) {
        char *s = pw_cx_alloc(c, strlen(st) + 8);
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
void pw_get_host_deny(struct ctx *c, const cJSON *v)
{
    const char *path = "host_deny";
    if (!cJSON_IsArray(v)) {
        diag_add(c->d, path,
                 "expected an array of absolute paths (the files and directories "
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
    const char **arr = n ? pw_cx_alloc(c, sizeof *arr * (size_t)n) : NULL;
    if (n && !arr)
        return;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], q[96], norm[PATH_MAXLEN];
        diag_path_index(ep, path, i);
        const char *s = pw_get_str(c, e, ep);
        if (!s)
            continue;
        diag_quote(s, q, sizeof q);
        if (s[0] != '/') {
            diag_add(c->d, ep,
                     "expected an absolute path, got %s; host_deny names files and "
                     "directories from /",
                     q);
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
            diag_add(c->d, ep,
                     "\"/\" would deny the whole file system; host_deny names "
                     "cordond's own files and directories");
            continue;
        }
        arr[c->n_host++] = pw_cx_strdup(c, s);
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
            const char **one = pw_cx_alloc(c, sizeof *one);
            if (one) {
                one[0] = def_name;
                names->n = 1;
                names->v = one;
            }
        }
        return;
    }
    int n = pw_check_array(c, v, path, "program names or paths");
    if (n <= 0)
        return;
    const char **nv = pw_cx_alloc(c, sizeof *nv * (size_t)n);
    struct policy_path *pv = pw_cx_alloc(c, sizeof *pv * (size_t)n);
    if (!nv || !pv)
        return;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        const char *s = pw_get_str(c, e, ep);
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
                diag_add(c->d, ep,
                         "globs are matched against program names, not paths (got "
                         "%s); name the file or the directory whose programs may run",
                         q);
                continue;
            }
            if (compile_path(c, s, ep, POLICY_ORIGIN_POLICY, &pv[paths->n]) == 0)
                paths->n++;
            continue;
        }
        if (!pw_valid_name(s, 1, 0)) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(c->d, ep,
                     "expected a program name or glob (\"rm\", \"python3*\") or an absolute "
                     "path, got %s",
                     q);
            continue;
        }
        nv[names->n++] = pw_cx_strdup(c, s);
    }
    names->v = nv;
    paths->v = pv;
}

/*
 * sandbox.presets: names from policy_presets, each once. Their directories are appended to
 * the exec allow paths (origin "preset"), which the kernel grants read and execute but never
 * write; a directory already listed there is not added twice.
 */
static void get_presets(struct ctx *c, const cJSON *v, struct policy_list *names,
                        struct policy_paths *allow)
{
    const char *path = "sandbox.presets";
    names->n = 0;
    names->v = NULL;
    if (!v)
        return;
    int n = pw_check_array(c, v, path, "preset names");
    if (n <= 0)
        return;
    const char **nv = pw_cx_alloc(c, sizeof *nv * (size_t)n);
    const struct policy_preset **chosen = pw_cx_alloc(c, sizeof *chosen * (size_t)n);
    if (!nv || !chosen)
        return;
    size_t extra = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], q[96];
        diag_path_index(ep, path, i);
        const char *s = pw_get_str(c, e, ep);
        if (!s)
            continue;
        diag_quote(s, q, sizeof q);
        const struct policy_preset *pr = NULL;
        for (size_t k = 0; policy_presets[k].name && !pr; k++)
            if (strcmp(policy_presets[k].name, s) == 0)
                pr = &policy_presets[k];
        if (!pr) {
            char known[256];
            policy_preset_names(known, sizeof known);
            diag_add(c->d, ep, "unknown preset %s; the known presets are %s", q, known);
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < names->n; k++)
            if (chosen[k] == pr)
                dup = 1;
        if (dup) {
            diag_add(c->d, ep, "%s is listed twice", q);
            continue;
        }
        chosen[names->n] = pr;
        nv[names->n++] = pr->name;
        for (const char *const *d = pr->paths; *d; d++)
            extra++;
    }
    names->v = nv;
    if (!extra)
        return;
    struct policy_path *arr = pw_cx_alloc(c, sizeof *arr * (allow->n + extra));
    if (!arr)
        return;
    if (allow->n)
        memcpy(arr, allow->v, sizeof *arr * allow->n);
    size_t k = allow->n;
    for (size_t j = 0; j < names->n; j++)
        for (const char *const *d = chosen[j]->paths; *d; d++)
            if (compile_path(c, *d, path, POLICY_ORIGIN_PRESET, &arr[k]) == 0 &&
                !path_listed(arr, k, arr[k].path))
                k++;
    allow->v = arr;
    allow->n = k;
}

static int parse_port(const char *s, uint16_t *port)
{
    if (strcmp(s, "*") == 0) {
        *port = 0;
        return 0;
    }
    if (!*s || strlen(s) > 5)
        return -EINVAL;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < 1 || v > 65535 || s[0] == '0')
        return -EINVAL;
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

/*
 * One endpoint as sandbox.network.allow writes it ("host:port", docs/POLICY.md section 7):
 * 0 and *out (strings in the arena) when s is one, else -EINVAL with the error added at ep.
 */
static int parse_endpoint(struct ctx *c, const char *s, const char *ep, struct policy_endpoint *out)
{
    char q[96], host[300];
    diag_quote(s, q, sizeof q);
    const char *colon = strrchr(s, ':');
    if (!colon || strlen(s) > 260) {
        diag_add(c->d, ep,
                 "expected \"host:port\" (\"api.example.com:443\", \"*.git.example.com:443\", "
                 "\"[::1]:8080\", \"host:*\"), got %s",
                 q);
        return -EINVAL;
    }
    size_t hl = (size_t)(colon - s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    uint16_t port;
    if (parse_port(colon + 1, &port) != 0) {
        diag_add(c->d, ep,
                 "expected a port from 1 to 65535 or \"*\" after the last \":\", "
                 "got %s",
                 q);
        return -EINVAL;
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
        return -EINVAL;
    }
    for (char *p = h; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    out->raw = pw_cx_strdup(c, s);
    out->host = pw_cx_strdup(c, h);
    out->wildcard = wildcard;
    out->port = port;
    return 0;
}

static void get_endpoints(struct ctx *c, const cJSON *v, const char *path)
{
    if (!v)
        return;
    struct policy_endpoint *arr = pw_array_room(c, v, path, "\"host:port\" strings", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], q[96];
        diag_path_index(ep, path, i);
        const char *s = pw_get_str(c, e, ep);
        if (!s || parse_endpoint(c, s, ep, &arr[k]) != 0)
            continue;
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            if (strcmp(arr[j].host, arr[k].host) == 0 && arr[j].port == arr[k].port)
                dup = 1;
        if (dup) {
            diag_quote(s, q, sizeof q);
            diag_add(c->d, ep, "%s is listed twice", q);
            continue;
        }
        k++;
    }
    c->p->sandbox.net.allow = arr;
    c->p->sandbox.net.n_allow = k;
}

/* ---------------------------------------------------------------- network.http */

/*
 * Does allow entry a admit every connection that http entry h names? The same reading as
 * cordond's egress_match: a name is admitted by its own entry or a wildcard above it,
 * "localhost" also admits the loopback literals, and a port "*" admits every port.
 */
static int endpoint_covers(const struct policy_endpoint *a, const struct policy_endpoint *h)
{
    if (a->port != 0 && a->port != h->port)
        return 0;
    if (!a->wildcard) {
        if (h->wildcard)
            return 0;
        if (strcmp(a->host, h->host) == 0)
            return 1;
        return strcmp(a->host, "localhost") == 0 &&
               (strcmp(h->host, "127.0.0.1") == 0 || strcmp(h->host, "::1") == 0);
    }
    /* "*.x.y" admits names strictly beneath x.y, and wildcards at or beneath itself */
    const char *suf = a->host + 1, *n = h->wildcard ? h->host + 1 : h->host;
    size_t ls = strlen(suf), ln = strlen(n);
    if (ln < ls || (ln == ls && !h->wildcard))
        return 0;
    return strcmp(n + ln - ls, suf) == 0;
}

/* RFC 9110 section 5.6.2: a method is a token. */
static int valid_token(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
            return 0;
    return 1;
}

/* One method name at ep: 1 and arr[*n] filled, or 0 with the error added. */
static int get_method(struct ctx *c, const cJSON *e, const char *ep, const char **arr, size_t *n)
{
    char q[96];
    if (!cJSON_IsString(e)) {
        diag_add(c->d, ep, "expected a method name (\"GET\") or an array of them, got %s",
                 diag_json_type(e));
        return 0;
    }
    const char *s = pw_get_str(c, e, ep);
    if (!s)
        return 0;
    diag_quote(s, q, sizeof q);
    if (!valid_token(s) || strlen(s) > 32) {
        diag_add(c->d, ep,
                 "expected a method name such as \"GET\" or \"POST\" (letters, digits and "
                 "!#$%%&'*+-.^_`|~, at most 32), got %s",
                 q);
        return 0;
    }
    for (size_t k = 0; k < *n; k++)
        if (strcmp(arr[k], s) == 0) {
            diag_add(c->d, ep, "%s is listed twice", q);
            return 0;
        }
    arr[(*n)++] = pw_cx_strdup(c, s);
    return 1;
}

/* "method": "GET" or ["GET", "HEAD"]; methods are case-sensitive (RFC 9110 section 9.1). */
static struct policy_list get_methods(struct ctx *c, const cJSON *v, const char *path)
{
    struct policy_list l = {0, NULL};
    int n = 1;
    if (cJSON_IsArray(v)) {
        n = pw_check_array(c, v, path, "method names");
        if (n == 0)
            diag_add(c->d, path,
                     "an empty list matches no request; name the methods (\"GET\") or "
                     "leave \"method\" out to match every method");
        if (n <= 0)
            return l;
    }
    const char **arr = pw_cx_alloc(c, sizeof *arr * (size_t)n);
    if (!arr)
        return l;
    if (!cJSON_IsArray(v)) {
        get_method(c, v, path, arr, &l.n);
    } else {
        int i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            char ep[DIAG_PATH_MAX];
            diag_path_index(ep, path, i);
            get_method(c, e, ep, arr, &l.n);
        }
    }
    l.v = arr;
    return l;
}

/*
 * A rule's path glob is matched against the normalized path (docs/POLICY.md
 * "sandbox.network.http"): decoded, without "." or ".." segments or "//". A glob that could
 * only match something normalization removes would never match, so it is refused.
 */
static const char *http_path_problem(const char *s)
{
    if (s[0] != '/')
        return "a path glob starts with \"/\" (\"/api/orders/*\")";
    if (strpbrk(s, " \t"))
        return "a path glob has no spaces; it is matched against the decoded path, so write "
               "the character itself";
    if (strchr(s, '%'))
        return "paths are matched decoded: write the character itself, not its %XX encoding";
    if (strchr(s, '#'))
        return "a fragment (\"#...\") never reaches the server; remove it";
    if (strchr(s, '\\'))
        return "a backslash is refused in request paths, so a glob with one never matches";
    if (strstr(s, "//"))
        return "normalized paths have no \"//\" (it is folded to \"/\")";
    for (const char *p = s; (p = strchr(p, '/')) != NULL; p++) {
        size_t n = strcspn(p + 1, "/");
        if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
            return "normalized paths have no \".\" or \"..\" segments (they are resolved "
                   "before matching)";
    }
    return NULL;
}

static void get_http_query(struct ctx *c, const cJSON *v, const char *path,
                           struct policy_http_rule *r)
{
    if (!cJSON_IsObject(v)) {
        diag_add(c->d, path,
                 "expected an object of query parameters, each true (present), false (absent) "
                 "or a regular expression its value must match, got %s",
                 diag_json_type(v));
        return;
    }
    if (!pw_check_object(c, v, path, NULL))
        return;
    int n = cJSON_GetArraySize(v);
    if (n == 0)
        return;
    struct policy_http_query *arr = pw_cx_alloc(c, sizeof *arr * (size_t)n);
    if (!arr)
        return;
    size_t k = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        char ep[DIAG_PATH_MAX];
        diag_path_key(ep, path, e->string);
        size_t nl = strlen(e->string);
        if (nl == 0 || nl > 256) {
            diag_add(c->d, ep, "a query parameter's name is 1 to 256 characters");
            continue;
        }
        int ctl = 0;
        for (const char *p = e->string; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                ctl = 1;
        if (ctl) {
            diag_add(c->d, ep, "a query parameter's name has no control characters");
            continue;
        }
        struct policy_http_query *qy = &arr[k];
        qy->name = pw_cx_strdup(c, e->string);
        qy->pattern = NULL;
        if (cJSON_IsTrue(e)) {
            qy->op = POLICY_HTTP_QUERY_PRESENT;
        } else if (cJSON_IsFalse(e)) {
            qy->op = POLICY_HTTP_QUERY_ABSENT;
        } else if (cJSON_IsString(e)) {
            const char *re = pw_get_str(c, e, ep);
            if (!re)
                continue;
            qy->op = POLICY_HTTP_QUERY_MATCH;
            qy->pattern = pw_cx_strdup(c, re);
        } else {
            diag_add(c->d, ep,
                     "expected true (the parameter is present), false (it is absent) or a "
                     "regular expression its value must match in full, got %s",
                     diag_json_type(e));
            continue;
        }
        k++;
    }
    r->query = arr;
    r->n_query = k;
}

static void get_http_rules(struct ctx *c, const cJSON *v, const char *path,
                           struct policy_http_host *h)
{
    struct policy_http_rule *arr = pw_array_room(c, v, path, "rule objects", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], kp[DIAG_PATH_MAX];
        diag_path_index(ep, path, i);
        if (!cJSON_IsObject(e)) {
            diag_add(c->d, ep,
                     "expected a rule object ({\"method\": \"GET\", \"path\": \"/api/*\", "
                     "\"action\": \"allow\"}), got %s",
                     diag_json_type(e));
            continue;
        }
        if (!pw_check_object(c, e, ep, k_http_rule))
            continue;
        struct policy_http_rule *r = &arr[k];
        memset(r, 0, sizeof *r);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "method");
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *qy = cJSON_GetObjectItemCaseSensitive(e, "query");
        const cJSON *ac = cJSON_GetObjectItemCaseSensitive(e, "action");
        if (m) {
            diag_path_key(kp, ep, "method");
            r->methods = get_methods(c, m, kp);
        }
        if (pa) {
            diag_path_key(kp, ep, "path");
            const char *s = pw_get_str(c, pa, kp);
            const char *why = s ? http_path_problem(s) : NULL;
            if (why) {
                char q[96];
                diag_quote(s, q, sizeof q);
                diag_add(c->d, kp, "%s would never match: %s", q, why);
            } else if (s) {
                r->path = pw_cx_strdup(c, s);
            }
        }
        if (qy) {
            diag_path_key(kp, ep, "query");
            get_http_query(c, qy, kp, r);
        }
        diag_path_key(kp, ep, "action");
        if (!ac)
            diag_add(c->d, kp, "missing; a rule says what it does: \"allow\" or \"deny\"");
        else
            r->action =
                (enum policy_http_action)pw_get_enum(c, ac, kp, pw_n_http_action, POLICY_HTTP_DENY);
        k++;
    }
    h->rules = arr;
    h->n_rules = k;
}

static void get_http(struct ctx *c, const cJSON *v, const char *path)
{
    struct policy *p = c->p;
    struct policy_http_host *arr = pw_array_room(c, v, path, "host objects", sizeof *arr);
    if (!arr)
        return;
    size_t k = 0;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char ep[DIAG_PATH_MAX], kp[DIAG_PATH_MAX], q[96];
        diag_path_index(ep, path, i);
        /* every slot is kept, so that arr[j] is the document's http[j]; a document with
         * errors is refused whole, so an empty slot is never judged with */
        struct policy_http_host *h = &arr[k++];
        memset(h, 0, sizeof *h);
        h->def = POLICY_HTTP_DENY;
        if (!cJSON_IsObject(e)) {
            diag_add(c->d, ep,
                     "expected a host object ({\"host\": \"crm.internal:443\", \"tls\": "
                     "\"terminate\", \"rules\": [...]}), got %s",
                     diag_json_type(e));
            continue;
        }
        if (!pw_check_object(c, e, ep, k_http))
            continue;
        const cJSON *ho = cJSON_GetObjectItemCaseSensitive(e, "host");
        diag_path_key(kp, ep, "host");
        const char *s = ho ? pw_get_str(c, ho, kp) : NULL;
        if (!ho)
            diag_add(c->d, kp,
                     "missing; name the endpoint whose requests these rules judge, as in "
                     "sandbox.network.allow (\"crm.internal:443\")");
        if (s && parse_endpoint(c, s, kp, &h->host) == 0) {
            diag_quote(s, q, sizeof q);
            int covered = 0;
            for (size_t j = 0; j < p->sandbox.net.n_allow && !covered; j++)
                covered = endpoint_covers(&p->sandbox.net.allow[j], &h->host);
            if (!covered)
                diag_add(c->d, kp,
                         "%s is not allowed by sandbox.network.allow, so no request reaches it "
                         "to be judged; add it to allow or remove this entry",
                         q);
            for (size_t j = 0; j + 1 < k; j++) {
                const struct policy_endpoint *o = &arr[j].host;
                if (!o->host)
                    continue;
                if (strcmp(o->host, h->host.host) == 0 && o->port == h->host.port) {
                    diag_add(c->d, kp, "%s is listed twice; give each host one entry", q);
                    break;
                }
                if (endpoint_covers(o, &h->host) || endpoint_covers(&h->host, o)) {
                    char qo[96];
                    diag_quote(o->raw, qo, sizeof qo);
                    diag_add(c->d, kp,
                             "%s overlaps %s of sandbox.network.http[%zu], so a request could "
                             "be judged by either; make the entries disjoint",
                             q, qo, j);
                    break;
                }
            }
        }
        diag_path_key(kp, ep, "tls");
        h->tls = (enum policy_http_tls)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(e, "tls"),
                                                   kp, pw_n_http_tls, POLICY_HTTP_TLS_NONE);
        diag_path_key(kp, ep, "default");
        h->def =
            (enum policy_http_action)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(e, "default"),
                                                 kp, pw_n_http_action, POLICY_HTTP_DENY);
        diag_path_key(kp, ep, "scan");
        h->scan = pw_get_bool(c, cJSON_GetObjectItemCaseSensitive(e, "scan"), kp, 0);
        const cJSON *ru = cJSON_GetObjectItemCaseSensitive(e, "rules");
        if (ru) {
            diag_path_key(kp, ep, "rules");
            get_http_rules(c, ru, kp, h);
        }
    }
    p->sandbox.net.http = arr;
    p->sandbox.net.n_http = k;
}

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

void pw_walk_sandbox(struct ctx *c, const cJSON *sb)
{
    struct policy *p = c->p;
    const cJSON *fs = NULL, *ex = NULL, *net = NULL, *ipc = NULL, *limits = NULL, *env = NULL,
                *pre = NULL;
    if (sb && pw_check_object(c, sb, "sandbox", k_sandbox)) {
        p->sandbox.enforcement = (enum policy_enforcement)pw_get_enum(
            c, cJSON_GetObjectItemCaseSensitive(sb, "enforcement"), "sandbox.enforcement", pw_n_enf,
            POLICY_STRICT);
        fs = cJSON_GetObjectItemCaseSensitive(sb, "filesystem");
        ex = cJSON_GetObjectItemCaseSensitive(sb, "exec");
        net = cJSON_GetObjectItemCaseSensitive(sb, "network");
        ipc = cJSON_GetObjectItemCaseSensitive(sb, "ipc");
        limits = cJSON_GetObjectItemCaseSensitive(sb, "limits");
        env = cJSON_GetObjectItemCaseSensitive(sb, "env");
        pre = cJSON_GetObjectItemCaseSensitive(sb, "presets");
    }

    /* filesystem */
    const cJSON *rw = NULL, *ro = NULL, *deny = NULL;
    int creds = 1;
    if (fs && pw_check_object(c, fs, "sandbox.filesystem", k_fs)) {
        rw = cJSON_GetObjectItemCaseSensitive(fs, "read_write");
        ro = cJSON_GetObjectItemCaseSensitive(fs, "read_only");
        deny = cJSON_GetObjectItemCaseSensitive(fs, "deny");
        creds = pw_get_bool(c, cJSON_GetObjectItemCaseSensitive(fs, "deny_credentials"),
                            "sandbox.filesystem.deny_credentials", 1);
    }
    p->sandbox.fs.deny_credentials = creds;
    p->sandbox.fs.read_write =
        get_paths(c, rw, "sandbox.filesystem.read_write", default_read_write, NULL);
    p->sandbox.fs.read_only =
        get_paths(c, ro, "sandbox.filesystem.read_only", default_read_only, NULL);
    p->sandbox.fs.deny =
        get_paths(c, deny, "sandbox.filesystem.deny", NULL, creds ? policy_credential_paths : NULL);
    add_host_paths(c, &p->sandbox.fs.deny);

    check_fs_conflicts(c);

    /* exec */
    const cJSON *ea = NULL, *ed = NULL, *es = NULL;
    if (ex && pw_check_object(c, ex, "sandbox.exec", k_exec)) {
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
    get_presets(c, pre, &p->sandbox.presets, &p->sandbox.exec.allow_paths);

    /* network */
    p->sandbox.net.mode = POLICY_NET_PROXY;
    if (net && pw_check_object(c, net, "sandbox.network", k_net)) {
        p->sandbox.net.mode =
            (enum policy_net)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(net, "mode"),
                                         "sandbox.network.mode", pw_n_net, POLICY_NET_PROXY);
        const cJSON *allow = cJSON_GetObjectItemCaseSensitive(net, "allow");
        get_endpoints(c, allow, "sandbox.network.allow");
        if (allow && p->sandbox.net.mode == POLICY_NET_NONE && cJSON_GetArraySize(allow) > 0)
            diag_add(c->d, "sandbox.network.allow",
                     "mode \"none\" permits no connection, so an allow list has no effect; "
                     "set \"mode\": \"proxy\" or remove the list");
        const cJSON *http = cJSON_GetObjectItemCaseSensitive(net, "http");
        if (http && p->sandbox.net.mode != POLICY_NET_PROXY && cJSON_GetArraySize(http) > 0)
            diag_add(c->d, "sandbox.network.http",
                     "mode \"%s\" does not pass the agent's connections through cordond, so "
                     "no HTTP rule could judge them; set \"mode\": \"proxy\" or remove the list",
                     policy_net_name(p->sandbox.net.mode));
        else if (http)
            get_http(c, http, "sandbox.network.http");
    }

    /* ipc */
    p->sandbox.ipc.signals = POLICY_SCOPE_SCOPED;
    p->sandbox.ipc.abstract_unix = POLICY_SCOPE_SCOPED;
    if (ipc && pw_check_object(c, ipc, "sandbox.ipc", k_ipc)) {
        p->sandbox.ipc.signals =
            (enum policy_scope)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(ipc, "signals"),
                                           "sandbox.ipc.signals", pw_n_scope, POLICY_SCOPE_SCOPED);
        p->sandbox.ipc.abstract_unix = (enum policy_scope)pw_get_enum(
            c, cJSON_GetObjectItemCaseSensitive(ipc, "abstract_unix"), "sandbox.ipc.abstract_unix",
            pw_n_scope, POLICY_SCOPE_SCOPED);
        p->sandbox.ipc.unix_sockets =
            (enum policy_unix)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(ipc, "unix_sockets"),
                                          "sandbox.ipc.unix_sockets", pw_n_unix, POLICY_UNIX_OPEN);
        p->sandbox.ipc.sysv =
            (enum policy_sysv)pw_get_enum(c, cJSON_GetObjectItemCaseSensitive(ipc, "sysv"),
                                          "sandbox.ipc.sysv", pw_n_sysv, POLICY_SYSV_DENY);
    }

    /* env: hide is the document's, the default set stays unless turned off */
    p->sandbox.env.hide_credentials = 1;
    if (env && pw_check_object(c, env, "sandbox.env", k_env)) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(env, "hide");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(env, "allow");
        if (h)
            p->sandbox.env.hide = pw_get_names(c, h, "sandbox.env.hide", "variable", 0);
        if (a)
            p->sandbox.env.allow = pw_get_names(c, a, "sandbox.env.allow", "variable", 0);
        p->sandbox.env.hide_credentials =
            pw_get_bool(c, cJSON_GetObjectItemCaseSensitive(env, "hide_credentials"),
                        "sandbox.env.hide_credentials", 1);
    }

    /* limits */
    if (limits && pw_check_object(c, limits, "sandbox.limits", k_limits)) {
        p->sandbox.limits.processes =
            pw_get_limit(c, cJSON_GetObjectItemCaseSensitive(limits, "processes"),
                         "sandbox.limits.processes", "processes", 1, POLICY_LIMIT_PROCESSES_MAX);
        p->sandbox.limits.memory =
            pw_get_size(c, cJSON_GetObjectItemCaseSensitive(limits, "memory"),
                        "sandbox.limits.memory", POLICY_LIMIT_MEMORY_MIN, POLICY_LIMIT_MEMORY_MAX);
        p->sandbox.limits.cpu_seconds =
            pw_get_limit(c, cJSON_GetObjectItemCaseSensitive(limits, "cpu_seconds"),
                         "sandbox.limits.cpu_seconds", "seconds", 1, POLICY_LIMIT_CPU_MAX);
        p->sandbox.limits.open_files = pw_get_limit(
            c, cJSON_GetObjectItemCaseSensitive(limits, "open_files"), "sandbox.limits.open_files",
            "open files", POLICY_LIMIT_OPEN_FILES_MIN, POLICY_LIMIT_OPEN_FILES_MAX);
    }
}
