/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error collection for policy validation. Fixed-size storage so that a hostile document with
 * a million mistakes costs a counter, not memory.
 */
#include "base/diag.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void diag_init(struct diag *d)
{
    d->count = 0;
    d->dropped = 0;
}

void diag_add(struct diag *d, const char *path, const char *fmt, ...)
{
    if (d->count >= DIAG_MAX) {
        d->dropped++;
        return;
    }
    struct diag_entry *e = &d->e[d->count++];
    snprintf(e->path, sizeof e->path, "%s", path ? path : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

size_t diag_total(const struct diag *d)
{
    return d->count + d->dropped;
}

void diag_format(const struct diag *d, size_t i, char *buf, size_t len)
{
    if (i >= d->count) {
        snprintf(buf, len, "(no such error)");
        return;
    }
    const struct diag_entry *e = &d->e[i];
    if (e->path[0])
        snprintf(buf, len, "%s: %s", e->path, e->msg);
    else
        snprintf(buf, len, "%s", e->msg);
}

void diag_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0, n = 0;
    if (len < 8) {
        if (len)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (; *s && o + 8 < len; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (n == 60) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

void diag_path_key(char out[DIAG_PATH_MAX], const char *parent, const char *key)
{
    int plain = key[0] != '\0';
    for (const char *k = key; *k; k++)
        if (!isalnum((unsigned char)*k) && *k != '_')
            plain = 0;
    if (plain) {
        snprintf(out, DIAG_PATH_MAX, "%s%s%s", parent, parent[0] ? "." : "", key);
    } else {
        char q[96];
        diag_quote(key, q, sizeof q);
        snprintf(out, DIAG_PATH_MAX, "%s[%s]", parent, q);
    }
}

void diag_path_index(char out[DIAG_PATH_MAX], const char *parent, int i)
{
    snprintf(out, DIAG_PATH_MAX, "%s[%d]", parent, i);
}

void diag_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
