/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The anomaly response (see anomaly.h). Each window is a ring of 60 buckets stamped with the
 * absolute index of the slot they count, so a bucket from an earlier lap is recognised as
 * stale and reused without a sweep: adding is O(1), a sum is 60 additions. Only the signal
 * just counted is judged, since the others did not grow.
 */
#include "policy/server/anomaly.h"
#include "policy/server/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/io.h"
#include "base/jbuf.h"
#include "policy/server/agents.h"

#define SLOTS 60

/* Bucket width per signal: a minute of seconds, an hour of minutes, ten minutes of 10 s. */
static const int64_t slot_ms[ANOMALY_N_SIGNALS] = {1000, 1000, 60000, 10000, 10000, 60000};
static const char *const signal_names[ANOMALY_N_SIGNALS] = {"requests_per_minute",
                                                            "tokens_per_minute",
                                                            "usd_per_hour",
                                                            "denials_per_10_minutes",
                                                            "distinct_tools_per_10_minutes",
                                                            "new_egress_hosts_per_hour"};
static const char *const action_names[] = {"alert", "throttle", "quarantine"};

struct win {
    int64_t idx[SLOTS];
    uint64_t v[SLOTS];
};

struct name_slot {
    uint64_t h;
    int64_t ms; /* tools: last called; hosts: first reached */
};

struct denial {
    int64_t ms;
    char what[96];
};

struct agent_state {
    char name[AGENTS_NAME_MAX + 1];
    struct win w[ANOMALY_N_SIGNALS];
    struct name_slot tools[ANOMALY_NAMES], hosts[ANOMALY_NAMES];
    int64_t quiet_until[ANOMALY_N_SIGNALS]; /* no new trigger of this signal before */
    int64_t throttled_until;
    int quarantined;
    int64_t since_ms;
    char reason[ANOMALY_REASON_MAX + 1];
    struct denial last[ANOMALY_LAST_DENIALS];
    unsigned n_last;
};

struct anomaly {
    pthread_mutex_t mu;
    struct agent_state **v;
    size_t n, cap;
    char *path;
    anomaly_record_fn rec;
    void *rec_ud;
    uint64_t gen;             /* atomic */
    pthread_rwlock_t hook_mu; /* held (read) while on_q runs */
    void (*on_q)(void *ud, const char *agent);
    void *on_q_ud;
    /* counters, under mu */
    uint64_t triggers[ANOMALY_N_SIGNALS][3], observed[ANOMALY_N_SIGNALS];
    uint64_t quarantines, releases, refused_model, refused_tunnel, throttled, state_errors;
};

const char *anomaly_signal_name(enum anomaly_signal s)
{
    return (unsigned)s < ANOMALY_N_SIGNALS ? signal_names[s] : "?";
}

static int64_t now_or(int64_t now_ms)
{
    return now_ms ? now_ms : clock_real_ms();
}

/* FNV-1a: names are compared by their 64-bit hash; two names that collide count as one. */
static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1; /* 0 marks a free slot */
}

static void win_add(struct win *w, int64_t slot, int64_t now, uint64_t amount)
{
    int64_t i = now / slot;
    size_t k = (size_t)(i % SLOTS);
    if (w->idx[k] != i) {
        w->idx[k] = i;
        w->v[k] = 0;
    }
    w->v[k] = w->v[k] + amount < w->v[k] ? UINT64_MAX : w->v[k] + amount;
}

static uint64_t win_sum(const struct win *w, int64_t slot, int64_t now)
{
    int64_t i = now / slot;
    uint64_t sum = 0;
    for (size_t k = 0; k < SLOTS; k++)
        if (w->idx[k] > i - SLOTS && w->idx[k] <= i)
            sum = sum + w->v[k] < sum ? UINT64_MAX : sum + w->v[k];
    return sum;
}

/* Distinct tools called in the window: entries seen within it. */
static uint64_t tools_count(const struct agent_state *st, int64_t now)
{
    uint64_t n = 0;
    int64_t from = now - slot_ms[ANOMALY_TOOLS] * SLOTS;
    for (size_t i = 0; i < ANOMALY_NAMES; i++)
        n += st->tools[i].h && st->tools[i].ms > from;
    return n;
}

/* Remember name in t; returns 1 when it was not there. A full table forgets its oldest. */
static int names_touch(struct name_slot *t, const char *name, int64_t now, int update)
{
    uint64_t h = hash_name(name);
    size_t victim = 0;
    for (size_t i = 0; i < ANOMALY_NAMES; i++) {
        if (t[i].h == h) {
            if (update)
                t[i].ms = now;
            return 0;
        }
        if (!t[i].h || (t[victim].h && t[i].ms < t[victim].ms))
            victim = i;
    }
    t[victim].h = h;
    t[victim].ms = now;
    return 1;
}

static uint64_t value_of(const struct agent_state *st, enum anomaly_signal s, int64_t now)
{
    if (s == ANOMALY_TOOLS)
        return tools_count(st, now);
    return win_sum(&st->w[s], slot_ms[s], now);
}

/* The threshold of s in p (0: off); spend in micro-dollars. */
static uint64_t threshold_of(const struct policy *p, enum anomaly_signal s)
{
    if (!p || !p->api.has_anomaly)
        return 0;
    switch (s) {
    case ANOMALY_REQUESTS:
        return p->api.requests_per_minute;
    case ANOMALY_TOKENS:
        return p->api.tokens_per_minute;
    case ANOMALY_SPEND:
        return p->api.usd_per_hour < 0 ? 0 : (uint64_t)(p->api.usd_per_hour * 1e6);
    case ANOMALY_DENIALS:
        return p->api.denials_per_10_minutes;
    case ANOMALY_TOOLS:
        return p->api.distinct_tools_per_10_minutes;
    case ANOMALY_HOSTS:
        return p->api.new_egress_hosts_per_hour;
    default:
        return 0;
    }
}

/* The agent's state, made when absent (NULL: no memory, or the table is full). Under mu. */
static struct agent_state *state_for(struct anomaly *a, const char *agent, int make)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i]->name, agent) == 0) {
            if (i) { /* the busy agents stay near the front */
                struct agent_state *t = a->v[i];
                a->v[i] = a->v[i - 1];
                a->v[i - 1] = t;
                return t;
            }
            return a->v[i];
        }
    if (!make || a->n >= ANOMALY_MAX_AGENTS || strlen(agent) > AGENTS_NAME_MAX)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct agent_state **nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        a->v = nv;
        a->cap = cap;
    }
    struct agent_state *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    snprintf(st->name, sizeof st->name, "%s", agent);
    a->v[a->n++] = st;
    return st;
}

/* ------------------------------------------------------------ the state file */

/* Write the quarantined agents to a.path: a temporary file, synced, renamed over the old one,
 * and the directory synced, so that a crash leaves the old file or the new, never a part.
 * Under mu. Returns 0 or a negative errno. */
static int state_save(struct anomaly *a)
{
    if (!a->path)
        return 0;
    size_t cap = 64, len = 0;
    for (size_t i = 0; i < a->n; i++)
        cap += a->v[i]->quarantined ? AGENTS_NAME_MAX + ANOMALY_REASON_MAX + 32 : 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    len += (size_t)snprintf(buf, cap, "cordon-quarantine 1\n");
    for (size_t i = 0; i < a->n; i++) {
        const struct agent_state *st = a->v[i];
        if (st->quarantined)
            len += (size_t)snprintf(buf + len, cap - len, "%s %" PRId64 " %s\n", st->name,
                                    st->since_ms, st->reason);
    }
    size_t pl = strlen(a->path);
    char *tmp = malloc(pl + 8);
    int rc = -ENOMEM, fd = -1;
    if (!tmp)
        goto out;
    snprintf(tmp, pl + 8, "%s.new", a->path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = io_write_all(fd, buf, len)) != 0)
        goto out;
    if (fsync(fd) != 0 || close(fd) != 0) {
        rc = -errno;
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, a->path) != 0) {
        rc = -errno;
        goto out;
    }
    char *slash = strrchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        int dfd = open(slash == tmp ? "/" : tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(buf);
    if (rc != 0)
        a->state_errors++;
    return rc;
}

int anomaly_state_parse(const char *buf, size_t len, anomaly_state_fn fn, void *ud, char *err,
                        size_t errlen)
{
    static const char head[] = "cordon-quarantine 1";
    size_t off = 0, line = 0;
    while (off < len) {
        const char *s = buf + off;
        const char *nl = memchr(s, '\n', len - off);
        size_t n = nl ? (size_t)(nl - s) : len - off;
        off += n + (nl ? 1 : 0);
        line++;
        if (!nl) {
            snprintf(err, errlen, "line %zu: no newline at its end (a torn write?)", line);
            return -EINVAL;
        }
        if (line == 1) {
            if (n != sizeof head - 1 || memcmp(s, head, n) != 0) {
                snprintf(err, errlen, "line 1: expected \"%s\"", head);
                return -EINVAL;
            }
            continue;
        }
        if (n == 0)
            continue;
        char agent[AGENTS_NAME_MAX + 1], reason[ANOMALY_REASON_MAX + 1];
        const char *sp = memchr(s, ' ', n);
        if (!sp || (size_t)(sp - s) > AGENTS_NAME_MAX) {
            snprintf(err, errlen, "line %zu: expected AGENT SINCE_MS REASON", line);
            return -EINVAL;
        }
        memcpy(agent, s, (size_t)(sp - s));
        agent[sp - s] = '\0';
        if (!agents_valid_name(agent)) {
            snprintf(err, errlen, "line %zu: not an agent name", line);
            return -EINVAL;
        }
        const char *p = sp + 1, *end = s + n;
        int64_t since = 0;
        int digits = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++, digits++) {
            if (since > (INT64_C(1) << 53) / 10) {
                snprintf(err, errlen, "line %zu: the time is out of range", line);
                return -EINVAL;
            }
            since = since * 10 + (*p - '0');
        }
        if (!digits || (p < end && *p != ' ')) {
            snprintf(err, errlen, "line %zu: expected a time in milliseconds after the name", line);
            return -EINVAL;
        }
        if (p < end)
            p++;
        size_t rl = (size_t)(end - p);
        if (rl > ANOMALY_REASON_MAX) {
            snprintf(err, errlen, "line %zu: the reason is over %d bytes", line,
                     ANOMALY_REASON_MAX);
            return -EINVAL;
        }
        for (size_t i = 0; i < rl; i++)
            if (p[i] < 0x20 || p[i] > 0x7e) {
                snprintf(err, errlen, "line %zu: the reason holds a control or non-ASCII byte",
                         line);
                return -EINVAL;
            }
        memcpy(reason, p, rl);
        reason[rl] = '\0';
        int rc = fn(ud, agent, since, reason);
        if (rc != 0) {
            snprintf(err, errlen, "line %zu: %s", line, strerror(-rc));
            return rc;
        }
    }
    if (line == 0) {
        snprintf(err, errlen, "the file is empty; expected \"%s\"", head);
        return -EINVAL;
    }
    return 0;
}

static int load_one(void *ud, const char *agent, int64_t since_ms, const char *reason)
{
    struct anomaly *a = ud;
    struct agent_state *st = state_for(a, agent, 1);
    if (!st)
        return -ENOMEM;
    st->quarantined = 1;
    st->since_ms = since_ms;
    snprintf(st->reason, sizeof st->reason, "%s", reason);
    return 0;
}

static int state_load(struct anomaly *a, char *err, size_t errlen)
{
    int fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        snprintf(err, errlen, "%s: cannot open: %s", a->path, strerror(e));
        return -e;
    }
    char *buf = malloc(ANOMALY_STATE_MAX + 1);
    size_t len = 0;
    int rc = -ENOMEM;
    if (!buf)
        goto out;
    for (;;) {
        ssize_t n = read(fd, buf + len, ANOMALY_STATE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: cannot read: %s", a->path, strerror(-rc));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > ANOMALY_STATE_MAX) {
            rc = -EFBIG;
            snprintf(err, errlen, "%s: over %u bytes; it is not a file cordond wrote", a->path,
                     ANOMALY_STATE_MAX);
            goto out;
        }
    }
    char why[256];
    rc = anomaly_state_parse(buf, len, load_one, a, why, sizeof why);
    if (rc != 0)
        snprintf(err, errlen,
                 "%s: %s; cordond will not start and lift the quarantines it holds: fix or "
                 "remove the file (then release agents with `cordon agent release`)",
                 a->path, why);
out:
    close(fd);
    free(buf);
    return rc;
}

int anomaly_open(const char *state_path, anomaly_record_fn rec, void *rec_ud, struct anomaly **out,
                 char *err, size_t errlen)
{
    struct anomaly *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "anomaly: out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_rwlock_init(&a->hook_mu, NULL);
    a->rec = rec;
    a->rec_ud = rec_ud;
    if (state_path && !(a->path = strdup(state_path))) {
        anomaly_close(a);
        snprintf(err, errlen, "anomaly: out of memory");
        return -ENOMEM;
    }
    int rc = a->path ? state_load(a, err, errlen) : 0;
    if (rc != 0) {
        anomaly_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void anomaly_close(struct anomaly *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    free(a->path);
    pthread_mutex_destroy(&a->mu);
    pthread_rwlock_destroy(&a->hook_mu);
    free(a);
}

/* ------------------------------------------------------------ judging */

int anomaly_gate(struct anomaly *a, const char *agent, int is_tunnel, int64_t now_ms,
                 int64_t *since_ms, unsigned *retry_s)
{
    int64_t now = now_or(now_ms);
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    struct agent_state *st = state_for(a, agent, 0);
    if (st && st->quarantined) {
        *since_ms = st->since_ms;
        rc = ANOMALY_QUARANTINED;
        if (is_tunnel)
            a->refused_tunnel++;
        else
            a->refused_model++;
    } else if (st && !is_tunnel && st->throttled_until > now) {
        *retry_s = (unsigned)((st->throttled_until - now + 999) / 1000);
        rc = ANOMALY_THROTTLED;
        a->throttled++;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* A record to write once mu is released: quarantine's is synchronous, and the mutex must not
 * wait for the disk. */
struct pending {
    const char *kind;
    int sync;
    char mem[768];
    struct jbuf f;
};

static void trigger_fields(struct pending *pd, enum anomaly_signal s, uint64_t value,
                           uint64_t limit, const char *action, int observe, uint64_t version)
{
    struct jbuf *f = &pd->f;
    jbuf_init(f, pd->mem, sizeof pd->mem);
    jbuf_raw(f, "{");
    jbuf_key(f, "trigger");
    jbuf_str(f, signal_names[s], 0);
    jbuf_key(f, s == ANOMALY_SPEND ? "value_micro_usd" : "value");
    jbuf_u64(f, value);
    jbuf_key(f, s == ANOMALY_SPEND ? "threshold_micro_usd" : "threshold");
    jbuf_u64(f, limit);
    jbuf_key(f, "window_s");
    jbuf_i64(f, slot_ms[s] * SLOTS / 1000);
    jbuf_key(f, "action");
    jbuf_str(f, action, 0);
    jbuf_key(f, "mode");
    jbuf_str(f, observe ? "observe" : "enforce", 0);
    jbuf_key(f, "policy_version");
    jbuf_u64(f, version);
}

int anomaly_note(struct anomaly *a, const char *agent, const struct policy *p,
                 enum anomaly_signal s, uint64_t amount, const char *what, int64_t now_ms)
{
    if ((unsigned)s >= ANOMALY_N_SIGNALS)
        return 0;
    int64_t now = now_or(now_ms);
    struct pending pd = {0};
    int quarantined = 0;
    pthread_mutex_lock(&a->mu);
    struct agent_state *st = state_for(a, agent, 1);
    if (!st)
        goto out;
    if (s == ANOMALY_TOOLS) {
        if (!what || !*what)
            goto out;
        (void)names_touch(st->tools, what, now, 1);
    } else if (s == ANOMALY_HOSTS) {
        if (!what || !*what || !names_touch(st->hosts, what, now, 0))
            goto out; /* a host reached before is not new */
        win_add(&st->w[s], slot_ms[s], now, 1);
    } else {
        win_add(&st->w[s], slot_ms[s], now, amount);
        if (s == ANOMALY_DENIALS) {
            struct denial *d = &st->last[st->n_last++ % ANOMALY_LAST_DENIALS];
            d->ms = now;
            snprintf(d->what, sizeof d->what, "%s", what ? what : "");
        }
    }
    uint64_t limit = threshold_of(p, s);
    if (!limit || st->quarantined || now < st->quiet_until[s])
        goto out;
    uint64_t value = value_of(st, s, now);
    if (value <= limit)
        goto out;
    int observe = p->mode == POLICY_MODE_OBSERVE;
    enum policy_trigger act = p->api.on_trigger;
    const char *action = action_names[act];
    int64_t window = slot_ms[s] * SLOTS;
    trigger_fields(&pd, s, value, limit, action, observe, p->version);
    if (observe) {
        /* decided and recorded, never applied: once per window, as an alert */
        pd.kind = "anomaly.alert";
        st->quiet_until[s] = now + window;
        a->observed[s]++;
    } else if (act == POLICY_TRIGGER_ALERT) {
        pd.kind = "anomaly.alert";
        st->quiet_until[s] = now + window;
        a->triggers[s][act]++;
    } else if (act == POLICY_TRIGGER_THROTTLE) {
        pd.kind = "anomaly.throttle";
        st->throttled_until = now + (int64_t)p->api.throttle_seconds * 1000;
        st->quiet_until[s] = st->throttled_until;
        jbuf_key(&pd.f, "throttle_seconds");
        jbuf_u64(&pd.f, p->api.throttle_seconds);
        a->triggers[s][act]++;
    } else {
        pd.kind = "anomaly.quarantine";
        pd.sync = 1;
        st->quarantined = 1;
        st->since_ms = now;
        snprintf(st->reason, sizeof st->reason, "%s %" PRIu64 " over %" PRIu64, signal_names[s],
                 value, limit);
        __atomic_add_fetch(&a->gen, 1, __ATOMIC_RELEASE);
        a->triggers[s][act]++;
        a->quarantines++;
        quarantined = 1;
        int rc = state_save(a);
        jbuf_key(&pd.f, "since_ms");
        jbuf_i64(&pd.f, now);
        jbuf_key(&pd.f, "persisted");
        jbuf_bool(&pd.f, rc == 0);
        if (rc != 0)
            log_msg(LOG_LEVEL_ERROR,
                    "anomaly: cannot write %s: %s; agent %s is quarantined until "
                    "cordond stops, and not after a restart",
                    a->path, strerror(-rc), agent);
    }
    jbuf_raw(&pd.f, "}");
out:
    pthread_mutex_unlock(&a->mu);
    if (pd.kind && a->rec)
        a->rec(a->rec_ud, pd.kind, agent, pd.mem, pd.sync);
    if (quarantined) {
        pthread_rwlock_rdlock(&a->hook_mu);
        if (a->on_q)
            a->on_q(a->on_q_ud, agent);
        pthread_rwlock_unlock(&a->hook_mu);
    }
    return quarantined;
}

void anomaly_on_quarantine(struct anomaly *a, void (*fn)(void *ud, const char *agent), void *ud)
{
    if (!a)
        return;
    pthread_rwlock_wrlock(&a->hook_mu);
    a->on_q = fn;
    a->on_q_ud = ud;
    pthread_rwlock_unlock(&a->hook_mu);
}

int anomaly_quarantined(struct anomaly *a, const char *agent, int64_t *since_ms)
{
    int q = 0;
    pthread_mutex_lock(&a->mu);
    struct agent_state *st = state_for(a, agent, 0);
    if (st && st->quarantined) {
        q = 1;
        if (since_ms)
            *since_ms = st->since_ms;
    }
    pthread_mutex_unlock(&a->mu);
    return q;
}

uint64_t anomaly_generation(const struct anomaly *a)
{
    return __atomic_load_n(&a->gen, __ATOMIC_ACQUIRE);
}

int anomaly_release(struct anomaly *a, const char *agent, const char *by, int64_t now_ms)
{
    int64_t now = now_or(now_ms);
    struct pending pd = {0};
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    struct agent_state *st = state_for(a, agent, 0);
    if (!st || !st->quarantined) {
        if (st)
            st->throttled_until = 0;
        goto out;
    }
    int64_t since = st->since_ms;
    st->quarantined = 0;
    if ((rc = state_save(a)) != 0) {
        st->quarantined = 1; /* memory and file agree: the quarantine stays */
        goto out;
    }
    st->throttled_until = 0;
    /* the windows start over: the counts that quarantined it would do so again at once */
    memset(st->w, 0, sizeof st->w);
    memset(st->tools, 0, sizeof st->tools);
    memset(st->quiet_until, 0, sizeof st->quiet_until);
    __atomic_add_fetch(&a->gen, 1, __ATOMIC_RELEASE);
    a->releases++;
    rc = 1;
    pd.kind = "anomaly.release";
    pd.sync = 1;
    jbuf_init(&pd.f, pd.mem, sizeof pd.mem);
    jbuf_raw(&pd.f, "{");
    jbuf_key(&pd.f, "since_ms");
    jbuf_i64(&pd.f, since);
    jbuf_key(&pd.f, "duration_ms");
    jbuf_i64(&pd.f, now - since);
    jbuf_key(&pd.f, "reason");
    jbuf_str(&pd.f, st->reason, 0);
    jbuf_key(&pd.f, "by");
    jbuf_str(&pd.f, by ? by : "admin", 64);
    jbuf_raw(&pd.f, "}");
    st->reason[0] = '\0';
out:
    pthread_mutex_unlock(&a->mu);
    if (pd.kind && a->rec)
        a->rec(a->rec_ud, pd.kind, agent, pd.mem, pd.sync);
    return rc;
}

/* ------------------------------------------------------------ what it shows */

char *anomaly_status_json(struct anomaly *a, int64_t now_ms)
{
    int64_t now = now_or(now_ms);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++) {
        const struct agent_state *st = a->v[i];
        cJSON *ag = cJSON_AddObjectToObject(o, st->name);
        if (!ag)
            break;
        cJSON *w = cJSON_AddObjectToObject(ag, "windows");
        for (int s = 0; s < ANOMALY_N_SIGNALS; s++) {
            uint64_t v = value_of(st, (enum anomaly_signal)s, now);
            cJSON_AddNumberToObject(w, signal_names[s],
                                    s == ANOMALY_SPEND ? (double)v / 1e6 : (double)v);
        }
        cJSON_AddBoolToObject(ag, "quarantined", st->quarantined);
        if (st->quarantined) {
            cJSON_AddNumberToObject(ag, "quarantined_since_ms", (double)st->since_ms);
            cJSON_AddStringToObject(ag, "reason", st->reason);
        }
        if (st->throttled_until > now)
            cJSON_AddNumberToObject(ag, "throttled_until_ms", (double)st->throttled_until);
        cJSON *ld = cJSON_AddArrayToObject(ag, "last_denials");
        unsigned n = st->n_last < ANOMALY_LAST_DENIALS ? st->n_last : ANOMALY_LAST_DENIALS;
        for (unsigned k = 0; k < n; k++) { /* newest first */
            const struct denial *d =
                &st->last[(st->n_last - 1 - k + ANOMALY_LAST_DENIALS) % ANOMALY_LAST_DENIALS];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "ts_ms", (double)d->ms);
            cJSON_AddStringToObject(e, "what", d->what);
            cJSON_AddItemToArray(ld, e);
        }
    }
    pthread_mutex_unlock(&a->mu);
    char *j = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return j;
}

char *anomaly_metrics(struct anomaly *a)
{
    size_t cap = 8192, len = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int n_ = snprintf(b + len, cap - len, __VA_ARGS__);                                        \
        if (n_ > 0)                                                                                \
            len += (size_t)n_ < cap - len ? (size_t)n_ : cap - len - 1;                            \
    } while (0)
    pthread_mutex_lock(&a->mu);
    size_t nq = 0;
    for (size_t i = 0; i < a->n; i++)
        nq += a->v[i]->quarantined != 0;
    ADD("# HELP cordon_anomaly_triggers_total Anomaly triggers by threshold and action "
        "(action \"observe\": recorded only, the policy is in observe mode).\n"
        "# TYPE cordon_anomaly_triggers_total counter\n");
    for (int s = 0; s < ANOMALY_N_SIGNALS; s++) {
        for (int k = 0; k < 3; k++)
            ADD("cordon_anomaly_triggers_total{trigger=\"%s\",action=\"%s\"} %" PRIu64 "\n",
                signal_names[s], action_names[k], a->triggers[s][k]);
        ADD("cordon_anomaly_triggers_total{trigger=\"%s\",action=\"observe\"} %" PRIu64 "\n",
            signal_names[s], a->observed[s]);
    }
    ADD("# HELP cordon_quarantined_agents Agents quarantined now.\n"
        "# TYPE cordon_quarantined_agents gauge\ncordon_quarantined_agents %zu\n"
        "# TYPE cordon_quarantines_total counter\ncordon_quarantines_total %" PRIu64 "\n"
        "# TYPE cordon_quarantine_releases_total counter\n"
        "cordon_quarantine_releases_total %" PRIu64 "\n"
        "# HELP cordon_anomaly_refusals_total Model calls and tunnels refused for a quarantine "
        "or a throttle.\n# TYPE cordon_anomaly_refusals_total counter\n"
        "cordon_anomaly_refusals_total{reason=\"quarantine\",what=\"model\"} %" PRIu64 "\n"
        "cordon_anomaly_refusals_total{reason=\"quarantine\",what=\"tunnel\"} %" PRIu64 "\n"
        "cordon_anomaly_refusals_total{reason=\"throttle\",what=\"model\"} %" PRIu64 "\n"
        "# TYPE cordon_anomaly_state_errors_total counter\n"
        "cordon_anomaly_state_errors_total %" PRIu64 "\n",
        nq, a->quarantines, a->releases, a->refused_model, a->refused_tunnel, a->throttled,
        a->state_errors);
    pthread_mutex_unlock(&a->mu);
#undef ADD
    return b;
}
