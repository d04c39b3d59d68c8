/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handle cordond holds on the audit log. audit_open() forks the writer process
 * (audit_writer.c), which alone holds the key and the file; this side only sends frames over
 * a socket pair (audit_frame.h) and waits for the replies it asked for.
 *
 * Throughput comes from not waiting: an append that neither gates an action (AUDIT_SYNC) nor
 * asks for its seq sends one frame and returns; a flusher thread sends what gathered, and a
 * reader thread hands each reply to the caller waiting for it.
 */
#include "policy/audit/audit.h"
#include "policy/audit/audit_frame.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/audit/audit_read.h"
#include "policy/audit/note.h"

/* ---- the caller's handle ------------------------------------------------------------ */

struct waiter {
    uint64_t id;
    int done;
    struct frame_reply r;
    struct waiter *next;
};

/* Frames that nobody waits for are gathered and sent together: one system call for many
 * records is what lets a busy server keep up. A flusher thread sends a partial batch within
 * about a millisecond, so a quiet server's records do not sit in memory. */
#define SEND_CAP (256u * 1024)
#define SEND_FLUSH (64u * 1024)
#define SEND_DELAY_NS 1000000L

struct audit_log {
    int sock;
    pid_t pid;
    pthread_t reader, flusher;
    pthread_mutex_t send_lock; /* the send buffer and the socket's write side */
    pthread_cond_t send_cond;  /* the flusher waits for a non-empty buffer */
    char *sbuf;
    size_t slen;
    int send_failed, stopping;
    pthread_mutex_t lock; /* waiters, flags and counters below */
    pthread_cond_t cond;
    struct waiter *waiters;
    uint64_t next_id;
    int failed, closed;
    struct frame_reply last; /* the latest counters the writer sent */
    int reaped, wstatus;     /* the writer's exit, once audit_check() or close waited for it */
};

static void *reader_main(void *arg)
{
    struct audit_log *l = arg;
    struct frame_reply r;
    while (frame_read_all(l->sock, &r, sizeof r) == 0) {
        pthread_mutex_lock(&l->lock);
        l->last = r;
        if (r.failed)
            l->failed = 1;
        for (struct waiter *wt = l->waiters; wt && r.id; wt = wt->next)
            if (wt->id == r.id) {
                wt->r = r;
                wt->done = 1;
            }
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
    }
    pthread_mutex_lock(&l->lock);
    l->closed = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* Send the gathered frames; call with send_lock held. */
static void send_flush(struct audit_log *l)
{
    if (l->slen && !l->send_failed && frame_write_all(l->sock, l->sbuf, l->slen) != 0)
        l->send_failed = 1;
    l->slen = 0;
}

static void *flusher_main(void *arg)
{
    struct audit_log *l = arg;
    pthread_mutex_lock(&l->send_lock);
    while (!l->stopping) {
        if (l->slen == 0) {
            pthread_cond_wait(&l->send_cond, &l->send_lock);
            continue;
        }
        pthread_mutex_unlock(&l->send_lock);
        struct timespec d = {0, SEND_DELAY_NS};
        nanosleep(&d, NULL); /* let a burst gather */
        pthread_mutex_lock(&l->send_lock);
        send_flush(l);
    }
    send_flush(l);
    pthread_mutex_unlock(&l->send_lock);
    return NULL;
}

/* Send one frame and, when id is set, wait for its reply. */
static int roundtrip(struct audit_log *l, struct frame_hdr *h, const struct iovec *body, int nbody,
                     struct frame_reply *out)
{
    struct waiter wt = {0};
    int want = (h->flags & (FRAME_REPLY | FRAME_SYNC)) || h->type != FRAME_APPEND;
    pthread_mutex_lock(&l->lock);
    if (l->closed) {
        pthread_mutex_unlock(&l->lock);
        return l->failed ? AUDIT_ERR_IO : AUDIT_ERR_CLOSED;
    }
    if (l->failed && h->type == FRAME_APPEND) {
        pthread_mutex_unlock(&l->lock);
        return AUDIT_ERR_IO;
    }
    if (want) {
        h->flags |= FRAME_REPLY;
        h->id = wt.id = ++l->next_id;
        wt.next = l->waiters;
        l->waiters = &wt;
    }
    pthread_mutex_unlock(&l->lock);

    int rc = AUDIT_OK;
    size_t total = sizeof *h + h->len;
    pthread_mutex_lock(&l->send_lock);
    if (l->slen + total > SEND_CAP)
        send_flush(l);
    int was_empty = l->slen == 0;
    memcpy(l->sbuf + l->slen, h, sizeof *h);
    l->slen += sizeof *h;
    for (int i = 0; i < nbody; i++) {
        memcpy(l->sbuf + l->slen, body[i].iov_base, body[i].iov_len);
        l->slen += body[i].iov_len;
    }
    if (want || l->slen >= SEND_FLUSH)
        send_flush(l);
    else if (was_empty)
        pthread_cond_signal(&l->send_cond);
    if (l->send_failed)
        rc = AUDIT_ERR_CLOSED;
    pthread_mutex_unlock(&l->send_lock);

    pthread_mutex_lock(&l->lock);
    if (want) {
        while (rc == AUDIT_OK && !wt.done && !l->closed)
            pthread_cond_wait(&l->cond, &l->lock);
        for (struct waiter **pp = &l->waiters; *pp; pp = &(*pp)->next)
            if (*pp == &wt) {
                *pp = wt.next;
                break;
            }
        if (rc == AUDIT_OK && !wt.done)
            rc = l->failed ? AUDIT_ERR_IO : AUDIT_ERR_CLOSED;
        if (rc == AUDIT_OK) {
            rc = wt.r.status;
            if (out)
                *out = wt.r;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

int audit_open(const struct audit_config *cfg, struct audit_log **out, char *err, size_t errlen)
{
    int sv[2] = {-1, -1}, rc = AUDIT_ERR_INVALID;
    struct audit_log *l = NULL;
    struct frame_init init;
    *out = NULL;
    if (!cfg || !cfg->dir || !cfg->key_path || !cfg->origin || !note_origin_valid(cfg->origin)) {
        snprintf(err, errlen,
                 "audit: the configuration needs a directory, a key path and an "
                 "origin of 1-255 characters from [A-Za-z0-9._/:-] (got \"%s\")",
                 cfg && cfg->origin ? cfg->origin : "");
        return AUDIT_ERR_INVALID;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "audit: socketpair: %s", strerror(errno));
        return AUDIT_ERR_IO;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "audit: cannot start the writer process: %s", strerror(errno));
        rc = AUDIT_ERR_IO;
        goto out;
    }
    if (pid == 0) {
        /* The writer keeps stdio and its socket, nothing else of the caller's: no listening
         * sockets, no client connections, no other files. */
        close(sv[0]);
        int s = sv[1];
        if (s != 3) {
            if (dup2(s, 3) < 0)
                _exit(1);
            s = 3;
        }
        close_range(4, ~0U, 0);
        audit_writer_main(cfg, s);
        _exit(0);
    }
    close(sv[1]);
    sv[1] = -1;
    if (frame_read_all(sv[0], &init, sizeof init) != 0) {
        snprintf(err, errlen, "audit: the writer process exited before it was ready");
        rc = AUDIT_ERR_CLOSED;
        waitpid(pid, NULL, 0);
        goto out;
    }
    if (init.status != AUDIT_OK) {
        init.err[sizeof init.err - 1] = '\0';
        snprintf(err, errlen, "%s", init.err);
        rc = init.status;
        waitpid(pid, NULL, 0);
        goto out;
    }
    l = calloc(1, sizeof *l);
    if (!l) {
        rc = AUDIT_ERR_NOMEM;
        goto kill;
    }
    l->sock = sv[0];
    l->pid = pid;
    l->sbuf = malloc(SEND_CAP);
    pthread_mutex_init(&l->send_lock, NULL);
    pthread_cond_init(&l->send_cond, NULL);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    if (!l->sbuf || pthread_create(&l->reader, NULL, reader_main, l) != 0) {
        free(l->sbuf);
        free(l);
        l = NULL;
        rc = AUDIT_ERR_NOMEM;
        goto kill;
    }
    if (pthread_create(&l->flusher, NULL, flusher_main, l) != 0) {
        /* without a flusher, records that nobody waits for could sit unsent */
        shutdown(sv[0], SHUT_RDWR);
        pthread_join(l->reader, NULL);
        free(l->sbuf);
        free(l);
        l = NULL;
        rc = AUDIT_ERR_NOMEM;
        goto kill;
    }
    sv[0] = -1; /* transferred */
    *out = l;
    return AUDIT_OK;
kill:
    snprintf(err, errlen, "audit: out of memory starting the log");
    close(sv[0]);
    sv[0] = -1;
    waitpid(pid, NULL, 0);
out:
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}

int audit_append(struct audit_log *l, const char *kind, const char *agent, const char *fields,
                 unsigned flags, uint64_t *seq)
{
    if (!l)
        return AUDIT_ERR_CLOSED;
    size_t flen = fields ? strlen(fields) : 0;
    if (!audit_kind_valid(kind) || (agent && !audit_agent_valid(agent)) || flen > AUDIT_FIELDS_MAX)
        return AUDIT_ERR_INVALID;
    /* Checked here too so that a caller learns of its mistake without waiting; the writer
     * checks again and does not rely on this. A caller that vouches for its text
     * (AUDIT_TRUSTED) gets the cheap checks only: what a single-line record needs at least.
     * Whatever the flag, the writer validates every frame as if the caller were hostile. */
    if (flags & AUDIT_TRUSTED) {
        if (flen && (flen < 2 || fields[0] != '{' || fields[flen - 1] != '}' ||
                     memchr(fields, '\n', flen) || memchr(fields, '\r', flen)))
            return AUDIT_ERR_INVALID;
    } else if (!audit_fields_canonical(fields, flen)) {
        /* Text already in canonical form is valid fields (the writer's own test); only other
         * forms need the full parse to be judged. */
        cJSON *o = NULL;
        int st = audit_fields_parse(fields, flen, &o);
        cJSON_Delete(o);
        if (st != 0)
            return AUDIT_ERR_INVALID;
    }
    size_t klen = strlen(kind), alen = agent ? strlen(agent) : 0;
    struct frame_hdr h = {
        .len = (uint32_t)(klen + alen + flen),
        .type = FRAME_APPEND,
        .flags = (uint8_t)(((flags & AUDIT_SYNC) ? FRAME_SYNC : 0) | (seq ? FRAME_REPLY : 0)),
        .kind_len = (uint16_t)klen,
        .agent_len = (uint16_t)alen};
    struct iovec body[3] = {{(void *)kind, klen},
                            {(void *)(agent ? agent : ""), alen},
                            {(void *)(fields ? fields : ""), flen}};
    struct frame_reply r;
    int rc = roundtrip(l, &h, body, 3, &r);
    if (rc == AUDIT_OK && seq)
        *seq = r.seq;
    return rc;
}

void audit_stats_get(struct audit_log *l, struct audit_stats *s)
{
    struct frame_reply r;
    memset(s, 0, sizeof *s);
    if (!l)
        return;
    struct frame_hdr h = {.type = FRAME_STATS};
    if (roundtrip(l, &h, NULL, 0, &r) != AUDIT_OK) {
        pthread_mutex_lock(&l->lock);
        r = l->last;
        r.failed |= (uint32_t)l->failed;
        pthread_mutex_unlock(&l->lock);
    }
    s->records = r.records;
    s->synced = r.synced;
    s->checkpoints = r.checkpoints;
    s->last_checkpoint_size = r.last_checkpoint_size;
    s->failed = r.failed ? 1 : 0;
}

int audit_caller_socket(struct audit_log *l)
{
    return l ? l->sock : -1;
}

pid_t audit_writer_pid(struct audit_log *l)
{
    return l ? l->pid : -1;
}

/* How a process ended, as a person reads it. */
static void describe_exit(int st, char *why, size_t whylen)
{
    if (WIFSIGNALED(st))
        snprintf(why, whylen, "was killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st))
        snprintf(why, whylen, "exited with status %d", WEXITSTATUS(st));
    else
        snprintf(why, whylen, "ended (wait status 0x%x)", (unsigned)st);
}

int audit_check(struct audit_log *l, char *why, size_t whylen)
{
    if (!l) {
        snprintf(why, whylen, "the log is not open");
        return AUDIT_ERR_CLOSED;
    }
    pthread_mutex_lock(&l->lock);
    int closed = l->closed, failed = l->failed;
    pthread_mutex_unlock(&l->lock);
    if (!closed) {
        if (failed)
            snprintf(why, whylen,
                     "the writer (pid %d) could not write or sync the log; it "
                     "refuses every record until restarted",
                     (int)l->pid);
        return failed ? AUDIT_ERR_IO : AUDIT_OK;
    }
    /* The writer's end of the socket closed: it has exited or is about to. */
    for (int i = 0; i < 50 && !l->reaped; i++) {
        int st;
        pid_t r = waitpid(l->pid, &st, WNOHANG);
        if (r == l->pid) {
            l->reaped = 1;
            l->wstatus = st;
        } else if (r < 0 && errno != EINTR) {
            break; /* not our child any more (reaped by someone else) */
        } else {
            struct timespec d = {0, 10 * 1000 * 1000};
            nanosleep(&d, NULL);
        }
    }
    char how[128] = "closed its socket";
    if (l->reaped)
        describe_exit(l->wstatus, how, sizeof how);
    snprintf(why, whylen, "the audit writer process (pid %d) %s", (int)l->pid, how);
    return AUDIT_ERR_CLOSED;
}

int audit_close(struct audit_log *l)
{
    if (!l)
        return AUDIT_OK;
    struct frame_hdr h = {.type = FRAME_CLOSE};
    int rc = roundtrip(l, &h, NULL, 0, NULL);
    pthread_mutex_lock(&l->send_lock);
    l->stopping = 1;
    pthread_cond_signal(&l->send_cond);
    pthread_mutex_unlock(&l->send_lock);
    pthread_join(l->flusher, NULL);
    shutdown(l->sock, SHUT_RDWR);
    pthread_join(l->reader, NULL);
    int status = 0;
    while (!l->reaped && waitpid(l->pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(l->sock);
    free(l->sbuf);
    pthread_cond_destroy(&l->send_cond);
    pthread_mutex_destroy(&l->send_lock);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
    return rc;
}

const char *audit_strerror(int status)
{
    switch (status) {
    case AUDIT_OK:
        return "ok";
    case AUDIT_ERR_IO:
        return "the log could not be written or synced";
    case AUDIT_ERR_CORRUPT:
        return "the log is corrupt";
    case AUDIT_ERR_KEY:
        return "the signing key cannot be used";
    case AUDIT_ERR_INVALID:
        return "the record is not valid";
    case AUDIT_ERR_NOMEM:
        return "out of memory";
    case AUDIT_ERR_CLOSED:
        return "the audit writer process is gone";
    default:
        return err_is_errno(status) ? strerror(-status) : "unknown audit error";
    }
}
