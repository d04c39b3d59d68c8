/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CONNECT tunnel (see tunnel.h for the threading choice). A connection goes through:
 * read the head within handshake_timeout and TUNNEL_MAX_HEADER bytes, parse it, identify the
 * key, match host:port against the agent's allowlist, resolve the name here and connect to an
 * address that passed the address checks (so a name that rebinds between check and use gains
 * nothing), audit the opening synchronously, then relay bytes until both sides are done and
 * audit the totals.
 */
#include "policy/server/tunnel.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/server/connect.h"
#include "policy/server/egress.h"
#include "policy/server/server.h"

#define CONNECT_TIMEOUT_MS 10000
#define RELAY_BUF (64 * 1024)

struct tunnel {
    struct srv *s;
    int fd, stopfd;
    pthread_t thread;
    int running;
};

struct conn {
    struct srv *s;
    int fd;
};

/* One agent's open tunnels. Entries are reused once their count is back to 0, so the table
 * never holds more entries than tunnels were open at once. */
struct srv_tunnel_count {
    char agent[AGENTS_NAME_MAX + 1];
    unsigned n;
};

/* Count a tunnel for agent. Returns 0, or the number it already holds when that is the
 * limit (or, with no memory, the limit itself). */
static unsigned count_take(struct srv *s, const char *agent)
{
    unsigned limit = s->cfg.max_tunnels_per_agent, held = 0;
    pthread_mutex_lock(&s->tunnel_lock);
    struct srv_tunnel_count *c = NULL, *free_slot = NULL;
    for (size_t i = 0; i < s->n_tunnel_counts && !c; i++) {
        if (strcmp(s->tunnel_counts[i].agent, agent) == 0)
            c = &s->tunnel_counts[i];
        else if (!s->tunnel_counts[i].n && !free_slot)
            free_slot = &s->tunnel_counts[i];
    }
    if (!c && !free_slot) {
        struct srv_tunnel_count *nv =
            realloc(s->tunnel_counts, (s->n_tunnel_counts + 1) * sizeof *nv);
        if (nv) {
            s->tunnel_counts = nv;
            free_slot = &nv[s->n_tunnel_counts++];
            free_slot->n = 0;
        }
    }
    if (!c && free_slot) {
        c = free_slot;
        snprintf(c->agent, sizeof c->agent, "%s", agent);
    }
    if (!c)
        held = limit;
    else if (c->n >= limit)
        held = c->n;
    else
        c->n++;
    pthread_mutex_unlock(&s->tunnel_lock);
    return held;
}

static void count_give(struct srv *s, const char *agent)
{
    pthread_mutex_lock(&s->tunnel_lock);
    for (size_t i = 0; i < s->n_tunnel_counts; i++)
        if (s->tunnel_counts[i].n && strcmp(s->tunnel_counts[i].agent, agent) == 0) {
            s->tunnel_counts[i].n--;
            break;
        }
    pthread_mutex_unlock(&s->tunnel_lock);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void refuse(int fd, unsigned status, const char *reason, const char *line)
{
    char buf[1536];
    char body[1100];
    int bl = snprintf(body, sizeof body, "cordon: %s\n", line);
    if (bl < 0 || (size_t)bl >= sizeof body)
        bl = (int)sizeof body - 1;
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "%sConnection: close\r\n\r\n%s",
                     status, reason, bl,
                     status == 407 ? "Proxy-Authenticate: Basic realm=\"cordon\"\r\n" : "", body);
    if (n > 0)
        write_all(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Connect to sa within the timeout; returns the socket or -1. */
static int connect_to(const struct sockaddr *sa, socklen_t sl)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, sl) != 0 && errno != EINPROGRESS)
        goto fail;
    struct pollfd p = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof err;
    if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
        goto fail;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
fail:
    close(fd);
    return -1;
}

/* One direction of a tunnel: bytes read from `from` wait in buf until `to` takes them. */
struct flow {
    int from, to;
    char *buf;
    size_t len, off;
    int eof, shut;
    uint64_t *total, *metric;
};

/* How often an open tunnel looks whether its key was revoked (docs/SECURITY.md). */
#define REVOKE_CHECK_MS 500

/* Why a relay ended, for the tunnel.close record: both directions done, silent for
 * tunnel_idle_timeout, its key revoked, or a peer reset (or the relay failed). */
static const char *const relay_end_words[] = {"closed", "idle", "revoked", "reset"};
enum relay_end { RELAY_CLOSED, RELAY_IDLE, RELAY_REVOKED, RELAY_RESET };

/*
 * Relay both directions with non-blocking sockets and a buffer each, so a peer that writes
 * without reading cannot wedge the other direction (blocking writes would deadlock two
 * peers that both send large amounts at once). EOF is passed on as a half-close once the
 * buffered bytes are out. seen: agents_revocations() from before the key was checked, so a
 * revoke that lands between the check and the relay is caught at the first turn.
 */
static enum relay_end relay(int a, int b, const char *pre, size_t prelen, uint64_t *up,
                            uint64_t *down, struct srv *s, const char *key_id, uint64_t seen)
{
    enum relay_end end = RELAY_RESET;
    int64_t idle_ms = (int64_t)s->cfg.tunnel_idle_timeout * 1000, last = now_ms();
    struct flow f[2] = {{a, b, malloc(RELAY_BUF), 0, 0, 0, 0, up, &s->m.tunnel_bytes_up},
                        {b, a, malloc(RELAY_BUF), 0, 0, 0, 0, down, &s->m.tunnel_bytes_down}};
    if (!f[0].buf || !f[1].buf)
        goto out;
    fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
    fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
    if (prelen) { /* bytes the client sent right behind its CONNECT head */
        memcpy(f[0].buf, pre, prelen);
        f[0].len = prelen;
        *up += prelen;
        srv_count(&s->m.tunnel_bytes_up, prelen);
    }
    for (;;) {
        struct pollfd p[2] = {{a, 0, 0}, {b, 0, 0}};
        int busy = 0;
        for (int i = 0; i < 2; i++) {
            if (f[i].len > f[i].off) {
                p[1 - i].events |= POLLOUT; /* f[0] writes to b (p[1]), f[1] to a (p[0]) */
                busy = 1;
            } else if (!f[i].eof) {
                p[i].events |= POLLIN;
                busy = 1;
            } else if (!f[i].shut) {
                shutdown(f[i].to, SHUT_WR);
                f[i].shut = 1;
            }
        }
        if (!busy) {
            end = RELAY_CLOSED;
            break;
        }
        /* A revoked key ends its tunnels within REVOKE_CHECK_MS, busy or idle. */
        uint64_t gen = agents_revocations(s->agents);
        if (gen != seen) {
            seen = gen;
            if (!agents_id_live(s->agents, key_id)) {
                end = RELAY_REVOKED;
                break;
            }
        }
        int64_t left = idle_ms - (now_ms() - last);
        if (left <= 0) {
            end = RELAY_IDLE; /* idle past tunnel_idle_timeout: free the slot */
            break;
        }
        int pr = poll(p, 2, (int)(left < REVOKE_CHECK_MS ? left : REVOKE_CHECK_MS));
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pr == 0)
            continue;
        for (int i = 0; i < 2; i++) {
            struct flow *x = &f[i];
            short rin = p[i].revents, rout = p[1 - i].revents;
            if ((p[i].events & POLLIN) && (rin & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = recv(x->from, x->buf, RELAY_BUF, 0);
                if (n > 0) {
                    last = now_ms();
                    x->len = (size_t)n;
                    x->off = 0;
                    *x->total += (uint64_t)n;
                    srv_count(x->metric, (uint64_t)n);
                } else if (n == 0) {
                    x->eof = 1;
                } else if (errno != EAGAIN && errno != EINTR) {
                    goto out; /* reset: the tunnel is over */
                }
            }
            if ((p[1 - i].events & POLLOUT) && (rout & (POLLOUT | POLLHUP | POLLERR))) {
                ssize_t n = send(x->to, x->buf + x->off, x->len - x->off, MSG_NOSIGNAL);
                if (n > 0) {
                    last = now_ms();
                    x->off += (size_t)n;
                    if (x->off == x->len)
                        x->off = x->len = 0;
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                    goto out;
                }
            }
        }
    }
out:
    free(f[0].buf);
    free(f[1].buf);
    return end;
}

static void deny(struct srv *s, int fd, unsigned status, const char *reason, const char *agent,
                 const char *host, unsigned port, const char *session, const char *line)
{
    char fields[1600], q[1200];
    /* line is built from validated host names and fixed text; quote it as JSON anyway. */
    srv_json_text(line, q, sizeof q);
    snprintf(fields, sizeof fields,
             "{\"host\":\"%s\",\"port\":%u,\"session\":\"%s\",\"decision\":\"deny\","
             "\"status\":%u,\"reason\":\"%s\"}",
             host, port, session, status, q);
    if (agent)
        (void)srv_audit(s, "tunnel.deny", agent, fields, 0);
    srv_count(&s->m.decisions[SD_TUNNEL][SD_DENY], 1);
    refuse(fd, status, reason, line);
}

static void *serve(void *arg)
{
    struct conn *cn = arg;
    struct srv *s = cn->s;
    int fd = cn->fd, up = -1;
    free(cn);
    char hdr[TUNNEL_MAX_HEADER + 1], line[1024];
    size_t len = 0;
    int64_t t0 = now_ms(), deadline = t0 + (int64_t)s->cfg.handshake_timeout * 1000;
    char *end = NULL;
    struct pset *set = NULL;
    int counted = 0; /* this tunnel counts against its agent's max_tunnels_per_agent */
    /* Read the head: bounded in size and in time, so a slow or endless client costs a
     * bounded share of the tunnel slots. */
    while (!end) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) != 1) {
            refuse(fd, 408, "Request Timeout", "the CONNECT request did not arrive in time");
            goto out;
        }
        if (len == TUNNEL_MAX_HEADER) {
            refuse(fd, 431, "Request Header Fields Too Large",
                   "the CONNECT request head is over 8192 bytes");
            goto out;
        }
        ssize_t n = recv(fd, hdr + len, TUNNEL_MAX_HEADER - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        len += (size_t)n;
        hdr[len] = '\0';
        if (memchr(hdr, '\0', len)) {
            refuse(fd, 400, "Bad Request", "the request holds a NUL byte");
            goto out;
        }
        end = strstr(hdr, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end + 4 - hdr);
    char saved = hdr[head_len];
    hdr[head_len] = '\0';
    char host[256], key[128], session[40];
    unsigned port = 0;
    const char *why = NULL;
    int st = connect_parse_request(hdr, host, sizeof host, &port, key, sizeof key, session,
                                  sizeof session, &why);
    hdr[head_len] = saved;
    if (st != 0) {
        refuse(fd, (unsigned)st, st == 405 ? "Method Not Allowed" : "Bad Request", why);
        goto out;
    }
    char agent[AGENTS_NAME_MAX + 1];
    if (!key[0]) {
        refuse(fd, 407, "Proxy Authentication Required",
               "no agent key: send Proxy-Authorization: Bearer ck_... (or a proxy URL "
               "http://cordon:KEY@HOST:PORT)");
        goto out;
    }
    char key_id[AGENTS_ID_LEN + 1];
    uint64_t revocations = agents_revocations(s->agents);
    int ks = agents_check(s->agents, key, agent, key_id);
    sodium_memzero(key, sizeof key);
    if (ks != AGENTS_OK) {
        srv_count(&s->m.decisions[SD_TUNNEL][SD_DENY], 1);
        refuse(fd, 407, "Proxy Authentication Required",
               ks == AGENTS_ERR_REVOKED ? "the agent key was revoked"
               : ks == AGENTS_ERR_MALFORMED ? "the agent key is not ck_ + 43 base64url characters"
                                            : "the agent key is unknown to this server");
        goto out;
    }
    unsigned held = count_take(s, agent);
    if (held) {
        snprintf(line, sizeof line,
                 "agent %s already holds %u tunnels, its limit (max_tunnels_per_agent); "
                 "close some, or raise the limit in cordond's configuration", agent, held);
        deny(s, fd, 429, "Too Many Requests", agent, host, port, session, line);
        goto out;
    }
    counted = 1;
    set = pset_acquire(s->psets);
    const struct pset_entry *e = pset_find(set, agent);
    if (!e) {
        snprintf(line, sizeof line, "agent %s has no policy on this server", agent);
        deny(s, fd, 403, "Forbidden", agent, host, port, session, line);
        goto out;
    }
    const struct policy *pol = e->policy;
    int observe = pol->mode == POLICY_MODE_OBSERVE;
    const struct policy_endpoint *rule = egress_match(pol, host, (uint16_t)port);
    struct policy_endpoint none = {"", "", 0, 0};
    char target[300]; /* host:port as it is written: [IPv6]:port */
    snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    if (!rule && !observe) {
        char hint[300];
        egress_hint(pol, host, (uint16_t)port, hint, sizeof hint);
        snprintf(line, sizeof line, "%s is not on sandbox.network.allow of agent %s%s", target,
                 agent, hint);
        deny(s, fd, 403, "Forbidden", agent, host, port, session, line);
        goto out;
    }
    if (!rule)
        rule = &none; /* observe mode: logged below, special addresses still refused */
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0) {
        snprintf(line, sizeof line, "%s cannot be resolved: %s", host, gai_strerror(gai));
        deny(s, fd, 502, "Bad Gateway", agent, host, port, session, line);
        goto out;
    }
    const char *refused_class = NULL;
    char addr[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; ai && up < 0; ai = ai->ai_next) {
        if (!egress_addr_allowed(rule, host, ai->ai_addr)) {
            refused_class = egress_addr_class(ai->ai_addr);
            continue;
        }
        up = connect_to(ai->ai_addr, ai->ai_addrlen);
        if (up >= 0) {
            const void *a = ai->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
            inet_ntop(ai->ai_family, a, addr, sizeof addr);
        }
    }
    freeaddrinfo(res);
    if (up < 0) {
        if (refused_class)
            snprintf(line, sizeof line, "%s resolves to a %s address, which the policy does not "
                     "name explicitly (a special address is reached only through its exact IP "
                     "literal%s on sandbox.network.allow)", host, refused_class,
                     strcmp(refused_class, "loopback") == 0 ? ", or localhost," : "");
        else
            snprintf(line, sizeof line, "%s cannot be reached", target);
        deny(s, fd, refused_class ? 403 : 502, refused_class ? "Forbidden" : "Bad Gateway",
             agent, host, port, session, line);
        goto out;
    }
    char fields[768];
    snprintf(fields, sizeof fields,
             "{\"host\":\"%s\",\"port\":%u,\"address\":\"%s\",\"session\":\"%s\","
             "\"decision\":\"%s\",\"rule\":\"%s\",\"policy_version\":%" PRIu64 "}",
             host, port, addr, session, rule == &none ? "log" : "allow", rule->raw, e->version);
    uint64_t version = e->version;
    pset_release(set);
    set = NULL;
    /* Opening a tunnel requires audit: refuse rather than carry unrecorded traffic. */
    if (srv_audit(s, "tunnel.open", agent, fields, 1) != 0) {
        srv_count(&s->m.decisions[SD_TUNNEL][SD_ERROR], 1);
        refuse(fd, 503, "Service Unavailable",
               "the audit log cannot be written, so no tunnel is opened");
        goto out;
    }
    srv_count(&s->m.decisions[SD_TUNNEL][SD_ALLOW], 1);
    srv_count(&s->m.tunnels_total, 1);
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    write_all(fd, ok, sizeof ok - 1);
    uint64_t bytes_up = 0, bytes_down = 0;
    enum relay_end how =
        relay(fd, up, hdr + head_len, len - head_len, &bytes_up, &bytes_down, s, key_id,
              revocations);
    snprintf(fields, sizeof fields,
             "{\"host\":\"%s\",\"port\":%u,\"address\":\"%s\",\"session\":\"%s\","
             "\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64 ",\"duration_ms\":%" PRId64
             ",\"policy_version\":%" PRIu64 ",\"end\":\"%s\"}",
             host, port, addr, session, bytes_up, bytes_down, now_ms() - t0, version,
             relay_end_words[how]);
    (void)srv_audit(s, "tunnel.close", agent, fields, 0);
out:
    pset_release(set);
    if (counted)
        count_give(s, agent);
    if (up >= 0)
        close(up);
    close(fd);
    __atomic_sub_fetch(&s->m.tunnels_open, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *accept_loop(void *arg)
{
    struct tunnel *t = arg;
    struct srv *s = t->s;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        struct pollfd p[2] = {{t->fd, POLLIN, 0}, {t->stopfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        int c = accept4(t->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(100 * 1000); /* out of descriptors: back off rather than spin */
            continue;
        }
        uint64_t open = __atomic_add_fetch(&s->m.tunnels_open, 1, __ATOMIC_RELAXED);
        if (open > s->cfg.max_tunnels) {
            refuse(c, 503, "Service Unavailable", "too many tunnels are open; retry later");
            close(c);
            __atomic_sub_fetch(&s->m.tunnels_open, 1, __ATOMIC_RELAXED);
            continue;
        }
        struct conn *cn = malloc(sizeof *cn);
        pthread_t th;
        if (!cn) {
            close(c);
            __atomic_sub_fetch(&s->m.tunnels_open, 1, __ATOMIC_RELAXED);
            continue;
        }
        cn->s = s;
        cn->fd = c;
        if (pthread_create(&th, &attr, serve, cn) != 0) {
            refuse(c, 503, "Service Unavailable", "cannot start a tunnel thread; retry later");
            close(c);
            free(cn);
            __atomic_sub_fetch(&s->m.tunnels_open, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

int tunnel_start(struct srv *s, int fd, struct tunnel **out, char *err, size_t errlen)
{
    struct tunnel *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    t->s = s;
    t->fd = fd;
    t->stopfd = eventfd(0, EFD_CLOEXEC);
    if (t->stopfd < 0 || pthread_create(&t->thread, NULL, accept_loop, t) != 0) {
        snprintf(err, errlen, "cannot start the tunnel listener: %s", strerror(errno));
        if (t->stopfd >= 0)
            close(t->stopfd);
        free(t);
        return -1;
    }
    t->running = 1;
    *out = t;
    return 0;
}

size_t tunnel_stop(struct tunnel *t)
{
    if (!t)
        return 0;
    uint64_t one = 1;
    if (write(t->stopfd, &one, sizeof one) != sizeof one)
        perror("cordond: tunnel stop");
    pthread_join(t->thread, NULL);
    close(t->stopfd);
    close(t->fd);
    uint64_t open = 0;
    for (int i = 0; i < 300; i++) {
        open = __atomic_load_n(&t->s->m.tunnels_open, __ATOMIC_RELAXED);
        if (!open)
            break;
        usleep(10 * 1000);
    }
    free(t);
    return (size_t)open;
}
