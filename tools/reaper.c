/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Finding and ending what a run left behind (see reaper.h). The descendants are read from
 * /proc: each task's `children` file (CONFIG_PROC_CHILDREN) walked from this process down,
 * or, on a kernel without those files, every /proc/PID/stat with its parent pid. The walk is
 * a snapshot of a tree that changes while it is read, so ending is a loop: signal what is
 * seen, look again, until a look finds nothing. A process being killed cannot fork any more,
 * and what it forked before is seen by the next look, so the loop ends.
 */
#include "tools/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/grow.h"

#define MAX_PROCS 65536   /* descendants looked at in one walk */
#define KILL_WAIT_MS 5000 /* how long SIGKILL is repeated before giving up */
#define POLL_MS 10

struct proc {
    pid_t pid;
    int zombie; /* exited, not yet reaped */
    int ours;   /* a child of this process */
};

/* The processes of one walk, with an index on pid: a walk of a large tree (a fork bomb) must
 * not cost the square of its size. */
struct plist {
    struct proc *v;
    size_t n, cap;
    size_t *slot; /* open addressing over 2 * cap slots: index + 1 into v, 0 when empty */
};

static size_t pid_hash(pid_t pid, size_t mask)
{
    return ((size_t)(uint32_t)pid * 2654435761u) & mask;
}

static int plist_has(const struct plist *l, pid_t pid)
{
    if (!l->slot)
        return 0;
    size_t mask = 2 * l->cap - 1;
    for (size_t h = pid_hash(pid, mask);; h = (h + 1) & mask) {
        size_t s = l->slot[h];
        if (!s)
            return 0;
        if (l->v[s - 1].pid == pid)
            return 1;
    }
}

static void plist_index(struct plist *l, size_t i)
{
    size_t mask = 2 * l->cap - 1, h = pid_hash(l->v[i].pid, mask);
    while (l->slot[h])
        h = (h + 1) & mask;
    l->slot[h] = i + 1;
}

static void plist_add(struct plist *l, pid_t pid, int zombie, int ours)
{
    if (l->n == l->cap) {
        size_t cap = l->cap; /* l->cap follows once the index is rebuilt for it */
        if (l->n + 1 > MAX_PROCS || GROW(&l->v, &cap, l->n + 1) != 0)
            return;
        size_t *slot = calloc(2 * cap, sizeof *slot);
        if (!slot)
            return; /* l->cap unchanged: the old index still covers the n entries */
        free(l->slot);
        l->slot = slot;
        l->cap = cap;
        for (size_t i = 0; i < l->n; i++)
            plist_index(l, i);
    }
    l->v[l->n] = (struct proc){pid, zombie, ours};
    plist_index(l, l->n++);
}

static void plist_free(struct plist *l)
{
    free(l->v);
    free(l->slot);
    memset(l, 0, sizeof *l);
}

static int is_kept(pid_t pid, const pid_t *keep, size_t nkeep)
{
    for (size_t i = 0; i < nkeep; i++)
        if (keep[i] > 0 && keep[i] == pid)
            return 1;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Read a small /proc file whole; returns its length or a negative errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap - 1)
            break;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The parent pid and state letter of pid, from /proc/PID/stat. 0, -ESRCH (gone) or -EINVAL
 * (unreadable). The command
 * name between the parentheses may hold anything, parentheses included: parse after the
 * last one. */
static int read_stat(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof buf) <= 0)
        return -ESRCH;
    char *rp = strrchr(buf, ')');
    int pp;
    char st;
    if (!rp || sscanf(rp + 1, " %c %d", &st, &pp) != 2)
        return -EINVAL;
    *ppid = (pid_t)pp;
    *state = st;
    return 0;
}

/* Append the children of every thread of pid to q. Returns 0, or -ENOENT when this kernel
 * has no children files (pid's task directory exists but the file does not). */
static int children_of(pid_t pid, struct plist *q)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0; /* gone */
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char buf[16384];
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
        if (read_small(path, buf, sizeof buf) < 0) {
            char task[96];
            snprintf(task, sizeof task, "/proc/%d/task/%.16s", (int)pid, de->d_name);
            if (errno == ENOENT && access(task, F_OK) == 0)
                rc = -ENOENT; /* the task is there, its children file is not */
            continue;
        }
        for (char *p = buf, *end; *p;) {
            long c = strtol(p, &end, 10);
            if (end == p)
                break;
            if (c > 0 && !plist_has(q, (pid_t)c))
                plist_add(q, (pid_t)c, 0, 0);
            p = end;
        }
    }
    closedir(d);
    return rc;
}

/* The descendants by /proc/PID/stat alone, for kernels without children files. */
static void collect_by_scan(struct plist *out, const pid_t *keep, size_t nkeep)
{
    struct {
        pid_t pid, ppid;
        int zombie;
    } *all = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_PROCS * 4) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        pid_t pp;
        char st;
        if (*end || pid <= 0 || read_stat((pid_t)pid, &pp, &st) != 0)
            continue;
        if (GROW(&all, &cap, n + 1) != 0)
            break;
        all[n].pid = (pid_t)pid;
        all[n].ppid = pp;
        all[n].zombie = st == 'Z' || st == 'X';
        n++;
    }
    closedir(d);
    /* This process's children, then theirs, one pass per generation. */
    pid_t self = getpid();
    for (size_t i = 0; i < n; i++)
        if (all[i].ppid == self && !is_kept(all[i].pid, keep, nkeep))
            plist_add(out, all[i].pid, all[i].zombie, 1);
    for (size_t grew = 1; grew;) {
        grew = 0;
        for (size_t i = 0; i < n; i++)
            if (!plist_has(out, all[i].pid) && plist_has(out, all[i].ppid) &&
                !is_kept(all[i].pid, keep, nkeep)) {
                size_t before = out->n;
                plist_add(out, all[i].pid, all[i].zombie, 0);
                grew |= out->n > before; /* not when MAX_PROCS is reached */
            }
    }
    free(all);
}

static int use_scan;

void reaper_use_scan(int on)
{
    use_scan = on;
}

/* Every descendant of this process outside keep[], with its state. */
static void collect(struct plist *out, const pid_t *keep, size_t nkeep)
{
    plist_free(out);
    struct plist q = {0};
    if (use_scan || children_of(getpid(), &q) == -ENOENT) {
        plist_free(&q);
        collect_by_scan(out, keep, nkeep);
        return;
    }
    for (size_t i = 0; i < q.n; i++)
        q.v[i].ours = 1;
    for (size_t i = 0; i < q.n; i++) {
        pid_t pid = q.v[i].pid, pp;
        char st;
        if (is_kept(pid, keep, nkeep) || plist_has(out, pid))
            continue;
        if (read_stat(pid, &pp, &st) != 0)
            continue; /* gone (reaped by its parent) */
        plist_add(out, pid, st == 'Z' || st == 'X', q.v[i].ours);
        if (st != 'Z' && st != 'X')
            (void)children_of(pid, &q);
    }
    plist_free(&q);
}

static unsigned running_in(const struct plist *l)
{
    unsigned n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += !l->v[i].zombie;
    return n;
}

static unsigned reap_in(const struct plist *l)
{
    unsigned n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].ours && l->v[i].zombie && waitpid(l->v[i].pid, NULL, WNOHANG) > 0)
            n++;
    return n;
}

unsigned reaper_count(const pid_t *keep, size_t nkeep)
{
    struct plist l = {0};
    collect(&l, keep, nkeep);
    unsigned n = running_in(&l);
    plist_free(&l);
    return n;
}

unsigned reaper_reap(const pid_t *keep, size_t nkeep)
{
    /* Only the direct children matter here: no need to walk the whole tree. */
    struct plist q = {0};
    unsigned n = 0;
    if (use_scan || children_of(getpid(), &q) == -ENOENT) {
        struct plist l = {0};
        collect_by_scan(&l, keep, nkeep);
        n = reap_in(&l);
        plist_free(&l);
    } else {
        for (size_t i = 0; i < q.n; i++)
            if (!is_kept(q.v[i].pid, keep, nkeep) && waitpid(q.v[i].pid, NULL, WNOHANG) > 0)
                n++;
    }
    plist_free(&q);
    return n;
}

void reaper_end(const pid_t *keep, size_t nkeep, long grace_ms, volatile sig_atomic_t *hurry,
                struct reaper_result *out)
{
    struct plist l = {0}, termed = {0}, killed = {0};
    memset(out, 0, sizeof *out);
    collect(&l, keep, nkeep);
    out->running = running_in(&l);
    if (out->running && grace_ms > 0) {
        long long deadline = clock_mono_ms() + grace_ms;
        for (;;) {
            for (size_t i = 0; i < l.n; i++) {
                if (l.v[i].zombie || plist_has(&termed, l.v[i].pid))
                    continue;
                kill(l.v[i].pid, SIGTERM);
                kill(l.v[i].pid, SIGCONT);
                plist_add(&termed, l.v[i].pid, 0, 0);
            }
            (void)reap_in(&l);
            if (clock_mono_ms() >= deadline || (hurry && *hurry))
                break;
            sleep_ms(POLL_MS);
            collect(&l, keep, nkeep);
            if (!running_in(&l))
                break;
        }
    }
    long long give_up = clock_mono_ms() + KILL_WAIT_MS;
    for (;;) {
        collect(&l, keep, nkeep);
        (void)reap_in(&l);
        if (!running_in(&l) || clock_mono_ms() >= give_up)
            break;
        for (size_t i = 0; i < l.n; i++) {
            if (l.v[i].zombie)
                continue;
            kill(l.v[i].pid, SIGKILL);
            if (!plist_has(&killed, l.v[i].pid))
                plist_add(&killed, l.v[i].pid, 0, 0);
        }
        sleep_ms(POLL_MS);
    }
    out->left = running_in(&l);
    out->killed = (unsigned)killed.n;
    unsigned termed_only = 0;
    for (size_t i = 0; i < termed.n; i++)
        termed_only += !plist_has(&killed, termed.v[i].pid);
    out->terminated = termed_only;
    plist_free(&l);
    plist_free(&termed);
    plist_free(&killed);
}
