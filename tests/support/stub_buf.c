/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bytes for the stub upstream: a growable buffer that grows geometrically (so appending is
 * amortised constant time and never allocates per byte), JSON string escaping that always
 * yields valid UTF-8, and small number and clock helpers.
 */
#include "tests/support/stub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sbuf_reserve(struct sbuf *b, size_t more)
{
    if (b->oom)
        return -ENOMEM;
    if (b->cap - b->len >= more)
        return 0;
    size_t want = b->len + more;
    if (want < b->len) {
        b->oom = 1;
        return -ENOMEM;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void sbuf_put(struct sbuf *b, const void *d, size_t n)
{
    if (n == 0 || sbuf_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    if (sbuf_reserve(b, 64) != 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        if (sbuf_reserve(b, (size_t)n + 1) != 0)
            return;
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
    }
    b->len += (size_t)n;
}

void sbuf_free(struct sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int stub_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(u + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

size_t stub_utf8_end(const char *s, size_t len, size_t cut)
{
    while (cut < len && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut++;
    return cut;
}

static const char hexd[] = "0123456789abcdef";

void sbuf_json(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (sbuf_reserve(b, n + 2) != 0)
        return;
    b->p[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        /* copy the run of bytes that need no escape in one go */
        size_t j = i;
        while (j < n && u[j] >= 0x20 && u[j] < 0x80 && u[j] != '"' && u[j] != '\\')
            j++;
        sbuf_put(b, s + i, j - i);
        i = j;
        if (i >= n)
            break;
        unsigned char c = u[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sbuf_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (e) {
                sbuf_put(b, e, 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hexd[c >> 4];
                esc[5] = hexd[c & 15];
                sbuf_put(b, esc, 6);
            }
            i++;
        } else {
            size_t l = utf8_seq(u + i, n - i);
            if (l == 0) {
                sbuf_put(b, "\xef\xbf\xbd", 3); /* U+FFFD for a byte that is not UTF-8 */
                i++;
            } else {
                sbuf_put(b, s + i, l);
                i += l;
            }
        }
    }
    sbuf_put(b, "\"", 1);
}

void sbuf_json_str(struct sbuf *b, const char *s)
{
    if (!s)
        sbuf_puts(b, "null");
    else
        sbuf_json(b, s, strlen(s));
}

int64_t stub_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int stub_parse_int(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n || n - i > 18)
        return -EINVAL;
    long long x = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        x = x * 10 + (s[i] - '0');
    }
    if (neg)
        x = -x;
    if (x < lo || x > hi)
        return -EINVAL;
    *out = x;
    return 0;
}
