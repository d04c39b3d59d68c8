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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "base/clock.h"
#include "base/io.h"
#include "policy/policy.h"
#include "policy/server/anomaly.h"
#include "policy/server/connect.h"
#include "policy/server/egress.h"
#include "policy/server/httpjudge.h"
#include "policy/server/httppath.h"
#include "policy/server/httprule.h"
#include "policy/server/mint.h"
#include "policy/server/origintls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "policy/server/identity.h"
#include "policy/server/server.h"

#define CONNECT_TIMEOUT_MS 10000
#define RELAY_BUF (64 * 1024)
/* A busy direction's pipe (F_SETPIPE_SZ), the most one splice moves: 1 MiB, the default
 * /proc/sys/fs/pipe-max-size. With the default 64 KiB pipe the relay makes about 12 times as
 * many splice calls and costs about twice the CPU per byte (bench/bench_tunnel.sh). */
#define TUNNEL_PIPE_SIZE (1024 * 1024)

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

/* Send a refusal made by srv_decide (a whole HTTP response) and free it. */
static void send_refusal(int fd, struct decision *d)
{
    if (d->body && io_write_all(fd, d->body, d->body_len) != 0) {
        /* the client is gone: there is nobody to tell */
    }
    decision_done(d);
}

/* Refuse a connection for the form of its request, before anyone is identified: not audited
 * (it names nobody), counted with the requests. */
__attribute__((format(printf, 4, 5))) static void refuse(struct srv *s, int fd, unsigned status,
                                                         const char *fmt, ...)
{
    struct decision d;
    decision_init(&d, DECISION_REQUEST, NULL);
    d.reply = DECISION_REPLY_PLAIN;
    char msg[DECISION_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    decision_refuse(&d, status, NULL, NULL, "%s", msg);
    (void)srv_decide(s, &d);
    send_refusal(fd, &d);
}

/* Connect to sa within the timeout; returns the socket or a negative errno (-ETIMEDOUT when
 * the time ran out). The caller says which target could not be reached. */
static int connect_to(const struct sockaddr *sa, socklen_t sl)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, sa, sl) != 0 && errno != EINPROGRESS) {
        rc = -errno;
        goto fail;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof err;
    int pr = poll(&p, 1, CONNECT_TIMEOUT_MS);
    if (pr != 1) {
        rc = pr == 0 ? -ETIMEDOUT : -errno;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
        rc = err ? -err : -errno;
        goto fail;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
fail:
    close(fd);
    return rc;
}

/*
 * One direction of a tunnel. Bytes read from `from` wait until `to` takes them, in buf
 * (recv, then send) or, once the direction is busy, in a pipe (splice(2): socket to pipe to
 * socket; the pages move by reference and never cross into user space). A direction starts
 * copying, and takes a pipe when a recv fills the whole buffer; it gives the pipe back after
 * a quiet turn. So idle and interactive tunnels hold no pipe (no descriptors, none of the
 * user's pipe quota), and bulk ones splice.
 */
struct flow {
    int from, to;
    int pipe[2];   /* [0] read end, [1] write end; -1 while this flow copies */
    size_t cap;    /* the pipe's capacity */
    size_t queued; /* bytes in the pipe */
    int full;      /* the pipe took nothing more while holding bytes: wait for `to` */
    int busy;      /* a recv filled buf: take a pipe once buf is empty */
    int nosplice;  /* a splice was refused (EINVAL...): this flow copies to its end */
    char *buf;     /* the copy loop's buffer */
    size_t bufcap, len, off;
    int eof, shut;
    uint64_t *total, *metric;
};

/* How often an open tunnel looks whether its key was revoked (docs/SECURITY.md). */
#define REVOKE_CHECK_MS 500

/* Why a relay ended, for the tunnel.close record: both directions done, silent for
 * tunnel_idle_timeout, its key revoked, or a peer reset (or the relay failed). */
static const char *const relay_end_words[] = {"closed", "idle", "revoked", "reset", "quarantined"};
enum relay_end { RELAY_CLOSED, RELAY_IDLE, RELAY_REVOKED, RELAY_RESET, RELAY_QUARANTINED };

static void flow_unpipe(struct flow *x)
{
    if (x->pipe[0] >= 0) {
        close(x->pipe[0]);
        close(x->pipe[1]);
    }
    x->pipe[0] = x->pipe[1] = -1;
    x->queued = 0;
    x->full = 0;
}

/* Give a busy flow (its buffer empty) a pipe of TUNNEL_PIPE_SIZE. Without one it goes on
 * copying: no descriptor left, or the kernel made a pipe smaller than the buffer, as it does
 * once the user's pipes hold /proc/sys/fs/pipe-user-pages-soft (F_SETPIPE_SZ is then refused
 * and new pipes have 2 pages, through which splicing would cost more than copying). */
static void flow_pipe(struct flow *x)
{
    x->busy = 0;
    if (pipe2(x->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        x->pipe[0] = x->pipe[1] = -1;
        return;
    }
    (void)fcntl(x->pipe[1], F_SETPIPE_SZ, TUNNEL_PIPE_SIZE);
    int cap = fcntl(x->pipe[1], F_GETPIPE_SZ);
    if (cap < RELAY_BUF) {
        flow_unpipe(x);
        return;
    }
    x->cap = (size_t)cap;
}

/* A splice was refused: the bytes already in the pipe go to the buffer (grown to hold them)
 * and the flow copies from now on. Returns 0, or -1 when that cannot be done (the tunnel is
 * then over). */
static int flow_copy(struct flow *x)
{
    x->nosplice = 1;
    if (x->queued > x->bufcap) {
        char *nb = realloc(x->buf, x->queued);
        if (!nb)
            return -1;
        x->buf = nb;
        x->bufcap = x->queued;
    }
    x->len = x->off = 0;
    while (x->len < x->queued) {
        ssize_t n = read(x->pipe[0], x->buf + x->len, x->queued - x->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        x->len += (size_t)n;
    }
    flow_unpipe(x);
    return 0;
}

static int flow_pending(const struct flow *x)
{
    return x->pipe[0] >= 0 ? x->queued > 0 : x->len > x->off;
}

/* Room to read into: a pipe with space left that last took something, or an empty buffer. */
static int flow_room(const struct flow *x)
{
    return x->pipe[0] >= 0 ? !x->full && x->queued < x->cap : x->len == 0;
}

static int splice_refused(int e)
{
    return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP;
}

/* Read what `from` holds, up to the room there is. Returns 1 when bytes came, 0 when nothing
 * (EAGAIN, or EOF, which sets eof), -1 on a reset. */
static int flow_in(struct flow *x)
{
    ssize_t n;
    if (x->pipe[0] < 0 && x->busy && !x->nosplice)
        flow_pipe(x); /* the buffer is empty: flow_room() said so */
    if (x->pipe[0] >= 0) {
        n = splice(x->from, NULL, x->pipe[1], NULL, x->cap - x->queued,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && splice_refused(errno)) {
            if (flow_copy(x) != 0)
                return -1;
            return flow_room(x) ? flow_in(x) : 0;
        }
        if (n < 0 && errno == EAGAIN && x->queued)
            x->full = 1; /* the socket or the pipe is out: POLLOUT on `to` decides */
        if (n > 0)
            x->queued += (size_t)n;
    } else {
        n = recv(x->from, x->buf, x->bufcap, 0);
        if (n > 0) {
            x->len = (size_t)n;
            x->off = 0;
            x->busy = (size_t)n == x->bufcap;
        }
    }
    if (n > 0) {
        *x->total += (uint64_t)n;
        srv_count(x->metric, (uint64_t)n);
        return 1;
    }
    if (n == 0) {
        x->eof = 1;
        return 0;
    }
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

/* Write what the flow holds to `to`. Returns 1 when bytes went, 0 when `to` is full, -1 on a
 * reset. */
static int flow_out(struct flow *x)
{
    ssize_t n;
    if (x->pipe[0] >= 0) {
        n = splice(x->pipe[0], NULL, x->to, NULL, x->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && splice_refused(errno)) {
            if (flow_copy(x) != 0)
                return -1;
            return flow_out(x);
        }
        if (n > 0) {
            x->queued -= (size_t)n;
            x->full = 0;
        }
    } else {
        n = send(x->to, x->buf + x->off, x->len - x->off, MSG_NOSIGNAL);
        if (n > 0) {
            x->off += (size_t)n;
            if (x->off == x->len)
                x->off = x->len = 0;
        }
    }
    if (n > 0)
        return 1;
    return n < 0 && errno != EAGAIN && errno != EINTR ? -1 : 0;
}

/*
 * What ends a tunnel whatever its bytes: a revoked key ends its tunnels within
 * REVOKE_CHECK_MS, busy or idle; a quarantine of its agent (anomaly.h) the same way; and
 * idleness past tunnel_idle_timeout frees the slot. Returns 1 with *end, or 0 with how long
 * the relay may wait in poll before asking again.
 */
static int relay_over(struct srv *s, const char *key_id, uint64_t *seen, const char *agent,
                      uint64_t *qseen, int64_t last, int64_t idle_ms, enum relay_end *end,
                      int *wait_ms)
{
    uint64_t gen = agents_revocations(s->agents);
    if (gen != *seen) {
        *seen = gen;
        if (!agents_id_live(s->agents, key_id)) {
            *end = RELAY_REVOKED;
            return 1;
        }
    }
    if (s->anomaly && anomaly_generation(s->anomaly) != *qseen) {
        *qseen = anomaly_generation(s->anomaly);
        if (anomaly_quarantined(s->anomaly, agent, NULL)) {
            *end = RELAY_QUARANTINED;
            return 1;
        }
    }
    int64_t left = idle_ms - (clock_mono_ms() - last);
    if (left <= 0) {
        *end = RELAY_IDLE;
        return 1;
    }
    *wait_ms = (int)(left < REVOKE_CHECK_MS ? left : REVOKE_CHECK_MS);
    return 0;
}

/*
 * Relay both directions with non-blocking sockets and a buffer or pipe each, so a peer that
 * writes without reading cannot wedge the other direction (blocking writes would deadlock two
 * peers that both send large amounts at once). EOF is passed on as a half-close once the
 * held bytes are out. seen: agents_revocations() from before the key was checked, so a
 * revoke that lands between the check and the relay is caught at the first turn.
 */
static enum relay_end relay(int a, int b, const char *pre, size_t prelen, uint64_t *up,
                            uint64_t *down, struct srv *s, const char *key_id, uint64_t seen,
                            const char *agent, uint64_t qseen)
{
    enum relay_end end = RELAY_RESET;
    int64_t idle_ms = (int64_t)s->cfg.tunnel_idle_timeout * 1000, last = clock_mono_ms();
    struct flow f[2] = {{.from = a, .to = b, .total = up, .metric = &s->m.tunnel_bytes_up},
                        {.from = b, .to = a, .total = down, .metric = &s->m.tunnel_bytes_down}};
    for (int i = 0; i < 2; i++) {
        f[i].pipe[0] = f[i].pipe[1] = -1;
        f[i].bufcap = RELAY_BUF;
        if (!(f[i].buf = malloc(RELAY_BUF)))
            goto out;
    }
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
            if (flow_pending(&f[i])) {
                p[1 - i].events |= POLLOUT; /* f[0] writes to b (p[1]), f[1] to a (p[0]) */
                busy = 1;
            }
            if (!f[i].eof && flow_room(&f[i])) {
                p[i].events |= POLLIN;
                busy = 1;
            } else if (f[i].eof && !flow_pending(&f[i]) && !f[i].shut) {
                shutdown(f[i].to, SHUT_WR);
                f[i].shut = 1;
            }
        }
        if (!busy) {
            end = RELAY_CLOSED;
            break;
        }
        int wait_ms;
        if (relay_over(s, key_id, &seen, agent, &qseen, last, idle_ms, &end, &wait_ms))
            break;
        int pr = poll(p, 2, wait_ms);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pr == 0) { /* a quiet turn: an empty pipe goes back until the next burst */
            for (int i = 0; i < 2; i++)
                if (f[i].pipe[0] >= 0 && !f[i].queued)
                    flow_unpipe(&f[i]);
            continue;
        }
        int moved = 0;
        for (int i = 0; i < 2; i++) {
            struct flow *x = &f[i];
            short rin = p[i].revents, rout = p[1 - i].revents;
            int r = 0;
            if ((p[1 - i].events & POLLOUT) && (rout & (POLLOUT | POLLHUP | POLLERR)))
                r = flow_out(x);
            if (r >= 0 && (p[i].events & POLLIN) && (rin & (POLLIN | POLLHUP | POLLERR))) {
                r = flow_in(x);
                /* what just came goes on at once, without another poll */
                if (r > 0 && flow_pending(x))
                    r = flow_out(x) < 0 ? -1 : 1;
            }
            if (r < 0)
                goto out; /* reset: the tunnel is over */
            moved |= r;
        }
        if (moved)
            last = clock_mono_ms();
    }
out:
    for (int i = 0; i < 2; i++) {
        flow_unpipe(&f[i]);
        free(f[i].buf);
    }
    return end;
}

/* One tunnel request as it goes through serve(): what the client asked and who it is. */
struct treq {
    struct srv *s;
    int fd, up;
    int64_t t0;
    char hdr[TUNNEL_MAX_HEADER + 1];
    size_t len, head_len; /* bytes read; the head's, up to its blank line */
    char host[256], session[40];
    unsigned port;
    char target[300]; /* host:port as it is written: [IPv6]:port */
    char agent[AGENTS_NAME_MAX + 1], key_id[AGENTS_ID_LEN + 1];
    uint64_t revocations;        /* agents_revocations() before the key was checked */
    int counted;                 /* this tunnel counts against its agent's max_tunnels_per_agent */
    char addr[INET6_ADDRSTRLEN]; /* the address connected to */
    uint64_t policy_version;
    struct pset *set;            /* held from the verdict until tunnel.open is written */
    struct policy_endpoint none; /* observe mode's rule: none, "" */
    uint64_t qgen;               /* anomaly_generation() before the quarantine gate */
    int quarantined;             /* refused for a quarantine: not a denial to count */
    /* A host of sandbox.network.http: its entry, the rules compiled for this tunnel, and the
     * policy they belong to (t->set stays held until the tunnel ends). */
    int http_entry;
    const struct httprule_set *rules; /* the policy set's (pset_entry.http_rules) */
    const struct policy *pol;
    char http_host[256];          /* t->host as the rules compare it (httppath_host) */
    int tls;                      /* "tls": "terminate": cordond terminates and re-encrypts */
    struct engine_data_view data; /* "scan": api.data's classes (data.scanner NULL: none) */
};

/* Count a tunnel's signal in its agent's anomaly windows (anomaly.h), judged with its policy. */
static void note_anomaly(struct treq *t, enum anomaly_signal sig, const char *what)
{
    struct anomaly *a = t->s->anomaly;
    if (!a)
        return;
    struct pset *set = t->set ? t->set : pset_acquire(t->s->psets);
    const struct pset_entry *e = pset_find(set, t->agent);
    (void)anomaly_note(a, t->agent, e ? e->policy : NULL, sig, 1, what, 0);
    if (set != t->set)
        pset_release(set);
}

/* A refusal of an identified agent's tunnel: tunnel.deny with host, port, session, status
 * and the sentence, then the response. */
__attribute__((format(printf, 4, 5))) static void deny(struct treq *t, unsigned status,
                                                       const char *rule, const char *fmt, ...)
{
    struct decision d;
    decision_init(&d, DECISION_TUNNEL, "tunnel.deny");
    d.reply = DECISION_REPLY_PLAIN;
    d.agent = t->agent;
    d.key_id = t->key_id;
    char msg[DECISION_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    decision_refuse(&d, status, NULL, rule, "%s", msg);
    struct jbuf *f = &d.fields;
    jbuf_key(f, "host");
    jbuf_str(f, t->host, 0);
    jbuf_key(f, "port");
    jbuf_u64(f, t->port);
    jbuf_key(f, "session");
    jbuf_str(f, t->session, 0);
    jbuf_key(f, "decision");
    jbuf_str(f, "deny", 0);
    jbuf_key(f, "status");
    jbuf_u64(f, status);
    jbuf_key(f, "reason");
    jbuf_str(f, d.message, 0);
    (void)srv_decide(t->s, &d);
    send_refusal(t->fd, &d);
    if (status == 403 && !t->quarantined) {
        char what[96];
        snprintf(what, sizeof what, "tunnel %.80s", t->target);
        note_anomaly(t, ANOMALY_DENIALS, what);
    }
}

/* Read the head: bounded in size and in time, so a slow or endless client costs a bounded
 * share of the tunnel slots. Returns 0, or -1 when the connection was refused or is gone. */
static int read_head(struct treq *t)
{
    int64_t deadline = t->t0 + (int64_t)t->s->cfg.handshake_timeout * 1000;
    char *end = NULL;
    while (!end) {
        int64_t left = deadline - clock_mono_ms();
        struct pollfd p = {t->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) != 1) {
            refuse(t->s, t->fd, 408, "the CONNECT request did not arrive in time");
            return -ETIMEDOUT;
        }
        if (t->len == TUNNEL_MAX_HEADER) {
            refuse(t->s, t->fd, 431, "the CONNECT request head is over %d bytes",
                   TUNNEL_MAX_HEADER);
            return -EMSGSIZE;
        }
        ssize_t n = recv(t->fd, t->hdr + t->len, TUNNEL_MAX_HEADER - t->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ECONNRESET;
        t->len += (size_t)n;
        t->hdr[t->len] = '\0';
        end = memmem(t->hdr, t->len, "\r\n\r\n", 4);
        /* only the head is text: bytes behind it (a TLS hello sent without waiting for the
         * 200) are the stream's, NULs included */
        if (memchr(t->hdr, '\0', end ? (size_t)(end - t->hdr) : t->len)) {
            refuse(t->s, t->fd, 400, "the request holds a NUL byte");
            return -EINVAL;
        }
    }
    t->head_len = (size_t)(end + 4 - t->hdr);
    return 0;
}

/* Parse the head and identify its key. Returns 0 with host, port, session, agent and key_id
 * set, or a negative errno once the connection was refused (a bad key is audited). */
static int identify(struct treq *t)
{
    char key[128];
    const char *why = NULL;
    char saved = t->hdr[t->head_len];
    t->hdr[t->head_len] = '\0';
    int st = connect_parse_request(t->hdr, t->host, sizeof t->host, &t->port, key, sizeof key,
                                   t->session, sizeof t->session, &why);
    t->hdr[t->head_len] = saved;
    if (st != 0) {
        refuse(t->s, t->fd, (unsigned)st, "%s", why);
        return -EINVAL;
    }
    if (!key[0]) {
        refuse(t->s, t->fd, 407,
               "no agent key: send Proxy-Authorization: Bearer ck_... (or a "
               "proxy URL http://cordon:KEY@HOST:PORT)");
        return -EACCES;
    }
    snprintf(t->target, sizeof t->target, strchr(t->host, ':') ? "[%s]:%u" : "%s:%u", t->host,
             t->port);
    t->revocations = agents_revocations(t->s->agents);
    struct identity who;
    int ks = identity_check(t->s, key, &who);
    memcpy(t->agent, who.agent, sizeof who.agent);
    memcpy(t->key_id, who.key_id, sizeof who.key_id);
    sodium_memzero(key, sizeof key);
    if (ks == AGENTS_OK)
        return 0;
    if (ks != AGENTS_ERR_REVOKED) { /* the key names nobody */
        t->agent[0] = '\0';
        t->key_id[0] = '\0';
    }
    struct decision d;
    decision_init(&d, DECISION_TUNNEL, "tunnel.deny");
    d.reply = DECISION_REPLY_PLAIN;
    d.agent = t->agent[0] ? t->agent : NULL;
    d.key_id = t->key_id[0] ? t->key_id : NULL;
    decision_refuse(&d, 407, NULL,
                    ks == AGENTS_ERR_REVOKED     ? "agent_key.revoked"
                    : ks == AGENTS_ERR_MALFORMED ? "agent_key.malformed"
                                                 : "agent_key.unknown",
                    "%s",
                    ks == AGENTS_ERR_REVOKED     ? "the agent key was revoked"
                    : ks == AGENTS_ERR_MALFORMED ? "the agent key is not ck_ + 43 base64url "
                                                   "characters"
                                                 : "the agent key is unknown to this server");
    struct jbuf *f = &d.fields;
    if (d.key_id) {
        jbuf_key(f, "key_id");
        jbuf_str(f, d.key_id, 0);
    }
    jbuf_key(f, "host");
    jbuf_str(f, t->host, 0);
    jbuf_key(f, "port");
    jbuf_u64(f, t->port);
    jbuf_key(f, "session");
    jbuf_str(f, t->session, 0);
    jbuf_key(f, "decision");
    jbuf_str(f, "deny", 0);
    jbuf_key(f, "status");
    jbuf_u64(f, 407);
    jbuf_key(f, "reason");
    jbuf_str(f, d.message, 0);
    (void)srv_decide(t->s, &d);
    send_refusal(t->fd, &d);
    return -EACCES;
}

/*
 * A tunnel to a host of sandbox.network.http is judged request by request (httpjudge.h), by
 * the rules the policy set compiled with the policy (pset_entry.http_rules). With tls "terminate"
 * cordond also terminates TLS with a certificate minted for the host, which needs the deployment CA
 * (tls_ca). Returns 0, or -1 once refused: rules that cannot be compiled, or a CA that is missing,
 * refuse the tunnel, never let it through unread.
 */
static int http_rules(struct treq *t, const struct pset_entry *pe)
{
    const struct policy *pol = pe->policy;
    const char *why = NULL;
    t->http_entry = -1;
    if (!pol->sandbox.net.n_http)
        return 0;
    char authority[300];
    unsigned port = 0;
    snprintf(authority, sizeof authority, "%s", t->target);
    if (httppath_host(authority, t->http_host, sizeof t->http_host, &port, &why) != 0)
        return 0; /* a name the rules cannot name is on no entry */
    int entry = httprule_host(pol, t->http_host, t->port);
    if (entry < 0)
        return 0;
    int terminate = pol->sandbox.net.http[entry].tls == POLICY_HTTP_TLS_TERMINATE;
    if (terminate && !t->s->mint) {
        deny(t, 403, "sandbox.network.http",
             "sandbox.network.http[%d] of agent %s asks cordond to terminate TLS for %s, but "
             "cordond has no deployment CA, so the tunnel is refused rather than passed unread; "
             "create one with `cordon keygen --ca PREFIX` and set tls_ca, or make the entry "
             "\"tls\": \"none\"",
             entry, t->agent, t->target);
        return -1;
    }
    if (!pe->http_rules) { /* the set compiles them with the policy: never happens */
        deny(t, 403, "sandbox.network.http",
             "the HTTP rules of agent %s for %s were not compiled, so the tunnel is refused "
             "rather than opened unread; push the policy again",
             t->agent, t->target);
        return -1;
    }
    t->rules = pe->http_rules;
    t->http_entry = entry;
    t->pol = pol;
    t->tls = terminate;
    if (pol->sandbox.net.http[entry].scan)
        engine_data_view(pe->engine, &t->data);
    return 0;
}

/* The agent's slot and the policy's verdict on host:port. Returns the rule that allows it
 * (t->none in observe mode, which logs instead), with t->set held for as long as the rule is
 * used, or NULL once refused. */
static const struct policy_endpoint *judge(struct treq *t)
{
    struct anomaly *a = t->s->anomaly;
    int64_t since = 0;
    unsigned retry = 0;
    if (a)
        t->qgen = anomaly_generation(a);
    if (a && anomaly_gate(a, t->agent, 1, 0, &since, &retry) == ANOMALY_QUARANTINED) {
        char when[40] = "?";
        time_t ts = (time_t)(since / 1000);
        struct tm tm;
        if (gmtime_r(&ts, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        t->quarantined = 1;
        deny(t, 403, "api.anomaly",
             "agent %s is quarantined by cordond's anomaly response since %s; every tunnel "
             "and model call is refused until an administrator runs `cordon agent release %s`",
             t->agent, when, t->agent);
        return NULL;
    }
    unsigned held = count_take(t->s, t->agent);
    if (held) {
        deny(t, 429, "max_tunnels_per_agent",
             "agent %s already holds %u tunnels, its limit (max_tunnels_per_agent); close "
             "some, or raise the limit in cordond's configuration",
             t->agent, held);
        return NULL;
    }
    t->counted = 1;
    t->set = pset_acquire(t->s->psets);
    const struct pset_entry *e = pset_find(t->set, t->agent);
    if (!e) {
        deny(t, 403, "policy_set", "agent %s has no policy on this server", t->agent);
        return NULL;
    }
    const struct policy *pol = e->policy;
    const struct policy_endpoint *rule = egress_match(pol, t->host, (uint16_t)t->port);
    if (!rule && pol->mode != POLICY_MODE_OBSERVE) {
        char hint[300];
        egress_hint(pol, t->host, (uint16_t)t->port, hint, sizeof hint);
        deny(t, 403, "sandbox.network.allow", "%s is not on sandbox.network.allow of agent %s%s",
             t->target, t->agent, hint);
        return NULL;
    }
    t->policy_version = e->version;
    if (http_rules(t, e) != 0)
        return NULL;
    return rule ? rule : &t->none; /* observe: logged, special addresses still refused */
}

/* Resolve the name here and connect to the first address that passes the address checks, so
 * that a name which rebinds between check and use gains nothing. Returns 0 with t->up, or a
 * negative errno once refused. */
static int dial(struct treq *t, const struct policy_endpoint *rule)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", t->port & 0xffff);
    int gai = getaddrinfo(t->host, ps, &hints, &res);
    if (gai != 0) {
        deny(t, 502, "egress.resolve", "%s cannot be resolved: %s", t->host, gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    const char *refused_class = NULL;
    for (struct addrinfo *ai = res; ai && t->up < 0; ai = ai->ai_next) {
        if (!egress_addr_allowed(rule, t->host, ai->ai_addr)) {
            refused_class = egress_addr_class(ai->ai_addr);
            continue;
        }
        int fd = connect_to(ai->ai_addr, ai->ai_addrlen);
        if (fd < 0)
            continue;
        t->up = fd;
        const void *a = ai->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, a, t->addr, sizeof t->addr);
    }
    freeaddrinfo(res);
    if (t->up >= 0)
        return 0;
    if (refused_class)
        deny(t, 403, "egress.address",
             "%s resolves to a %s address, which the policy does not "
             "name explicitly (a special address is reached only through its exact IP "
             "literal%s on sandbox.network.allow)",
             t->host, refused_class,
             strcmp(refused_class, "loopback") == 0 ? ", or localhost," : "");
    else
        deny(t, 502, "egress.connect", "%s cannot be reached", t->target);
    return -EHOSTUNREACH;
}

/* host, port, address and session: the start of tunnel.open and tunnel.close. */
static void where_fields(const struct treq *t, struct jbuf *f)
{
    jbuf_key(f, "host");
    jbuf_str(f, t->host, 0);
    jbuf_key(f, "port");
    jbuf_u64(f, t->port);
    jbuf_key(f, "address");
    jbuf_str(f, t->addr, 0);
    jbuf_key(f, "session");
    jbuf_str(f, t->session, 0);
}

/* Opening a tunnel requires audit: tunnel.open is written synchronously before the 200, and a
 * tunnel that cannot be recorded is refused rather than carry unrecorded traffic. Returns 0
 * when the tunnel may open. */
static int open_recorded(struct treq *t, const struct policy_endpoint *rule)
{
    struct decision d;
    decision_init(&d, DECISION_TUNNEL, "tunnel.open");
    d.reply = DECISION_REPLY_PLAIN;
    d.agent = t->agent;
    d.key_id = t->key_id;
    d.audit_flags = DECISION_AUDIT_SYNC | DECISION_AUDIT_REQUIRED;
    d.audit_failed_msg = "the audit log cannot be written, so no tunnel is opened";
    d.rule = rule->raw;
    where_fields(t, &d.fields);
    jbuf_key(&d.fields, "decision");
    jbuf_str(&d.fields, rule == &t->none ? "log" : "allow", 0);
    jbuf_key(&d.fields, "policy_version");
    jbuf_u64(&d.fields, t->policy_version);
    if (srv_decide(t->s, &d) == DECISION_ALLOW)
        return 0;
    send_refusal(t->fd, &d);
    return -EIO;
}

/* One judged request's exchange: http.request, with where it went and what was decided. */
static void http_record(void *ctx, const struct httpjudge_rec *r)
{
    struct treq *t = ctx;
    char mem[2048];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    where_fields(t, &f);
    jbuf_key(&f, "method");
    jbuf_str(&f, r->method, 64);
    jbuf_key(&f, "path");
    jbuf_str(&f, r->path, 512);
    jbuf_key(&f, "rule");
    if (r->rule >= 0) {
        char rule[64];
        snprintf(rule, sizeof rule, "sandbox.network.http[%d].rules[%d]", t->http_entry, r->rule);
        jbuf_str(&f, rule, 0);
    } else {
        jbuf_raw(&f, "null");
    }
    jbuf_key(&f, "decision");
    jbuf_str(&f, r->allowed ? "allow" : r->forwarded ? "log" : "deny", 0);
    if (!r->allowed && r->forwarded) {
        jbuf_key(&f, "would");
        jbuf_str(&f, "deny", 0); /* observe mode: what enforce mode would have done */
    }
    jbuf_key(&f, "reason");
    jbuf_str(&f, r->reason, 600);
    jbuf_key(&f, "status");
    jbuf_u64(&f, (uint64_t)r->status);
    jbuf_key(&f, "bytes_up");
    jbuf_u64(&f, r->bytes_up);
    jbuf_key(&f, "bytes_down");
    jbuf_u64(&f, r->bytes_down);
    if (r->rewritten) { /* values api.data rewrote (redact, mask, hash, tokenize, restored) */
        jbuf_key(&f, "data_rewritten");
        jbuf_u64(&f, r->rewritten);
    }
    if (r->classes && r->classes[0]) { /* the classes found, never the values */
        jbuf_key(&f, "data_classes");
        jbuf_raw(&f, "[");
        char list[256];
        snprintf(list, sizeof list, "%s", r->classes);
        char *save = NULL;
        int first = 1;
        for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
            if (!first)
                jbuf_raw(&f, ",");
            jbuf_str(&f, c, 64);
            first = 0;
        }
        jbuf_raw(&f, "]");
    }
    jbuf_key(&f, "policy_version");
    jbuf_u64(&f, t->policy_version);
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(t->s, "http.request", t->agent, &f, 0);
    if (!r->allowed && !r->forwarded && r->status == 403) {
        char what[96];
        snprintf(what, sizeof what, "http %.80s", t->target);
        note_anomaly(t, ANOMALY_DENIALS, what);
    }
}

/* One side of a judged tunnel: its socket, and its TLS session when cordond terminates. */
struct side {
    int fd;
    SSL *ssl;
};

/* Write what the judge holds for one side; -1 when the peer is gone. */
static int judged_write(const struct side *x, const char *p, size_t n, size_t *sent)
{
    *sent = 0;
    if (!n)
        return 0;
    if (x->ssl) {
        ERR_clear_error();
        int w = SSL_write(x->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
        if (w > 0) {
            *sent = (size_t)w;
            return 0;
        }
        int e = SSL_get_error(x->ssl, w);
        return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    ssize_t w = send(x->fd, p, n, MSG_NOSIGNAL);
    if (w < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    *sent = (size_t)w;
    return 0;
}

/* Read what a side sent behind the *len bytes buf holds (RELAY_BUF in all), counting them;
 * *eof once it closed (for TLS: its close_notify, or the connection's end). Returns -1 when
 * the connection failed. */
static int judged_read(const struct side *x, char *buf, size_t *len, int *eof, uint64_t *total,
                       uint64_t *metric)
{
    ssize_t n;
    if (x->ssl) {
        ERR_clear_error();
        int r = SSL_read(x->ssl, buf + *len, (int)(RELAY_BUF - *len));
        if (r <= 0) {
            int e = SSL_get_error(x->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && r == 0) ||
                (e == SSL_ERROR_SSL &&
                 ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
                *eof = 1;
                return 0;
            }
            return -1;
        }
        n = r;
    } else {
        n = recv(x->fd, buf + *len, RELAY_BUF - *len, 0);
    }
    if (n > 0) {
        *len += (size_t)n;
        *total += (uint64_t)n;
        srv_count(metric, (uint64_t)n);
    } else if (n == 0) {
        *eof = 1;
    } else if (errno != EAGAIN && errno != EINTR) {
        return -1;
    }
    return 0;
}

/*
 * The judge ended the connection (a refusal that closes, a timeout, the last exchange): a
 * client whose bytes are still unread would get a reset from the close, which can overtake
 * the answer just sent. So the close is graceful: half-close (TLS: close_notify first), then
 * read and drop what the client still sends, for at most 2 s and 4 MiB, until it closes.
 */
static void linger_close(const struct side *x)
{
    if (x->ssl)
        (void)SSL_shutdown(x->ssl);
    shutdown(x->fd, SHUT_WR);
    char sink[16384];
    int64_t until = clock_mono_ms() + 2000;
    for (size_t got = 0; got < (4u << 20);) {
        int64_t left = until - clock_mono_ms();
        struct pollfd p = {x->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = recv(x->fd, sink, sizeof sink, 0);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
            break;
        if (n > 0)
            got += (size_t)n;
    }
}

/*
 * The relay of a judged tunnel: every byte goes through the judge, which decides what the
 * origin gets and what the client gets; bytes the judge cannot take yet (its pipeline is full)
 * wait in the input buffer, and a side is not read while the output it feeds is backed up.
 * The same ends as relay(): closed, idle, revoked, quarantined, reset.
 */
static enum relay_end relay_judged(struct treq *t, SSL *cs, SSL *os, const char *pre, size_t prelen,
                                   uint64_t *up, uint64_t *down)
{
    struct srv *s = t->s;
    enum relay_end end = RELAY_RESET;
    const struct side sa = {t->fd, cs}, sb = {t->up, os};
    const struct side *a = &sa, *b = &sb;
    int64_t idle_ms = (int64_t)s->cfg.tunnel_idle_timeout * 1000, last = clock_mono_ms();
    uint64_t seen = t->revocations, qseen = t->qgen;
    struct httpjudge_conf c = {.policy = t->pol,
                               .rules = t->rules,
                               .entry = (size_t)t->http_entry,
                               .host = t->http_host,
                               .port = t->port,
                               .default_port = cs ? 443 : 80,
                               .agent = t->agent,
                               .policy_version = t->policy_version,
                               .observe = t->pol->mode == POLICY_MODE_OBSERVE,
                               .data = t->data.scanner ? &t->data : NULL,
                               .hash_key = s->data_key,
                               .record = http_record,
                               .ctx = t};
    struct httpjudge *j = NULL;
    char *cin = malloc(RELAY_BUF), *oin = malloc(RELAY_BUF);
    size_t clen = 0, olen = 0;
    int ceof = 0, oeof = 0, oshut = 0, ceof_told = 0, oeof_told = 0;
    int64_t head_since = 0; /* when the pending head's first byte came */
    if (!cin || !oin || httpjudge_new(&c, &j) != 0)
        goto out;
    fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) | O_NONBLOCK);
    fcntl(b->fd, F_SETFL, fcntl(b->fd, F_GETFL) | O_NONBLOCK);
    if (prelen) { /* bytes the client sent right behind its CONNECT head */
        size_t n = prelen < RELAY_BUF ? prelen : RELAY_BUF;
        memcpy(cin, pre, n);
        clen = n;
        *up += n;
        srv_count(&s->m.tunnel_bytes_up, n);
    }
    for (;;) {
        size_t used = 0, ton, toc, sent;
        if (clen && httpjudge_from_client(j, cin, clen, &used) != 0)
            goto out;
        memmove(cin, cin + used, clen - used);
        clen -= used;
        used = 0;
        if (olen && httpjudge_from_origin(j, oin, olen, &used) != 0)
            goto out;
        memmove(oin, oin + used, olen - used);
        olen -= used;
        /* a side's end reaches the judge once the bytes before it did */
        if (ceof && !clen && !ceof_told && (ceof_told = 1) && httpjudge_client_eof(j) != 0)
            goto out;
        if (oeof && !olen && !oeof_told && (oeof_told = 1) && httpjudge_origin_eof(j) != 0)
            goto out;
        const char *po = httpjudge_to_origin(j, &ton), *pc = httpjudge_to_client(j, &toc);
        if (judged_write(b, po, ton, &sent) != 0)
            goto out;
        httpjudge_sent_origin(j, sent);
        ton -= sent;
        if (judged_write(a, pc, toc, &sent) != 0)
            goto out;
        httpjudge_sent_client(j, sent);
        toc -= sent;
        if (httpjudge_done(j) && toc == 0) {
            end = RELAY_CLOSED;
            linger_close(a);
            break;
        }
        if (httpjudge_origin_over(j) && ton == 0 && !oshut) {
            if (os)
                (void)SSL_shutdown(os); /* close_notify, then the TCP half-close */
            shutdown(b->fd, SHUT_WR);
            oshut = 1;
        }
        struct pollfd p[2] = {{a->fd, 0, 0}, {b->fd, 0, 0}};
        int backed = ton >= HTTPJUDGE_OUT_HIGH || toc >= HTTPJUDGE_OUT_HIGH;
        int read_a = !ceof && clen < RELAY_BUF && !backed,
            read_b = !oeof && olen < RELAY_BUF && toc < HTTPJUDGE_OUT_HIGH;
        /* bytes TLS already decrypted wake no poll: they are read without waiting */
        int held_a = read_a && cs && SSL_pending(cs) > 0,
            held_b = read_b && os && SSL_pending(os) > 0;
        if (read_a)
            p[0].events |= POLLIN;
        if (read_b)
            p[1].events |= POLLIN;
        if (toc)
            p[0].events |= POLLOUT;
        if (ton)
            p[1].events |= POLLOUT;
        if (!p[0].events && !p[1].events) {
            end = RELAY_CLOSED; /* both sides ended and nothing is left to send */
            break;
        }
        int wait_ms;
        if (relay_over(s, t->key_id, &seen, t->agent, &qseen, last, idle_ms, &end, &wait_ms))
            break;
        /* a head must arrive within handshake_timeout of its first byte (slowloris) */
        if (!httpjudge_head_pending(j)) {
            head_since = 0;
        } else {
            int64_t now = clock_mono_ms(), limit = (int64_t)s->cfg.handshake_timeout * 1000;
            if (!head_since)
                head_since = now;
            if (now - head_since >= limit) {
                if (httpjudge_head_timeout(j) != 0)
                    goto out;
                continue;
            }
            if (limit - (now - head_since) < wait_ms)
                wait_ms = (int)(limit - (now - head_since));
        }
        int pr = poll(p, 2, held_a || held_b ? 0 : wait_ms);
        if (pr < 0 && errno != EINTR)
            break;
        if (pr <= 0 && !held_a && !held_b)
            continue;
        if ((held_a || ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && read_a)) &&
            judged_read(a, cin, &clen, &ceof, up, &s->m.tunnel_bytes_up) != 0)
            goto out;
        if ((held_b || ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && read_b)) &&
            judged_read(b, oin, &olen, &oeof, down, &s->m.tunnel_bytes_down) != 0)
            goto out;
        last = clock_mono_ms();
    }
out:
    httpjudge_free(j); /* requests still open are recorded as cut */
    free(cin);
    free(oin);
    return end;
}

/* Blocking socket timeouts for the handshakes: handshake_timeout seconds, or none (0). */
static void io_timeouts(int fd, unsigned seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* OpenSSL's reason for the last failure, or what the verification said. */
static void tls_why(SSL *ssl, char *why, size_t len)
{
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    if (v != X509_V_OK)
        snprintf(why, len, "certificate verification failed: %s", X509_verify_cert_error_string(v));
    else if (e)
        snprintf(why, len, "%s", ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?");
    else
        snprintf(why, len, "the peer closed the connection during the handshake");
}

/* tunnel.tls: a handshake of a terminated tunnel failed, on which side and why. */
static void tls_failed(struct treq *t, const char *side, const char *why)
{
    char mem[1024];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    where_fields(t, &f);
    jbuf_key(&f, "side");
    jbuf_str(&f, side, 0);
    jbuf_key(&f, "reason");
    jbuf_str(&f, why, 400);
    jbuf_key(&f, "policy_version");
    jbuf_u64(&f, t->policy_version);
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(t->s, "tunnel.tls", t->agent, &f, 0);
}

/*
 * Terminate TLS for a "terminate" host: the client's handshake with a certificate minted for
 * the host (bytes it sent behind its CONNECT head are the start of that handshake), a Server
 * Name that must name the same host, then cordond's own handshake with the origin, verified
 * against the system store and origin_ca for that host. Returns 0 with *cs and *os, or -1
 * (recorded as tunnel.tls; a client already in TLS is told with a 502 why the origin failed).
 */
static int tls_begin(struct treq *t, const char *pre, size_t prelen, SSL **cs, SSL **os)
{
    struct srv *s = t->s;
    char why[512], err[256];
    SSL_CTX *ctx = NULL;
    SSL *c = NULL, *o = NULL;
    *cs = *os = NULL;
    io_timeouts(t->fd, s->cfg.handshake_timeout);
    io_timeouts(t->up, s->cfg.handshake_timeout);
    if (mint_server_ctx(s->mint, t->http_host, &ctx, err, sizeof err) != 0) {
        tls_failed(t, "client", err);
        return -1;
    }
    c = SSL_new(ctx);
    SSL_CTX_free(ctx);
    BIO *sock = c ? BIO_new_socket(t->fd, BIO_NOCLOSE) : NULL;
    BIO *early = prelen ? BIO_new_mem_buf(pre, (int)prelen) : NULL;
    if (!c || !sock || (prelen && !early)) {
        BIO_free(sock);
        BIO_free(early);
        SSL_free(c);
        tls_failed(t, "client", "out of memory");
        return -1;
    }
    SSL_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (early) {
        BIO_set_mem_eof_return(early, -1); /* drained: "retry", and the socket takes over */
        BIO_up_ref(sock);
        SSL_set_bio(c, early, sock);
    } else {
        SSL_set_bio(c, sock, sock);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_accept(c);
        if (r == 1)
            break;
        if (early && SSL_get_error(c, r) == SSL_ERROR_WANT_READ && BIO_ctrl_pending(early) == 0) {
            SSL_set0_rbio(c, sock); /* takes the reference held for this */
            early = NULL;
            continue;
        }
        tls_why(NULL, why, sizeof why);
        tls_failed(t, "client", why);
        if (early)
            BIO_free(sock);
        SSL_free(c);
        return -1;
    }
    const char *sni = SSL_get_servername(c, TLSEXT_NAMETYPE_host_name);
    char sni_host[256];
    unsigned sni_port = 0;
    const char *hwhy = NULL;
    if (sni && (httppath_host(sni, sni_host, sizeof sni_host, &sni_port, &hwhy) != 0 ||
                strcmp(sni_host, t->http_host) != 0)) {
        snprintf(why, sizeof why,
                 "the client's Server Name \"%.120s\" is not %.200s, the host this tunnel was "
                 "opened to",
                 sni, t->http_host);
        tls_failed(t, "client", why);
        SSL_free(c);
        return -1;
    }
    o = origintls_new(s->origin_ctx, t->http_host, t->port);
    if (!o || SSL_set_fd(o, t->up) != 1) {
        snprintf(why, sizeof why, "out of memory");
        goto origin_failed;
    }
    ERR_clear_error();
    if (SSL_connect(o) != 1) {
        tls_why(o, why, sizeof why);
        goto origin_failed;
    }
    srv_count(SSL_session_reused(o) ? &s->m.origin_tls_resumed : &s->m.origin_tls_full, 1);
    io_timeouts(t->fd, 0);
    io_timeouts(t->up, 0);
    *cs = c;
    *os = o;
    return 0;
origin_failed:
    tls_failed(t, "origin", why);
    {
        char body[768], resp[1024];
        int bn = snprintf(body, sizeof body,
                          "cordon: the origin %s could not be reached over verified TLS: %s. "
                          "If it uses a private CA, give that CA to cordond (origin_ca).\n",
                          t->target, why);
        int rn = snprintf(resp, sizeof resp,
                          "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: %d\r\nX-Cordon-Rule: http.origin\r\nConnection: "
                          "close\r\n\r\n%s",
                          bn, body);
        if (rn > 0 && (size_t)rn < sizeof resp)
            (void)SSL_write(c, resp, rn);
        (void)SSL_shutdown(c);
        /* The client's request is still unread: closing now would answer it with a reset
         * that can overtake the 502. Half-close, then drop what it sent, for a second. */
        shutdown(t->fd, SHUT_WR);
        io_timeouts(t->fd, 1);
        char sink[4096];
        for (int i = 0; i < 64 && recv(t->fd, sink, sizeof sink, 0) > 0; i++)
            ;
    }
    SSL_free(o);
    SSL_free(c);
    return -1;
}

/* Relay until the tunnel ends, then record its totals and why it ended. */
static void run_tunnel(struct treq *t)
{
    srv_count(&t->s->m.tunnels_total, 1);
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    if (io_write_all(t->fd, ok, sizeof ok - 1) != 0) {
        /* the client is gone: the relay sees it at once and records the end */
    }
    uint64_t bytes_up = 0, bytes_down = 0;
    const char *pre = t->hdr + t->head_len;
    size_t prelen = t->len - t->head_len;
    enum relay_end how = RELAY_RESET;
    SSL *cs = NULL, *os = NULL;
    if (!t->rules)
        how = relay(t->fd, t->up, pre, prelen, &bytes_up, &bytes_down, t->s, t->key_id,
                    t->revocations, t->agent, t->qgen);
    else if (!t->tls)
        how = relay_judged(t, NULL, NULL, pre, prelen, &bytes_up, &bytes_down);
    else if (tls_begin(t, pre, prelen, &cs, &os) == 0) /* the early bytes were its start */
        how = relay_judged(t, cs, os, NULL, 0, &bytes_up, &bytes_down);
    if (cs) {
        (void)SSL_shutdown(cs);
        SSL_free(cs);
        SSL_free(os);
    }
    char mem[1024];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    where_fields(t, &f);
    jbuf_key(&f, "bytes_up");
    jbuf_u64(&f, bytes_up);
    jbuf_key(&f, "bytes_down");
    jbuf_u64(&f, bytes_down);
    jbuf_key(&f, "duration_ms");
    jbuf_i64(&f, clock_mono_ms() - t->t0);
    jbuf_key(&f, "policy_version");
    jbuf_u64(&f, t->policy_version);
    jbuf_key(&f, "end");
    jbuf_str(&f, relay_end_words[how], 0);
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(t->s, "tunnel.close", t->agent, &f, 0);
}

/* One tunnel, start to end: read, identify, judge, dial, record, relay. */
static void *serve(void *arg)
{
    struct conn *cn = arg;
    struct treq *t = calloc(1, sizeof *t); /* 10 KiB: off the small thread stack */
    struct srv *s = cn->s;
    int fd = cn->fd;
    free(cn);
    if (t) {
        t->s = s;
        t->fd = fd;
        t->up = -1;
        t->t0 = clock_mono_ms();
        t->none = (struct policy_endpoint){"", "", 0, 0};
        const struct policy_endpoint *rule = NULL;
        if (read_head(t) == 0 && identify(t) == 0 && (rule = judge(t)) && dial(t, rule) == 0 &&
            open_recorded(t, rule) == 0) {
            note_anomaly(t, ANOMALY_HOSTS, t->host);
            if (!t->rules) { /* the rule is not used past its record; judged rules are */
                pset_release(t->set);
                t->set = NULL;
            }
            run_tunnel(t);
        }
        pset_release(t->set); /* the judged rules with it */
        if (t->counted)
            count_give(s, t->agent);
        if (t->up >= 0)
            close(t->up);
        free(t);
    }
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
            refuse(s, c, 503, "too many tunnels are open; retry later");
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
            refuse(s, c, 503, "cannot start a tunnel thread; retry later");
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
    if (!t) {
        snprintf(err, errlen, "cannot start the tunnel listener: out of memory");
        return -ENOMEM;
    }
    t->s = s;
    t->fd = fd;
    t->stopfd = eventfd(0, EFD_CLOEXEC);
    int rc = t->stopfd < 0 ? errno : pthread_create(&t->thread, NULL, accept_loop, t);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the tunnel listener: %s", strerror(rc));
        if (t->stopfd >= 0)
            close(t->stopfd);
        free(t);
        return -rc;
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
