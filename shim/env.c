/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hiding variables from the agent (see env.h). unsetenv() alone is not enough: it takes the
 * pointer out of environ, but the "NAME=value" string stays on the initial stack, where
 * /proc/PID/environ (readable by the process itself and by any process of the same user)
 * and a scan of the process's memory still find it. So the bytes are overwritten too, but
 * only inside the kernel's block: a string the program set itself may be a literal in
 * read-only memory, and a write there would crash it.
 */
#include "base/io.h"
#include "shim/env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

/* The fallback block below AT_EXECFN: the kernel caps arguments and environment together at
 * a quarter of the stack limit, and never above 6 MiB (3/4 of _STK_LIM). */
#define ENV_FALLBACK_SPAN (6u << 20)

/* env_start and env_end, fields 50 and 51 of /proc/self/stat (Linux 3.5+). */
static int block_from_proc(uintptr_t *lo, uintptr_t *hi)
{
    char buf[4096];
    ssize_t n = io_read_small("/proc/self/stat", buf, sizeof buf);
    if (n < 0)
        return (int)n;
    char *s = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!s)
        return -EIO;
    unsigned long long v[2] = {0, 0};
    int field = 3; /* the state, the first field after the name */
    for (char *tok = s + 1; *tok; field++) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            break;
        if (field == 50 || field == 51) {
            char *end;
            errno = 0;
            v[field - 50] = strtoull(tok, &end, 10);
            if (errno || end == tok)
                return -EIO;
        }
        tok += strcspn(tok, " ");
    }
    if (field <= 51 || !v[0] || v[1] <= v[0])
        return -EIO;
    *lo = (uintptr_t)v[0];
    *hi = (uintptr_t)v[1];
    return 0;
}

static void block_bounds(uintptr_t *lo, uintptr_t *hi)
{
    if (block_from_proc(lo, hi) == 0)
        return;
    /* The file name the kernel copies first, right above the environment strings. */
    uintptr_t execfn = (uintptr_t)getauxval(AT_EXECFN);
    *hi = execfn;
    *lo = execfn > ENV_FALLBACK_SPAN ? execfn - ENV_FALLBACK_SPAN : 0;
}

static void note_name(struct env_hidden *h, const char *entry)
{
    size_t n = strcspn(entry, "=");
    for (size_t o = 0; o < h->used; o += strlen(h->names + o) + 1)
        if (strlen(h->names + o) == n && memcmp(h->names + o, entry, n) == 0)
            return; /* the same name twice in one environment */
    if (h->used + n + 1 > sizeof h->names) {
        h->truncated = 1;
        return;
    }
    memcpy(h->names + h->used, entry, n);
    h->names[h->used + n] = '\0';
    h->used += n + 1;
    h->listed++;
}

/* Take every entry of environ that judge() picks out of it, then overwrite those that lie in
 * the kernel's block. h counts them (names noted when note is set). */
static int take(int (*judge)(const char *entry, const void *arg), const void *arg,
                struct env_hidden *h, int note)
{
    if (!environ)
        return 0;
    size_t total = 0;
    while (environ[total])
        total++;
    char **gone = malloc(sizeof *gone * (total + 1));
    if (!gone)
        return -ENOMEM;
    size_t kept = 0, n = 0;
    for (size_t i = 0; i < total; i++) {
        char *e = environ[i];
        if (judge(e, arg)) {
            gone[n++] = e;
            if (note)
                note_name(h, e);
        } else {
            environ[kept++] = e;
        }
    }
    environ[kept] = NULL;
    uintptr_t lo = 0, hi = 0;
    if (n) /* reading /proc/self/stat is most of the cost: only when there is a string to find */
        block_bounds(&lo, &hi);
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)gone[i];
        size_t len = strlen(gone[i]);
        if (a >= lo && a < hi && len <= hi - a) {
            explicit_bzero(gone[i], len);
            h->scrubbed++;
        }
    }
    h->n += n;
    free(gone);
    return 0;
}

static int judge_policy(const char *entry, const void *arg)
{
    return policy_env_hides(arg, entry, NULL);
}

static int judge_name(const char *entry, const void *arg)
{
    size_t n = strlen(arg);
    return strncmp(entry, arg, n) == 0 && entry[n] == '=';
}

int env_scrub(const struct policy *p, struct env_hidden *h)
{
    memset(h, 0, sizeof *h);
    return take(judge_policy, p, h, 1);
}

int env_forget(const char *name)
{
    struct env_hidden h;
    memset(&h, 0, sizeof h);
    return take(judge_name, name, &h, 0);
}

int env_hidden_json(const struct env_hidden *h, cJSON *o)
{
    cJSON *env = cJSON_AddObjectToObject(o, "env");
    if (!env || !cJSON_AddNumberToObject(env, "hidden", (double)h->n))
        return -ENOMEM;
    cJSON *names = cJSON_AddArrayToObject(env, "names");
    if (!names)
        return -ENOMEM;
    for (size_t off = 0; off < h->used; off += strlen(h->names + off) + 1) {
        cJSON *s = cJSON_CreateString(h->names + off);
        if (!s)
            return -ENOMEM;
        cJSON_AddItemToArray(names, s);
    }
    if (!cJSON_AddNumberToObject(env, "scrubbed", (double)h->scrubbed) ||
        !cJSON_AddBoolToObject(env, "truncated", h->truncated))
        return -ENOMEM;
    return 0;
}

size_t env_hidden_line(const struct env_hidden *h, char *buf, size_t len)
{
    if (!len)
        return 0;
    buf[0] = '\0';
    if (!h->n)
        return 0;
    size_t o = 0;
    int w = snprintf(buf, len, "sandbox.env hid %zu variable%s from the agent:", h->n,
                     h->n == 1 ? "" : "s");
    o = w > 0 ? (size_t)w : 0;
    for (size_t off = 0; off < h->used && o < len; off += strlen(h->names + off) + 1) {
        w = snprintf(buf + o, len - o, " %s", h->names + off);
        o += w > 0 ? (size_t)w : 0;
    }
    if (o < len) {
        w = snprintf(buf + o, len - o, "%s (list one in sandbox.env.allow to pass it on)",
                     h->truncated ? " ..." : "");
        o += w > 0 ? (size_t)w : 0;
    }
    return o < len ? o : len - 1;
}
