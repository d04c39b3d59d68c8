/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decisions (see decide.h). The kernel sandbox is the boundary; these functions exist so a
 * denial can be refused early with the name of the rule, and so the same answer can be
 * logged in observe mode. They must never allow what the kernel denies by a different
 * reading of the policy, so they follow docs/POLICY.md section 6 for exec and "deny wins"
 * for the file system.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "base/glob.h"
#include "base/path.h"
#include "shim/decide.h"
#include "shim/dnsmap.h"

int decide_fs_deny(const struct policy *p, const char *path, const char *real)
{
    const struct policy_paths *d = &p->sandbox.fs.deny;
    for (size_t i = 0; i < d->n; i++) {
        const struct policy_path *r = &d->v[i];
        if ((r->path && path_within(path, r->path)) || (r->real && path_within(path, r->real)))
            return (int)i;
        if (real &&
            ((r->path && path_within(real, r->path)) || (r->real && path_within(real, r->real))))
            return (int)i;
    }
    return DECIDE_NONE;
}

void decide_fs_prepare(struct decide_fs_index *ix, const struct policy *p, uint32_t *mem,
                       size_t cap)
{
    const struct policy_paths *d = &p->sandbox.fs.deny;
    ix->p = p;
    ix->len = NULL;
    if (!mem || cap < 2 * d->n)
        return;
    for (size_t i = 0; i < d->n; i++) {
        const struct policy_path *r = &d->v[i];
        mem[2 * i] = r->path ? (uint32_t)strlen(r->path) : DECIDE_NO_PATH;
        mem[2 * i + 1] = r->real && !(r->path && strcmp(r->real, r->path) == 0)
                             ? (uint32_t)strlen(r->real)
                             : DECIDE_NO_PATH;
    }
    ix->len = mem;
}

/* path_within with both lengths known. */
static int within_len(const char *path, size_t plen, const char *dir, size_t dlen)
{
    if (dlen == 1 && dir[0] == '/')
        return path[0] == '/';
    return dlen <= plen && memcmp(path, dir, dlen) == 0 &&
           (path[dlen] == '\0' || path[dlen] == '/');
}

int decide_fs_deny_indexed(const struct decide_fs_index *ix, const char *path)
{
    if (!ix->len)
        return decide_fs_deny(ix->p, path, NULL);
    const struct policy_paths *d = &ix->p->sandbox.fs.deny;
    const struct policy_path *v = d->v;
    size_t plen = strlen(path);
    for (size_t i = 0; i < d->n; i++) {
        uint32_t lp = ix->len[2 * i], lr = ix->len[2 * i + 1];
        if ((lp != DECIDE_NO_PATH && within_len(path, plen, v[i].path, lp)) ||
            (lr != DECIDE_NO_PATH && within_len(path, plen, v[i].real, lr)))
            return (int)i;
    }
    return DECIDE_NONE;
}

static const char *base_name(const char *s)
{
    const char *b = strrchr(s, '/');
    return b ? b + 1 : s;
}

/* The directory part of s into out ("/usr/bin/ls" -> "/usr/bin"). */
static void dir_name(const char *s, char *out, size_t len)
{
    const char *b = strrchr(s, '/');
    size_t n = b ? (size_t)(b - s) : 0;
    if (n == 0)
        n = 1; /* "/ls" -> "/" */
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int in_search(const struct policy *p, const char *dir)
{
    const struct policy_paths *s = &p->sandbox.exec.search;
    for (size_t i = 0; i < s->n; i++)
        if ((s->v[i].path && strcmp(dir, s->v[i].path) == 0) ||
            (s->v[i].real && strcmp(dir, s->v[i].real) == 0))
            return 1;
    return 0;
}

/* Does a name list or path list match program (or its resolved form)? */
static int match_names(const struct policy *p, const struct policy_list *names, const char *prog,
                       const char *real, const char **which)
{
    const char *cands[2] = {prog, real};
    for (int c = 0; c < 2; c++) {
        if (!cands[c])
            continue;
        char dir[PATH_MAXLEN];
        dir_name(cands[c], dir, sizeof dir);
        if (!in_search(p, dir))
            continue;
        for (size_t i = 0; i < names->n; i++)
            if (glob_match(names->v[i], base_name(cands[c]))) {
                *which = names->v[i];
                return 1;
            }
    }
    return 0;
}

static int match_paths(const struct policy_paths *ps, const char *prog, const char *real,
                       const char **which)
{
    for (size_t i = 0; i < ps->n; i++) {
        const struct policy_path *r = &ps->v[i];
        const char *dirs[2] = {r->path, r->real};
        for (int k = 0; k < 2; k++)
            if (dirs[k] &&
                ((prog && path_within(prog, dirs[k])) || (real && path_within(real, dirs[k])))) {
                *which = r->raw;
                return 1;
            }
    }
    return 0;
}

static int all_names(const struct policy_list *l)
{
    return l->n == 1 && strcmp(l->v[0], "*") == 0;
}

int decide_exec(const struct policy *p, const char *program, const char *real, char *rule,
                size_t rulelen)
{
    const char *which = NULL;
    if (match_names(p, &p->sandbox.exec.deny_names, program, real, &which) ||
        match_paths(&p->sandbox.exec.deny_paths, program, real, &which)) {
        if (rulelen) {
            size_t n = 0;
            const char *pre = "sandbox.exec.deny \"";
            for (; pre[n] && n + 1 < rulelen; n++)
                rule[n] = pre[n];
            for (size_t i = 0; which[i] && n + 2 < rulelen; i++)
                rule[n++] = which[i];
            if (n + 1 < rulelen)
                rule[n++] = '"';
            rule[n] = '\0';
        }
        return 1;
    }
    const struct policy_list *an = &p->sandbox.exec.allow_names;
    if (all_names(an))
        return 0; /* denylist mode: every program runs unless deny matches it */
    if (match_names(p, an, program, real, &which) ||
        match_paths(&p->sandbox.exec.allow_paths, program, real, &which))
        return 0;
    if (rulelen) {
        const char *m = "not in sandbox.exec.allow";
        size_t n = 0;
        for (; m[n] && n + 1 < rulelen; n++)
            rule[n] = m[n];
        rule[n] = '\0';
    }
    return 1;
}

/* s into rule (rulelen bytes, may be 0), cut to fit. */
static void put_rule(char *rule, size_t rulelen, const char *a, const char *b, const char *c)
{
    if (!rulelen)
        return;
    size_t n = 0;
    const char *parts[3] = {a, b, c};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; parts[k] && parts[k][i] && n + 1 < rulelen; i++)
            rule[n++] = parts[k][i];
    rule[n] = '\0';
}

static int within_entry(const struct policy_path *r, const char *file)
{
    return (r->path && path_within(file, r->path)) || (r->real && path_within(file, r->real));
}

int decide_exec_reach(const struct policy *p, const char *program, const char *real, char *rule,
                      size_t rulelen)
{
    if (decide_exec(p, program, real, rule, rulelen))
        return DECIDE_EXEC_RULE;
    const char *file = real ? real : program;
    int d = decide_fs_deny(p, program, real);
    if (d != DECIDE_NONE) {
        put_rule(rule, rulelen, "sandbox.filesystem.deny \"", p->sandbox.fs.deny.v[d].raw, "\"");
        return DECIDE_EXEC_FS_DENY;
    }
    const struct policy_paths *s = &p->sandbox.exec.search;
    for (size_t i = 0; i < s->n; i++)
        if (within_entry(&s->v[i], file))
            return 0;
    const struct policy_paths *a = &p->sandbox.exec.allow_paths;
    for (size_t i = 0; i < a->n; i++)
        if (within_entry(&a->v[i], file))
            return 0;
    if (all_names(&p->sandbox.exec.allow_names))
        for (size_t i = 0; policy_exec_system_dirs[i]; i++)
            if (path_within(file, policy_exec_system_dirs[i]))
                return 0;
    put_rule(rule, rulelen,
             "no exec rule reaches it: it is not in a sandbox.exec.search directory, a "
             "sandbox.exec.allow path or a sandbox.presets directory",
             NULL, NULL);
    return DECIDE_EXEC_UNREACHED;
}

int decide_abspath(const char *base, const char *path, char *out, size_t outlen)
{
    size_t n = 0;
    if (path[0] != '/') {
        size_t bl = strlen(base);
        if (bl + 1 >= outlen)
            return -ENAMETOOLONG;
        memcpy(out, base, bl);
        n = bl;
        out[n++] = '/';
    }
    size_t pl = strlen(path);
    if (n + pl + 1 > outlen)
        return -ENAMETOOLONG;
    memcpy(out + n, path, pl + 1);
    /* Fold the components in place: out always starts with '/'. */
    char *r = out, *w = out;
    while (*r) {
        while (*r == '/')
            r++;
        if (!*r)
            break;
        char *e = r;
        while (*e && *e != '/')
            e++;
        size_t cl = (size_t)(e - r);
        if (cl == 1 && r[0] == '.') {
            /* skip */
        } else if (cl == 2 && r[0] == '.' && r[1] == '.') {
            while (w > out && *--w != '/')
                ;
        } else {
            *w++ = '/';
            memmove(w, r, cl);
            w += cl;
        }
        r = e;
    }
    if (w == out)
        *w++ = '/';
    *w = '\0';
    return 0;
}

/* Append s to out at *n; 1 when it did not fit (nothing is written past cap). */
static int put_bounded(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    if (len > cap - *n)
        return 1;
    memcpy(out + *n, s, len);
    *n += len;
    return 0;
}

static int connect_host_ok(const char *host)
{
    size_t n = strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        char t[INET6_ADDRSTRLEN];
        unsigned char a[sizeof(struct in6_addr)];
        if (n - 2 >= sizeof t)
            return 0;
        memcpy(t, host + 1, n - 2);
        t[n - 2] = '\0';
        return inet_pton(AF_INET6, t, a) == 1;
    }
    char low[DNSMAP_NAME_MAX + 1];
    /* exactly what the check leaves: lowercase, no trailing dot */
    return dnsmap_name_check(host, low, sizeof low, NULL) == 0 && strcmp(low, host) == 0;
}

#define PUT_LIT(lit) put_bounded(out, cap, &n, lit, sizeof lit - 1)

int decide_connect_head(const char *host, uint16_t port, const char *key, const char *session,
                        char *out, size_t cap, const char **why)
{
    if (!host || !connect_host_ok(host)) {
        *why = "the destination is not a host name (letters, digits, '-', '_', '.'), an IPv4 "
               "address or a bracketed IPv6 address";
        return -EINVAL;
    }
    if (port == 0) {
        *why = "the destination port is 0";
        return -EINVAL;
    }
    size_t kl = key ? strlen(key) : 0, sl = session ? strlen(session) : 0;
    /* an agent key, or the session token that stands for it inside the tree */
    int ok = kl > 3 && (strncmp(key, "ck_", 3) == 0 || strncmp(key, "cs_", 3) == 0);
    for (size_t i = 0; ok && i < kl; i++)
        ok = (key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
             (key[i] >= '0' && key[i] <= '9') || key[i] == '-' || key[i] == '_';
    if (!ok) {
        *why = "the agent key is not ck_ (or the session token cs_) followed by base64url "
               "characters";
        return -EINVAL;
    }
    ok = sl == 0 || sl == 32;
    for (size_t i = 0; ok && i < sl; i++)
        ok = (session[i] >= '0' && session[i] <= '9') || (session[i] >= 'a' && session[i] <= 'f');
    if (!ok) {
        *why = "the session is not 32 lowercase hex characters";
        return -EINVAL;
    }
    char pp[8], digits[6];
    size_t pl = 0;
    size_t nd = 0;
    for (unsigned v = port; v; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    pp[pl++] = ':';
    while (nd)
        pp[pl++] = digits[--nd];
    size_t n = 0, hl = strlen(host);
    int over = PUT_LIT("CONNECT ") || put_bounded(out, cap, &n, host, hl) ||
               put_bounded(out, cap, &n, pp, pl) || PUT_LIT(" HTTP/1.1\r\nHost: ") ||
               put_bounded(out, cap, &n, host, hl) || put_bounded(out, cap, &n, pp, pl) ||
               PUT_LIT("\r\nProxy-Authorization: Bearer ") || put_bounded(out, cap, &n, key, kl);
    if (!over && sl)
        over = PUT_LIT("\r\nCordon-Session: ") || put_bounded(out, cap, &n, session, sl);
    if (!over)
        over = PUT_LIT("\r\n\r\n");
    if (over) {
        *why = "the CONNECT request does not fit its buffer";
        return -EINVAL;
    }
    return (int)n;
}
