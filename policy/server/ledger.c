/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger (ledger.h): per-agent counters under one mutex per agent, the reservations as
 * heap objects whose address is the handle the budget stage holds, and the journal store:
 * one checksummed text line per record, appended with one write(2) (O_APPEND) before the
 * call goes on, fsync'd by a flusher thread in batches, replayed and compacted at start.
 */
#include "policy/server/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/io.h"

#define LEDGER_CAP (INT64_C(1) << 62)
#define LINE_MAX_LEN 512
#define KEEP_DAYS_MS (62LL * 86400000) /* day and month totals kept at a compaction */
#define KEEP_SESSION_MS (48LL * 3600000)

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r) || r > LEDGER_CAP)
        return LEDGER_CAP;
    return r < -LEDGER_CAP ? -LEDGER_CAP : r;
}

const char *ledger_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case LEDGER_ERR_STORE:
        return "the ledger's store cannot record";
    case LEDGER_ERR_CORRUPT:
        return "a ledger record could not be applied";
    default:
        return err_is_errno(rc) ? strerror(-rc) : "unknown ledger error";
    }
}

/* ------------------------------------------------------------ the line format */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int plain(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-' || ch == ':' || ch == '@' || ch == '+';
}

/* A name field: "-" when empty, else every byte outside plain() as %XX ("-" alone too). */
static int put_name(char *buf, size_t cap, size_t *at, const char *s)
{
    static const char hx[] = "0123456789ABCDEF";
    if (!s[0] || !strcmp(s, "-")) {
        const char *t = s[0] ? "%2D" : "-";
        size_t n = strlen(t);
        if (*at + n >= cap)
            return -ENOSPC;
        memcpy(buf + *at, t, n);
        *at += n;
        return 0;
    }
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (*at + 3 >= cap)
            return -ENOSPC;
        if (plain(ch)) {
            buf[(*at)++] = (char)ch;
        } else {
            buf[(*at)++] = '%';
            buf[(*at)++] = hx[ch >> 4];
            buf[(*at)++] = hx[ch & 15];
        }
    }
    return 0;
}

int ledger_rec_format(const struct ledger_rec *r, char *buf, size_t cap)
{
    size_t at = 0;
    int n = snprintf(buf, cap, "%c %" PRIu64 " %" PRId64 " ", r->kind, r->id, r->t_ms);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    at = (size_t)n;
    const char *names[4] = {r->agent, r->session, r->day, r->month};
    for (int i = 0; i < 4; i++) {
        if (put_name(buf, cap, &at, names[i]) || at + 1 >= cap)
            return -ENOSPC;
        buf[at++] = ' ';
    }
    n = snprintf(buf + at, cap - at, "%" PRId64 " %" PRId64 " %d", r->usd_p, r->tokens,
                 r->estimated ? 1 : 0);
    if (n < 0 || (size_t)n >= cap - at)
        return -ENOSPC;
    at += (size_t)n;
    uint64_t h = fnv1a(buf, at);
    n = snprintf(buf + at, cap - at, " %016" PRIx64 "\n", h);
    if (n < 0 || (size_t)n >= cap - at)
        return -ENOSPC;
    return (int)(at + (size_t)n);
}

static int get_i64(const char *s, size_t n, int64_t *out)
{
    int neg = 0;
    size_t i = 0;
    if (n && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 19)
        return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)LEDGER_CAP)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int get_name(const char *s, size_t n, char *out, size_t cap)
{
    if (n == 1 && s[0] == '-') {
        out[0] = '\0';
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= cap)
            return -1;
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0))
                return -1;
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else if (plain((unsigned char)s[i])) {
            out[o++] = s[i];
        } else {
            return -1;
        }
    }
    if (!o)
        return -1;
    out[o] = '\0';
    return 0;
}

/* One line without its newline. */
static int parse_line(const char *s, size_t n, struct ledger_rec *r)
{
    const char *f[12];
    size_t fl[12], k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ' ') {
            if (k == 12 || i == start)
                return -1;
            f[k] = s + start;
            fl[k++] = i - start;
            start = i + 1;
        }
    }
    if (k != 11 || fl[10] != 16)
        return -1;
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64, fnv1a(s, (size_t)(f[10] - s) - 1));
    if (memcmp(want, f[10], 16) != 0)
        return -1;
    memset(r, 0, sizeof *r);
    if (fl[0] != 1 || !strchr("RCXSDMN", f[0][0]) || !f[0][0])
        return -1;
    r->kind = f[0][0];
    int64_t id, est;
    if (get_i64(f[1], fl[1], &id) || id < 0 || get_i64(f[2], fl[2], &r->t_ms) ||
        get_name(f[3], fl[3], r->agent, sizeof r->agent) ||
        get_name(f[4], fl[4], r->session, sizeof r->session) ||
        get_name(f[5], fl[5], r->day, sizeof r->day) ||
        get_name(f[6], fl[6], r->month, sizeof r->month) || get_i64(f[7], fl[7], &r->usd_p) ||
        get_i64(f[8], fl[8], &r->tokens) || get_i64(f[9], fl[9], &est) || est < 0 || est > 1)
        return -1;
    r->id = (uint64_t)id;
    r->estimated = (int)est;
    if (r->usd_p < 0 || r->tokens < 0)
        return -1;
    if (strchr("RSDM", r->kind) && !r->agent[0])
        return -1;
    return 0;
}

int ledger_journal_parse(const char *buf, size_t len, ledger_rec_fn cb, void *ud, uint64_t *damaged,
                         size_t *torn)
{
    size_t at = 0;
    *torn = 0;
    while (at < len) {
        const char *nl = memchr(buf + at, '\n', len - at);
        if (!nl) {
            *torn = len - at;
            return 0;
        }
        size_t n = (size_t)(nl - (buf + at));
        struct ledger_rec r;
        if (n >= LINE_MAX_LEN || parse_line(buf + at, n, &r) != 0) {
            (*damaged)++;
        } else {
            int rc = cb(ud, &r);
            if (rc)
                return rc;
        }
        at += n + 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the journal store */

struct journal {
    struct ledger_store base;
    char path[4096];
    int fd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t flusher;
    int has_flusher, stop, dirty, failed;
    unsigned sync_ms;
};

static int j_append(struct ledger_store *s, const struct ledger_rec *r)
{
    struct journal *j = (struct journal *)s;
    char line[LINE_MAX_LEN];
    int n = ledger_rec_format(r, line, sizeof line);
    if (n < 0)
        return n;
    pthread_mutex_lock(&j->mu);
    int rc = j->failed ? -EIO : io_write_all(j->fd, line, (size_t)n);
    if (rc == 0)
        j->dirty = 1;
    else
        j->failed = 1; /* a half line may be there: stop, the next start skips it */
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static int j_sync(struct ledger_store *s)
{
    struct journal *j = (struct journal *)s;
    pthread_mutex_lock(&j->mu);
    int fd = j->fd, dirty = j->dirty;
    j->dirty = 0;
    pthread_mutex_unlock(&j->mu);
    /* fdatasync outside the lock: appends go on while the disk works */
    if (dirty && fd >= 0 && fdatasync(fd) != 0) {
        int e = errno;
        pthread_mutex_lock(&j->mu);
        j->failed = 1;
        pthread_mutex_unlock(&j->mu);
        return -e;
    }
    return 0;
}

static void *j_flusher(void *arg)
{
    struct journal *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(j->sync_ms % 1000) * 1000000L;
        ts.tv_sec += j->sync_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (j->dirty) {
            pthread_mutex_unlock(&j->mu);
            (void)j_sync(&j->base);
            pthread_mutex_lock(&j->mu);
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static int j_load(struct ledger_store *s, ledger_rec_fn cb, void *ud, uint64_t *damaged)
{
    struct journal *j = (struct journal *)s;
    struct stat st;
    if (fstat(j->fd, &st) != 0)
        return -errno;
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = malloc(len + 1);
    if (!buf)
        return -ENOMEM;
    while (got < len) {
        ssize_t n = pread(j->fd, buf + got, len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? -errno : -EIO;
            free(buf);
            return e;
        }
        got += (size_t)n;
    }
    size_t torn = 0;
    int rc = ledger_journal_parse(buf, len, cb, ud, damaged, &torn);
    if (torn)
        (*damaged)++;
    free(buf);
    return rc;
}

/* Write recs to PATH.tmp, fsync, rename over PATH, fsync the directory: the journal is the
 * old one or the new one whole, never a mix. */
static int j_replace(struct ledger_store *s, const struct ledger_rec *recs, size_t n)
{
    struct journal *j = (struct journal *)s;
    char tmp[4200], line[LINE_MAX_LEN];
    snprintf(tmp, sizeof tmp, "%s.tmp", j->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    char *big = NULL;
    size_t blen = 0, bcap = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int k = ledger_rec_format(&recs[i], line, sizeof line);
        if (k < 0) {
            rc = k;
            break;
        }
        if (blen + (size_t)k > bcap) {
            size_t cap = bcap ? bcap * 2 : 65536;
            while (cap < blen + (size_t)k)
                cap *= 2;
            char *nb = realloc(big, cap);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            big = nb;
            bcap = cap;
        }
        memcpy(big + blen, line, (size_t)k);
        blen += (size_t)k;
    }
    if (rc == 0 && blen)
        rc = io_write_all(fd, big, blen);
    free(big);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, j->path) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", j->path);
    char *sl = strrchr(dir, '/');
    if (sl)
        *(sl == dir ? sl + 1 : sl) = '\0';
    int dfd = open(sl ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    int nfd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (nfd < 0)
        return -errno;
    pthread_mutex_lock(&j->mu);
    close(j->fd);
    j->fd = nfd;
    j->dirty = 0;
    pthread_mutex_unlock(&j->mu);
    return 0;
}

static void j_close(struct ledger_store *s)
{
    struct journal *j = (struct journal *)s;
    if (!j)
        return;
    if (j->has_flusher) {
        pthread_mutex_lock(&j->mu);
        j->stop = 1;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->flusher, NULL);
    }
    (void)j_sync(s);
    if (j->fd >= 0)
        close(j->fd);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static const struct ledger_store_ops k_journal_ops = {j_append, j_sync, j_load, j_replace, j_close};

int ledger_journal_open(const char *path, unsigned sync_ms, struct ledger_store **out, char *err,
                        size_t errlen)
{
    struct journal *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->base.ops = &k_journal_ops;
    j->sync_ms = sync_ms ? sync_ms : 200;
    if ((size_t)snprintf(j->path, sizeof j->path, "%s", path) >= sizeof j->path) {
        snprintf(err, errlen, "ledger journal %s: the path is too long", path);
        free(j);
        return -ENAMETOOLONG;
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (j->fd < 0) {
        int e = errno;
        snprintf(err, errlen,
                 "ledger journal %s: cannot open: %s; check that cordond's state_dir is "
                 "writable by cordond",
                 path, strerror(e));
        j_close(&j->base);
        return -e;
    }
    if (pthread_create(&j->flusher, NULL, j_flusher, j) != 0) {
        snprintf(err, errlen, "ledger journal %s: cannot start its flusher thread", path);
        j_close(&j->base);
        return -EAGAIN;
    }
    j->has_flusher = 1;
    *out = &j->base;
    return 0;
}

/* ------------------------------------------------------------ the counters */

struct counter {
    int64_t spent_usd, spent_tok, res_usd, res_tok, last_ms;
    int64_t open;
};

struct cnode {
    struct cnode *next;
    struct counter c;
    char key[LEDGER_NAME_MAX + 1];
};

#define SESSION_BUCKETS 256
#define AGENT_BUCKETS 1024
#define PENDING_BUCKETS 4096

struct lagent {
    struct lagent *next;
    char name[LEDGER_NAME_MAX + 1];
    pthread_mutex_t mu;
    struct cnode *sess[SESSION_BUCKETS];
    struct cnode *days, *months; /* few: one a day, one a month */
    int64_t minute, min_req, min_tok;
    int64_t open;
};

/* An open reservation; its address is the handle. */
struct resv {
    struct lagent *a;
    struct counter *s, *d, *m;
    int64_t usd, tok, minute;
    uint64_t id;
};

struct ledger {
    struct ledger_store *st;
    pthread_rwlock_t map_lock;
    struct lagent *agents[AGENT_BUCKETS];
    uint64_t next_id;
    struct ledger_stats stats; /* updated with atomic builtins */
};

static uint64_t hash_str(const char *s)
{
    return fnv1a(s, strlen(s));
}

static void count(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static void count_i(int64_t *c, int64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* The node of key in the list at *head, made when create is set (NULL on -ENOMEM). */
static struct counter *cnode_get(struct cnode **head, const char *key, int create)
{
    for (struct cnode *n = *head; n; n = n->next)
        if (!strcmp(n->key, key))
            return &n->c;
    if (!create)
        return NULL;
    struct cnode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    snprintf(n->key, sizeof n->key, "%s", key);
    n->next = *head;
    *head = n;
    return &n->c;
}

static struct counter *session_get(struct lagent *a, const char *s, int create)
{
    return cnode_get(&a->sess[hash_str(s) % SESSION_BUCKETS], s, create);
}

static struct lagent *agent_find(struct ledger *l, const char *name, uint64_t h)
{
    for (struct lagent *a = l->agents[h % AGENT_BUCKETS]; a; a = a->next)
        if (!strcmp(a->name, name))
            return a;
    return NULL;
}

/* The agent's counters, made on first use. Agents are never freed before ledger_close. */
static struct lagent *agent_get(struct ledger *l, const char *name, int create)
{
    uint64_t h = hash_str(name);
    pthread_rwlock_rdlock(&l->map_lock);
    struct lagent *a = agent_find(l, name, h);
    pthread_rwlock_unlock(&l->map_lock);
    if (a || !create)
        return a;
    pthread_rwlock_wrlock(&l->map_lock);
    if (!(a = agent_find(l, name, h)) && (a = calloc(1, sizeof *a)) != NULL) {
        snprintf(a->name, sizeof a->name, "%s", name);
        pthread_mutex_init(&a->mu, NULL);
        a->next = l->agents[h % AGENT_BUCKETS];
        l->agents[h % AGENT_BUCKETS] = a;
    }
    pthread_rwlock_unlock(&l->map_lock);
    return a;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static void fill_rec(struct ledger_rec *r, char kind, uint64_t id, int64_t t, const char *agent,
                     const char *session, const char *day, const char *month, int64_t usd,
                     int64_t tok, int est)
{
    r->kind = kind;
    r->id = id;
    r->t_ms = t;
    copy_name(r->agent, sizeof r->agent, agent);
    copy_name(r->session, sizeof r->session, session);
    copy_name(r->day, sizeof r->day, day);
    copy_name(r->month, sizeof r->month, month);
    r->usd_p = usd;
    r->tokens = tok;
    r->estimated = est;
}

static int store_append(struct ledger *l, const struct ledger_rec *r)
{
    if (!l->st)
        return 0;
    int rc = l->st->ops->append(l->st, r);
    if (rc)
        count(&l->stats.store_errors, 1);
    return rc;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ reserve, settle, release */

static void add_res(struct counter *c, int64_t usd, int64_t tok, int64_t t)
{
    c->res_usd = sat_add(c->res_usd, usd);
    c->res_tok = sat_add(c->res_tok, tok);
    c->open++;
    if (t > c->last_ms)
        c->last_ms = t;
}

/* End r's hold on c, charging usd and tok. */
static void end_res(struct counter *c, const struct resv *r, int64_t usd, int64_t tok)
{
    c->res_usd = sat_add(c->res_usd, -r->usd);
    c->res_tok = sat_add(c->res_tok, -r->tok);
    c->spent_usd = sat_add(c->spent_usd, usd);
    c->spent_tok = sat_add(c->spent_tok, tok);
    c->open--;
}

int ledger_reserve(struct ledger *l, const struct engine_budget_ask *a, uint64_t *handle,
                   struct engine_budget_refusal *why)
{
    const char *session = a->session ? a->session : "";
    if (!a->agent || !a->agent[0] || strlen(a->agent) > LEDGER_NAME_MAX ||
        strlen(session) > LEDGER_NAME_MAX || a->usd_p < 0 || a->tokens < 0)
        return -EINVAL;
    struct lagent *ag = agent_get(l, a->agent, 1);
    struct resv *r = calloc(1, sizeof *r);
    if (!ag || !r) {
        free(r);
        return -ENOMEM;
    }
    int64_t now = a->now_ms ? a->now_ms : wall_ms();
    int64_t minute = now / 60000;
    pthread_mutex_lock(&ag->mu);
    struct counter *s = session_get(ag, session, 1), *d = cnode_get(&ag->days, a->day, 1),
                   *m = cnode_get(&ag->months, a->month, 1);
    if (!s || !d || !m) {
        pthread_mutex_unlock(&ag->mu);
        free(r);
        return -ENOMEM;
    }
    if (ag->minute != minute) {
        ag->minute = minute;
        ag->min_req = ag->min_tok = 0;
    }
    const struct counter *scope_c[] = {s, d, m, s, d, m};
    for (int k = 0; k < ENGINE_BUDGET_N_SCOPES && !a->force; k++) {
        int64_t lim = a->limit[k], used, ask, reset = 0;
        if (lim < 0)
            continue;
        if (k <= ENGINE_BUDGET_MONTH_USD) {
            used = sat_add(scope_c[k]->spent_usd, scope_c[k]->res_usd);
            ask = a->usd_p;
        } else if (k <= ENGINE_BUDGET_MONTH_TOKENS) {
            used = sat_add(scope_c[k]->spent_tok, scope_c[k]->res_tok);
            ask = a->tokens;
        } else if (k == ENGINE_RATE_REQUESTS) {
            used = ag->min_req;
            ask = 1;
        } else if (k == ENGINE_RATE_TOKENS) {
            used = ag->min_tok;
            ask = a->tokens;
        } else if (k == ENGINE_RATE_CONC_AGENT) {
            used = ag->open;
            ask = 1;
        } else {
            used = s->open;
            ask = 1;
        }
        if (sat_add(used, ask) <= lim)
            continue;
        if (k == ENGINE_BUDGET_DAY_USD || k == ENGINE_BUDGET_DAY_TOKENS)
            reset = a->day_reset_ms;
        else if (k == ENGINE_BUDGET_MONTH_USD || k == ENGINE_BUDGET_MONTH_TOKENS)
            reset = a->month_reset_ms;
        else if (k == ENGINE_RATE_REQUESTS || k == ENGINE_RATE_TOKENS)
            reset = (minute + 1) * 60000;
        /* a session budget and concurrency do not reset with time */
        pthread_mutex_unlock(&ag->mu);
        free(r);
        why->scope = (enum engine_budget_scope)k;
        why->limit = lim;
        why->used = used;
        why->remaining = used < lim ? lim - used : 0;
        why->reset_ms = reset;
        count(&l->stats.refused[k], 1);
        return 1;
    }
    add_res(s, a->usd_p, a->tokens, now);
    add_res(d, a->usd_p, a->tokens, now);
    add_res(m, a->usd_p, a->tokens, now);
    ag->min_req++;
    ag->min_tok = sat_add(ag->min_tok, a->tokens);
    ag->open++;
    *r = (struct resv){ag, s, d, m, a->usd_p, a->tokens, minute, 0};
    r->id = __atomic_fetch_add(&l->next_id, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&ag->mu);

    struct ledger_rec rec;
    if (l->st)
        fill_rec(&rec, 'R', r->id, now, a->agent, session, a->day, a->month, a->usd_p, a->tokens,
                 0);
    if (l->st && store_append(l, &rec) != 0) {
        /* not recorded, so not held: the call is refused */
        pthread_mutex_lock(&ag->mu);
        end_res(s, r, 0, 0);
        end_res(d, r, 0, 0);
        end_res(m, r, 0, 0);
        ag->open--;
        pthread_mutex_unlock(&ag->mu);
        free(r);
        return -EIO;
    }
    count(&l->stats.reservations, 1);
    count(&l->stats.open, 1);
    count_i(&l->stats.reserved_usd_p, a->usd_p);
    count_i(&l->stats.reserved_tokens, a->tokens);
    *handle = (uint64_t)(uintptr_t)r;
    return 0;
}

static void finish(struct ledger *l, struct resv *r, char kind, int64_t usd, int64_t tok, int est)
{
    struct lagent *ag = r->a;
    if (usd < 0)
        usd = 0;
    if (tok < 0)
        tok = 0;
    int64_t now = wall_ms();
    pthread_mutex_lock(&ag->mu);
    end_res(r->s, r, usd, tok);
    end_res(r->d, r, usd, tok);
    end_res(r->m, r, usd, tok);
    if (now > r->s->last_ms)
        r->s->last_ms = now;
    if (ag->minute == r->minute) { /* the minute's tokens become the real ones */
        ag->min_tok = sat_add(ag->min_tok, tok - r->tok);
        if (ag->min_tok < 0)
            ag->min_tok = 0;
    }
    ag->open--;
    pthread_mutex_unlock(&ag->mu);
    if (l->st) {
        struct ledger_rec rec;
        fill_rec(&rec, kind, r->id, now, NULL, NULL, NULL, NULL, usd, tok, est);
        (void)store_append(l, &rec); /* lost: the next start charges the worst case */
    }
    __atomic_sub_fetch(&l->stats.open, 1, __ATOMIC_RELAXED);
    count_i(&l->stats.reserved_usd_p, -r->usd);
    count_i(&l->stats.reserved_tokens, -r->tok);
    if (kind == 'C') {
        count(&l->stats.settled, 1);
        if (est)
            count(&l->stats.estimated, 1);
        count_i(&l->stats.spent_usd_p, usd);
        count_i(&l->stats.spent_tokens, tok);
    } else {
        count(&l->stats.released, 1);
    }
    free(r);
}

void ledger_settle(struct ledger *l, uint64_t handle, int64_t usd_p, int64_t tokens, int estimated)
{
    if (handle)
        finish(l, (struct resv *)(uintptr_t)handle, 'C', usd_p, tokens, estimated);
}

void ledger_release(struct ledger *l, uint64_t handle)
{
    if (handle)
        finish(l, (struct resv *)(uintptr_t)handle, 'X', 0, 0, 0);
}

static int ops_reserve(void *ud, const struct engine_budget_ask *a, uint64_t *h,
                       struct engine_budget_refusal *why)
{
    return ledger_reserve(ud, a, h, why);
}
static void ops_settle(void *ud, uint64_t h, int64_t usd, int64_t tok, int est)
{
    ledger_settle(ud, h, usd, tok, est);
}
static void ops_release(void *ud, uint64_t h)
{
    ledger_release(ud, h);
}
const struct engine_budget_ops ledger_engine_ops = {ops_reserve, ops_settle, ops_release};

int ledger_sync(struct ledger *l)
{
    return l->st ? l->st->ops->sync(l->st) : 0;
}

void ledger_stats_get(struct ledger *l, struct ledger_stats *s)
{
    uint64_t *src = (uint64_t *)&l->stats, *dst = (uint64_t *)s;
    for (size_t i = 0; i < sizeof *s / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void ledger_view_get(struct ledger *l, const char *agent, const char *session, const char *day,
                     const char *month, int64_t now_ms, struct ledger_view *v)
{
    memset(v, 0, sizeof *v);
    int64_t minute = now_ms / 60000;
    v->minute_reset_ms = (minute + 1) * 60000;
    struct lagent *ag = agent_get(l, agent, 0);
    if (!ag)
        return;
    pthread_mutex_lock(&ag->mu);
    const struct counter *c[3] = {session_get(ag, session ? session : "", 0),
                                  cnode_get(&ag->days, day, 0), cnode_get(&ag->months, month, 0)};
    for (int k = 0; k < 3; k++) {
        if (!c[k])
            continue;
        v->spent[k] = c[k]->spent_usd;
        v->reserved[k] = c[k]->res_usd;
        v->spent[k + 3] = c[k]->spent_tok;
        v->reserved[k + 3] = c[k]->res_tok;
    }
    if (ag->minute == minute) {
        v->spent[ENGINE_RATE_REQUESTS] = ag->min_req;
        v->spent[ENGINE_RATE_TOKENS] = ag->min_tok;
    }
    v->spent[ENGINE_RATE_CONC_AGENT] = ag->open;
    v->spent[ENGINE_RATE_CONC_SESSION] = c[0] ? c[0]->open : 0;
    pthread_mutex_unlock(&ag->mu);
}

/* ------------------------------------------------------------ recovery */

struct pending {
    struct pending *next;
    struct ledger_rec r;
};

struct replay {
    struct ledger *l;
    struct pending *p[PENDING_BUCKETS];
    uint64_t max_id;
    int oom;
};

/* Charge amounts to the totals of the agent's session, day and month named in r. */
static int charge(struct ledger *l, const struct ledger_rec *r, int64_t usd, int64_t tok, int64_t t,
                  int sess, int day, int month)
{
    struct lagent *ag = agent_get(l, r->agent, 1);
    if (!ag)
        return -ENOMEM;
    struct counter *c[3] = {sess ? session_get(ag, r->session, 1) : NULL,
                            day ? cnode_get(&ag->days, r->day, 1) : NULL,
                            month ? cnode_get(&ag->months, r->month, 1) : NULL};
    for (int k = 0; k < 3; k++) {
        if ((k == 0 && !sess) || (k == 1 && !day) || (k == 2 && !month))
            continue;
        if (!c[k])
            return -ENOMEM;
        c[k]->spent_usd = sat_add(c[k]->spent_usd, usd);
        c[k]->spent_tok = sat_add(c[k]->spent_tok, tok);
        if (t > c[k]->last_ms)
            c[k]->last_ms = t;
    }
    return 0;
}

static struct pending **pending_slot(struct replay *rp, uint64_t id)
{
    struct pending **pp = &rp->p[id % PENDING_BUCKETS];
    while (*pp && (*pp)->r.id != id)
        pp = &(*pp)->next;
    return pp;
}

static int on_rec(void *ud, const struct ledger_rec *r)
{
    struct replay *rp = ud;
    struct ledger *l = rp->l;
    if (r->id > rp->max_id && r->kind != 'S' && r->kind != 'D' && r->kind != 'M')
        rp->max_id = r->id;
    switch (r->kind) {
    case 'R': {
        struct pending **pp = pending_slot(rp, r->id);
        if (*pp)
            return 0; /* the same reservation twice: counted once */
        struct pending *n = malloc(sizeof *n);
        if (!n)
            return -ENOMEM;
        n->r = *r;
        n->next = NULL;
        *pp = n;
        return 0;
    }
    case 'C':
    case 'X': {
        struct pending **pp = pending_slot(rp, r->id), *n = *pp;
        if (!n)
            return 0; /* settled already, or never reserved in this journal: nothing to do */
        *pp = n->next;
        int rc = r->kind == 'C' ? charge(l, &n->r, r->usd_p, r->tokens, r->t_ms, 1, 1, 1) : 0;
        free(n);
        return rc;
    }
    case 'S':
        return charge(l, r, r->usd_p, r->tokens, r->t_ms, 1, 0, 0);
    case 'D':
        return charge(l, r, r->usd_p, r->tokens, r->t_ms, 0, 1, 0);
    case 'M':
        return charge(l, r, r->usd_p, r->tokens, r->t_ms, 0, 0, 1);
    case 'N':
        return 0;
    }
    return 0;
}

/* The snapshot: totals still current at now, and the next id. */
static int snapshot(struct ledger *l, int64_t now, struct ledger_rec **out, size_t *n_out)
{
    size_t n = 0, cap = 64;
    struct ledger_rec *v = malloc(cap * sizeof *v);
    if (!v)
        return -ENOMEM;
#define PUSH(KIND, AG, S, D, M, C)                                                                 \
    do {                                                                                           \
        if (n == cap) {                                                                            \
            struct ledger_rec *nv = realloc(v, (cap *= 2) * sizeof *v);                            \
            if (!nv) {                                                                             \
                free(v);                                                                           \
                return -ENOMEM;                                                                    \
            }                                                                                      \
            v = nv;                                                                                \
        }                                                                                          \
        fill_rec(&v[n++], KIND, 0, (C)->last_ms, AG, S, D, M, (C)->spent_usd, (C)->spent_tok, 0);  \
    } while (0)
    for (size_t b = 0; b < AGENT_BUCKETS; b++)
        for (struct lagent *a = l->agents[b]; a; a = a->next) {
            for (size_t k = 0; k < SESSION_BUCKETS; k++)
                for (struct cnode *c = a->sess[k]; c; c = c->next)
                    if (c->c.last_ms >= now - KEEP_SESSION_MS && (c->c.spent_usd || c->c.spent_tok))
                        PUSH('S', a->name, c->key, "", "", &c->c);
            for (struct cnode *c = a->days; c; c = c->next)
                if (c->c.last_ms >= now - KEEP_DAYS_MS)
                    PUSH('D', a->name, "", c->key, "", &c->c);
            for (struct cnode *c = a->months; c; c = c->next)
                if (c->c.last_ms >= now - KEEP_DAYS_MS)
                    PUSH('M', a->name, "", "", c->key, &c->c);
        }
    struct counter none = {0};
    PUSH('N', "", "", "", "", &none);
    v[n - 1].id = l->next_id;
#undef PUSH
    *out = v;
    *n_out = n;
    return 0;
}

static void free_counters(struct ledger *l)
{
    for (size_t b = 0; b < AGENT_BUCKETS; b++) {
        for (struct lagent *a = l->agents[b], *an; a; a = an) {
            an = a->next;
            struct cnode *lists[2] = {a->days, a->months};
            for (size_t k = 0; k < SESSION_BUCKETS; k++)
                for (struct cnode *c = a->sess[k], *cn; c; c = cn) {
                    cn = c->next;
                    free(c);
                }
            for (int k = 0; k < 2; k++)
                for (struct cnode *c = lists[k], *cn; c; c = cn) {
                    cn = c->next;
                    free(c);
                }
            pthread_mutex_destroy(&a->mu);
            free(a);
        }
        l->agents[b] = NULL;
    }
}

int ledger_open(struct ledger_store *st, int64_t now_ms, struct ledger **out, char *err,
                size_t errlen)
{
    struct ledger *l = calloc(1, sizeof *l);
    if (!l) {
        if (st)
            st->ops->close(st);
        return -ENOMEM;
    }
    pthread_rwlock_init(&l->map_lock, NULL);
    l->st = st;
    l->next_id = 1;
    if (!now_ms)
        now_ms = wall_ms();
    if (!st) {
        *out = l;
        return 0;
    }
    struct replay *rp = calloc(1, sizeof *rp);
    int rc = -ENOMEM;
    struct ledger_rec *snap = NULL;
    size_t n_snap = 0;
    if (!rp)
        goto fail;
    rp->l = l;
    uint64_t damaged = 0;
    if ((rc = st->ops->load(st, on_rec, rp, &damaged)) != 0) {
        snprintf(err, errlen, "ledger: cannot replay the journal: %s",
                 rc < 0 ? strerror(-rc) : ledger_strerror(LEDGER_ERR_CORRUPT));
        goto fail;
    }
    l->stats.damaged = damaged;
    /* Reservations open at the crash: the upstream may have served them and the journal
     * cannot say how much; the worst case they were held at is charged, once. */
    for (size_t b = 0; b < PENDING_BUCKETS; b++)
        for (struct pending *p = rp->p[b], *pn; p; p = pn) {
            pn = p->next;
            if (rc == 0)
                rc = charge(l, &p->r, p->r.usd_p, p->r.tokens, p->r.t_ms, 1, 1, 1);
            l->stats.recovered_open++;
            l->stats.estimated++;
            free(p);
        }
    memset(rp->p, 0, sizeof rp->p);
    if (rc != 0)
        goto fail;
    l->next_id = rp->max_id + 1;
    if ((rc = snapshot(l, now_ms, &snap, &n_snap)) != 0)
        goto fail;
    /* The N record of an older snapshot may name a higher id: keep ids growing. */
    if ((rc = st->ops->replace(st, snap, n_snap)) != 0) {
        snprintf(err, errlen, "ledger: cannot write the journal's snapshot: %s", strerror(-rc));
        goto fail;
    }
    free(snap);
    free(rp);
    *out = l;
    return 0;
fail:
    if (rp)
        for (size_t b = 0; b < PENDING_BUCKETS; b++)
            for (struct pending *p = rp->p[b], *pn; p; p = pn) {
                pn = p->next;
                free(p);
            }
    free(rp);
    free(snap);
    st->ops->close(st);
    free_counters(l);
    pthread_rwlock_destroy(&l->map_lock);
    free(l);
    if (rc > 0)
        rc = LEDGER_ERR_CORRUPT;
    return rc;
}

void ledger_close(struct ledger *l)
{
    if (!l)
        return;
    if (l->st)
        l->st->ops->close(l->st);
    free_counters(l);
    pthread_rwlock_destroy(&l->map_lock);
    free(l);
}
