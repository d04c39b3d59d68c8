/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake line (see handshake.h). The parser walks the expected form byte by byte, so
 * a prefix of a valid line is told from a wrong line at once: the supervisor stops waiting
 * as soon as what it read cannot become a handshake.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/jbuf.h"
#include "shim/handshake.h"

#define HANDSHAKE_PID_MAX 2147483647L

size_t handshake_format(char *buf, size_t cap, long pid, uint64_t version)
{
    if (cap < HANDSHAKE_MAX || pid < 1 || pid > HANDSHAKE_PID_MAX) {
        if (cap)
            buf[0] = '\0';
        return 0;
    }
    struct jbuf b; /* no allocation, no stdio: a bounded text */
    jbuf_init(&b, buf, cap);
    jbuf_raw(&b, "ok pid=");
    jbuf_u64(&b, (uint64_t)pid);
    jbuf_raw(&b, " policy=v");
    jbuf_u64(&b, version);
    jbuf_raw(&b, "\n");
    return b.overflow ? 0 : b.len;
}

/*
 * A decimal number at *pos, from min (0 or 1) to max: 1 when one was read whole (the next
 * byte is not a digit), 0 when the input ended inside it, -1 when it is malformed or out of
 * range.
 */
static int number(const char *buf, size_t len, size_t *pos, int min, uint64_t max, uint64_t *out)
{
    size_t i = *pos;
    uint64_t v = 0;
    if (i == len)
        return 0;
    if (buf[i] < '0' || buf[i] > '9' || (buf[i] == '0' && min > 0))
        return -1;
    if (buf[i] == '0' && i + 1 < len && buf[i + 1] >= '0' && buf[i + 1] <= '9')
        return -1; /* a leading zero */
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(buf[i] - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *pos = i;
    *out = v;
    return i < len ? 1 : 0;
}

/* The literal s at *pos: 1 matched, 0 the input ended inside it, -1 another text. */
static int literal(const char *buf, size_t len, size_t *pos, const char *s)
{
    size_t n = strlen(s), have = len - *pos < n ? len - *pos : n;
    if (memcmp(buf + *pos, s, have) != 0)
        return -1;
    if (have < n)
        return 0;
    *pos += n;
    return 1;
}

int handshake_parse(const char *buf, size_t len, struct handshake *h)
{
    size_t pos = 0;
    uint64_t pid = 0, version = 0;
    int r;
    if (len > HANDSHAKE_MAX)
        return -EPROTO;
    if ((r = literal(buf, len, &pos, "ok pid=")) <= 0 ||
        (r = number(buf, len, &pos, 1, HANDSHAKE_PID_MAX, &pid)) <= 0 ||
        (r = literal(buf, len, &pos, " policy=v")) <= 0 ||
        (r = number(buf, len, &pos, 0, UINT64_MAX, &version)) <= 0)
        return r < 0 ? -EPROTO : -EAGAIN;
    if (buf[pos] != '\n' || pos + 1 != len)
        return -EPROTO;
    h->pid = (long)pid;
    h->version = version;
    return 0;
}
