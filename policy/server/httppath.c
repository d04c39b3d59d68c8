/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths, queries and hosts of judged requests in their one normal form (see httppath.h for
 * what is refused and why). The path is built in one pass: each raw segment is decoded into
 * out behind a '/', a ".." removes the last segment (which, since a decoded segment never
 * holds '/', starts at the last '/' in out), and the runs of '/' left by empty segments are
 * folded at the end.
 */
#include "policy/server/httppath.h"

#include <errno.h>
#include <string.h>

static int hexval(unsigned char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The byte of the escape at s (3 bytes available), or -1. */
static int escape_at(const char *s, size_t left)
{
    if (left < 3)
        return -1;
    int h = hexval((unsigned char)s[1]), l = hexval((unsigned char)s[2]);
    return h < 0 || l < 0 ? -1 : h << 4 | l;
}

int httppath_normalize(const char *raw, size_t len, int flags, char *out, size_t cap,
                       const char **why)
{
    *why = "";
    if (cap < 2)
        return -ENAMETOOLONG;
    if (len == 1 && raw[0] == '*') {
        memcpy(out, "*", 2);
        return 0;
    }
    if (len == 0 || raw[0] != '/') {
        *why = "the path does not start with '/'";
        return -EINVAL;
    }
    size_t o = 0, i = 1;
    for (;;) {
        /* one raw segment: raw[i, e) */
        size_t e = i;
        while (e < len && raw[e] != '/')
            e++;
        int last = e == len;
        size_t se = e;
        if (flags & HTTPPATH_STRIP_PARAMS) {
            const char *semi = memchr(raw + i, ';', e - i);
            if (semi)
                se = (size_t)(semi - raw);
        }
        /* decode it behind a '/' in out */
        if (o + 1 >= cap)
            return -ENAMETOOLONG;
        size_t seg = o;
        out[o++] = '/';
        int encoded = 0;
        for (size_t k = i; k < se; k++) {
            unsigned char c = (unsigned char)raw[k];
            if (c <= 0x20 || c >= 0x7f || c == '\\') {
                *why = c == '\\' ? "a backslash in the path: some servers read it as '/'"
                                 : "a byte in the path that is not printable ASCII; send it "
                                   "percent-encoded";
                return -EINVAL;
            }
            if (c == '%') {
                int b = escape_at(raw + k, se - k);
                if (b < 0) {
                    *why = "a '%' in the path that is not followed by two hex digits; send a "
                           "'%' as %25";
                    return -EINVAL;
                }
                if (b == '/' || b == '\\') {
                    *why = b == '/' ? "an encoded '/' (%2F) in the path: origins disagree on "
                                      "whether it separates segments, so the path has no "
                                      "single meaning to judge; send '/' itself"
                                    : "an encoded backslash (%5C) in the path: some origins "
                                      "read it as '/', others do not";
                    return -EINVAL;
                }
                if (b < 0x20 || b == 0x7f) {
                    *why = b == 0 ? "an encoded NUL (%00) in the path: many servers end the "
                                    "path there"
                                  : "an encoded control character in the path";
                    return -EINVAL;
                }
                c = (unsigned char)b;
                k += 2;
                encoded = 1;
            }
            if (o + 1 >= cap)
                return -ENAMETOOLONG;
            out[o++] = (char)c;
        }
        size_t dl = o - seg - 1;
        int dot = dl == 1 && out[seg + 1] == '.';
        int dotdot = dl == 2 && out[seg + 1] == '.' && out[seg + 2] == '.';
        if ((dot || dotdot) && encoded) {
            /* RFC 3986 makes "%2e" and "." the same, but servers that route on the raw
             * path do not resolve it: the two readings name different resources */
            *why = "an encoded dot segment (\"%2e\" or \"%2e%2e\") in the path: servers that "
                   "do not decode it before resolving see another path; send \".\" or \"..\" "
                   "itself, or resolve it";
            return -EINVAL;
        }
        if (dot || dotdot) {
            o = seg;
            if (dotdot && o > 0) {
                /* remove the last segment: it starts at the last '/' */
                size_t k = o;
                while (k > 0 && out[k - 1] != '/')
                    k--;
                if (k == o) {
                    /* it is empty: "/a//.." is "/a/" when "//" is folded last and "/" when
                     * first, and servers do either */
                    *why = "a \"..\" segment that follows an empty one (\"//..\"): servers "
                           "that fold \"//\" first and those that do not reach different "
                           "paths; remove the empty segment";
                    return -EINVAL;
                }
                o = k - 1;
            }
            if (last) {
                /* "/a/b/.." is "/a/": the directory, with its slash */
                if (o + 1 >= cap)
                    return -ENAMETOOLONG;
                out[o++] = '/';
            }
        }
        if (last)
            break;
        i = e + 1;
    }
    if (o == 0)
        out[o++] = '/';
    /* fold runs of '/' */
    size_t w = 0;
    for (size_t k = 0; k < o; k++)
        if (!(out[k] == '/' && w > 0 && out[w - 1] == '/'))
            out[w++] = out[k];
    out[w] = '\0';
    return 0;
}

/* Decode s[0, n) into buf at *o, '+' as a space; 0, or -EINVAL / -ENAMETOOLONG. */
static int decode_form(const char *s, size_t n, char *buf, size_t cap, size_t *o, const char **why)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int b = escape_at(s + k, n - k);
            if (b < 0) {
                *why = "a '%' in the query that is not followed by two hex digits; send a '%' "
                       "as %25";
                return -EINVAL;
            }
            if (b == 0) {
                *why = "an encoded NUL (%00) in the query: many servers end the value there";
                return -EINVAL;
            }
            c = (unsigned char)b;
            k += 2;
        } else if (c == 0) {
            *why = "a NUL byte in the query";
            return -EINVAL;
        }
        if (*o + 1 >= cap)
            return -ENAMETOOLONG;
        buf[(*o)++] = (char)c;
    }
    if (*o + 1 > cap)
        return -ENAMETOOLONG;
    buf[(*o)++] = '\0';
    return 0;
}

int httppath_query(const char *query, size_t len, struct httppath_param *v, size_t max, size_t *n,
                   char *buf, size_t cap, const char **why)
{
    *why = "";
    *n = 0;
    size_t o = 0;
    for (size_t i = 0; i <= len;) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t e = amp ? (size_t)(amp - query) : len;
        if (e > i) {
            if (*n >= max) {
                *why = "the query has too many parameters to judge";
                return -E2BIG;
            }
            const char *eq = memchr(query + i, '=', e - i);
            size_t ne = eq ? (size_t)(eq - query) : e;
            size_t name = o;
            int rc = decode_form(query + i, ne - i, buf, cap, &o, why);
            if (rc == 0 && eq)
                rc = decode_form(eq + 1, e - ne - 1, buf, cap, &o, why);
            if (rc != 0)
                return rc;
            v[*n].name = buf + name;
            v[*n].value = eq ? buf + name + strlen(buf + name) + 1 : "";
            (*n)++;
        }
        if (!amp)
            break;
        i = e + 1;
    }
    return 0;
}

int httppath_host(const char *authority, char *host, size_t cap, unsigned *port, const char **why)
{
    *why = "";
    *port = 0;
    const char *a = authority, *end = a + strlen(a), *colon = NULL;
    size_t hl;
    if (a[0] == '[') {
        const char *rb = strchr(a, ']');
        if (!rb || rb == a + 1) {
            *why = "an IPv6 literal without its closing ']'";
            return -EINVAL;
        }
        if (rb[1] && rb[1] != ':') {
            *why = "something other than a port after an IPv6 literal";
            return -EINVAL;
        }
        colon = rb[1] ? rb + 1 : NULL;
        a++;
        hl = (size_t)(rb - a);
    } else {
        colon = strrchr(a, ':');
        hl = colon ? (size_t)(colon - a) : (size_t)(end - a);
        if (hl > 0 && a[hl - 1] == '.')
            hl--;
    }
    if (hl == 0) {
        *why = "no host name";
        return -EINVAL;
    }
    if (hl + 1 > cap)
        return -ENAMETOOLONG;
    for (size_t k = 0; k < hl; k++) {
        char c = a[k];
        if (c == ':' && authority[0] != '[') {
            *why = "a ':' in the host name (an IPv6 literal is written in brackets)";
            return -EINVAL;
        }
        host[k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    host[hl] = '\0';
    if (colon) {
        unsigned long v = 0;
        const char *q = colon + 1;
        for (; *q >= '0' && *q <= '9' && q - colon <= 5; q++)
            v = v * 10 + (unsigned long)(*q - '0');
        if (q == colon + 1 || *q || v < 1 || v > 65535) {
            *why = "the port is not a number from 1 to 65535";
            return -EINVAL;
        }
        *port = (unsigned)v;
    }
    return 0;
}
