/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control groups for a run (see cgroup.h): find the hierarchies from /proc/self/mountinfo and
 * /proc/self/cgroup, make one group per hierarchy that holds a wanted controller, write the
 * limits, move processes in, kill what is inside and remove the groups. The probe of the
 * calling process's own limits (sandbox_cgroup_limit_of_self) runs in the shim's constructor,
 * so it uses no stdio and allocates nothing; join runs between fork and exec, so it is
 * async-signal-safe.
 */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_PATH 1024
#define CG_MAX_DIRS 3 /* a v2 group and up to two v1 groups (pids, memory) */

struct cg_dir {
    enum sandbox_cgroup_kind kind;
    char path[CG_PATH];
    char procs[CG_PATH + 16];
};

struct sandbox_cgroup {
    size_t n;
    struct cg_dir dirs[CG_MAX_DIRS];
    int held[2];                /* per enum sandbox_cgroup_res: index in dirs, or -1 */
    char file[2][CG_PATH + 32]; /* the limit file of each held resource */
};

/* ---------------------------------------------------------------- small file helpers */

/* Read at most len - 1 bytes of path into buf, NUL-terminated. Bytes read or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(s);
    ssize_t n;
    do
        n = write(fd, s, len);
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : (size_t)n == len ? 0 : EIO;
    close(fd);
    return -e;
}

/* dst = a + b, or -ENAMETOOLONG. */
static int join_path(char *dst, size_t len, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb >= len)
        return -ENAMETOOLONG;
    memmove(dst, a, la);
    memcpy(dst + la, b, lb + 1);
    return 0;
}

/* An error message; long paths in it are cut rather than overrun err. */
__attribute__((format(printf, 3, 4))) static void say(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Word w is in the list s, whose words are separated by any of seps. */
static int has_word(const char *s, const char *w, const char *seps)
{
    size_t wl = strlen(w);
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, seps);
        if (n == wl && memcmp(p, w, wl) == 0)
            return 1;
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

/* Lines of a file of any size, read through a fixed buffer; a line longer than the buffer is
 * skipped whole. */
struct lines {
    int fd, eof, skipping; /* skipping: the rest of a line too long for buf */
    size_t len, off;
    char buf[8192];
};

static int lines_open(struct lines *l, const char *path)
{
    l->fd = open(path, O_RDONLY | O_CLOEXEC);
    l->eof = l->skipping = 0;
    l->len = l->off = 0;
    return l->fd < 0 ? -errno : 0;
}

static char *lines_next(struct lines *l)
{
    for (;;) {
        char *nl = memchr(l->buf + l->off, '\n', l->len - l->off);
        if (nl) {
            *nl = '\0';
            char *line = l->buf + l->off;
            l->off = (size_t)(nl - l->buf) + 1;
            if (l->skipping) {
                l->skipping = 0;
                continue;
            }
            return line;
        }
        if (l->eof) {
            if (l->off < l->len && !l->skipping) { /* a last line without a newline */
                l->buf[l->len < sizeof l->buf ? l->len : sizeof l->buf - 1] = '\0';
                char *line = l->buf + l->off;
                l->off = l->len;
                return line;
            }
            return NULL;
        }
        memmove(l->buf, l->buf + l->off, l->len - l->off);
        l->len -= l->off;
        l->off = 0;
        if (l->len == sizeof l->buf - 1) { /* one line fills the buffer: drop it whole */
            l->len = 0;
            l->skipping = 1;
        }
        ssize_t n = read(l->fd, l->buf + l->len, sizeof l->buf - 1 - l->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            l->eof = 1;
        else
            l->len += (size_t)n;
    }
}

static void lines_close(struct lines *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

/* ---------------------------------------------------------------- hierarchies */

struct hier {
    enum sandbox_cgroup_kind kind;
    char mount[CG_PATH]; /* where the hierarchy is mounted */
    char own[CG_PATH];   /* the caller's group, relative to the mount ("" for its root) */
};

static const char *controller_of(enum sandbox_cgroup_res res)
{
    return res == SANDBOX_CGROUP_PIDS ? "pids" : "memory";
}

/* Split a mountinfo line into its mount root, mount point, type and super options. */
static int mountinfo_fields(char *line, char **root, char **mnt, char **type, char **opts)
{
    char *f[6] = {0};
    char *save = NULL, *t = strtok_r(line, " ", &save);
    for (int i = 0; t && i < 5; i++, t = strtok_r(NULL, " ", &save))
        f[i] = t;
    /* optional fields, then "-", then type, source, super options */
    while (t && strcmp(t, "-") != 0)
        t = strtok_r(NULL, " ", &save);
    if (!t || !f[4])
        return -1;
    *type = strtok_r(NULL, " ", &save);
    (void)strtok_r(NULL, " ", &save); /* source */
    *opts = strtok_r(NULL, " ", &save);
    *root = f[3];
    *mnt = f[4];
    return *type && *opts ? 0 : -1;
}

/*
 * The hierarchy of kind (v2, or the v1 hierarchy that holds controller) and the caller's
 * group in it. 0, or -ENOENT when there is none (or it is mounted where we cannot tell).
 */
static int find_hier(enum sandbox_cgroup_kind kind, const char *controller, struct hier *h)
{
    struct lines l;
    char root[CG_PATH] = "";
    int found = 0;
    h->kind = kind;
    if (lines_open(&l, "/proc/self/mountinfo") != 0)
        return -ENOENT;
    for (char *line; !found && (line = lines_next(&l));) {
        char *mroot, *mnt, *type, *opts;
        if (strchr(line, '\\') || mountinfo_fields(line, &mroot, &mnt, &type, &opts) != 0)
            continue; /* escaped characters in a path: not one of ours */
        if (kind == SANDBOX_CGROUP_V2
                ? strcmp(type, "cgroup2") != 0
                : strcmp(type, "cgroup") != 0 || !has_word(opts, controller, ","))
            continue;
        if (strlen(mnt) >= sizeof h->mount || strlen(mroot) >= sizeof root)
            continue;
        memcpy(h->mount, mnt, strlen(mnt) + 1);
        memcpy(root, mroot, strlen(mroot) + 1);
        found = 1;
    }
    lines_close(&l);
    if (!found)
        return -ENOENT;
    found = 0;
    if (lines_open(&l, "/proc/self/cgroup") != 0)
        return -ENOENT;
    for (char *line; !found && (line = lines_next(&l));) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        int match = kind == SANDBOX_CGROUP_V2 ? strncmp(line, "0:", 2) == 0 && !*ctrls
                                              : has_word(ctrls, controller, ",");
        if (!match)
            continue;
        /* relative to the mount's root: a bind mount of a subtree shows only that subtree */
        size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
        if (rl && (strncmp(path, root, rl) != 0 || (path[rl] && path[rl] != '/')))
            continue;
        path += rl;
        if (strcmp(path, "/") == 0)
            path = "";
        if (strlen(path) >= sizeof h->own)
            continue;
        memcpy(h->own, path, strlen(path) + 1);
        found = 1;
    }
    lines_close(&l);
    return found ? 0 : -ENOENT;
}

/* The limit in file, or 0 for none ("max", or v1's "unlimited" of about 2^63). */
static uint64_t read_limit(const char *file, int *exists)
{
    char buf[64];
    ssize_t n = read_small(file, buf, sizeof buf);
    *exists = n >= 0;
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || v >= (1ULL << 62))
        return 0;
    return v;
}

static const char *limit_file(enum sandbox_cgroup_kind kind, enum sandbox_cgroup_res res)
{
    if (res == SANDBOX_CGROUP_PIDS)
        return "/pids.max";
    return kind == SANDBOX_CGROUP_V2 ? "/memory.max" : "/memory.limit_in_bytes";
}

uint64_t sandbox_cgroup_limit_of_self(enum sandbox_cgroup_res res, enum sandbox_cgroup_kind *kind,
                                      char *file, size_t filelen)
{
    static const enum sandbox_cgroup_kind kinds[] = {SANDBOX_CGROUP_V2, SANDBOX_CGROUP_V1};
    uint64_t best = 0;
    *kind = SANDBOX_CGROUP_NONE;
    if (filelen)
        file[0] = '\0';
    for (size_t k = 0; k < 2; k++) {
        struct hier h;
        if (find_hier(kinds[k], controller_of(res), &h) != 0)
            continue;
        /* the caller's group, then each ancestor up to the hierarchy's root */
        char rel[CG_PATH];
        memcpy(rel, h.own, strlen(h.own) + 1);
        for (;;) {
            char dir[CG_PATH], f[CG_PATH + 32];
            int exists;
            if (join_path(dir, sizeof dir, h.mount, rel) == 0 &&
                join_path(f, sizeof f, dir, limit_file(kinds[k], res)) == 0) {
                uint64_t v = read_limit(f, &exists);
                if (v && (!best || v < best)) {
                    best = v;
                    *kind = kinds[k];
                    if (filelen)
                        snprintf(file, filelen, "%s", f);
                }
            }
            char *slash = strrchr(rel, '/');
            if (!slash)
                break;
            *slash = '\0';
        }
    }
    return best;
}

/* ---------------------------------------------------------------- a group for a run */

/* Remove the empty groups that launchers of this pid namespace left when they died. */
static void sweep_stale(const char *parent, const char *prefix)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    size_t pl = strlen(prefix);
    for (struct dirent *de; (de = readdir(d));) {
        if (strncmp(de->d_name, prefix, pl) != 0)
            continue;
        char *end;
        long pid = strtol(de->d_name + pl, &end, 10);
        if (pid <= 0 || *end != '-' || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its launcher lives (or the pid was reused: leave it) */
        char path[CG_PATH];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", parent, de->d_name) < sizeof path)
            (void)rmdir(path); /* fails, harmlessly, while processes are inside */
    }
    closedir(d);
}

/* Make parent/name; on success record it in g and return its index. */
static int make_dir(struct sandbox_cgroup *g, enum sandbox_cgroup_kind kind, const char *parent,
                    const char *name, char *err, size_t errlen)
{
    struct cg_dir *d = &g->dirs[g->n];
    if ((size_t)snprintf(d->path, sizeof d->path, "%s/%s", parent, name) >= sizeof d->path ||
        join_path(d->procs, sizeof d->procs, d->path, "/cgroup.procs") != 0) {
        say(err, errlen, "cgroup: the path of a group beneath %s is too long", parent);
        return -ENAMETOOLONG;
    }
    if (mkdir(d->path, 0755) != 0) {
        int e = errno;
        say(err, errlen,
            "cgroup: cannot create %s: %s (a group for a run can be made by root, or in "
            "a delegated subtree this user may write)",
            d->path, strerror(e));
        return -e;
    }
    d->kind = kind;
    return (int)g->n++;
}

/* Write the limit of res into dir; 0 when it is in place (read back), else -errno. */
static int write_limit(struct sandbox_cgroup *g, int dir, enum sandbox_cgroup_res res,
                       uint64_t value, char *err, size_t errlen)
{
    const struct cg_dir *d = &g->dirs[dir];
    char f[CG_PATH + 32], v[32], extra[CG_PATH + 32];
    snprintf(v, sizeof v, "%llu", (unsigned long long)value);
    int rc = join_path(f, sizeof f, d->path, limit_file(d->kind, res));
    if (rc == 0)
        rc = write_str(f, v);
    if (rc != 0) {
        say(err, errlen, "cgroup: cannot write %s to %s: %s", v, f, strerror(-rc));
        return rc;
    }
    if (res == SANDBOX_CGROUP_MEMORY) {
        /* swap counts too: a memory limit that swap could stretch is no limit. v2: no swap
         * for the group; v1: memory and swap together at the same value. Absent files
         * (no swap accounting) are fine. */
        const char *sw =
            d->kind == SANDBOX_CGROUP_V2 ? "/memory.swap.max" : "/memory.memsw.limit_in_bytes";
        if (join_path(extra, sizeof extra, d->path, sw) == 0 && access(extra, F_OK) == 0 &&
            (rc = write_str(extra, d->kind == SANDBOX_CGROUP_V2 ? "0" : v)) != 0) {
            say(err, errlen, "cgroup: cannot write %s: %s", extra, strerror(-rc));
            return rc;
        }
    }
    int exists;
    uint64_t got = read_limit(f, &exists);
    if (!got || got > value) {
        say(err, errlen, "cgroup: %s does not hold %s after writing it", f, v);
        return -EIO;
    }
    int idx = (int)res;
    g->held[idx] = dir;
    snprintf(g->file[idx], sizeof g->file[idx], "%s", f);
    return 0;
}

/* The v2 parent for a new group: the caller's group or its nearest ancestor that enables
 * every controller of need for its children. "" is the root. -ENOENT when none does. */
static int v2_parent(const struct hier *h, const char *const *need, size_t nneed, char *rel,
                     size_t rellen)
{
    snprintf(rel, rellen, "%s", h->own);
    for (;;) {
        char dir[CG_PATH], f[CG_PATH + 32], ctl[512];
        if (join_path(dir, sizeof dir, h->mount, rel) == 0 &&
            join_path(f, sizeof f, dir, "/cgroup.subtree_control") == 0) {
            if (read_small(f, ctl, sizeof ctl) >= 0) {
                size_t ok = 0;
                for (size_t i = 0; i < nneed; i++)
                    ok += has_word(ctl, need[i], " \n") ? 1 : 0;
                if (ok == nneed)
                    return 0;
            }
        }
        char *slash = strrchr(rel, '/');
        if (!slash)
            return -ENOENT;
        *slash = '\0';
    }
}

int sandbox_cgroup_create(const struct sandbox_cgroup_want *want, struct sandbox_cgroup **out,
                          char *err, size_t errlen)
{
    int rc = -ENOTSUP, first_err = 0;
    char why[512] = "", name[96], prefix[64], parent[CG_PATH];
    struct sandbox_cgroup *g = NULL;
    const uint64_t values[2] = {want->processes, want->memory};
    *out = NULL;
    if (!values[0] && !values[1]) {
        say(err, errlen, "cgroup: no limit was asked for");
        return -EINVAL;
    }
    if (!(g = calloc(1, sizeof *g))) {
        say(err, errlen, "cgroup: out of memory");
        return -ENOMEM;
    }
    g->held[0] = g->held[1] = -1;
    struct stat ns;
    uint32_t rnd = 0;
    if (stat("/proc/self/ns/pid", &ns) != 0)
        ns.st_ino = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    snprintf(prefix, sizeof prefix, "cordon-%lu-", (unsigned long)ns.st_ino);
    snprintf(name, sizeof name, "%s%ld-%08x", prefix, (long)getpid(), rnd);

    /* v2 first, for each wanted controller it offers */
    struct hier h2;
    const char *need[2];
    enum sandbox_cgroup_res need_res[2];
    size_t nneed = 0;
    if (find_hier(SANDBOX_CGROUP_V2, NULL, &h2) == 0) {
        char ctl[512], f[CG_PATH + 32];
        if (join_path(f, sizeof f, h2.mount, "/cgroup.controllers") == 0 &&
            read_small(f, ctl, sizeof ctl) >= 0)
            for (int r = 0; r < 2; r++)
                if (values[r] && has_word(ctl, controller_of((enum sandbox_cgroup_res)r), " \n")) {
                    need[nneed] = controller_of((enum sandbox_cgroup_res)r);
                    need_res[nneed++] = (enum sandbox_cgroup_res)r;
                }
    }
    if (nneed) {
        char rel[CG_PATH];
        if (v2_parent(&h2, need, nneed, rel, sizeof rel) != 0) {
            say(why, sizeof why,
                "cgroup v2 at %s offers %s but no group above this "
                "process enables it for its children",
                h2.mount, need[0]);
        } else if (join_path(parent, sizeof parent, h2.mount, rel) == 0) {
            sweep_stale(parent, prefix);
            int d = make_dir(g, SANDBOX_CGROUP_V2, parent, name, why, sizeof why);
            if (d < 0)
                first_err = d;
            for (size_t i = 0; d >= 0 && i < nneed; i++)
                if ((rc = write_limit(g, d, need_res[i], values[need_res[i]], why, sizeof why)) !=
                        0 &&
                    !first_err)
                    first_err = rc;
        }
    }
    /* v1 for what v2 did not take */
    for (int r = 0; r < 2; r++) {
        enum sandbox_cgroup_res res = (enum sandbox_cgroup_res)r;
        struct hier h1;
        if (!values[r] || g->held[r] >= 0)
            continue;
        if (find_hier(SANDBOX_CGROUP_V1, controller_of(res), &h1) != 0) {
            if (!why[0])
                say(why, sizeof why,
                    "cgroup: no hierarchy offers the %s controller "
                    "(neither cgroup v2 nor a v1 mount)",
                    controller_of(res));
            continue;
        }
        if (join_path(parent, sizeof parent, h1.mount, h1.own) != 0)
            continue;
        int d = -1;
        for (size_t i = 0; i < g->n; i++) /* co-mounted controllers share one directory */
            if (g->dirs[i].kind == SANDBOX_CGROUP_V1 &&
                strncmp(g->dirs[i].path, parent, strlen(parent)) == 0 &&
                g->dirs[i].path[strlen(parent)] == '/')
                d = (int)i;
        if (d < 0) {
            if (g->n == CG_MAX_DIRS)
                continue;
            sweep_stale(parent, prefix);
            d = make_dir(g, SANDBOX_CGROUP_V1, parent, name, why, sizeof why);
            if (d < 0) {
                if (!first_err)
                    first_err = d;
                continue;
            }
        }
        if ((rc = write_limit(g, d, res, values[r], why, sizeof why)) != 0 && !first_err)
            first_err = rc;
    }
    if (g->held[0] < 0 && g->held[1] < 0) {
        say(err, errlen, "%s", why[0] ? why : "cgroup: no group could be made");
        (void)sandbox_cgroup_destroy(g, NULL, 0);
        return first_err ? first_err : -ENOTSUP;
    }
    /* what could not be held is said, for the launcher to pass on (the sandbox falls back
     * to an rlimit for it) */
    if ((values[0] && g->held[0] < 0) || (values[1] && g->held[1] < 0))
        say(err, errlen, "%s", why);
    else if (errlen)
        err[0] = '\0';
    /* a directory that holds nothing (its limit failed) goes again */
    for (size_t i = 0; i < g->n; i++)
        if ((int)i != g->held[0] && (int)i != g->held[1]) {
            (void)rmdir(g->dirs[i].path);
            g->dirs[i].procs[0] = '\0';
        }
    *out = g;
    return 0;
}

enum sandbox_cgroup_kind sandbox_cgroup_holds(const struct sandbox_cgroup *g,
                                              enum sandbox_cgroup_res res, const char **file)
{
    if (!g || g->held[res] < 0)
        return SANDBOX_CGROUP_NONE;
    if (file)
        *file = g->file[res];
    return g->dirs[g->held[res]].kind;
}

int sandbox_cgroup_join(const struct sandbox_cgroup *g, pid_t pid)
{
    char num[24];
    size_t n = sizeof num;
    unsigned long v = (unsigned long)(pid > 0 ? pid : 0);
    num[--n] = '\0';
    do
        num[--n] = (char)('0' + v % 10);
    while ((v /= 10) && n);
    for (size_t i = 0; i < g->n; i++) {
        if (!g->dirs[i].procs[0])
            continue;
        int fd = open(g->dirs[i].procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        ssize_t w = write(fd, num + n, sizeof num - 1 - n);
        int e = w < 0 ? errno : 0;
        close(fd);
        if (e)
            return -e;
    }
    return 0;
}

/* Call fn for each pid listed in procs; returns how many, or -errno. */
static int each_pid(const char *procs, void (*fn)(pid_t))
{
    struct lines l;
    int rc = lines_open(&l, procs), n = 0;
    if (rc != 0)
        return rc;
    for (char *line; (line = lines_next(&l));) {
        char *end;
        long pid = strtol(line, &end, 10);
        if (pid <= 0 || *end)
            continue;
        if (fn)
            fn((pid_t)pid);
        n++;
    }
    lines_close(&l);
    return n;
}

static const struct cg_dir *first_dir(const struct sandbox_cgroup *g)
{
    for (size_t i = 0; g && i < g->n; i++)
        if (g->dirs[i].procs[0])
            return &g->dirs[i];
    return NULL;
}

int sandbox_cgroup_count(const struct sandbox_cgroup *g)
{
    const struct cg_dir *d = first_dir(g);
    return d ? each_pid(d->procs, NULL) : -ENOENT;
}

static void kill_one(pid_t pid)
{
    (void)kill(pid, SIGKILL);
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int sandbox_cgroup_kill(const struct sandbox_cgroup *g)
{
    const struct cg_dir *d0 = first_dir(g);
    if (!d0)
        return -ENOENT;
    int first = each_pid(d0->procs, NULL);
    if (first < 0)
        return first;
    if (first == 0)
        return 0;
    for (size_t i = 0; i < g->n; i++) {
        char f[CG_PATH + 32];
        if (g->dirs[i].procs[0] && g->dirs[i].kind == SANDBOX_CGROUP_V2 &&
            join_path(f, sizeof f, g->dirs[i].path, "/cgroup.kill") == 0)
            (void)write_str(f, "1"); /* atomic where the kernel has it (5.14+) */
    }
    /* every listed process, again until none is listed: a process forking while we read
     * cannot outrun this, since one with SIGKILL pending forks no more */
    for (int round = 0; round < 2000; round++) {
        int left = 0;
        for (size_t i = 0; i < g->n; i++)
            if (g->dirs[i].procs[0]) {
                int n = each_pid(g->dirs[i].procs, kill_one);
                left += n > 0 ? n : 0;
            }
        if (!left)
            return first;
        pause_ms(1);
    }
    return -EBUSY;
}

unsigned long sandbox_cgroup_oom_kills(const struct sandbox_cgroup *g)
{
    if (!g || g->held[SANDBOX_CGROUP_MEMORY] < 0)
        return 0;
    const struct cg_dir *d = &g->dirs[g->held[SANDBOX_CGROUP_MEMORY]];
    char f[CG_PATH + 32], buf[1024];
    if (join_path(f, sizeof f, d->path,
                  d->kind == SANDBOX_CGROUP_V2 ? "/memory.events" : "/memory.oom_control") != 0 ||
        read_small(f, buf, sizeof buf) < 0)
        return 0;
    const char *k = strstr(buf, "oom_kill ");
    return k ? strtoul(k + strlen("oom_kill "), NULL, 10) : 0;
}

int sandbox_cgroup_destroy(struct sandbox_cgroup *g, char *err, size_t errlen)
{
    int rc = 0;
    if (!g)
        return 0;
    if (first_dir(g))
        (void)sandbox_cgroup_kill(g);
    for (size_t i = g->n; i-- > 0;) {
        if (!g->dirs[i].procs[0])
            continue;
        int e = 0;
        /* a process just killed may take a moment to leave the group */
        for (int tries = 0; tries < 200; tries++) {
            e = rmdir(g->dirs[i].path) == 0 || errno == ENOENT ? 0 : errno;
            if (e != EBUSY)
                break;
            pause_ms(5);
        }
        if (e && !rc) {
            rc = -e;
            if (err && errlen)
                say(err, errlen, "cgroup: cannot remove %s: %s", g->dirs[i].path, strerror(e));
        }
    }
    free(g);
    return rc;
}
