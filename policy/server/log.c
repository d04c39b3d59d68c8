/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's log (log.h). Formatting is a pure function of its arguments (log_format), which
 * the unit tests and fuzz_log drive; the rest is where the bytes go. The file descriptor
 * lines are written to never changes after log_setup: a reopen puts the new file in its place
 * with dup2(2), which is atomic, so writing threads need no lock.
 */
#include "policy/server/log.h"
#include "base/clock.h"
#include "base/jbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_fd = STDERR_FILENO;
static enum log_form g_form = LOG_FORM_TEXT;
static int g_file; /* 1: g_fd is a file that log_reopen opens again by g_path */
static char g_path[PATH_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_form_parse(const char *s, enum log_form *form)
{
    if (s && strcmp(s, "text") == 0)
        *form = LOG_FORM_TEXT;
    else if (s && strcmp(s, "json") == 0)
        *form = LOG_FORM_JSON;
    else
        return -EINVAL;
    return 0;
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 when it is not a valid one
 * (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned v;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, v = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    return len;
}

/* A bounded line under construction: what does not fit is dropped, never overrun. */
struct line {
    char *p;
    size_t n, cap; /* cap keeps room for the newline and the NUL */
};

static int put(struct line *l, const char *s, size_t n)
{
    if (n > l->cap - l->n)
        return -1;
    memcpy(l->p + l->n, s, n);
    l->n += n;
    return 0;
}

static int bare_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '=' || *p == '\\')
            return 0;
    return 1;
}

/* A key as the log writes it: [a-z0-9_] (others become '_'), at most LOG_KEY_MAX bytes. */
static void clean_key(const char *k, char out[LOG_KEY_MAX + 1])
{
    size_t i = 0;
    for (; k && k[i] && i < LOG_KEY_MAX; i++) {
        char c = k[i];
        out[i] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '_';
    }
    if (i == 0)
        out[i++] = '_';
    out[i] = '\0';
}

/* A text value, bare or quoted, cut at max bytes of input; 0, or -1 when it did not fit. */
static int put_text_value(struct line *l, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    if (!s)
        s = "";
    size_t n = strlen(s), cut = n > max;
    if (!cut && bare_ok(s))
        return put(l, s, n);
    if (cut)
        n = max;
    if (put(l, "\"", 1))
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        char e[4] = {'\\', 0, 0, 0};
        size_t k = 1, el = 2;
        if (c == '"' || c == '\\')
            e[1] = (char)c;
        else if (c == '\n')
            e[1] = 'n';
        else if (c == '\r')
            e[1] = 'r';
        else if (c == '\t')
            e[1] = 't';
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && (k = utf8_len(u + i, n - i)) == 0)) {
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 15];
            el = 4;
            k = 1;
        } else {
            if (put(l, s + i, k))
                return -1;
            i += k;
            continue;
        }
        if (put(l, e, el))
            return -1;
        i += k;
    }
    if (cut && put(l, "...", 3))
        return -1;
    return put(l, "\"", 1);
}

/* A JSON string value cut at max bytes of input, bytes that are not UTF-8 as U+FFFD. */
static int put_json_value(struct line *l, const char *s, size_t max)
{
    char clean[LOG_VALUE_MAX * 3 + 8], mem[LOG_VALUE_MAX * 6 + 16];
    size_t n = s ? strlen(s) : 0, o = 0, cut = n > max;
    if (cut)
        n = max;
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    for (size_t i = 0; i < n && o + 4 < sizeof clean;) {
        size_t k = utf8_len(u + i, n - i);
        if (k == 0) {
            memcpy(clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(clean + o, u + i, k);
            o += k;
            i += k;
        }
    }
    if (cut && o + 4 < sizeof clean) {
        memcpy(clean + o, "...", 3);
        o += 3;
    }
    clean[o] = '\0';
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_str(&b, clean, 0);
    if (b.overflow)
        return -1;
    return put(l, b.p, b.len);
}

static int put_pair(struct line *l, enum log_form form, int first, const char *key,
                    const char *value, size_t max, int reserved_ok)
{
    char k[LOG_KEY_MAX + 2];
    clean_key(key, k);
    /* an event's own key never repeats time, level or msg: it gets a '_' after it */
    if (!reserved_ok &&
        (strcmp(k, "time") == 0 || strcmp(k, "level") == 0 || strcmp(k, "msg") == 0))
        memcpy(k + strlen(k), "_", 2);
    size_t mark = l->n;
    int bad;
    if (form == LOG_FORM_JSON)
        bad = put(l, first ? "\"" : ",\"", first ? 1 : 2) || put(l, k, strlen(k)) ||
              put(l, "\":", 2) || put_json_value(l, value, max);
    else
        bad = (!first && put(l, " ", 1)) || put(l, k, strlen(k)) || put(l, "=", 1) ||
              put_text_value(l, value, max);
    if (bad)
        l->n = mark;
    return bad ? -1 : 0;
}

size_t log_format(enum log_form form, const char *time, enum log_level level, const char *msg,
                  const char *const *kv, size_t nkv, char *out, size_t cap)
{
    if (cap < 64)
        return 0;
    struct line l = {out, 0, cap - 3}; /* room for '}', the newline and the NUL */
    if ((unsigned)level > LOG_LEVEL_ERROR)
        level = LOG_LEVEL_ERROR;
    int first = 1;
    if (form == LOG_FORM_JSON)
        put(&l, "{", 1);
    if (time && put_pair(&l, form, first, "time", time, 64, 1) == 0)
        first = 0;
    if (put_pair(&l, form, first, "level", level_names[level], 8, 1) == 0)
        first = 0;
    /* the message first, cut further until it fits: a line without its msg says nothing */
    size_t room = LOG_VALUE_MAX;
    while (put_pair(&l, form, first, "msg", msg ? msg : "", room, 1) != 0 && room > 0)
        room /= 2;
    first = 0;
    for (size_t i = 0; kv && i < nkv; i++) {
        size_t max = LOG_VALUE_MAX;
        /* a value that does not fit is cut to what is left; a key that cannot fit is left
         * out, and the pairs after it are tried */
        while (put_pair(&l, form, 0, kv[2 * i], kv[2 * i + 1], max, 0) != 0 && max > 0)
            max /= 2;
    }
    if (form == LOG_FORM_JSON) {
        l.cap += 1; /* the room kept for the closing brace */
        put(&l, "}", 1);
    }
    out[l.n++] = '\n';
    out[l.n] = '\0';
    return l.n;
}

int log_setup(enum log_form form, const char *path, char *err, size_t errlen)
{
    g_form = form;
    if (!path || !*path)
        return 0;
    if (strlen(path) >= sizeof g_path) {
        snprintf(err, errlen, "--log-file %s: the path is longer than %zu bytes", path,
                 sizeof g_path - 1);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen,
                 "--log-file %s: cannot open it for appending: %s; create its directory or "
                 "choose a path cordond may write",
                 path, strerror(e));
        return -e;
    }
    memcpy(g_path, path, strlen(path) + 1);
    g_fd = fd;
    g_file = 1;
    return 0;
}

int log_reopen(char *err, size_t errlen)
{
    if (!g_file)
        return 0;
    int fd = open(g_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen,
                 "cannot reopen the log file %s: %s; lines go on to the file it was before; "
                 "make its directory writable for cordond and send SIGHUP again",
                 g_path, strerror(e));
        return -e;
    }
    int rc = dup3(fd, g_fd, O_CLOEXEC) < 0 ? -errno : 0;
    if (rc != 0)
        snprintf(err, errlen, "cannot put the reopened log file %s in place: %s", g_path,
                 strerror(-rc));
    close(fd);
    return rc;
}

static void emit(enum log_level level, const char *msg, const char *const *kv, size_t nkv)
{
    char line[LOG_LINE_MAX], ts[40];
    const char *t = NULL;
    if (g_file) {
        int64_t ms = clock_real_ms();
        time_t sec = (time_t)(ms / 1000);
        struct tm tm;
        char base[24];
        if (gmtime_r(&sec, &tm) && strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm)) {
            snprintf(ts, sizeof ts, "%s.%03dZ", base, (int)(ms % 1000));
            t = ts;
        }
    }
    size_t n = log_format(g_form, t, level, msg, kv, nkv, line, sizeof line);
    int saved = errno;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(g_fd, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to say it */
        off += (size_t)w;
    }
    errno = saved;
}

void log_kv(enum log_level level, const char *msg, ...)
{
    const char *kv[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, msg);
    for (const char *k; n < 16 && (k = va_arg(ap, const char *));) {
        kv[2 * n] = k;
        kv[2 * n + 1] = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    emit(level, msg, kv, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[LOG_VALUE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg, NULL, 0);
}
