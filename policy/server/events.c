/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event intake loop (see events.h). The sender's pid comes from the kernel (SCM_CREDENTIALS
 * with SO_PASSCRED, else SO_PEERCRED of the connection), never from the message. Malformed
 * messages are counted and dropped without closing the connection; log lines about them are
 * limited to one a second so a hostile sender cannot flood the server's log.
 */
#include "policy/server/events.h"
#include "policy/server/log.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "policy/server/anomaly.h"
#include "policy/server/identity.h"
#include "policy/server/kaudit.h"
#include "policy/server/server.h"
#include "policy/server/sessions.h"

#define EVENTS_TOLD_MAX 16
#define BOARD_MAX 64

/* Refusals waiting to be told (events_refusal), shared by every intake of the process. */
struct notice {
    const struct srv *s;
    uint64_t seq;
    char agent[AGENTS_NAME_MAX + 1];
    char scope[64];
    char message[640];
};
static pthread_mutex_t board_mu = PTHREAD_MUTEX_INITIALIZER;
static struct notice board[BOARD_MAX];
static uint64_t board_seq; /* notices posted so far; board[seq % BOARD_MAX] is the newest */

struct econn {
    struct econn *prev, *next;
    int fd;
    pid_t peer_pid;
    uid_t peer_uid;
    int bound;
    int64_t accepted_ms; /* a connection that sends no hello within HELLO_MS is closed */
    char agent[AGENTS_NAME_MAX + 1];
    char key_id[AGENTS_ID_LEN + 1]; /* the key that bound it, checked again on revocation */
    char session[33];
    char parent[IDENTITY_SESSION_MAX + 1]; /* the session of the token the hello carried */
    int minted; /* a session token was sent on this connection (one per connection) */
    int q_told; /* the quarantine notice was sent on this connection */
    uint32_t told[EVENTS_TOLD_MAX]; /* hashes of the refusal scopes told on it */
    size_t n_told;
};

struct bucket {
    char agent[AGENTS_NAME_MAX + 1];
    double tokens;
    int64_t last_ms;
    uint64_t dropped_unreported;
};

struct events {
    struct srv *s;
    int lfd, ep, stopfd;
    char path[108];
    pthread_t thread;
    size_t n_buckets;
    struct bucket *buckets;
    int64_t last_log_ms;
    uint64_t log_suppressed;
    size_t n_conns;
    struct econn *conns;
    uint64_t revocations_seen; /* agents_revocations() at the last look */
    uint64_t quarantine_seen;  /* anomaly_generation() at the last look */
    int quarantine_dirty;      /* a connection was bound since: look again */
    uint64_t board_seen;       /* board_seq at the last look */
};

__attribute__((format(printf, 2, 3))) static void elog(struct events *e, const char *fmt, ...)
{
    int64_t t = clock_mono_ms();
    if (t - e->last_log_ms < 1000) {
        e->log_suppressed++;
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char n[24];
    snprintf(n, sizeof n, "%" PRIu64, e->log_suppressed);
    log_kv(LOG_LEVEL_WARN, line, "component", "events", "suppressed", n, NULL);
    e->last_log_ms = t;
    e->log_suppressed = 0;
}

static struct bucket *bucket_for(struct events *e, const char *agent)
{
    for (size_t i = 0; i < e->n_buckets; i++)
        if (strcmp(e->buckets[i].agent, agent) == 0)
            return &e->buckets[i];
    struct bucket *nb = realloc(e->buckets, (e->n_buckets + 1) * sizeof *nb);
    if (!nb)
        return NULL;
    e->buckets = nb;
    struct bucket *b = &e->buckets[e->n_buckets++];
    memset(b, 0, sizeof *b);
    snprintf(b->agent, sizeof b->agent, "%s", agent);
    b->tokens = e->s->cfg.event_burst;
    b->last_ms = clock_mono_ms();
    return b;
}

/* Token bucket: refill at event_rate per second up to event_burst; 1 if a token was taken. */
static int take_token(struct events *e, struct bucket *b)
{
    int64_t t = clock_mono_ms();
    b->tokens += (double)(t - b->last_ms) * e->s->cfg.event_rate / 1000.0;
    if (b->tokens > e->s->cfg.event_burst)
        b->tokens = e->s->cfg.event_burst;
    b->last_ms = t;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

/* The number after blanks at s, or -EINVAL when there is none. */
static int atoi_digits(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    int v = 0;
    for (; isdigit((unsigned char)*s) && v < 1000000; s++)
        v = v * 10 + (*s - '0');
    return v;
}

static int hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

static const char *const kinds[] = {
    "sandbox.report", "fs.open",        "exec",       "net.connect", "net.dns", "net.udp",
    "policy.stale",   "events.dropped", "shim.start", "session.end", NULL};

/*
 * session.end is the supervisor's account of how a run ended (`cordon run`: the command's
 * status, what was still running and how it was ended). Only the process that opened the
 * connection may send it, and only from outside every sandbox (no_new_privs unset): the
 * governed processes share an event connection that `cordon run` opened, and each of them
 * runs with no_new_privs, so none can forge the end of its own run. pid is the kernel's.
 */
static int from_supervisor(const struct econn *c, pid_t pid)
{
    if (pid <= 0 || pid != c->peer_pid)
        return 0;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    int nnp = -1;
    while (fgets(buf, sizeof buf, f))
        if (strncmp(buf, "NoNewPrivs:", 11) == 0)
            nnp = atoi_digits(buf + 11);
    fclose(f);
    return nnp == 0;
}

static void close_conn(struct events *e, struct econn *c)
{
    epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        e->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    e->n_conns--;
}

/* A message refused or dropped without a record: counted in *counter (malformed, dropped)
 * through the decision path, with nobody to answer. */
static void drop(struct srv *s, uint64_t *counter)
{
    struct decision d;
    decision_init(&d, DECISION_REQUEST, NULL);
    d.reply = DECISION_REPLY_NONE;
    d.also = counter;
    d.outcome = DECISION_DENY;
    (void)srv_decide(s, &d);
}

/* A JSON number as cJSON printed it: integers without a fraction, others in full. */
static void jbuf_number(struct jbuf *b, double v)
{
    if (!isfinite(v)) {
        jbuf_raw(b, "null");
    } else if (v == floor(v) && fabs(v) < 9.0e15) {
        jbuf_i64(b, (int64_t)v);
    } else {
        char t[32];
        snprintf(t, sizeof t, "%.17g", v); /* a number's digits, not a caller's text */
        jbuf_raw(b, t);
    }
}

/* The first message binds the connection: a hello with a live key and a 32-hex session.
 * Returns 0, or -EACCES when the connection is to be closed. */
/* The hello's credential, through the one identity check of cordond (identity.h). */
static int hello_identity(struct srv *s, const char *key, char agent[AGENTS_NAME_MAX + 1],
                          char key_id[AGENTS_ID_LEN + 1], char parent[IDENTITY_SESSION_MAX + 1])
{
    struct identity who;
    int rc = identity_check(s, key, &who);
    memcpy(agent, who.agent, sizeof who.agent);
    memcpy(key_id, who.key_id, sizeof who.key_id);
    memcpy(parent, who.session, sizeof who.session); /* "" for an agent key */
    return rc;
}

static int handle_hello(struct events *e, struct econn *c, cJSON *o, pid_t pid)
{
    struct srv *s = e->s;
    cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
    cJSON *ses = cJSON_GetObjectItemCaseSensitive(o, "session");
    char agent[AGENTS_NAME_MAX + 1];
    int ks = -100;
    if (!cJSON_IsObject(o) || !cJSON_IsString(type) || strcmp(type->valuestring, "hello") != 0 ||
        !cJSON_IsString(key) || !cJSON_IsString(ses) || !hex32(ses->valuestring) ||
        (ks = hello_identity(s, key->valuestring, agent, c->key_id, c->parent)) != AGENTS_OK) {
        drop(s, &s->m.events_malformed);
        elog(e, "pid %d: bad hello (%s); connection closed", (int)pid,
             ks == AGENTS_ERR_REVOKED   ? "revoked key"
             : ks == AGENTS_ERR_UNKNOWN ? "unknown key"
                                        : "not a hello with key and 32-hex session");
        return -EACCES;
    }
    c->bound = 1;
    e->quarantine_dirty = 1;
    memcpy(c->agent, agent, sizeof agent);
    memcpy(c->session, ses->valuestring, 33);
    /* A role is what the sender says of itself: recorded, never trusted (session.end is
     * judged by from_supervisor, not by this). */
    cJSON *role = cJSON_GetObjectItemCaseSensitive(o, "role");
    int sup = cJSON_IsString(role) && strcmp(role->valuestring, "supervisor") == 0;
    char mem[256];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    jbuf_key(&f, "session");
    jbuf_str(&f, c->session, 0);
    jbuf_key(&f, "pid");
    jbuf_i64(&f, (int64_t)pid);
    if (sup) {
        jbuf_key(&f, "role");
        jbuf_str(&f, "supervisor", 0);
    }
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(s, "events.hello", c->agent, &f, 0);
    return 0;
}

/* An event's form (docs/PROTOCOL.md "Event channel"): type "event", a known kind, decision
 * allow|deny|log, numeric ts and pid, detail an object when present. */
static int event_valid(cJSON *o)
{
    cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    cJSON *dec = cJSON_GetObjectItemCaseSensitive(o, "decision");
    cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
    cJSON *cpid = cJSON_GetObjectItemCaseSensitive(o, "pid");
    cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "detail");
    int known = 0;
    for (size_t i = 0; kinds[i] && cJSON_IsString(kind); i++)
        known |= strcmp(kind->valuestring, kinds[i]) == 0;
    return cJSON_IsObject(o) && cJSON_IsString(type) && strcmp(type->valuestring, "event") == 0 &&
           known && cJSON_IsString(dec) &&
           (strcmp(dec->valuestring, "allow") == 0 || strcmp(dec->valuestring, "deny") == 0 ||
            strcmp(dec->valuestring, "log") == 0) &&
           cJSON_IsNumber(ts) && ts->valuedouble >= 0 && cJSON_IsNumber(cpid) &&
           (!detail || cJSON_IsObject(detail));
}

/* The first accepted event after drops says how many were dropped. */
static void report_drops(struct srv *s, const struct econn *c, struct bucket *b)
{
    if (!b->dropped_unreported)
        return;
    char mem[128];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    jbuf_key(&f, "count");
    jbuf_u64(&f, b->dropped_unreported);
    jbuf_key(&f, "reason");
    jbuf_str(&f, "rate limit", 0);
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(s, "events.rate_limited", c->agent, &f, 0);
    b->dropped_unreported = 0;
}

/* Record a valid event under its kind: the shim's decision, counted as the event kind's. */
static void record_event(struct srv *s, const struct econn *c, cJSON *o, pid_t pid)
{
    cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    cJSON *dec = cJSON_GetObjectItemCaseSensitive(o, "decision");
    cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "detail");
    struct decision d;
    decision_init(&d, DECISION_EVENT, kind->valuestring);
    d.reply = DECISION_REPLY_NONE;
    d.agent = c->agent;
    d.key_id = c->key_id;
    d.what = kind->valuestring;
    d.outcome = strcmp(dec->valuestring, "deny") == 0 ? DECISION_DENY : DECISION_ALLOW;
    /* The end of a run is on disk before its connection is closed: cordon run exits on that
     * close, and whoever reads the log next (cordon audit query) finds it. */
    if (strcmp(kind->valuestring, "session.end") == 0)
        d.audit_flags = DECISION_AUDIT_SYNC;
    struct jbuf *f = &d.fields;
    jbuf_key(f, "session");
    jbuf_str(f, c->session, 0);
    jbuf_key(f, "pid");
    jbuf_i64(f, (int64_t)pid);
    jbuf_key(f, "claimed_pid");
    jbuf_number(f, cJSON_GetObjectItemCaseSensitive(o, "pid")->valuedouble);
    jbuf_key(f, "decision");
    jbuf_str(f, dec->valuestring, 0);
    jbuf_key(f, "event_ts");
    jbuf_number(f, cJSON_GetObjectItemCaseSensitive(o, "ts")->valuedouble);
    /* an access the kernel refused too (the hook let it through, or only logged it): the
     * two records name each other (kaudit.h) */
    cJSON *path = cJSON_GetObjectItemCaseSensitive(detail, "path");
    uint64_t kserial =
        cJSON_IsString(path)
            ? kaudit_hook_event(s->kaudit, pid, c->session, kind->valuestring, dec->valuestring,
                                path->valuestring,
                                cJSON_GetObjectItemCaseSensitive(o, "ts")->valuedouble)
            : 0;
    if (kserial) {
        jbuf_key(f, "kernel_serial");
        jbuf_u64(f, kserial);
    }
    if (detail) {
        char *text = cJSON_PrintUnformatted(detail); /* cJSON's own output: valid JSON */
        jbuf_key(f, "detail");
        if (text)
            jbuf_raw(f, text);
        else
            f->overflow = 1; /* no memory: the record cannot be whole */
        free(text);
    }
    (void)srv_decide(s, &d);
    kaudit_pid_seen(s->kaudit, pid, c->agent, c->session);
    srv_count(d.audit_rc == 0 ? &s->m.events_accepted : &s->m.events_dropped, 1);
}

/* A denied open, exec or connect of the shim (or, in observe mode, one it would deny: "log")
 * counts in the agent's anomaly windows with the proxy's refusals (anomaly.h). */
static void count_denial(struct srv *s, const struct econn *c, cJSON *o)
{
    static const char *const denied_kinds[] = {"fs.open", "exec",    "net.connect",
                                               "net.dns", "net.udp", NULL};
    const char *kind = cJSON_GetObjectItemCaseSensitive(o, "kind")->valuestring;
    const char *dec = cJSON_GetObjectItemCaseSensitive(o, "decision")->valuestring;
    int counts = 0;
    for (size_t i = 0; denied_kinds[i]; i++)
        counts |= strcmp(kind, denied_kinds[i]) == 0;
    if (!s->anomaly || !counts || strcmp(dec, "allow") == 0)
        return;
    cJSON *detail = cJSON_GetObjectItemCaseSensitive(o, "detail");
    cJSON *subj = cJSON_GetObjectItemCaseSensitive(detail, "path");
    if (!cJSON_IsString(subj))
        subj = cJSON_GetObjectItemCaseSensitive(detail, "host");
    char what[96];
    snprintf(what, sizeof what, "%s %.80s", kind, cJSON_IsString(subj) ? subj->valuestring : "");
    struct pset *set = pset_acquire(s->psets);
    const struct pset_entry *pe = pset_find(set, c->agent);
    (void)anomaly_note(s->anomaly, c->agent, pe ? pe->policy : NULL, ANOMALY_DENIALS, 1, what, 0);
    pset_release(set);
}

/*
 * The root of a tree reports its sandbox before it runs the agent: cordond answers it, on the
 * same connection, with the session token that stands for the agent key inside the tree
 * ({"type":"session","token":"cs_..."}, docs/PROTOCOL.md "Session tokens"). One per
 * connection, for its first report: the root (or `cordon run` for its child, which reports
 * from another pid) opens the connection and reports before any process of the tree holds it,
 * so a descendant that shares the connection later cannot ask for another. The audit trail
 * names the token by its id, never in clear.
 */
static void mint_session(struct events *e, struct econn *c, pid_t pid)
{
    struct srv *s = e->s;
    if (c->minted || !s->sessions)
        return;
    c->minted = 1;
    char token[SESSIONS_TOKEN_LEN + 1], id[SESSIONS_ID_LEN + 1];
    /* The pid is the kernel's: the process that restricted itself, whose Landlock domain the
     * kernel's audit names by this pid (kaudit.h). */
    kaudit_root(s->kaudit, pid, c->agent, c->session);
    int rc = sessions_mint(s->sessions, c->agent, c->key_id, c->session, c->parent, token, id);
    if (rc != 0) {
        elog(e, "agent %s pid %d: no session token: %s", c->agent, (int)pid, strerror(-rc));
        return;
    }
    char msg[128];
    int n = snprintf(msg, sizeof msg, "{\"type\":\"session\",\"token\":\"%s\"}", token);
    ssize_t w = send(c->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    sodium_memzero(msg, sizeof msg);
    sodium_memzero(token, sizeof token);
    if (w != n) {
        elog(e, "agent %s pid %d: cannot send the session token; the tree keeps its agent key",
             c->agent, (int)pid);
        (void)sessions_end(s->sessions, c->session);
        return;
    }
    char mem[192];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    jbuf_key(&f, "session");
    jbuf_str(&f, c->session, 0);
    jbuf_key(&f, "pid");
    jbuf_i64(&f, (int64_t)pid);
    jbuf_key(&f, "key_id");
    jbuf_str(&f, c->key_id, 0);
    jbuf_key(&f, "token_id");
    jbuf_str(&f, id, 0);
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(s, "session.token", c->agent, &f, 0);
}

/* session.end: the tree's tokens die with it. */
static void end_session(struct srv *s, const struct econn *c)
{
    if (s->sessions)
        (void)sessions_end(s->sessions, c->session);
}

/* Returns 0 to keep the connection, a negative errno to close it. */
static int handle(struct events *e, struct econn *c, const char *msg, size_t len, pid_t pid)
{
    struct srv *s = e->s;
    cJSON *o = cJSON_ParseWithLength(msg, len);
    int rc = 0;
    if (!c->bound) {
        rc = handle_hello(e, c, o, pid);
        goto out;
    }
    if (!event_valid(o)) {
        drop(s, &s->m.events_malformed);
        elog(e,
             "agent %s pid %d: malformed event dropped (need type \"event\", a known kind, "
             "decision allow|deny|log, numeric ts and pid, detail an object)",
             c->agent, (int)pid);
        goto out;
    }
    cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    int is_end = strcmp(kind->valuestring, "session.end") == 0;
    if (is_end && !from_supervisor(c, pid)) {
        drop(s, &s->m.events_malformed);
        elog(e,
             "agent %s pid %d: session.end refused: only the unsandboxed process that "
             "opened the connection (cordon run, pid %d) may end a session",
             c->agent, (int)pid, (int)c->peer_pid);
        goto out;
    }
    struct bucket *b = bucket_for(e, c->agent);
    /* The end of a run is recorded however many events its agent sent before. */
    if (!b || (!is_end && !take_token(e, b))) {
        drop(s, &s->m.events_dropped);
        if (b)
            b->dropped_unreported++;
        goto out;
    }
    report_drops(s, c, b);
    record_event(s, c, o, pid);
    count_denial(s, c, o);
    if (strcmp(kind->valuestring, "sandbox.report") == 0)
        mint_session(e, c, pid);
    else if (is_end)
        end_session(s, c);
out:
    cJSON_Delete(o);
    return rc;
}

/* Read what c has queued, at most 64 messages. Returns 1 when that bound stopped it (more may
 * be waiting), 0 when nothing is left or the connection was closed. */
static int read_conn(struct events *e, struct econn *c)
{
    char buf[EVENTS_MAX_MESSAGE + 1];
    char cbuf[CMSG_SPACE(sizeof(struct ucred))];
    for (int i = 0; i < 64; i++) { /* bounded per wakeup: fairness between connections */
        struct iovec iov = {buf, sizeof buf};
        struct msghdr mh = {0};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof cbuf;
        ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n <= 0) {
            close_conn(e, c);
            return 0;
        }
        pid_t pid = c->peer_pid;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
                struct ucred uc;
                memcpy(&uc, CMSG_DATA(cm), sizeof uc);
                pid = uc.pid;
            } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                /* Descriptors sent to us are closed, never used. */
                int *fds = (int *)(void *)CMSG_DATA(cm);
                size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t k = 0; k < nfd; k++)
                    close(fds[k]);
            }
        }
        if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > EVENTS_MAX_MESSAGE) {
            srv_count(&e->s->m.events_malformed, 1);
            elog(e, "pid %d: message over %d bytes dropped", (int)pid, EVENTS_MAX_MESSAGE);
            if (!c->bound) {
                close_conn(e, c);
                return 0;
            }
            continue;
        }
        if (handle(e, c, buf, (size_t)n, pid) != 0) {
            close_conn(e, c);
            return 0;
        }
    }
    return 1;
}

/*
 * Connections that never say hello hold a slot and prove nothing: anyone on the host may
 * connect (the socket is 0666), so without a deadline they could fill every slot and keep the
 * shims of real agents from reporting. They get HELLO_MS, and each user at most UNBOUND_MAX
 * at once.
 */
#define HELLO_MS 2000
#define UNBOUND_MAX 64 /* per user, so that one user cannot lock out another's agents */

static void sweep_unbound(struct events *e)
{
    int64_t t = clock_mono_ms();
    for (struct econn *c = e->conns, *next; c; c = next) {
        next = c->next;
        if (!c->bound && t - c->accepted_ms >= HELLO_MS) {
            elog(e, "pid %d: no hello within %d ms; connection closed", (int)c->peer_pid, HELLO_MS);
            srv_count(&e->s->m.events_malformed, 1);
            close_conn(e, c);
        }
    }
}

/* A revoked key ends the connections it bound: the next look after a revoke closes them, and
 * the audit log says why. */
static void sweep_revoked(struct events *e)
{
    uint64_t gen = agents_revocations(e->s->agents);
    if (gen == e->revocations_seen)
        return;
    e->revocations_seen = gen;
    for (struct econn *c = e->conns, *next; c; c = next) {
        next = c->next;
        if (!c->bound || agents_id_live(e->s->agents, c->key_id))
            continue;
        char mem[192];
        struct jbuf f;
        jbuf_init(&f, mem, sizeof mem);
        jbuf_raw(&f, "{");
        jbuf_key(&f, "session");
        jbuf_str(&f, c->session, 0);
        jbuf_key(&f, "pid");
        jbuf_i64(&f, (int64_t)c->peer_pid);
        jbuf_key(&f, "key_id");
        jbuf_str(&f, c->key_id, 0);
        jbuf_raw(&f, "}");
        (void)srv_audit_jbuf(e->s, "events.revoked", c->agent, &f, 0);
        close_conn(e, c);
    }
}

/*
 * Tell the processes of a quarantined agent, once per connection: {"type":"quarantine",
 * "agent":A,"since_ms":T} (docs/PROTOCOL.md "Event channel"). The root of the tree reads it
 * and says so on its stderr. Looked at when a quarantine or release happened, or when a
 * connection was bound; a release lets a later quarantine be told again.
 */
static void sweep_quarantine(struct events *e)
{
    struct anomaly *a = e->s->anomaly;
    if (!a)
        return;
    uint64_t gen = anomaly_generation(a);
    if (gen == e->quarantine_seen && !e->quarantine_dirty)
        return;
    e->quarantine_seen = gen;
    e->quarantine_dirty = 0;
    for (struct econn *c = e->conns; c; c = c->next) {
        int64_t since = 0;
        if (!c->bound)
            continue;
        if (!anomaly_quarantined(a, c->agent, &since)) {
            c->q_told = 0;
            continue;
        }
        if (c->q_told)
            continue;
        char msg[192];
        int n = snprintf(msg, sizeof msg,
                         "{\"type\":\"quarantine\",\"agent\":\"%s\",\"since_ms\":%" PRId64 "}",
                         c->agent, since);
        if (n > 0 && (size_t)n < sizeof msg &&
            send(c->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
            c->q_told = 1;
    }
}

void events_refusal(struct srv *s, const char *agent, const char *scope, const char *message)
{
    if (!s || !agent || !agent[0] || !scope || !scope[0])
        return;
    pthread_mutex_lock(&board_mu);
    /* the same refusal again (every call of an agent over budget): nothing new to tell */
    for (uint64_t i = board_seq > BOARD_MAX ? board_seq - BOARD_MAX : 0; i < board_seq; i++) {
        const struct notice *o = &board[i % BOARD_MAX];
        if (o->s == s && !strcmp(o->agent, agent) && !strcmp(o->scope, scope) &&
            board_seq - i <= 8) {
            pthread_mutex_unlock(&board_mu);
            return;
        }
    }
    struct notice *n = &board[board_seq % BOARD_MAX];
    n->s = s;
    n->seq = board_seq++;
    snprintf(n->agent, sizeof n->agent, "%s", agent);
    snprintf(n->scope, sizeof n->scope, "%s", scope);
    snprintf(n->message, sizeof n->message, "%s", message ? message : "");
    pthread_mutex_unlock(&board_mu);
}

static uint32_t scope_hash(const char *scope)
{
    uint32_t h = 2166136261u;
    for (; *scope; scope++)
        h = (h ^ (uint8_t)*scope) * 16777619u;
    return h;
}

/* Tell the bound connections of an agent refused by a budget or rate, once per scope per
 * connection: {"type":"refused",...}; the root of the tree says it once on its stderr. */
static void sweep_refusals(struct events *e)
{
    pthread_mutex_lock(&board_mu);
    uint64_t end = board_seq;
    uint64_t i = e->board_seen;
    if (end - i > BOARD_MAX)
        i = end - BOARD_MAX;
    for (; i < end; i++) {
        struct notice n = board[i % BOARD_MAX];
        if (n.s != e->s)
            continue;
        pthread_mutex_unlock(&board_mu);
        uint32_t h = scope_hash(n.scope);
        char mem[1024];
        struct jbuf f;
        jbuf_init(&f, mem, sizeof mem);
        jbuf_raw(&f, "{");
        jbuf_key(&f, "type");
        jbuf_str(&f, "refused", 0);
        jbuf_key(&f, "agent");
        jbuf_str(&f, n.agent, 0);
        jbuf_key(&f, "scope");
        jbuf_str(&f, n.scope, 0);
        jbuf_key(&f, "message");
        jbuf_str(&f, n.message, 480);
        jbuf_raw(&f, "}");
        const char *msg = f.overflow ? NULL : f.p;
        size_t len = msg ? f.len : 0;
        for (struct econn *c = e->conns; msg && c; c = c->next) {
            if (!c->bound || strcmp(c->agent, n.agent))
                continue;
            size_t k = 0;
            while (k < c->n_told && c->told[k] != h)
                k++;
            if (k < c->n_told)
                continue;
            if (send(c->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len &&
                c->n_told < EVENTS_TOLD_MAX)
                c->told[c->n_told++] = h;
        }
        pthread_mutex_lock(&board_mu);
    }
    e->board_seen = end;
    pthread_mutex_unlock(&board_mu);
}

static size_t unbound_count(const struct events *e, uid_t uid)
{
    size_t n = 0;
    for (const struct econn *c = e->conns; c; c = c->next)
        n += !c->bound && c->peer_uid == uid;
    return n;
}

/* At stop: what the connections had sent before it is still recorded (the session.end that
 * `cordon run` sends just before it stops its private cordond, say). Bounded, so that a
 * sender that keeps writing cannot hold the stop. */
static void drain(struct events *e)
{
    for (int round = 0; round < 64; round++) {
        int more = 0;
        for (struct econn *c = e->conns, *next; c; c = next) {
            next = c->next;
            more |= read_conn(e, c);
        }
        if (!more)
            return;
    }
}

static void *loop(void *arg)
{
    struct events *e = arg;
    struct epoll_event evs[64];
    e->revocations_seen = agents_revocations(e->s->agents);
    for (;;) {
        int n = epoll_wait(e->ep, evs, 64, HELLO_MS / 4);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &e->stopfd) {
                drain(e);
                return NULL;
            }
            if (p == &e->lfd) {
                int fd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                    continue;
                struct ucred uc = {0, (uid_t)-1, (gid_t)-1};
                socklen_t ul = sizeof uc;
                getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul);
                if (e->n_conns >= EVENTS_MAX_CONNECTIONS ||
                    unbound_count(e, uc.uid) >= UNBOUND_MAX) {
                    close(fd);
                    elog(e, "uid %d: over %d connections, or %d without a hello; refused one",
                         (int)uc.uid, EVENTS_MAX_CONNECTIONS, UNBOUND_MAX);
                    continue;
                }
                int one = 1;
                setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
                struct econn *c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                c->accepted_ms = clock_mono_ms();
                c->peer_pid = uc.pid;
                c->peer_uid = uc.uid;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                    close(fd);
                    free(c);
                    continue;
                }
                e->n_conns++;
                c->next = e->conns;
                if (e->conns)
                    e->conns->prev = c;
                e->conns = c;
                srv_count(&e->s->m.events_connections, 1);
                continue;
            }
            read_conn(e, p);
        }
        /* after the events: none of them may point at a closed one */
        sweep_unbound(e);
        sweep_revoked(e);
        sweep_quarantine(e);
        sweep_refusals(e);
    }
    return NULL;
}

int events_start(struct srv *s, const char *path, struct events **out, char *err, size_t errlen)
{
    struct events *e = calloc(1, sizeof *e);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int rc = -EINVAL;
    if (!e) {
        snprintf(err, errlen, "events: cannot start the intake: out of memory");
        return -ENOMEM;
    }
    e->s = s;
    pthread_mutex_lock(&board_mu); /* refusals posted before this intake are not its own */
    e->board_seen = board_seq;
    pthread_mutex_unlock(&board_mu);
    e->lfd = e->ep = e->stopfd = -1;
    if (strlen(path) >= sizeof un.sun_path) {
        snprintf(err, errlen, "events_socket: %s is too long for a unix socket path", path);
        goto fail;
    }
    memcpy(un.sun_path, path, strlen(path) + 1);
    snprintf(e->path, sizeof e->path, "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen,
                     "events_socket: %s exists and is not a socket; remove it or "
                     "choose another path",
                     path);
            goto fail;
        }
        unlink(path); /* a stale socket of an earlier run */
    }
    e->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (e->lfd < 0 || setsockopt(e->lfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
        bind(e->lfd, (struct sockaddr *)&un, sizeof un) != 0 || listen(e->lfd, 128) != 0) {
        rc = -errno;
        snprintf(err, errlen, "events_socket: cannot listen on %s: %s", path, strerror(errno));
        goto fail;
    }
    /* Any local process may send events, but only a valid agent key binds a connection. */
    chmod(path, 0666);
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->stopfd = eventfd(0, EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &e->lfd};
    struct epoll_event sv = {.events = EPOLLIN, .data.ptr = &e->stopfd};
    int pc = 0;
    if (e->ep < 0 || e->stopfd < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->lfd, &ev) != 0 ||
        epoll_ctl(e->ep, EPOLL_CTL_ADD, e->stopfd, &sv) != 0 ||
        (pc = pthread_create(&e->thread, NULL, loop, e)) != 0) {
        rc = pc ? -pc : -errno;
        snprintf(err, errlen, "events: cannot start the intake thread: %s", strerror(-rc));
        goto fail;
    }
    *out = e;
    return 0;
fail:
    if (e->lfd >= 0)
        close(e->lfd);
    if (e->ep >= 0)
        close(e->ep);
    if (e->stopfd >= 0)
        close(e->stopfd);
    free(e);
    return rc;
}

void events_stop(struct events *e)
{
    if (!e)
        return;
    uint64_t one = 1;
    if (write(e->stopfd, &one, sizeof one) != sizeof one)
        perror("cordond: events stop");
    pthread_join(e->thread, NULL);
    while (e->conns)
        close_conn(e, e->conns);
    close(e->lfd);
    close(e->ep);
    close(e->stopfd);
    unlink(e->path);
    free(e->buckets);
    free(e);
}
