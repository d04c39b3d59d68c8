/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ready file (see ready.h). The writer checks what it writes with the reader's own rules,
 * so a file cordond wrote always parses; the reader is strict and bounded, and fuzzed
 * (tests/fuzz/fuzz_ready.c), because the file sits in a directory that someone other than
 * its reader may be able to write.
 */
#include "policy/server/ready.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/io.h"

#define READY_KEY_MAX 32

/* A value the format carries: 1 to READY_ADDR_MAX - 1 bytes, none a control character
 * but the tab (a unix socket path may hold spaces, tabs and UTF-8, as a config value may). */
static int valid_value(const char *v, size_t n)
{
    if (n == 0 || n >= READY_ADDR_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int valid_events(const char *v)
{
    return strncmp(v, "unix:/", 6) == 0;
}

/* Is r one the format can carry? The same rules as the reader's. */
static int valid_ready(const struct ready *r)
{
    if (r->n_http == 0 || r->n_http > READY_MAX_HTTP)
        return 0;
    for (size_t i = 0; i < r->n_http; i++)
        if (!valid_value(r->http[i], strnlen(r->http[i], READY_ADDR_MAX)))
            return 0;
    if (!valid_value(r->tunnel, strnlen(r->tunnel, READY_ADDR_MAX)))
        return 0;
    if (r->admin[0] && !valid_value(r->admin, strnlen(r->admin, READY_ADDR_MAX)))
        return 0;
    if (r->events[0] &&
        (!valid_value(r->events, strnlen(r->events, READY_ADDR_MAX)) || !valid_events(r->events)))
        return 0;
    return 1;
}

/* Append "key=value\n" at *at; 0 or -ENOSPC. */
static int put_line(char *out, size_t len, size_t *at, const char *key, const char *value)
{
    int n = snprintf(out + *at, len - *at, "%s=%s\n", key, value);
    if (n < 0 || (size_t)n >= len - *at)
        return -ENOSPC;
    *at += (size_t)n;
    return 0;
}

int ready_format(const struct ready *r, char *out, size_t len)
{
    size_t at = 0;
    int rc = 0;
    if (len == 0)
        return -ENOSPC;
    out[0] = '\0';
    if (!valid_ready(r))
        return -EINVAL;
    for (size_t i = 0; rc == 0 && i < r->n_http; i++)
        rc = put_line(out, len, &at, "http", r->http[i]);
    if (rc == 0)
        rc = put_line(out, len, &at, "tunnel", r->tunnel);
    if (rc == 0 && r->admin[0])
        rc = put_line(out, len, &at, "admin", r->admin);
    if (rc == 0 && r->events[0])
        rc = put_line(out, len, &at, "events", r->events);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

int ready_write(const char *path, const struct ready *r, char *err, size_t errlen)
{
    char text[READY_MAX_BYTES + 1], tmp[PATH_MAX + 8];
    int rc = ready_format(r, text, sizeof text);
    if (rc != 0) {
        diag_set(err, errlen, "cannot write the ready file %s: %s", path, strerror(-rc));
        return rc;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        diag_set(err, errlen, "cannot write the ready file %s: %s", path, strerror(ENAMETOOLONG));
        return -ENAMETOOLONG;
    }
    /* O_TRUNC keeps the mode of a file left behind: fchmod makes it 0600 whatever it was */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0)
        rc = -errno;
    else
        rc = io_write_all(fd, text, strlen(text));
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        diag_set(err, errlen, "cannot write the ready file %s: %s", path, strerror(-rc));
        if (fd >= 0)
            unlink(tmp);
    }
    return rc;
}

/* Copy value (n bytes, checked) into a field of READY_ADDR_MAX bytes. */
static void set_value(char *field, const char *v, size_t n)
{
    memcpy(field, v, n);
    field[n] = '\0';
}

int ready_parse(const char *text, size_t len, struct ready *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > READY_MAX_BYTES) {
        diag_set(err, errlen, "%zu bytes, more than the %u a ready file can be", len,
                 READY_MAX_BYTES);
        return -EFBIG;
    }
    if (memchr(text, '\0', len)) {
        diag_set(err, errlen, "holds a NUL byte; a ready file is text");
        return -EINVAL;
    }
    size_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        lineno++;
        if (!nl) {
            diag_set(err, errlen, "line %zu: no newline at its end; the file was cut short",
                     lineno);
            goto bad;
        }
        size_t ll = (size_t)(nl - line);
        pos += ll + 1;
        const char *eq = memchr(line, '=', ll);
        size_t kl = eq ? (size_t)(eq - line) : 0;
        int key_ok = kl > 0 && kl <= READY_KEY_MAX;
        for (size_t i = 0; key_ok && i < kl; i++)
            key_ok = (line[i] >= 'a' && line[i] <= 'z') || line[i] == '_' ||
                     (i > 0 && line[i] >= '0' && line[i] <= '9');
        if (!key_ok) {
            diag_set(err, errlen, "line %zu: expected KEY=VALUE with KEY in a-z, 0-9 and _",
                     lineno);
            goto bad;
        }
        const char *v = eq + 1;
        size_t vl = ll - kl - 1;
        if (!valid_value(v, vl)) {
            diag_set(err, errlen,
                     "line %zu: the value is empty, longer than %d bytes or holds "
                     "a control character",
                     lineno, READY_ADDR_MAX - 1);
            goto bad;
        }
        char *field = NULL;
        if (kl == 4 && memcmp(line, "http", 4) == 0) {
            if (out->n_http == READY_MAX_HTTP) {
                diag_set(err, errlen, "line %zu: more than %d http lines", lineno, READY_MAX_HTTP);
                goto bad;
            }
            field = out->http[out->n_http++];
        } else if (kl == 6 && memcmp(line, "tunnel", 6) == 0) {
            field = out->tunnel;
        } else if (kl == 5 && memcmp(line, "admin", 5) == 0) {
            field = out->admin;
        } else if (kl == 6 && memcmp(line, "events", 6) == 0) {
            field = out->events;
            if (vl < 6 || memcmp(v, "unix:/", 6) != 0) {
                diag_set(err, errlen, "line %zu: events is not unix:/PATH", lineno);
                goto bad;
            }
        } else {
            continue; /* a key of a newer cordond */
        }
        if (field[0]) {
            diag_set(err, errlen, "line %zu: %.*s appears twice", lineno, (int)kl, line);
            goto bad;
        }
        set_value(field, v, vl);
    }
    if (out->n_http == 0 || !out->tunnel[0]) {
        diag_set(err, errlen, "no %s line", out->n_http == 0 ? "http" : "tunnel");
        goto bad;
    }
    return 0;
bad:
    memset(out, 0, sizeof *out);
    return -EINVAL;
}

int ready_read(const char *path, struct ready *out, char *err, size_t errlen)
{
    char buf[READY_MAX_BYTES + 1], why[256] = "";
    size_t got = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        diag_set(err, errlen, "%s: %s", path, rc == -ENOENT ? "not written yet" : strerror(errno));
        return rc;
    }
    /* one byte more than the limit, so that a file over it is seen to be */
    while (got < sizeof buf) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (rc != 0) {
        diag_set(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    if ((rc = ready_parse(buf, got, out, why, sizeof why)) != 0)
        diag_set(err, errlen, "%s: %s", path, why);
    return rc;
}
