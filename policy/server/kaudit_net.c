/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel side of kaudit.h: AUDIT_GET and AUDIT_SET on a NETLINK_AUDIT socket, and the
 * listener thread on the read-only multicast group AUDIT_NLGRP_READLOG.
 */
#include "policy/server/kaudit.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

#ifndef AUDIT_NLGRP_READLOG
#define AUDIT_NLGRP_READLOG 1
#endif

/* struct audit_status as far as every kernel since 2.6 has it */
struct status_v1 {
    uint32_t mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog;
};

static int control_socket(char *err, size_t errlen)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open a NETLINK_AUDIT socket: %s%s", strerror(e),
                 e == EPROTONOSUPPORT ? " (this kernel was built without audit support)" : "");
        return -e;
    }
    struct timeval tv = {2, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Send one request and read until its answer: the status for AUDIT_GET, the ack otherwise. */
static int request(int fd, uint16_t type, const struct status_v1 *in, struct status_v1 *out,
                   char *err, size_t errlen)
{
    static uint32_t seq;
    struct {
        struct nlmsghdr h;
        struct status_v1 s;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(in ? sizeof *in : 0);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.h.nlmsg_seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
    if (in)
        req.s = *in;
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot send %s to the kernel's audit: %s",
                 type == AUDIT_GET ? "AUDIT_GET" : "AUDIT_SET", strerror(e));
        return -e;
    }
    int got_status = 0;
    for (int tries = 0; tries < 16; tries++) {
        char buf[8192] __attribute__((aligned(4)));
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            snprintf(err, errlen, "no answer from the kernel's audit: %s", strerror(e));
            return -e;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != req.h.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *ne = NLMSG_DATA(h);
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ne))
                    return -EPROTO;
                if (ne->error != 0) {
                    int e = -ne->error;
                    snprintf(err, errlen, "the kernel's audit refused %s: %s%s",
                             type == AUDIT_GET ? "AUDIT_GET" : "AUDIT_SET", strerror(e),
                             e == EPERM ? " (it needs CAP_AUDIT_CONTROL: run cordond as root)"
                                        : "");
                    return -e;
                }
                if (type != AUDIT_GET || got_status)
                    return 0;
            } else if (h->nlmsg_type == AUDIT_GET && out) {
                size_t have = h->nlmsg_len - NLMSG_HDRLEN;
                memset(out, 0, sizeof *out);
                memcpy(out, NLMSG_DATA(h), have < sizeof *out ? have : sizeof *out);
                got_status = 1;
                return 0;
            }
        }
    }
    snprintf(err, errlen, "the kernel's audit did not answer");
    return -ETIMEDOUT;
}

int kaudit_state_get(struct kaudit_state *st, char *err, size_t errlen)
{
    int fd = control_socket(err, errlen);
    if (fd < 0)
        return fd;
    struct status_v1 s;
    int rc = request(fd, AUDIT_GET, NULL, &s, err, errlen);
    close(fd);
    if (rc != 0)
        return rc;
    st->enabled = s.enabled;
    st->failure = s.failure;
    st->pid = s.pid;
    st->rate_limit = s.rate_limit;
    st->backlog_limit = s.backlog_limit;
    st->lost = s.lost;
    st->backlog = s.backlog;
    return 0;
}

_Static_assert(KAUDIT_SET_ENABLED == AUDIT_STATUS_ENABLED &&
                   KAUDIT_SET_BACKLOG == AUDIT_STATUS_BACKLOG_LIMIT,
               "the mask bits are the kernel's");

int kaudit_state_set(unsigned mask, const struct kaudit_state *st, char *err, size_t errlen)
{
    int fd = control_socket(err, errlen);
    if (fd < 0)
        return fd;
    struct status_v1 s = {.mask = mask & (KAUDIT_SET_ENABLED | KAUDIT_SET_BACKLOG),
                          .enabled = st->enabled,
                          .backlog_limit = st->backlog_limit};
    int rc = request(fd, AUDIT_SET, &s, NULL, err, errlen);
    close(fd);
    return rc;
}

/* One of the two values: the enabled flag or the backlog limit. */
static int set_one(unsigned mask, uint32_t value, char *err, size_t errlen)
{
    struct kaudit_state st = {.enabled = value, .backlog_limit = value};
    return kaudit_state_set(mask, &st, err, errlen);
}

struct kaudit_listener {
    struct kaudit *k;
    int fd;
    pthread_t thread;
    int stop;                     /* atomic: 1 stop reading, once drained */
    int drain_ms;                 /* how long the stop may wait for live domains */
    int set_enabled, set_backlog; /* what "on" changed */
    struct kaudit_state before;
};

/* Up to 256 records from the socket; 1 when it was left empty, else 0. */
static int read_once(struct kaudit_listener *l)
{
    char buf[KAUDIT_TEXT_MAX + 512] __attribute__((aligned(4)));
    for (int i = 0; i < 256; i++) {
        ssize_t n = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ENOBUFS) { /* the socket overflowed: the kernel dropped some */
                kaudit_overrun(l->k, 1);
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK; /* or EINTR: read again */
        }
        /* One record a datagram. The kernel's nlmsg_len of an audit record is not to be
         * trusted (it has excluded the header in some paths), so the datagram's length
         * bounds the payload. */
        if ((size_t)n < NLMSG_HDRLEN)
            continue;
        const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
        size_t len = (size_t)n - NLMSG_HDRLEN;
        (void)kaudit_feed(l->k, h->nlmsg_type, buf + NLMSG_HDRLEN, len, clock_mono_ms());
    }
    return 0;
}

/* How much longer than drain_ms the stop reads what is already queued. */
#define KAUDIT_QUEUE_MS 3000

static void *listen_thread(void *arg)
{
    struct kaudit_listener *l = arg;
    int64_t stop_at = 0;
    for (;;) {
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        int n = poll(&p, 1, 100);
        int empty = n > 0 ? read_once(l) : n == 0;
        int64_t now = clock_mono_ms();
        kaudit_tick(l->k, now);
        if (__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
            if (!stop_at)
                stop_at = now;
            /* What the kernel queued is read first (up to KAUDIT_QUEUE_MS more): a domain
             * whose allocated record still waits in the socket is not yet known to be live.
             * Then the ended sessions' domains end a moment later (up to drain_ms), and their
             * counts are the loss. */
            if (now >= stop_at + l->drain_ms + KAUDIT_QUEUE_MS ||
                (empty && (kaudit_live_domains(l->k) == 0 || now >= stop_at + l->drain_ms)))
                break;
        }
    }
    kaudit_flush(l->k);
    return NULL;
}

int kaudit_listen_start(struct kaudit *k, enum kaudit_mode mode, struct kaudit_listener **out,
                        char *note, size_t notelen, char *err, size_t errlen)
{
    *out = NULL;
    note[0] = '\0';
    if (mode == KAUDIT_OFF) {
        snprintf(note, notelen, "kernel_audit off: kernel refusals are not recorded");
        return 0;
    }
    int on = mode == KAUDIT_ON;
    char why[512];
    struct kaudit_listener *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "kernel audit: out of memory");
        return -ENOMEM;
    }
    l->k = k;
    l->fd = -1;
    int rc = kaudit_state_get(&l->before, why, sizeof why);
    if (rc != 0 && on) {
        snprintf(err, errlen,
                 "kernel_audit on: %s; or set kernel_audit if-enabled or off (cordon run: "
                 "--kernel-audit)",
                 why);
        goto fail;
    }
    /* if-enabled needs only CAP_AUDIT_READ: a state it cannot read is said, not fatal */
    char unknown[600] = "";
    if (rc != 0)
        snprintf(unknown, sizeof unknown, "%s", why);
    l->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1u << (AUDIT_NLGRP_READLOG - 1)};
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        snprintf(why, sizeof why,
                 "cannot subscribe to the kernel's audit records (NETLINK_AUDIT, group "
                 "AUDIT_NLGRP_READLOG): %s%s",
                 strerror(e),
                 e == EPERM ? " (it needs CAP_AUDIT_READ: run cordond as root, or under systemd "
                              "add the drop-in "
                              "cordond.service.d/audit-read.conf)"
                            : "");
        if (on) {
            snprintf(
                err, errlen,
                "kernel_audit on: %s; or set kernel_audit off (cordon run: --kernel-audit off)",
                why);
            rc = -e;
            goto fail;
        }
        snprintf(note, notelen,
                 "kernel_audit if-enabled: %s; kernel refusals are not recorded (set "
                 "kernel_audit off to leave them out knowingly)",
                 why);
        if (l->fd >= 0)
            close(l->fd);
        free(l);
        return 0;
    }
    /* A burst of refusals is three or four datagrams each (SYSCALL, LANDLOCK_ACCESS,
     * PROCTITLE...), about 2 KiB of buffer a refusal: 64 MiB holds a burst of 10,000 and more
     * while the reader catches up. It costs memory only while records wait. */
    int big = 64 << 20;
    if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
        (void)setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (on && l->before.enabled == 0 && l->before.failure == 2) {
        /* a lost record panics the machine in that mode: cordond never turns that on */
        snprintf(err, errlen,
                 "kernel_audit on: audit is off and its failure mode is panic (2), so a record "
                 "lost in a burst would halt the machine; set the failure mode to 1 (auditctl "
                 "-f 1) or enable audit yourself, or set kernel_audit if-enabled");
        rc = -EPERM;
        goto fail;
    }
    if (on && l->before.enabled == 0) {
        if ((rc = set_one(KAUDIT_SET_ENABLED, 1, why, sizeof why)) != 0) {
            snprintf(err, errlen, "kernel_audit on: cannot enable audit: %s", why);
            goto fail;
        }
        l->set_enabled = 1;
    }
    if (on && l->before.backlog_limit < KAUDIT_BACKLOG && l->before.enabled != 2) {
        if ((rc = set_one(KAUDIT_SET_BACKLOG, KAUDIT_BACKLOG, why, sizeof why)) != 0) {
            snprintf(err, errlen, "kernel_audit on: cannot raise the backlog limit to %d: %s",
                     KAUDIT_BACKLOG, why);
            goto fail;
        }
        l->set_backlog = 1;
    }
    if ((rc = pthread_create(&l->thread, NULL, listen_thread, l)) != 0) {
        snprintf(err, errlen, "kernel audit: cannot start the listener thread: %s", strerror(rc));
        rc = -rc;
        goto fail;
    }
    if (on)
        snprintf(note, notelen,
                 "kernel_audit on: recording kernel refusals (audit %s, backlog limit %u%s); "
                 "restored at exit",
                 l->set_enabled ? "enabled by cordond" : "already enabled",
                 l->set_backlog ? KAUDIT_BACKLOG : l->before.backlog_limit,
                 l->set_backlog ? ", raised by cordond" : "");
    else if (unknown[0])
        snprintf(note, notelen,
                 "kernel_audit if-enabled: the audit state is unknown (%s); kernel refusals are "
                 "recorded whenever audit is enabled",
                 unknown);
    else if (l->before.enabled)
        snprintf(note, notelen,
                 "kernel_audit if-enabled: audit is enabled (backlog limit %u): recording "
                 "kernel refusals",
                 l->before.backlog_limit);
    else
        snprintf(note, notelen,
                 "kernel_audit if-enabled: audit is off on this host, so the kernel logs no "
                 "refusals; set kernel_audit on (or cordon run --kernel-audit on) to enable it");
    *out = l;
    return 0;
fail:
    if (l->set_enabled || l->set_backlog) {
        char ignore[256];
        if (l->set_backlog)
            (void)set_one(KAUDIT_SET_BACKLOG, l->before.backlog_limit, ignore, sizeof ignore);
        if (l->set_enabled)
            (void)set_one(KAUDIT_SET_ENABLED, 0, ignore, sizeof ignore);
    }
    if (l->fd >= 0)
        close(l->fd);
    free(l);
    return rc < 0 ? rc : -EIO;
}

void kaudit_listen_stop(struct kaudit_listener *l, int drain_ms, char *note, size_t notelen)
{
    note[0] = '\0';
    if (!l)
        return;
    l->drain_ms = drain_ms;
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    pthread_join(l->thread, NULL);
    close(l->fd);
    if (l->set_enabled || l->set_backlog) {
        struct kaudit_state now;
        char why[256];
        if (kaudit_state_get(&now, why, sizeof why) != 0) {
            snprintf(note, notelen, "kernel audit: cannot restore the audit state: %s", why);
        } else if (now.pid != 0 && now.pid != l->before.pid) {
            snprintf(note, notelen,
                     "kernel audit: an audit daemon (pid %u) registered meanwhile: audit left "
                     "enabled, backlog limit %u",
                     now.pid, now.backlog_limit);
        } else {
            int ok = 1;
            if (l->set_backlog)
                ok &= set_one(KAUDIT_SET_BACKLOG, l->before.backlog_limit, why, sizeof why) == 0;
            if (l->set_enabled)
                ok &= set_one(KAUDIT_SET_ENABLED, 0, why, sizeof why) == 0;
            snprintf(note, notelen, "kernel audit: %s%s%s", ok ? "restored" : "could not restore",
                     ok ? " the audit state cordond changed" : ": ", ok ? "" : why);
        }
    }
    free(l);
}
