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
#include <unistd.h>

#include "base/clock.h"
#include "base/jbuf.h"
#include "shim/events.h"

static _Atomic int ev_fd = -1;
static _Atomic uint64_t ev_dropped, ev_reported;

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
        return -EBADF;
    int saved = errno;
    ssize_t n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    int rc = n < 0 ? -errno : n != (ssize_t)len ? -EMSGSIZE : 0;
    errno = saved;
    if (rc != 0)
        atomic_fetch_add(&ev_dropped, 1);
    return rc;
}

static void emit_one(const char *kind, const char *decision, const char *detail)
{
    char mem[EVENTS_MAX_MSG];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"type\":\"event\",\"kind\":");
    jbuf_str(&b, kind, 0);
    jbuf_raw(&b, ",\"decision\":");
    jbuf_str(&b, decision, 0);
    jbuf_raw(&b, ",\"pid\":");
    jbuf_i64(&b, (int64_t)syscall(SYS_getpid));
    jbuf_raw(&b, ",\"ts\":");
    jbuf_i64(&b, clock_real_ms());
    jbuf_raw(&b, ",\"detail\":");
    jbuf_raw(&b, detail && *detail ? detail : "{}");
    jbuf_raw(&b, "}");
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
    jbuf_init(&b, mem, sizeof mem);
    jbuf_raw(&b, "{\"count\":");
    jbuf_u64(&b, d - r);
    jbuf_raw(&b, "}");
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
