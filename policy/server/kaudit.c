/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parser of the kernel's audit records and the mapper from Landlock domains and pids to
 * sessions (kaudit.h).
 */
#include "base/io.h"
#include "policy/server/kaudit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/jbuf.h"

/* ---------------------------------------------------------------- parser */

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A decimal (optionally negative) number of the whole of v[0..n); -EINVAL otherwise. */
static int num_of(const char *v, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (n > 0 && v[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 19)
        return -EINVAL;
    uint64_t x = 0;
    for (; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -EINVAL;
        x = x * 10 + (uint64_t)(v[i] - '0'); /* 19 digits fit in 64 bits unsigned */
    }
    if (x > (uint64_t)INT64_MAX)
        return -EINVAL;
    *out = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

/* A hexadecimal number of the whole of v[0..n) (a domain id, a seccomp code). */
static int hex_of(const char *v, size_t n, uint64_t *out)
{
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        v += 2;
        n -= 2;
    }
    if (n == 0 || n > 16)
        return -EINVAL;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval((unsigned char)v[i]);
        if (h < 0)
            return -EINVAL;
        x = x << 4 | (uint64_t)h;
    }
    *out = x;
    return 0;
}

/*
 * A string value: quoted ("..." as is), bare hex (the kernel's encoding of a string with a
 * space, a quote or a control character), or "(null)"/bare text for none. Cut to the buffer
 * with "..." at its end. Control characters that decode from hex become '?', so that what
 * reaches the audit log is one line of text.
 */
static void str_of(const char *v, size_t n, int quoted, char *out, size_t outlen)
{
    int hex = !quoted && n > 0 && n % 2 == 0;
    for (size_t i = 0; hex && i < n; i++)
        hex = hexval((unsigned char)v[i]) >= 0;
    /* "(null)", "?" or a plain word: kept as the kernel wrote it, unless it is none */
    if (!quoted && !hex && ((n == 6 && memcmp(v, "(null)", 6) == 0) || (n == 1 && v[0] == '?')))
        n = 0;
    size_t o = 0, step = hex ? 2 : 1;
    int cut = 0;
    for (size_t i = 0; i < n; i += step) {
        if (o + 1 >= outlen) {
            cut = 1;
            break;
        }
        int c = hex ? hexval((unsigned char)v[i]) << 4 | hexval((unsigned char)v[i + 1])
                    : (unsigned char)v[i];
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cut && outlen >= 4)
        memcpy(out + outlen - 4, "...", 3), o = outlen - 1;
    out[o] = '\0';
}

/* One field into r. Returns 0, or -EINVAL when a known number field does not parse. */
static int field(struct kaudit_rec *r, const char *k, size_t kn, const char *v, size_t vn,
                 int quoted)
{
#define KEY(s) (kn == sizeof(s) - 1 && memcmp(k, s, kn) == 0)
    int64_t x;
    uint64_t u;
    if (KEY("dest") || KEY("src") || KEY("fport") || KEY("lport") || KEY("opid")) {
        if (quoted || num_of(v, vn, &x) != 0 || x < 0)
            return 0; /* named only, never relied on: a value that does not parse is left out */
        if (KEY("opid"))
            r->opid = x;
        else if (KEY("dest") || KEY("fport") || !r->port)
            r->port = x; /* the destination wins over the source */
        return 0;
    }
    if (KEY("daddr") || KEY("faddr") || KEY("saddr") || KEY("laddr")) {
        if (!r->addr[0] || KEY("daddr") || KEY("faddr"))
            str_of(v, vn, quoted, r->addr, sizeof r->addr);
        return 0;
    }
    if (KEY("pid") || KEY("ppid") || KEY("syscall") || KEY("exit") || KEY("denials")) {
        if (quoted || num_of(v, vn, &x) != 0)
            return -EINVAL;
        if (KEY("pid"))
            r->pid = x;
        else if (KEY("ppid"))
            r->ppid = x;
        else if (KEY("syscall"))
            r->syscall = x;
        else if (KEY("exit"))
            r->exit_code = x;
        else
            r->denials = x;
    } else if (KEY("domain") || KEY("code") || KEY("arch")) {
        if (quoted || hex_of(v, vn, &u) != 0)
            return -EINVAL;
        if (KEY("domain"))
            r->domain = u;
        else if (KEY("code"))
            r->code = (int64_t)(u & 0xffffffffu);
        else
            r->arch = (int64_t)(u & 0xffffffffu);
    } else if (KEY("status")) {
        str_of(v, vn, quoted, r->status, sizeof r->status);
    } else if (KEY("blockers")) {
        str_of(v, vn, quoted, r->blockers, sizeof r->blockers);
    } else if (KEY("path")) {
        str_of(v, vn, quoted, r->path, sizeof r->path);
    } else if (KEY("exe")) {
        str_of(v, vn, quoted, r->exe, sizeof r->exe);
    }
    return 0;
#undef KEY
}

int kaudit_parse(int type, const char *text, size_t len, struct kaudit_rec *r)
{
    memset(r, 0, sizeof *r);
    r->type = type;
    r->pid = r->ppid = r->syscall = r->exit_code = r->denials = r->code = r->arch = -1;
    if (len > KAUDIT_TEXT_MAX)
        return -E2BIG;
    while (len > 0 && (text[len - 1] == '\0' || text[len - 1] == '\n'))
        len--;
    /* audit(SECONDS.MILLIS:SERIAL): */
    const char *p = text, *end = text + len;
    if (len < 6 || memcmp(p, "audit(", 6) != 0)
        return -EINVAL;
    p += 6;
    const char *dot = memchr(p, '.', (size_t)(end - p));
    const char *colon = dot ? memchr(dot, ':', (size_t)(end - dot)) : NULL;
    const char *close = colon ? memchr(colon, ')', (size_t)(end - colon)) : NULL;
    int64_t sec, ms, serial;
    if (!close || num_of(p, (size_t)(dot - p), &sec) != 0 ||
        num_of(dot + 1, (size_t)(colon - dot - 1), &ms) != 0 ||
        num_of(colon + 1, (size_t)(close - colon - 1), &serial) != 0 || sec < 0 || ms < 0 ||
        ms > 999 || serial < 0 || sec > INT64_MAX / 1000 - 1)
        return -EINVAL;
    r->stamp_ms = sec * 1000 + ms;
    r->serial = (uint64_t)serial;
    p = close + 1;
    if (p < end && *p == ':')
        p++;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *k = p;
        while (p < end && *p != '=' && *p != ' ')
            p++;
        if (p >= end || *p == ' ') /* a word with no value ("msg=..." parts): skipped */
            continue;
        size_t kn = (size_t)(p - k);
        p++; /* '=' */
        const char *v = p;
        int quoted = 0;
        if (p < end && *p == '"') {
            quoted = 1;
            v = ++p;
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (!q)
                return -EINVAL; /* an open quote: the record is cut or forged */
            p = q;
        } else if (p < end && *p == '\'') { /* msg='...': its own fields follow inside */
            p++;
            continue;
        } else {
            while (p < end && *p != ' ')
                p++;
        }
        size_t vn = (size_t)(p - v);
        if (quoted)
            p++; /* the closing quote */
        if (vn > 0 && !quoted && v[vn - 1] == '\'')
            vn--;
        if (kn > 0 && field(r, k, kn, v, vn, quoted) != 0)
            return -EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------------- mapper */

#define EVENTS_OPEN 64 /* events being gathered at once */
#define EVENT_RECS 8   /* records of interest in one event; more are counted, not kept */
#define DOMAINS 1024   /* domains known at once */
#define DOMAINS_TEXT "1,024"
#define ROOTS 1024      /* roots known at once */
#define PENDING 1024    /* refusals waiting for their root's report */
#define ANCESTRY_MAX 64 /* parents looked at for one pid */

struct event {
    int used;
    uint64_t serial;
    int64_t t_ms;
    int has_sys;
    struct kaudit_rec sys;
    size_t n;
    struct kaudit_rec recs[EVENT_RECS];
};

struct owner {
    char agent[KAUDIT_AGENT_MAX + 1];
    char session[KAUDIT_SESSION_MAX + 1];
};

struct domain {
    int used;
    uint64_t id;
    pid_t creator;
    int mapped;
    struct owner who;
    uint64_t received; /* its refusals that reached us */
    int64_t t_ms;
};

struct root {
    pid_t pid;
    struct owner who;
};

/* A Landlock refusal whose domain's owner is not known yet. */
struct pend {
    struct kaudit_rec sys, rec;
    int64_t t_ms;
};

/* A hook event, or a kernel refusal, that the other may link to. */
struct link {
    pid_t pid;
    int64_t t_ms;
    uint64_t serial; /* the kernel's refusal: its event serial */
    double event_ts; /* the hook's event: its timestamp */
    char session[KAUDIT_SESSION_MAX + 1];
    char kind[16], decision[8];
    char path[KAUDIT_PATH_MAX];
};

struct kaudit {
    pthread_mutex_t mu;
    struct kaudit_sink sink;
    struct kaudit_stats st;
    struct event ev[EVENTS_OPEN];
    struct domain dom[DOMAINS];
    struct root roots[ROOTS];
    size_t next_root;
    struct root *pids; /* a ring of KAUDIT_PIDS: processes seen on the event channel */
    size_t next_pid;
    struct link *hooks, *kernel; /* rings of KAUDIT_LINKS */
    size_t next_hook, next_kernel;
    struct pend *pend; /* a ring of PENDING */
    size_t pend_head, pend_n;
    int64_t now_ms;
};

int kaudit_new(const struct kaudit_sink *sink, struct kaudit **out)
{
    struct kaudit *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->pend = calloc(PENDING, sizeof *k->pend);
    k->pids = calloc(KAUDIT_PIDS, sizeof *k->pids);
    k->hooks = calloc(KAUDIT_LINKS, sizeof *k->hooks);
    k->kernel = calloc(KAUDIT_LINKS, sizeof *k->kernel);
    if (!k->pend || !k->pids || !k->hooks || !k->kernel) {
        free(k->pend);
        free(k->pids);
        free(k->hooks);
        free(k->kernel);
        free(k);
        return -ENOMEM;
    }
    k->sink = *sink;
    pthread_mutex_init(&k->mu, NULL);
    *out = k;
    return 0;
}

void kaudit_free(struct kaudit *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->mu);
    free(k->pend);
    free(k->pids);
    free(k->hooks);
    free(k->kernel);
    free(k);
}

static pid_t proc_parent(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (io_read_small(path, buf, sizeof buf) < 0)
        return -1;
    /* pid (comm) state ppid ...: comm may hold anything, so look after its last ')' */
    char *rp = strrchr(buf, ')');
    int ppid;
    char state;
    if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

static pid_t parent_of(struct kaudit *k, pid_t pid)
{
    return k->sink.parent ? k->sink.parent(k->sink.ud, pid) : proc_parent(pid);
}

static const struct root *root_of_pid(struct kaudit *k, pid_t pid)
{
    if (pid <= 0)
        return NULL;
    for (size_t i = 0; i < ROOTS; i++)
        if (k->roots[i].pid == pid)
            return &k->roots[i];
    /* the newest sighting first: a pid reused by a later session wins */
    for (size_t n = 0; n < KAUDIT_PIDS; n++) {
        const struct root *r = &k->pids[(k->next_pid + KAUDIT_PIDS - 1 - n) % KAUDIT_PIDS];
        if (r->pid == pid)
            return r;
        if (r->pid == 0)
            break;
    }
    return NULL;
}

/* The root pid belongs to, itself or its nearest known ancestor; first may name its parent
 * when the record did (ppid), for a process that has exited since. */
static const struct root *root_by_ancestry(struct kaudit *k, pid_t pid, pid_t ppid)
{
    const struct root *r = root_of_pid(k, pid);
    if (r)
        return r;
    pid_t p = ppid > 0 ? ppid : parent_of(k, pid);
    for (int i = 0; i < ANCESTRY_MAX && p > 1; i++) {
        if ((r = root_of_pid(k, p)) != NULL)
            return r;
        p = parent_of(k, p);
    }
    return NULL;
}

static struct domain *domain_find(struct kaudit *k, uint64_t id)
{
    for (size_t i = 0; i < DOMAINS; i++)
        if (k->dom[i].used && k->dom[i].id == id)
            return &k->dom[i];
    return NULL;
}

static void write_loss(struct kaudit *k, const struct domain *d, int64_t denials, const char *why);

/* The domain's slot, made when new (the oldest slot goes when the table is full, its loss
 * written as unknown). */
static struct domain *domain_get(struct kaudit *k, uint64_t id)
{
    struct domain *d = domain_find(k, id), *old = NULL;
    if (d)
        return d;
    for (size_t i = 0; i < DOMAINS; i++) {
        if (!k->dom[i].used) {
            old = &k->dom[i];
            break;
        }
        if (!old || k->dom[i].t_ms < old->t_ms)
            old = &k->dom[i];
    }
    if (old->used && old->who.session[0]) /* its count can no longer be compared: say so */
        write_loss(k, old, -1,
                   "cordond tracked as many domains as it holds (" DOMAINS_TEXT
                   ") and stopped tracking this one, the oldest: its later refusals, and the "
                   "kernel's count of them, are not attributed");
    memset(old, 0, sizeof *old);
    old->used = 1;
    old->id = id;
    old->t_ms = k->now_ms;
    return old;
}

/* The newest entry of ring for pid, session and path within KAUDIT_LINK_MS, or NULL. */
static const struct link *link_find(const struct kaudit *k, const struct link *ring, size_t next,
                                    pid_t pid, const char *session, const char *path)
{
    for (size_t n = 0; n < KAUDIT_LINKS; n++) {
        const struct link *l = &ring[(next + KAUDIT_LINKS - 1 - n) % KAUDIT_LINKS];
        if (l->pid == 0 || k->now_ms - l->t_ms > KAUDIT_LINK_MS)
            break;
        if (l->pid == pid && strcmp(l->session, session) == 0 && strcmp(l->path, path) == 0)
            return l;
    }
    return NULL;
}

static struct link *link_push(struct kaudit *k, struct link *ring, size_t *next, pid_t pid,
                              const char *session, const char *path)
{
    struct link *l = &ring[*next];
    *next = (*next + 1) % KAUDIT_LINKS;
    memset(l, 0, sizeof *l);
    l->pid = pid;
    l->t_ms = k->now_ms;
    snprintf(l->session, sizeof l->session, "%s", session);
    snprintf(l->path, sizeof l->path, "%s", path);
    return l;
}

/* 0 when the record was written (or there is no sink), -1 when it was not. */
static int emit(struct kaudit *k, const char *kind, const struct owner *who, struct jbuf *b)
{
    if (b->overflow) { /* cannot happen within the bounds above; counted should it */
        k->st.malformed++;
        return -1;
    }
    if (!k->sink.emit)
        return 0;
    if (k->sink.emit(k->sink.ud, kind, who->agent, b->p) != 0) {
        k->st.unwritten++;
        return -1;
    }
    return 0;
}

/* kernel.deny for one refusal: rec (1423 or 1326) with its event's SYSCALL record, if any. */
/* Returns 0 when the record was written: only then does it count as received, so that a
 * refusal the audit log could not take shows in the domain's loss. */
static int write_deny(struct kaudit *k, const struct owner *who, const struct kaudit_rec *sys,
                      const struct kaudit_rec *rec)
{
    /* every string escaped at worst doubles: path, exe, blockers, session, the hook's */
    char mem[KAUDIT_PATH_MAX * 2 + KAUDIT_NAME_MAX * 4 + 1024];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    int ll = rec->type == KAUDIT_LANDLOCK_ACCESS;
    int64_t pid = sys && sys->pid > 0 ? sys->pid : rec->pid;
    const char *exe = sys && sys->exe[0] ? sys->exe : rec->exe;
    int64_t nr = sys && sys->syscall >= 0 ? sys->syscall : rec->syscall;
    jbuf_raw(&b, "{");
    jbuf_key(&b, "session");
    jbuf_str(&b, who->session, 0);
    jbuf_key(&b, "mechanism");
    jbuf_str(&b, ll ? "landlock" : "seccomp", 0);
    jbuf_key(&b, "pid");
    jbuf_i64(&b, pid);
    if (sys && sys->ppid > 0) {
        jbuf_key(&b, "ppid");
        jbuf_i64(&b, sys->ppid);
    }
    jbuf_key(&b, "exe");
    jbuf_str(&b, exe, 0);
    jbuf_key(&b, "syscall");
    jbuf_i64(&b, nr);
    if (sys && sys->exit_code != -1) {
        jbuf_key(&b, "exit");
        jbuf_i64(&b, sys->exit_code);
    }
    if (ll) {
        char dom[24];
        snprintf(dom, sizeof dom, "%" PRIx64, rec->domain);
        jbuf_key(&b, "domain");
        jbuf_str(&b, dom, 0);
        jbuf_key(&b, "blockers");
        jbuf_str(&b, rec->blockers, 0);
        if (rec->addr[0]) {
            jbuf_key(&b, "address");
            jbuf_str(&b, rec->addr, 0);
        }
        if (rec->port) {
            jbuf_key(&b, "port");
            jbuf_i64(&b, rec->port);
        }
        if (rec->opid) {
            jbuf_key(&b, "target_pid");
            jbuf_i64(&b, rec->opid);
        }
        if (rec->path[0]) {
            jbuf_key(&b, "path");
            jbuf_str(&b, rec->path, 0);
            /* the hook event of the same access, when the hook let it reach the kernel */
            const struct link *h =
                link_find(k, k->hooks, k->next_hook, (pid_t)pid, who->session, rec->path);
            if (h) {
                jbuf_key(&b, "hook");
                jbuf_raw(&b, "{");
                jbuf_key(&b, "kind");
                jbuf_str(&b, h->kind, 0);
                jbuf_key(&b, "decision");
                jbuf_str(&b, h->decision, 0);
                jbuf_key(&b, "event_ts");
                jbuf_i64(&b, (int64_t)h->event_ts);
                jbuf_raw(&b, "}");
            }
            struct link *l =
                link_push(k, k->kernel, &k->next_kernel, (pid_t)pid, who->session, rec->path);
            l->serial = rec->serial;
        }
    } else {
        char code[24];
        snprintf(code, sizeof code, "0x%" PRIx64, (uint64_t)rec->code);
        jbuf_key(&b, "code");
        jbuf_str(&b, code, 0);
    }
    jbuf_key(&b, "serial");
    jbuf_u64(&b, rec->serial);
    jbuf_raw(&b, "}");
    if (emit(k, "kernel.deny", who, &b) != 0)
        return -1;
    k->st.denials++;
    return 0;
}

static void write_loss(struct kaudit *k, const struct domain *d, int64_t denials, const char *why)
{
    char mem[512];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    char dom[24];
    snprintf(dom, sizeof dom, "%" PRIx64, d->id);
    uint64_t lost =
        denials > 0 && (uint64_t)denials > d->received ? (uint64_t)denials - d->received : 0;
    jbuf_raw(&b, "{");
    jbuf_key(&b, "session");
    jbuf_str(&b, d->who.session, 0);
    jbuf_key(&b, "domain");
    jbuf_str(&b, dom, 0);
    /* a domain whose end never came: its count is not known, so neither is the loss */
    jbuf_key(&b, "denials");
    denials >= 0 ? jbuf_i64(&b, denials) : jbuf_raw(&b, "null");
    jbuf_key(&b, "received");
    jbuf_u64(&b, d->received);
    jbuf_key(&b, "lost");
    denials >= 0 ? jbuf_u64(&b, lost) : jbuf_raw(&b, "null");
    if (denials < 0) {
        jbuf_key(&b, "why");
        jbuf_str(&b,
                 why              ? why
                 : k->st.overruns ? "cordond's audit socket overflowed, and the kernel's count "
                                    "of the domain's refusals may have been among what it "
                                    "dropped"
                                  : "the domain had not ended when cordond stopped",
                 0);
    }
    jbuf_raw(&b, "}");
    emit(k, "kernel.loss", &d->who, &b);
    k->st.lost += lost;
}

static void pend_push(struct kaudit *k, const struct kaudit_rec *sys, const struct kaudit_rec *rec)
{
    if (k->pend_n == PENDING) { /* the oldest goes: its root never reported */
        k->st.unattributed++;
        k->pend_head = (k->pend_head + 1) % PENDING;
        k->pend_n--;
    }
    struct pend *p = &k->pend[(k->pend_head + k->pend_n) % PENDING];
    if (sys)
        p->sys = *sys;
    else
        memset(&p->sys, 0, sizeof p->sys), p->sys.type = 0;
    p->rec = *rec;
    p->t_ms = k->now_ms;
    k->pend_n++;
}

/* Write the held refusals whose domain is mapped now; with expire_ms, give up on those older
 * than it (ancestry, then unattributed). Keeps the order of the rest. */
static void pend_sweep(struct kaudit *k, int64_t expire_before)
{
    size_t n = k->pend_n, kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct pend p = k->pend[(k->pend_head + i) % PENDING];
        struct domain *d = domain_find(k, p.rec.domain);
        const struct kaudit_rec *sys = p.sys.type ? &p.sys : NULL;
        if (d && d->mapped) {
            if (write_deny(k, &d->who, sys, &p.rec) == 0)
                d->received++;
            continue;
        }
        if (p.t_ms < expire_before) {
            const struct root *r =
                sys ? root_by_ancestry(k, (pid_t)sys->pid, (pid_t)sys->ppid) : NULL;
            if (r) {
                if (write_deny(k, &r->who, sys, &p.rec) == 0 && d)
                    d->received++;
            } else {
                k->st.unattributed++;
            }
            continue;
        }
        k->pend[(k->pend_head + kept) % PENDING] = p;
        kept++;
    }
    k->pend_n = kept;
}

/* A domain's creator is known: map it when the creator is (or descends from) a root. */
static void domain_allocated(struct kaudit *k, const struct kaudit_rec *r)
{
    struct domain *d = domain_get(k, r->domain);
    d->creator = (pid_t)r->pid;
    if (d->mapped)
        return;
    const struct root *root = root_by_ancestry(k, d->creator, -1);
    if (root) {
        d->mapped = 1;
        d->who = root->who;
        k->st.domains++;
    }
}

/*
 * cordon's filter refuses prctl for one option only: the canary every shim asks once
 * (SANDBOX_CANARY_OPTION, sandbox/sandbox.h), which no agent's refusal is. The record names
 * neither the option nor the errno, so the system call and the architecture decide.
 */
static int is_canary(const struct kaudit_rec *r)
{
    if (r->code != KAUDIT_SECCOMP_ERRNO)
        return 0;
#if defined(__x86_64__)
    return (r->arch == AUDIT_ARCH_X86_64 && r->syscall == 157) ||
           (r->arch == AUDIT_ARCH_I386 && r->syscall == 172);
#elif defined(__aarch64__)
    return r->arch == AUDIT_ARCH_AARCH64 && r->syscall == 167;
#else
    return r->arch == -1 ? 0 : r->syscall == SYS_prctl;
#endif
}

static void finish(struct kaudit *k, struct event *e)
{
    const struct kaudit_rec *sys = e->has_sys ? &e->sys : NULL;
    /* the creator first: the allocated record follows the denial that caused it */
    for (size_t i = 0; i < e->n; i++)
        if (e->recs[i].type == KAUDIT_LANDLOCK_DOMAIN &&
            strcmp(e->recs[i].status, "allocated") == 0)
            domain_allocated(k, &e->recs[i]);
    for (size_t i = 0; i < e->n; i++) {
        const struct kaudit_rec *r = &e->recs[i];
        if (r->type == KAUDIT_LANDLOCK_ACCESS) {
            struct domain *d = domain_find(k, r->domain);
            if (d && d->mapped) {
                if (write_deny(k, &d->who, sys, r) == 0)
                    d->received++;
            } else {
                pend_push(k, sys, r);
            }
        } else if (r->type == KAUDIT_SECCOMP) {
            if (is_canary(r))
                continue;
            pid_t pid = (pid_t)(sys && sys->pid > 0 ? sys->pid : r->pid);
            const struct root *root = root_by_ancestry(k, pid, sys ? (pid_t)sys->ppid : -1);
            if (root)
                write_deny(k, &root->who, sys, r);
            else
                k->st.unattributed++;
        } else if (r->type == KAUDIT_LANDLOCK_DOMAIN && strcmp(r->status, "deallocated") == 0) {
            struct domain *d = domain_find(k, r->domain);
            if (!d)
                continue;
            pend_sweep(k, INT64_MIN); /* what is held for it counts as received */
            if (d->mapped)
                write_loss(k, d, r->denials, NULL);
            d->used = 0;
        }
    }
    e->used = 0;
}

static struct event *event_for(struct kaudit *k, uint64_t serial)
{
    struct event *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < EVENTS_OPEN; i++) {
        struct event *e = &k->ev[i];
        if (e->used && e->serial == serial)
            return e;
        if (!e->used && !free_slot)
            free_slot = e;
        if (e->used && (!oldest || e->t_ms < oldest->t_ms))
            oldest = e;
    }
    if (!free_slot) {
        finish(k, oldest);
        free_slot = oldest;
    }
    memset(free_slot, 0, offsetof(struct event, sys));
    free_slot->n = 0;
    free_slot->used = 1;
    free_slot->serial = serial;
    free_slot->t_ms = k->now_ms;
    return free_slot;
}

int kaudit_feed(struct kaudit *k, int type, const char *text, size_t len, int64_t now_ms)
{
    if (type != KAUDIT_SYSCALL && type != KAUDIT_EOE && type != KAUDIT_SECCOMP &&
        type != KAUDIT_LANDLOCK_ACCESS && type != KAUDIT_LANDLOCK_DOMAIN)
        return 0; /* PATH, CWD, PROCTITLE...: nothing this needs */
    struct kaudit_rec r;
    int rc = kaudit_parse(type, text, len, &r);
    pthread_mutex_lock(&k->mu);
    k->now_ms = now_ms;
    if (rc != 0) {
        k->st.malformed++;
        goto out;
    }
    k->st.records++;
    /* a deallocation comes from whatever context frees the domain: an event of its own */
    struct event *e = event_for(k, r.serial);
    if (type == KAUDIT_EOE) {
        finish(k, e);
    } else if (type == KAUDIT_SYSCALL) {
        e->sys = r;
        e->has_sys = 1;
    } else if (e->n < EVENT_RECS) {
        e->recs[e->n++] = r;
        /* seccomp decides before the system call's audit context begins: no SYSCALL record
         * follows, and the process may be gone soon, so its ancestry is read now */
        if (type == KAUDIT_SECCOMP && !e->has_sys)
            finish(k, e);
    } else {
        k->st.unattributed++; /* more refusals in one system call than kept: counted */
    }
out:
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static void tick_locked(struct kaudit *k, int64_t now_ms)
{
    k->now_ms = now_ms;
    for (size_t i = 0; i < EVENTS_OPEN; i++)
        if (k->ev[i].used && now_ms - k->ev[i].t_ms >= KAUDIT_EVENT_MS)
            finish(k, &k->ev[i]);
    pend_sweep(k, now_ms - KAUDIT_PEND_MS);
}

void kaudit_tick(struct kaudit *k, int64_t now_ms)
{
    pthread_mutex_lock(&k->mu);
    tick_locked(k, now_ms);
    pthread_mutex_unlock(&k->mu);
}

void kaudit_flush(struct kaudit *k)
{
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < EVENTS_OPEN; i++)
        if (k->ev[i].used)
            finish(k, &k->ev[i]);
    pend_sweep(k, INT64_MAX);
    /* a session's domain whose end was not seen: its loss is said to be unknown, not none */
    for (size_t i = 0; i < DOMAINS; i++)
        if (k->dom[i].used && k->dom[i].mapped) {
            write_loss(k, &k->dom[i], -1, NULL);
            k->dom[i].used = 0;
        }
    pthread_mutex_unlock(&k->mu);
}

void kaudit_root(struct kaudit *k, pid_t pid, const char *agent, const char *session)
{
    if (!k || pid <= 0 || !agent || !session)
        return;
    pthread_mutex_lock(&k->mu);
    struct root *r = NULL;
    for (size_t i = 0; i < ROOTS && !r; i++)
        if (k->roots[i].pid == pid)
            r = &k->roots[i];
    if (!r) { /* a ring: the oldest root is forgotten first */
        r = &k->roots[k->next_root];
        k->next_root = (k->next_root + 1) % ROOTS;
    }
    r->pid = pid;
    snprintf(r->who.agent, sizeof r->who.agent, "%s", agent);
    snprintf(r->who.session, sizeof r->who.session, "%s", session);
    /* its domain may have been named already (the deliberate denial comes before the report) */
    for (size_t i = 0; i < DOMAINS; i++) {
        struct domain *d = &k->dom[i];
        if (d->used && !d->mapped && d->creator > 0 && root_by_ancestry(k, d->creator, -1) == r) {
            d->mapped = 1;
            d->who = r->who;
            k->st.domains++;
        }
    }
    pend_sweep(k, INT64_MIN);
    pthread_mutex_unlock(&k->mu);
}

void kaudit_pid_seen(struct kaudit *k, pid_t pid, const char *agent, const char *session)
{
    if (!k || pid <= 0 || !agent || !session)
        return;
    pthread_mutex_lock(&k->mu);
    struct root *last = &k->pids[(k->next_pid + KAUDIT_PIDS - 1) % KAUDIT_PIDS];
    if (last->pid != pid || strcmp(last->who.session, session) != 0) {
        struct root *r = &k->pids[k->next_pid];
        k->next_pid = (k->next_pid + 1) % KAUDIT_PIDS;
        r->pid = pid;
        snprintf(r->who.agent, sizeof r->who.agent, "%s", agent);
        snprintf(r->who.session, sizeof r->who.session, "%s", session);
    }
    pthread_mutex_unlock(&k->mu);
}

uint64_t kaudit_hook_event(struct kaudit *k, pid_t pid, const char *session, const char *kind,
                           const char *decision, const char *path, double event_ts)
{
    if (!k || pid <= 0 || !session || !kind || !decision || !path || !path[0])
        return 0;
    pthread_mutex_lock(&k->mu);
    const struct link *kr = link_find(k, k->kernel, k->next_kernel, pid, session, path);
    uint64_t serial = kr ? kr->serial : 0;
    struct link *l = link_push(k, k->hooks, &k->next_hook, pid, session, path);
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    snprintf(l->decision, sizeof l->decision, "%s", decision);
    l->event_ts = event_ts;
    pthread_mutex_unlock(&k->mu);
    return serial;
}

size_t kaudit_live_domains(struct kaudit *k)
{
    size_t n = 0;
    pthread_mutex_lock(&k->mu);
    for (size_t i = 0; i < DOMAINS; i++)
        n += k->dom[i].used && k->dom[i].mapped;
    pthread_mutex_unlock(&k->mu);
    return n;
}

void kaudit_overrun(struct kaudit *k, uint64_t n)
{
    pthread_mutex_lock(&k->mu);
    k->st.overruns += n;
    pthread_mutex_unlock(&k->mu);
}

void kaudit_stats_get(struct kaudit *k, struct kaudit_stats *st)
{
    if (!k) {
        memset(st, 0, sizeof *st);
        return;
    }
    pthread_mutex_lock(&k->mu);
    *st = k->st;
    pthread_mutex_unlock(&k->mu);
}

int kaudit_mode_parse(const char *s, enum kaudit_mode *m)
{
    if (strcmp(s, "off") == 0)
        *m = KAUDIT_OFF;
    else if (strcmp(s, "on") == 0)
        *m = KAUDIT_ON;
    else if (strcmp(s, "if-enabled") == 0)
        *m = KAUDIT_IF_ENABLED;
    else
        return -EINVAL;
    return 0;
}
