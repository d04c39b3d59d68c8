/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log's writer process, in the spirit of OpenSSH's privilege separation: audit_open()
 * (audit.c) forks it and it alone loads the signing key, owns audit.jsonl and the Merkle
 * frontier, assigns seq/ts/prev and signs checkpoints over lines it wrote and synced itself.
 * The caller only sends frames over a socket pair (audit_frame.h); the writer re-validates each
 * one as if the caller were hostile, because after a compromise of the request handling it may
 * be.
 *
 * Throughput comes from not waiting: the writer drains whatever frames are queued, syncs once
 * for the lot (group commit), and only then answers the callers that wait, so a synced answer
 * always means the line is on disk.
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
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/jbuf.h"
#include "policy/audit/audit_read.h"
#include "policy/audit/merkle.h"
#include "policy/audit/note.h"
#include "policy/audit/sha256.h"
#include "policy/sign/key.h"

/* ---- the writer process ------------------------------------------------------------- */

struct waiter_reply {
    struct frame_reply r;
    int need_sync, is_append;
};

struct writer {
    const struct audit_config *cfg;
    int sock, fd, dirfd;
    struct key_secret *key;
    unsigned char pk[32];
    struct merkle_tree tree;
    unsigned char last_hash[32];
    uint64_t bytes; /* end of the last line written to the file */
    uint64_t synced;
    uint64_t checkpoints, last_cp_size;
    uint64_t since_cp; /* records written since the last checkpoint */
    int64_t last_cp_ms, first_unsynced_ms, last_anchor_ms;
    /* Lines built but not yet written: the lines of one batch of frames go to the file in
     * one write(), a record never split across two. The snapshot is the state before the
     * batch, restored if the write fails so that the chain only ever covers what is on file. */
    char *pend;
    size_t pend_len, pend_cap;
    struct merkle_tree snap_tree;
    unsigned char snap_hash[32];
    uint64_t snap_since_cp;
    int failed, told_failed;
    struct waiter_reply *replies;
    size_t nreplies, replies_cap;
    int64_t ts_ms; /* the time ts holds, formatted */
    char ts[40];
    struct bg_sync *bg; /* batch mode's background fdatasync, or NULL */
};

static unsigned cfg_or(unsigned v, unsigned dflt)
{
    return v ? v : dflt;
}

static void writer_fail(struct writer *w, const char *what, int err)
{
    if (!w->failed)
        fprintf(stderr,
                "cordon audit: %s %s/audit.jsonl failed: %s; the log refuses further "
                "records until cordond is restarted with space or the disk fixed\n",
                what, w->cfg->dir, strerror(err));
    w->failed = 1;
}

#define PEND_FLUSH (1u << 20)

/* Write the pending lines. On failure the file is cut back and the state restored: nothing
 * the caller was told is in the log is lost, and nothing half-written stays. */
static int writer_flush(struct writer *w)
{
    if (w->failed)
        return AUDIT_ERR_IO;
    if (w->pend_len == 0)
        return AUDIT_OK;
    ssize_t wr = write(w->fd, w->pend, w->pend_len);
    if (wr != (ssize_t)w->pend_len) {
        int e = wr < 0 ? errno : ENOSPC;
        if (wr > 0 && ftruncate(w->fd, (off_t)w->bytes) != 0)
            e = errno;
        w->tree = w->snap_tree;
        memcpy(w->last_hash, w->snap_hash, 32);
        w->since_cp = w->snap_since_cp;
        w->pend_len = 0;
        writer_fail(w, "writing to", e);
        return AUDIT_ERR_IO;
    }
    w->bytes += w->pend_len;
    w->pend_len = 0;
    return AUDIT_OK;
}

static int writer_sync(struct writer *w)
{
    if (writer_flush(w) != AUDIT_OK)
        return AUDIT_ERR_IO;
    if (w->synced == w->tree.size)
        return AUDIT_OK;
    if (fdatasync(w->fd) != 0) {
        writer_fail(w, "syncing", errno);
        return AUDIT_ERR_IO;
    }
    w->synced = w->tree.size;
    return AUDIT_OK;
}

/*
 * Batch mode's group commit runs beside the writing: a thread syncs the file up to what was
 * written when it was asked, while the writer goes on taking frames and writing lines, so a
 * busy log pays for fdatasync once per batch in wall time but not in its own loop. At most
 * one such sync is in flight; a batch that fills meanwhile waits for it and is then synced in
 * turn. Only the counter of synced records and the batch clock depend on it: every answer
 * that promises a synced record (FRAME_SYNC, checkpoints, close) still comes from
 * writer_sync() in the writer's own thread.
 */
struct bg_sync {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd, wake[2]; /* the thread writes a byte to wake[1] when a sync ends */
    int busy, stop, done, err;
    uint64_t target, done_target;
};

static void *bg_main(void *arg)
{
    struct bg_sync *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->busy && !b->stop)
            pthread_cond_wait(&b->cv, &b->mu);
        if (!b->busy)
            break;
        uint64_t t = b->target;
        pthread_mutex_unlock(&b->mu);
        int rc = fdatasync(b->fd), e = rc ? errno : 0;
        pthread_mutex_lock(&b->mu);
        b->busy = 0;
        b->done = 1;
        b->done_target = t;
        if (e && !b->err)
            b->err = e;
        char one = 1;
        (void)!write(b->wake[1], &one, 1);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Start the thread; without it (no memory, no threads) batches are synced in the loop. */
static void bg_start(struct writer *w)
{
    struct bg_sync *b = calloc(1, sizeof *b);
    if (!b)
        return;
    b->fd = w->fd;
    if (pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(b);
        return;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, bg_main, b) != 0) {
        close(b->wake[0]);
        close(b->wake[1]);
        free(b);
        return;
    }
    w->bg = b;
}

static void bg_stop(struct writer *w)
{
    struct bg_sync *b = w->bg;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    close(b->wake[0]);
    close(b->wake[1]);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
    w->bg = NULL;
}

static int bg_busy(const struct writer *w)
{
    if (!w->bg)
        return 0;
    pthread_mutex_lock(&w->bg->mu);
    int busy = w->bg->busy;
    pthread_mutex_unlock(&w->bg->mu);
    return busy;
}

/* Take the result of a finished background sync: the synced counter moves on, or the log
 * fails closed as after any failed sync. */
static void bg_collect(struct writer *w)
{
    struct bg_sync *b = w->bg;
    char drain[64];
    if (!b)
        return;
    while (read(b->wake[0], drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&b->mu);
    int done = b->done, e = b->err;
    uint64_t t = b->done_target;
    b->done = 0;
    pthread_mutex_unlock(&b->mu);
    if (e)
        writer_fail(w, "syncing", e);
    else if (done && t > w->synced)
        w->synced = t;
}

/* A full or due batch: written now, synced by the thread (or here, without one). */
static int writer_sync_batch(struct writer *w)
{
    if (!w->bg)
        return writer_sync(w);
    if (writer_flush(w) != AUDIT_OK)
        return AUDIT_ERR_IO;
    if (w->synced == w->tree.size)
        return AUDIT_OK;
    pthread_mutex_lock(&w->bg->mu);
    if (!w->bg->busy) {
        w->bg->busy = 1;
        w->bg->target = w->tree.size;
        pthread_cond_signal(&w->bg->cv);
    }
    pthread_mutex_unlock(&w->bg->mu);
    return AUDIT_OK;
}

/*
 * Add one record: the members the writer decides, then the caller's fields, as the text of a
 * compact JSON object (ftext, flen; NULL or "{}" for none) already validated and in the form
 * the format specifies. The line goes to the pending batch; it reaches the file in one write()
 * with the rest of the batch, so a crash leaves whole lines or a torn tail recovery can
 * recognise. Returns AUDIT_OK with *seq, or a status (AUDIT_ERR_IO: the writer is failed).
 */
static int writer_record_text(struct writer *w, const char *kind, const char *agent,
                              const char *ftext, size_t flen, uint64_t *seq)
{
    if (w->failed)
        return AUDIT_ERR_IO;
    if (ftext && flen <= 2)
        ftext = NULL, flen = 0; /* "{}": no members */
    if (!ftext)
        flen = 0;
    /* The limit holds for what is written, not for what the caller sent: cJSON may print a
     * number longer than it was given (1e15 -> 1e+15), and a line the reader refuses would
     * make the log unreadable and cordond unable to restart. */
    if (flen > AUDIT_FIELDS_MAX)
        return AUDIT_ERR_INVALID;
    size_t need = w->pend_len + 256 + 2 * AUDIT_AGENT_MAX + flen;
    if (GROW(&w->pend, &w->pend_cap, need) != 0)
        return AUDIT_ERR_NOMEM;
    if (w->synced == w->tree.size)
        w->first_unsynced_ms = clock_mono_ms(); /* the batch_ms clock starts with this record */
    if (w->pend_len == 0) {
        w->snap_tree = w->tree;
        memcpy(w->snap_hash, w->last_hash, 32);
        w->snap_since_cp = w->since_cp;
    }
    char prev[65], *line = w->pend + w->pend_len;
    int64_t now = clock_real_ms();
    if (now != w->ts_ms || !w->ts[0]) { /* a busy writer formats each millisecond once */
        audit_time_format(now, w->ts, sizeof w->ts);
        w->ts_ms = now;
    }
    const char *ts = w->ts;
    sodium_bin2hex(prev, sizeof prev, w->last_hash, 32);
    /* kind and agent were validated as printable ASCII (audit_kind_valid, audit_agent_valid),
     * so jbuf_str escapes no more than '"' and '\\': the canonical line stays the one
     * docs/AUDIT-FORMAT.md specifies. need above leaves room for both escaped in full. */
    struct jbuf b;
    jbuf_init(&b, line, w->pend_cap - w->pend_len);
    jbuf_raw(&b, "{\"seq\":");
    jbuf_u64(&b, w->tree.size);
    jbuf_raw(&b, ",\"ts\":");
    jbuf_str(&b, ts, 0);
    jbuf_raw(&b, ",\"prev\":");
    jbuf_str(&b, prev, 0);
    jbuf_raw(&b, ",\"kind\":");
    jbuf_str(&b, kind, 0);
    if (agent) {
        jbuf_raw(&b, ",\"agent\":");
        jbuf_str(&b, agent, 0);
    }
    if (b.overflow)
        return AUDIT_ERR_INVALID;
    size_t len = b.len;
    if (ftext) {
        /* The caller's object without its braces: "{...}" -> ",..." */
        line[len++] = ',';
        memcpy(line + len, ftext + 1, flen - 2);
        len += flen - 2;
    }
    line[len++] = '}';
    line[len++] = '\n';
    audit_sha256(line, len - 1, w->last_hash);
    merkle_append(&w->tree, line, len - 1);
    w->pend_len += len;
    w->since_cp++;
    if (seq)
        *seq = w->tree.size - 1;
    if (w->cfg->fsync == AUDIT_FSYNC_ALWAYS)
        return writer_sync(w);
    /* A batch is batch_records records, however many frames one read brought: the loop's
     * own check runs only between reads, which let a busy batch grow to several times that. */
    if (w->cfg->fsync == AUDIT_FSYNC_BATCH &&
        w->tree.size - w->synced >= cfg_or(w->cfg->batch_records, 256) && !bg_busy(w))
        return writer_sync_batch(w);
    if (w->pend_len >= PEND_FLUSH)
        return writer_flush(w);
    return AUDIT_OK;
}

/* The same from a parsed object, printed compact by cJSON (the records the writer makes
 * itself, and callers' fields in any other form). */
static int writer_record(struct writer *w, const char *kind, const char *agent, const cJSON *fields,
                         uint64_t *seq)
{
    if (w->failed)
        return AUDIT_ERR_IO;
    char *printed = NULL;
    if (fields && fields->child) {
        printed = cJSON_PrintUnformatted(fields);
        if (!printed)
            return AUDIT_ERR_NOMEM;
    }
    int rc = writer_record_text(w, kind, agent, printed, printed ? strlen(printed) : 0, seq);
    free(printed);
    return rc;
}

/* Replace DIR/checkpoint atomically: a reader sees the old anchor or the new, never half. */
static int write_anchor(struct writer *w, const char *note, size_t len)
{
    int fd = openat(w->dirfd, "checkpoint.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = frame_write_all(fd, note, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0 && renameat(w->dirfd, "checkpoint.tmp", w->dirfd, "checkpoint") != 0)
        rc = -errno;
    if (rc == 0 && fsync(w->dirfd) != 0)
        rc = -errno;
    return rc;
}

/* Sign a checkpoint over every line written so far, after they are on disk, then log it. */
static int writer_checkpoint(struct writer *w, int force_anchor)
{
    char note[NOTE_MAX], root64[64];
    unsigned char root[32];
    int rc = writer_sync(w);
    if (rc != AUDIT_OK)
        return rc;
    uint64_t size = w->tree.size;
    merkle_root(&w->tree, root);
    int len = note_checkpoint_sign(w->cfg->origin, size, root, w->key, note, sizeof note);
    if (len < 0)
        return AUDIT_ERR_INVALID;
    sodium_bin2base64(root64, sizeof root64, root, 32, sodium_base64_VARIANT_ORIGINAL);
    cJSON *f = cJSON_CreateObject();
    if (!f || !cJSON_AddNumberToObject(f, "size", (double)size) ||
        !cJSON_AddStringToObject(f, "root", root64) || !cJSON_AddStringToObject(f, "note", note)) {
        cJSON_Delete(f);
        return AUDIT_ERR_NOMEM;
    }
    rc = writer_record(w, "checkpoint", NULL, f, NULL);
    cJSON_Delete(f);
    if (rc != AUDIT_OK)
        return rc;
    /* DIR/checkpoint is replaced at most once a second (and at close): each replacement
     * costs two more syncs, and the log's own checkpoint records are the primary copy. The
     * lines it covers are already on disk; the checkpoint record itself need not be. */
    if (force_anchor || clock_mono_ms() - w->last_anchor_ms >= 1000) {
        int arc = write_anchor(w, note, (size_t)len);
        if (arc != 0) {
            writer_fail(w, "replacing the checkpoint beside", -arc);
            return AUDIT_ERR_IO;
        }
        w->last_anchor_ms = clock_mono_ms();
    }
    w->checkpoints++;
    w->last_cp_size = size;
    w->since_cp = 0;
    w->last_cp_ms = clock_mono_ms();
    return AUDIT_OK;
}

static void fill_reply(const struct writer *w, struct frame_reply *r)
{
    r->failed = (uint32_t)w->failed;
    r->records = w->tree.size;
    r->synced = w->synced;
    r->checkpoints = w->checkpoints;
    r->last_checkpoint_size = w->last_cp_size;
}

static int queue_reply(struct writer *w, uint64_t id, int status, uint64_t seq, int need_sync,
                       int is_append)
{
    int grc = GROW(&w->replies, &w->replies_cap, w->nreplies + 1);
    if (grc != 0)
        return grc;
    struct waiter_reply *r = &w->replies[w->nreplies++];
    memset(r, 0, sizeof *r);
    r->r.id = id;
    r->r.status = status;
    r->r.seq = seq;
    r->need_sync = need_sync;
    r->is_append = is_append;
    return 0;
}

/* Sync if anyone waits for it, then answer everyone queued. */
static int flush_replies(struct writer *w)
{
    int need = 0;
    for (size_t i = 0; i < w->nreplies; i++)
        need |= w->replies[i].need_sync && w->replies[i].r.status == AUDIT_OK;
    int src = need ? writer_sync(w) : writer_flush(w);
    for (size_t i = 0; i < w->nreplies; i++) {
        struct frame_reply *r = &w->replies[i].r;
        if (w->replies[i].need_sync && r->status == AUDIT_OK && src != AUDIT_OK)
            r->status = src;
        /* a record whose batch could not be written is not in the log, whatever was said */
        if (w->replies[i].is_append && r->status == AUDIT_OK && r->seq >= w->tree.size)
            r->status = AUDIT_ERR_IO;
        fill_reply(w, r);
    }
    int rc = 0;
    for (size_t i = 0; i < w->nreplies && rc == 0; i++)
        rc = frame_write_all(w->sock, &w->replies[i].r, sizeof w->replies[i].r);
    w->nreplies = 0;
    return rc;
}

static int writer_due_checkpoint(struct writer *w)
{
    int64_t age = clock_mono_ms() - w->last_cp_ms;
    if (w->since_cp >= cfg_or(w->cfg->checkpoint_records, 1000))
        return 1;
    if (w->since_cp > 0 && age >= (int64_t)cfg_or(w->cfg->checkpoint_seconds, 60) * 1000)
        return 1;
    return age >= (int64_t)cfg_or(w->cfg->heartbeat_seconds, 300) * 1000;
}

/* One append frame. Returns 0, or -1 when the stream can no longer be trusted. */
static int writer_append(struct writer *w, const struct frame_hdr *h, const char *body)
{
    char kind[AUDIT_KIND_MAX + 1], agent[AUDIT_AGENT_MAX + 1];
    cJSON *fields = NULL;
    uint64_t seq = 0;
    memcpy(kind, body, h->kind_len);
    kind[h->kind_len] = '\0';
    memcpy(agent, body + h->kind_len, h->agent_len);
    agent[h->agent_len] = '\0';
    int st = AUDIT_OK;
    /* The kinds the writer emits itself are its alone: a caller's "checkpoint" or "start"
     * (naming another public key) would make a genuine log fail verification, or change
     * the key that verification without --trust relies on; a caller's "stop" would make a
     * cut log look closed, and a "gap" would invent a crash. */
    static const char *const own[] = {"start", "stop", "checkpoint", "recovery", "gap"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(kind, own[i]) == 0)
            st = AUDIT_ERR_INVALID;
    if (!audit_kind_valid(kind) || (h->agent_len && !audit_agent_valid(agent)) ||
        strlen(kind) != h->kind_len || strlen(agent) != h->agent_len)
        st = AUDIT_ERR_INVALID;
    const char *ftext = body + h->kind_len + h->agent_len;
    size_t flen = h->len - h->kind_len - h->agent_len;
    /* Fields already in the form the line needs (cordond's own records are) go in as they
     * stand: one pass over the bytes instead of a parse and a print that would give the same
     * bytes back. Anything else is parsed, checked and printed compact, as always. */
    if (st == AUDIT_OK && flen <= AUDIT_FIELDS_MAX && audit_fields_canonical(ftext, flen)) {
        st = writer_record_text(w, kind, h->agent_len ? agent : NULL, ftext, flen, &seq);
    } else {
        if (st == AUDIT_OK)
            st = audit_fields_parse(ftext, flen, &fields) == 0 ? AUDIT_OK : AUDIT_ERR_INVALID;
        if (st == AUDIT_OK)
            st = writer_record(w, kind, h->agent_len ? agent : NULL, fields, &seq);
    }
    cJSON_Delete(fields);
    if (st == AUDIT_OK && w->since_cp >= cfg_or(w->cfg->checkpoint_records, 1000))
        (void)writer_checkpoint(w, 0); /* the record is in whatever the checkpoint does */
    if (h->flags & (FRAME_REPLY | FRAME_SYNC))
        return queue_reply(w, h->id, st, seq, (h->flags & FRAME_SYNC) != 0, 1) == 0 ? 0 : -1;
    return 0;
}

/* Frames in buf[0..len): process the complete ones; returns bytes consumed, or -1 on a
 * malformed frame (the stream is then out of step and the writer stops). *closing is set on
 * a close frame. */
static ssize_t writer_frames(struct writer *w, const char *buf, size_t len, int *closing)
{
    size_t used = 0;
    while (len - used >= sizeof(struct frame_hdr) && !*closing) {
        struct frame_hdr h;
        memcpy(&h, buf + used, sizeof h);
        if (h.len > FRAME_BODY_MAX || h.kind_len > AUDIT_KIND_MAX ||
            h.agent_len > AUDIT_AGENT_MAX || (size_t)h.kind_len + h.agent_len > h.len ||
            h.type < FRAME_APPEND || h.type > FRAME_CLOSE || (h.flags & ~3u) || h.pad) {
            fprintf(stderr,
                    "cordon audit: malformed frame from the log's caller (type %u, "
                    "length %u); the writer stops so that nothing out of step is recorded\n",
                    h.type, h.len);
            return -1;
        }
        if (len - used - sizeof h < h.len)
            break;
        const char *body = buf + used + sizeof h;
        used += sizeof h + h.len;
        if (h.type == FRAME_APPEND) {
            if (writer_append(w, &h, body) != 0)
                return -1;
        } else if (h.type == FRAME_STATS) {
            if (queue_reply(w, h.id, w->failed ? AUDIT_ERR_IO : AUDIT_OK, 0, 0, 0) != 0)
                return -1;
        } else {
            int st = writer_record(w, "stop", NULL, NULL, NULL);
            int cst = writer_checkpoint(w, 1);
            if (st == AUDIT_OK)
                st = cst;
            if (st == AUDIT_OK)
                st = writer_sync(w);
            if (queue_reply(w, h.id, st, w->tree.size, 0, 0) != 0)
                return -1;
            *closing = 1;
        }
    }
    return (ssize_t)used;
}

static int writer_timeout(const struct writer *w)
{
    int64_t now = clock_mono_ms(), due = INT64_MAX;
    if (!w->failed) {
        /* while a background sync runs, its end wakes the loop instead */
        if (w->cfg->fsync == AUDIT_FSYNC_BATCH && w->synced < w->tree.size && !bg_busy(w))
            due = w->first_unsynced_ms + cfg_or(w->cfg->batch_ms, 50);
        int64_t cp = w->since_cp > 0
                         ? w->last_cp_ms + (int64_t)cfg_or(w->cfg->checkpoint_seconds, 60) * 1000
                         : w->last_cp_ms + (int64_t)cfg_or(w->cfg->heartbeat_seconds, 300) * 1000;
        if (cp < due)
            due = cp;
    }
    if (due == INT64_MAX)
        return -1;
    return due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
}

static void writer_loop(struct writer *w)
{
    size_t cap = 4 * (sizeof(struct frame_hdr) + FRAME_BODY_MAX), have = 0;
    char *buf = malloc(cap);
    int closing = 0;
    if (!buf)
        return;
    if (w->cfg->fsync == AUDIT_FSYNC_BATCH)
        bg_start(w);
    while (!closing) {
        struct pollfd p[2] = {{.fd = w->sock, .events = POLLIN},
                              {.fd = w->bg ? w->bg->wake[0] : -1, .events = POLLIN}};
        int pr = poll(p, 2, writer_timeout(w));
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0 && p[1].revents)
            bg_collect(w);
        if (pr > 0 && p[0].revents) {
            ssize_t n = read(w->sock, buf + have, cap - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* the caller is gone: what was written is synced below */
            have += (size_t)n;
            ssize_t used = writer_frames(w, buf, have, &closing);
            if (used < 0)
                break;
            memmove(buf, buf + used, have - (size_t)used);
            have -= (size_t)used;
        }
        if (!w->failed && w->cfg->fsync == AUDIT_FSYNC_BATCH &&
            (w->tree.size - w->synced >= cfg_or(w->cfg->batch_records, 256) ||
             (w->synced < w->tree.size &&
              clock_mono_ms() - w->first_unsynced_ms >= cfg_or(w->cfg->batch_ms, 50))) &&
            !bg_busy(w))
            (void)writer_sync_batch(w);
        if (!w->failed && !closing && writer_due_checkpoint(w))
            (void)writer_checkpoint(w, 0);
        if (flush_replies(w) != 0)
            break;
        if (w->failed && !w->told_failed) {
            /* Tell the caller at once, so appends that do not wait fail closed too. */
            struct frame_reply r = {.id = 0, .status = AUDIT_ERR_IO};
            fill_reply(w, &r);
            if (frame_write_all(w->sock, &r, sizeof r) != 0)
                break;
            w->told_failed = 1;
        }
    }
    if (!w->failed)
        (void)(w->cfg->fsync != AUDIT_FSYNC_NONE ? writer_sync(w) : writer_flush(w));
    bg_stop(w);
    free(buf);
}

/*
 * The audit directory is 0700 and the log 0600 (docs/AUDIT-FORMAT.md), whoever made them: a
 * directory or log of this user that grants anything to group or others loses those bits,
 * and the change is said on stderr; one that belongs to another user is refused, since its
 * owner could replace or truncate the log whatever its mode says. Returns 0, or -1 with err
 * set.
 */
static int own_private(int fd, const char *path, const char *what, char *err, size_t errlen)
{
    mode_t mode;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "audit: cannot inspect %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "audit: the %s %s belongs to uid %u, not to this process's user (uid %u), "
                 "who could not trust it: its owner could replace or truncate the log; use an "
                 "audit directory that this user owns (it is created mode 0700 when missing)",
                 what, path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (!(st.st_mode & 077))
        return 0;
    mode = st.st_mode & 0700;
    if (fchmod(fd, mode) != 0) {
        snprintf(err, errlen,
                 "audit: the %s %s has mode %04o and cannot be made %04o: %s; the log must be "
                 "readable by this user alone; fix the mode or use another directory",
                 what, path, (unsigned)(st.st_mode & 07777), (unsigned)mode, strerror(errno));
        return -1;
    }
    fprintf(stderr, "cordon audit: the %s %s had mode %04o; it is now %04o (this user alone)\n",
            what, path, (unsigned)(st.st_mode & 07777), (unsigned)mode);
    return 0;
}

/* Open the directory, the key and the log, recover or refuse, write recovery and start. */
static int writer_init(struct writer *w, char *err, size_t errlen)
{
    const struct audit_config *c = w->cfg;
    char anchor[NOTE_MAX + 1], path[4096];
    size_t alen = 0;
    struct audit_read_report *rep = NULL;
    int rc = AUDIT_ERR_IO;
    if (mkdir(c->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen,
                 "audit: cannot create directory %s: %s; create it (mode 0700) "
                 "or point the audit dir elsewhere",
                 c->dir, strerror(errno));
        goto out;
    }
    w->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) {
        snprintf(err, errlen, "audit: cannot open directory %s: %s", c->dir, strerror(errno));
        goto out;
    }
    if (own_private(w->dirfd, c->dir, "directory", err, errlen) != 0)
        goto out;
    char kerr[400] = "";
    if (key_secret_load(c->key_path, &w->key, kerr, sizeof kerr) != 0) {
        snprintf(err, errlen, "audit: cannot use the checkpoint signing key: %s", kerr);
        rc = AUDIT_ERR_KEY;
        goto out;
    }
    key_secret_public(w->key, w->pk);
    w->fd =
        openat(w->dirfd, "audit.jsonl", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0) {
        snprintf(err, errlen, "audit: cannot open %s/audit.jsonl: %s%s", c->dir, strerror(errno),
                 errno == ELOOP ? " (it is a symbolic link; the log must be a file of its own)"
                                : "");
        goto out;
    }
    snprintf(path, sizeof path, "%s/audit.jsonl", c->dir);
    if (own_private(w->fd, path, "log", err, errlen) != 0)
        goto out;
    if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen,
                 "audit: %s/audit.jsonl is held by another writer (%s); run one "
                 "cordond per audit directory",
                 c->dir, strerror(errno));
        goto out;
    }
    int afd = openat(w->dirfd, "checkpoint", O_RDONLY | O_CLOEXEC);
    if (afd >= 0) {
        ssize_t n = read(afd, anchor, sizeof anchor);
        close(afd);
        if (n < 0 || (size_t)n > NOTE_MAX) {
            snprintf(err, errlen,
                     "audit: %s/checkpoint is unreadable or larger than a "
                     "checkpoint; move it aside after keeping a copy",
                     c->dir);
            rc = AUDIT_ERR_CORRUPT;
            goto out;
        }
        alen = (size_t)n;
    }
    const char *anchors[1] = {anchor};
    size_t lens[1] = {alen};
    struct audit_read_opts o = {.anchors = anchors, .anchor_lens = lens, .nanchors = alen ? 1 : 0};
    rep = malloc(sizeof *rep);
    if (!rep) {
        rc = AUDIT_ERR_NOMEM;
        goto out;
    }
    snprintf(path, sizeof path, "%s/audit.jsonl", c->dir);
    int rrc = audit_read_file(path, &o, rep);
    if (rrc != 0) {
        snprintf(err, errlen, "audit: %.480s", rep->problem);
        goto out;
    }
    if (rep->status != AUDIT_READ_VALID) {
        snprintf(err, errlen, "audit: refusing to open %.100s: %.330s%s", path, rep->problem,
                 rep->status == AUDIT_READ_TRUNCATED ? " (the anchor is " : "");
        if (rep->status == AUDIT_READ_TRUNCATED) {
            size_t l = strlen(err);
            snprintf(err + l, errlen - l, "%.40s/checkpoint)", c->dir);
        }
        rc = AUDIT_ERR_CORRUPT;
        goto out;
    }
    w->tree = rep->tree;
    memcpy(w->last_hash, rep->last_hash, 32);
    w->bytes = rep->bytes;
    w->synced = w->tree.size;
    w->last_cp_size = rep->checkpoint_size;
    w->last_cp_ms = clock_mono_ms();
    if (rep->lines > 0 && !rep->closed) {
        /* The writer before this one stopped without its stop record: killed, crashed, or
         * out of disk. Say where its records end, so that the gap is in the log itself and
         * not only in what `cordon audit verify` can infer. */
        char last_ts[40];
        audit_time_format(rep->last_ts_ms, last_ts, sizeof last_ts);
        cJSON *g = cJSON_CreateObject();
        if (!g || !cJSON_AddNumberToObject(g, "last_seq", (double)(rep->lines - 1)) ||
            !cJSON_AddStringToObject(g, "last_ts", last_ts) ||
            !cJSON_AddStringToObject(g, "last_kind", rep->last_kind) ||
            !cJSON_AddStringToObject(g, "reason",
                                     "the previous writer stopped without its stop record")) {
            cJSON_Delete(g);
            rc = AUDIT_ERR_NOMEM;
            goto out;
        }
        rc = writer_record(w, "gap", NULL, g, NULL);
        cJSON_Delete(g);
        if (rc != AUDIT_OK) {
            snprintf(err, errlen, "audit: cannot record the gap in %.300s", path);
            goto out;
        }
        fprintf(stderr,
                "cordon audit: %s was not closed: its last record (seq %llu, %s, %s) is not "
                "the writer's stop record, so the writer before this one was killed, crashed "
                "or lost its disk; a gap record now marks where its records end\n",
                path, (unsigned long long)(rep->lines - 1), rep->last_kind, last_ts);
    }
    if (rep->torn_bytes) {
        if (ftruncate(w->fd, (off_t)rep->bytes) != 0 || fsync(w->fd) != 0) {
            snprintf(err, errlen, "audit: cannot cut the torn tail of %.300s: %s", path,
                     strerror(errno));
            goto out;
        }
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, rep->torn_sha256, 32);
        cJSON *f = cJSON_CreateObject();
        if (!f || !cJSON_AddNumberToObject(f, "cut_bytes", (double)rep->torn_bytes) ||
            !cJSON_AddStringToObject(f, "cut_sha256", hex) ||
            !cJSON_AddStringToObject(f, "reason",
                                     rep->torn_no_lf ? "last line had no newline"
                                                     : "last line was not a valid record")) {
            cJSON_Delete(f);
            rc = AUDIT_ERR_NOMEM;
            goto out;
        }
        rc = writer_record(w, "recovery", NULL, f, NULL);
        cJSON_Delete(f);
        if (rc != AUDIT_OK) {
            snprintf(err, errlen, "audit: cannot record the recovery in %.300s", path);
            goto out;
        }
    }
    char pk64[64];
    sodium_bin2base64(pk64, sizeof pk64, w->pk, 32, sodium_base64_VARIANT_ORIGINAL);
    cJSON *f = cJSON_CreateObject();
    if (!f || !cJSON_AddNumberToObject(f, "format", AUDIT_FORMAT) ||
        !cJSON_AddStringToObject(f, "origin", c->origin) ||
        !cJSON_AddStringToObject(f, "key_id", key_secret_id(w->key)) ||
        !cJSON_AddStringToObject(f, "public_key", pk64)) {
        cJSON_Delete(f);
        rc = AUDIT_ERR_NOMEM;
        goto out;
    }
    rc = writer_record(w, "start", NULL, f, NULL);
    cJSON_Delete(f);
    if (rc == AUDIT_OK)
        rc = writer_sync(w);
    if (rc != AUDIT_OK) {
        snprintf(err, errlen,
                 "audit: cannot write the start record to %.300s; check free "
                 "space and the disk",
                 path);
        goto out;
    }
    rc = AUDIT_OK;
out:
    free(rep);
    return rc;
}

void audit_writer_main(const struct audit_config *cfg, int sock)
{
    struct writer w = {.cfg = cfg, .sock = sock, .fd = -1, .dirfd = -1};
    struct frame_init init = {.status = AUDIT_OK};
    signal(SIGPIPE, SIG_IGN);
    /* Ctrl-C reaches the whole process group; the writer ends when its caller does. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    /* A lowered RLIMIT_FSIZE or RLIMIT_CPU must not kill the writer in silence: past the file
     * size limit a write fails with EFBIG and the log fails closed (every later append gets
     * AUDIT_ERR_IO); past the CPU soft limit nothing happens until the hard one, whose
     * SIGKILL the caller notices (audit_check). */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGXCPU, SIG_IGN);
    prctl(PR_SET_DUMPABLE, 0); /* no ptrace or core dump of the key by the caller's uid */
    prctl(PR_SET_NAME, "cordon-audit");
    if (sodium_init() < 0) {
        init.status = AUDIT_ERR_NOMEM;
        snprintf(init.err, sizeof init.err, "audit: libsodium failed to initialise");
    } else {
        init.status = writer_init(&w, init.err, sizeof init.err);
    }
    if (frame_write_all(sock, &init, sizeof init) == 0 && init.status == AUDIT_OK)
        writer_loop(&w);
    key_secret_free(w.key);
    free(w.pend);
    free(w.replies);
    if (w.fd >= 0)
        close(w.fd);
    if (w.dirfd >= 0)
        close(w.dirfd);
}
