/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event channel (see events.h). A seqpacket socket keeps message boundaries, so concurrent
 * senders (threads, forked children sharing the fd) never interleave bytes; MSG_DONTWAIT
 * means a slow cordond costs the agent a dropped event, never a stall.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim/events.h"

static _Atomic int ev_fd = -1;
static _Atomic uint64_t ev_dropped, ev_reported;

void jb_init(struct jbuf *b, char *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = 0;
    if (cap)
        mem[0] = '\0';
}

static void jb_put(struct jbuf *b, const char *s, size_t n)
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

void jb_raw(struct jbuf *b, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    jb_put(b, s, n);
}

void jb_str(struct jbuf *b, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    jb_put(b, "\"", 1);
    size_t i = 0;
    for (; s && s[i]; i++) {
        if (max && i >= max) {
            jb_put(b, "...", 3);
            break;
        }
        unsigned char c = (unsigned char)s[i];
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            char q[2] = {'\\', (char)c};
            jb_put(b, q, 2);
        } else if (c < 0x20 || c == 0x7f) {
            jb_put(b, e, 6);
        } else {
            jb_put(b, (const char *)&c, 1);
        }
    }
    jb_put(b, "\"", 1);
}

void jb_u64(struct jbuf *b, uint64_t v)
{
    char t[24];
    size_t n = sizeof t;
    do {
        t[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jb_put(b, t + n, sizeof t - n);
}

void jb_i64(struct jbuf *b, int64_t v)
{
    if (v < 0) {
        jb_put(b, "-", 1);
        jb_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        jb_u64(b, (uint64_t)v);
    }
}

void events_set_fd(int fd)
{
    atomic_store(&ev_fd, fd);
}

int events_fd(void)
{
    return atomic_load(&ev_fd);
}

int events_send(const char *msg, size_t len)
{
    int fd = atomic_load(&ev_fd);
    if (fd < 0)
        return -1;
    int saved = errno;
    ssize_t n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    errno = saved;
    if (n != (ssize_t)len) {
        atomic_fetch_add(&ev_dropped, 1);
        return -1;
    }
    return 0;
}

static void emit_one(const char *kind, const char *decision, const char *detail)
{
    char mem[EVENTS_MAX_MSG];
    struct jbuf b;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    jb_init(&b, mem, sizeof mem);
    jb_raw(&b, "{\"type\":\"event\",\"kind\":");
    jb_str(&b, kind, 0);
    jb_raw(&b, ",\"decision\":");
    jb_str(&b, decision, 0);
    jb_raw(&b, ",\"pid\":");
    jb_i64(&b, (int64_t)syscall(SYS_getpid));
    jb_raw(&b, ",\"ts\":");
    jb_i64(&b, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    jb_raw(&b, ",\"detail\":");
    jb_raw(&b, detail && *detail ? detail : "{}");
    jb_raw(&b, "}");
    if (b.overflow) { /* the detail was bounded; an oversized one is a drop, not a cut JSON */
        atomic_fetch_add(&ev_dropped, 1);
        return;
    }
    events_send(mem, b.len);
}

void events_flush_dropped(void)
{
    if (atomic_load(&ev_fd) < 0)
        return;
    uint64_t d = atomic_load(&ev_dropped), r = atomic_load(&ev_reported);
    if (d <= r || !atomic_compare_exchange_strong(&ev_reported, &r, d))
        return;
    char mem[64];
    struct jbuf b;
    jb_init(&b, mem, sizeof mem);
    jb_raw(&b, "{\"count\":");
    jb_u64(&b, d - r);
    jb_raw(&b, "}");
    emit_one("events.dropped", "log", mem);
}

void events_emit(const char *kind, const char *decision, const char *detail)
{
    if (atomic_load(&ev_fd) < 0)
        return;
    events_flush_dropped();
    emit_one(kind, decision, detail);
}

uint64_t events_dropped(void)
{
    return atomic_load(&ev_dropped);
}
