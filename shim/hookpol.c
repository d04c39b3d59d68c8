/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encoding and decoding of the hook image (see hookpol.h). The decoder treats its input as
 * hostile: every field must end inside the buffer, counts are bounded, numbers are plain
 * decimal, and nothing may follow the last list. A counting pass comes first, so the whole
 * result fits in one block the caller provides (hookpol_decode_into: the shim's descendants
 * use static memory, since a first malloc costs an exec more than the rest of the decoding).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/grow.h"
#include "shim/hookpol.h"

#define MAGIC "cordon-hooks 1"
#define N_LISTS 6

struct obuf {
    char *b;
    size_t n, cap;
    int fail;
};

static void put_field(struct obuf *o, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    if (o->fail)
        return;
    if (GROW(&o->b, &o->cap, o->n + l + 1) != 0) {
        o->fail = 1;
        return;
    }
    if (l)
        memcpy(o->b + o->n, s, l);
    o->b[o->n + l] = '\0';
    o->n += l + 1;
}

static void put_num(struct obuf *o, uint64_t v)
{
    char d[24];
    snprintf(d, sizeof d, "%" PRIu64, v);
    put_field(o, d);
}

static void put_paths(struct obuf *o, const struct policy_paths *ps)
{
    put_num(o, ps->n);
    for (size_t i = 0; i < ps->n; i++) {
        put_num(o, (uint64_t)ps->v[i].origin);
        put_field(o, ps->v[i].raw);
        put_field(o, ps->v[i].path);
        put_field(o, ps->v[i].real);
    }
}

static void put_names(struct obuf *o, const struct policy_list *l)
{
    put_num(o, l->n);
    for (size_t i = 0; i < l->n; i++)
        put_field(o, l->v[i]);
}

int hookpol_encode(const struct policy *p, uint64_t version, char **out, size_t *outlen)
{
    struct obuf o = {0};
    put_field(&o, MAGIC);
    put_num(&o, version);
    put_num(&o, (uint64_t)p->mode);
    put_num(&o, (uint64_t)p->sandbox.net.mode);
    put_field(&o, p->agent);
    put_paths(&o, &p->sandbox.fs.deny);
    put_names(&o, &p->sandbox.exec.allow_names);
    put_paths(&o, &p->sandbox.exec.allow_paths);
    put_names(&o, &p->sandbox.exec.deny_names);
    put_paths(&o, &p->sandbox.exec.deny_paths);
    put_paths(&o, &p->sandbox.exec.search);
    if (o.fail) {
        free(o.b);
        return -ENOMEM;
    }
    *out = o.b;
    *outlen = o.n;
    return 0;
}

/* ---- decoding ---- */

struct ibuf {
    const char *b;
    size_t n, off;
};

/* The next field, or NULL when the buffer ends before its NUL. */
static const char *next(struct ibuf *in)
{
    if (in->off >= in->n)
        return NULL;
    const char *s = in->b + in->off;
    const char *z = memchr(s, '\0', in->n - in->off);
    if (!z)
        return NULL;
    in->off = (size_t)(z - in->b) + 1;
    return s;
}

static int num(struct ibuf *in, uint64_t max, uint64_t *v)
{
    const char *s = next(in);
    if (!s || !*s || strlen(s) > 20)
        return -EINVAL;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -EINVAL;
        x = x * 10 + d;
    }
    if (x > max)
        return -EINVAL;
    *v = x;
    return 0;
}

/* 1 for the path lists, 0 for the name lists, in image order. */
static const int list_is_paths[N_LISTS] = {1, 0, 1, 0, 1, 1};

/* Walk the lists after the header. With fill == NULL it only checks and counts (n[] gets
 * each list's length); with fill it writes the entries into the arrays given. */
struct fill {
    struct policy_path *paths[N_LISTS];
    const char **names[N_LISTS];
};

static int walk(struct ibuf *in, size_t n[N_LISTS], const struct fill *fill, char *err,
                size_t errlen)
{
    for (int k = 0; k < N_LISTS; k++) {
        uint64_t c;
        if (num(in, POLICY_MAX_ITEMS * 4, &c) != 0) {
            diag_set(err, errlen, "list %d of the hook image has no valid count", k + 1);
            return -EINVAL;
        }
        n[k] = (size_t)c;
        for (size_t i = 0; i < n[k]; i++) {
            if (!list_is_paths[k]) {
                const char *s = next(in);
                if (!s)
                    goto truncated;
                if (fill)
                    fill->names[k][i] = s;
                continue;
            }
            uint64_t origin;
            const char *raw, *path, *real;
            if (num(in, POLICY_ORIGIN_PRESET, &origin) != 0 || !(raw = next(in)) ||
                !(path = next(in)) || !(real = next(in)))
                goto truncated;
            if ((*path && *path != '/') || (*real && *real != '/')) {
                diag_set(err, errlen, "list %d of the hook image holds a relative path", k + 1);
                return -EINVAL;
            }
            if (fill) {
                struct policy_path *pp = &fill->paths[k][i];
                pp->origin = (enum policy_origin)origin;
                pp->raw = raw;
                pp->path = *path ? path : NULL;
                pp->real = *real ? real : NULL;
            }
        }
    }
    if (in->off != in->n) {
        diag_set(err, errlen, "the hook image has %zu unexpected bytes after its last list",
                 in->n - in->off);
        return -EINVAL;
    }
    return 0;
truncated:
    diag_set(err, errlen, "list of the hook image is truncated or malformed");
    return -EINVAL;
}

/* The header; leaves in->off at the first list. */
static int header(struct ibuf *in, uint64_t *ver, uint64_t *mode, uint64_t *net, const char **agent,
                  char *err, size_t errlen)
{
    if (!in->b || in->n == 0 || in->n > HOOKPOL_MAX_BYTES) {
        diag_set(err, errlen, "the hook image is empty or larger than %u bytes", HOOKPOL_MAX_BYTES);
        return -EINVAL;
    }
    const char *magic = next(in);
    if (!magic || strcmp(magic, MAGIC) != 0) {
        diag_set(err, errlen, "the hook image does not start with \"%s\"", MAGIC);
        return -EINVAL;
    }
    if (num(in, UINT64_MAX, ver) != 0 || num(in, POLICY_MODE_OBSERVE, mode) != 0 ||
        num(in, POLICY_NET_HOST, net) != 0 || !(*agent = next(in))) {
        diag_set(err, errlen,
                 "the hook image's header (version, mode, network, agent) is "
                 "malformed");
        return -EINVAL;
    }
    return 0;
}

/* What decoding needs: the policy, then the path lists, then the name lists. */
static size_t need_for(const size_t n[N_LISTS])
{
    size_t total = sizeof(struct policy);
    for (int k = 0; k < N_LISTS; k++)
        total += n[k] * (list_is_paths[k] ? sizeof(struct policy_path) : sizeof(char *));
    return total;
}

int hookpol_decode_into(const char *buf, size_t len, void *mem, size_t memlen, size_t *need,
                        struct policy **out, uint64_t *version, char *err, size_t errlen)
{
    *out = NULL;
    struct ibuf in = {buf, len, 0};
    uint64_t ver, mode, net;
    const char *agent;
    size_t n[N_LISTS];
    int rc = header(&in, &ver, &mode, &net, &agent, err, errlen);
    size_t after_header = in.off;
    if (rc == 0)
        rc = walk(&in, n, NULL, err, errlen);
    if (rc != 0)
        return rc;
    if (need)
        *need = need_for(n);
    if (!mem || memlen < need_for(n) || (uintptr_t)mem % _Alignof(struct policy)) {
        diag_set(err, errlen, "the hook image needs %zu aligned bytes to decode, %zu given",
                 need_for(n), memlen);
        return -ENOMEM;
    }
    struct policy *p = mem;
    memset(p, 0, sizeof *p);
    /* Paths first (pointer-aligned like the names that follow). */
    char *at = (char *)(p + 1);
    struct fill f = {{0}, {0}};
    for (int k = 0; k < N_LISTS; k++)
        if (list_is_paths[k]) {
            f.paths[k] = (struct policy_path *)(void *)at;
            at += n[k] * sizeof(struct policy_path);
        }
    for (int k = 0; k < N_LISTS; k++)
        if (!list_is_paths[k]) {
            f.names[k] = (const char **)(void *)at;
            at += n[k] * sizeof(char *);
        }
    in.off = after_header;
    size_t n2[N_LISTS];
    if ((rc = walk(&in, n2, &f, err, errlen)) != 0) /* cannot differ from the first pass */
        return rc;
    p->schema = POLICY_SCHEMA;
    p->agent = agent;
    p->mode = (enum policy_mode)mode;
    p->version = ver;
    p->sandbox.net.mode = (enum policy_net)net;
    p->sandbox.fs.deny = (struct policy_paths){n[0], f.paths[0]};
    p->sandbox.exec.allow_names = (struct policy_list){n[1], f.names[1]};
    p->sandbox.exec.allow_paths = (struct policy_paths){n[2], f.paths[2]};
    p->sandbox.exec.deny_names = (struct policy_list){n[3], f.names[3]};
    p->sandbox.exec.deny_paths = (struct policy_paths){n[4], f.paths[4]};
    p->sandbox.exec.search = (struct policy_paths){n[5], f.paths[5]};
    *out = p;
    *version = ver;
    return 0;
}

int hookpol_measure(const char *buf, size_t len, size_t *need, char *err, size_t errlen)
{
    struct policy *p;
    uint64_t version;
    int rc = hookpol_decode_into(buf, len, NULL, 0, need, &p, &version, err, errlen);
    return rc == -ENOMEM ? 0 : rc; /* counted, and nothing given to decode into */
}

int hookpol_decode(const char *buf, size_t len, struct policy **out, uint64_t *version, char *err,
                   size_t errlen)
{
    *out = NULL;
    size_t need;
    int rc = hookpol_measure(buf, len, &need, err, errlen);
    if (rc != 0)
        return rc;
    void *mem = malloc(need);
    if (!mem) {
        diag_set(err, errlen, "out of memory decoding the hook image");
        return -ENOMEM;
    }
    if ((rc = hookpol_decode_into(buf, len, mem, need, NULL, out, version, err, errlen)) != 0)
        free(mem);
    return rc;
}

void hookpol_free(struct policy *p)
{
    free(p);
}
