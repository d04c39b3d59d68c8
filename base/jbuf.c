/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one JSON text writer of cordon (see jbuf.h): into a buffer the caller owns, with no
 * allocation, no stdio and no locks, so that it serves the shim's hooks, its event channel,
 * and cordond's audit records alike. Strings are always escaped here, never formatted in.
 */
#include "base/jbuf.h"

void jbuf_init(struct jbuf *b, char *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = 0;
    if (cap)
        mem[0] = '\0';
}

static void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->overflow || b->len + n + 1 > b->cap) {
        b->overflow = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        b->p[b->len + i] = s[i];
    b->len += n;
    b->p[b->len] = '\0';
}

void jbuf_raw(struct jbuf *b, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    jbuf_put(b, s, n);
}

void jbuf_str(struct jbuf *b, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    jbuf_put(b, "\"", 1);
    size_t i = 0;
    while (s && s[i]) {
        /* a run of bytes that need no escape goes in at once */
        size_t run = i;
        while (s[run] && (!max || run < max)) {
            unsigned char c = (unsigned char)s[run];
            if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
                break;
            run++;
        }
        if (run > i) {
            jbuf_put(b, s + i, run - i);
            i = run;
            continue;
        }
        if (max && i >= max) {
            jbuf_put(b, "...", 3);
            break;
        }
        unsigned char c = (unsigned char)s[i];
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            char q[2] = {'\\', (char)c};
            jbuf_put(b, q, 2);
        } else {
            jbuf_put(b, e, 6);
        }
        i++;
    }
    jbuf_put(b, "\"", 1);
}

void jbuf_u64(struct jbuf *b, uint64_t v)
{
    char t[24];
    size_t n = sizeof t;
    do {
        t[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jbuf_put(b, t + n, sizeof t - n);
}

void jbuf_i64(struct jbuf *b, int64_t v)
{
    if (v < 0) {
        jbuf_put(b, "-", 1);
        jbuf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        jbuf_u64(b, (uint64_t)v);
    }
}

void jbuf_key(struct jbuf *b, const char *key)
{
    char last = b->len ? b->p[b->len - 1] : '{';
    if (last != '{' && last != '[')
        jbuf_put(b, ",", 1);
    jbuf_str(b, key, 0);
    jbuf_put(b, ":", 1);
}

void jbuf_bool(struct jbuf *b, int v)
{
    if (v)
        jbuf_put(b, "true", 4);
    else
        jbuf_put(b, "false", 5);
}
