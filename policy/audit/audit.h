/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tamper-evident audit log: JSON Lines chained by SHA-256, with signed checkpoints in the
 * C2SP tlog-checkpoint / signed-note format over an RFC 6962 Merkle root. The format is
 * specified in docs/AUDIT-FORMAT.md.
 *
 * Key isolation: audit_open() starts a writer process that alone holds the checkpoint signing
 * key, the log file and the Merkle frontier. The calling process (cordond's request handling)
 * only submits record fields over a socket pair; the writer assigns seq, ts and prev, writes the
 * line, syncs it, and signs checkpoints over what it wrote itself. A compromised request
 * handler can add records, but cannot get an arbitrary root signed or rewrite a line.
 *
 * audit_append() is safe to call from many threads at once.
 */
#ifndef CORDON_AUDIT_AUDIT_H
#define CORDON_AUDIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct audit_log;

enum audit_fsync {
    AUDIT_FSYNC_ALWAYS, /* fdatasync after every record */
    AUDIT_FSYNC_BATCH,  /* fdatasync every batch_records or batch_ms, whichever comes first */
    AUDIT_FSYNC_NONE,   /* leave it to the kernel (tests, benchmarks) */
};

struct audit_config {
    const char *dir;      /* created 0700 if missing; holds audit.jsonl and checkpoints */
    const char *key_path; /* Ed25519 signing key (cordon keygen); read by the writer only */
    const char *origin;   /* checkpoint origin line, e.g. "cordon.example/host1/audit" */
    enum audit_fsync fsync;
    unsigned batch_records;      /* 0: default 256 */
    unsigned batch_ms;           /* 0: default 50 */
    unsigned checkpoint_records; /* a checkpoint every N records; 0: default 1000 */
    unsigned checkpoint_seconds; /* ... or every T seconds when records arrived; 0: default 60 */
    unsigned heartbeat_seconds;  /* a checkpoint when idle this long; 0: default 300 */
};

/* Flags for audit_append(). */
#define AUDIT_SYNC 0x1 /* the record gates an action: return only once it is on disk */
/* The caller vouches that fields is a JSON object built by cordon's own writer (base/jbuf.h):
 * the caller's side checks only what is cheap (a '{' ... '}', no raw line break, the size
 * limit) instead of parsing it. The writer process checks every record in full either way,
 * so a false vouch gets AUDIT_ERR_INVALID from the writer (seen by a caller that waits, or
 * dropped, never a malformed line); it costs nothing in what the log guarantees. */
#define AUDIT_TRUSTED 0x2

/* The codes are in AUDIT's block of base/err.h, disjoint from every errno. */
enum audit_status {
    AUDIT_OK = 0,
    /* write or sync failed (ENOSPC, EIO): actions that require audit must fail closed; the
     * log stays failed until restarted */
    AUDIT_ERR_IO = ERR_BLOCK_AUDIT - 1,
    /* open: a corrupt middle, or a log shorter than a checkpoint */
    AUDIT_ERR_CORRUPT = ERR_BLOCK_AUDIT - 2,
    /* open: the signing key is missing, unreadable or not 0600 */
    AUDIT_ERR_KEY = ERR_BLOCK_AUDIT - 3,
    /* append: fields are not a JSON object, too large (64 KiB as written), or kind is one the
     * writer keeps for itself (start, stop, checkpoint, recovery, gap) */
    AUDIT_ERR_INVALID = ERR_BLOCK_AUDIT - 4,
    AUDIT_ERR_NOMEM = ERR_BLOCK_AUDIT - 5,
    /* the writer has exited */
    AUDIT_ERR_CLOSED = ERR_BLOCK_AUDIT - 6,
};

/*
 * Open (or create) the log in cfg->dir, recover a torn tail (and record the recovery), refuse
 * a corrupt log, start the writer process and append a "start" record. A log that the writer
 * before did not close (its last record is not the stop record) gets a "gap" record first.
 * The directory is made 0700 and the log 0600 if they grant more, and refused if another
 * user owns them. On failure err holds a
 * sentence saying what failed, why and what to do. Returns AUDIT_OK with *out, or a status.
 *
 * The writer is a child process made with fork(): call audit_open() early, before threads
 * that could hold locks the child would need, and do not reap children with waitpid(-1)
 * (audit_close() waits for the writer itself). The writer keeps only stdio and its socket of
 * the caller's descriptors, and exits when the caller's end closes.
 */
__attribute__((warn_unused_result)) int
audit_open(const struct audit_config *cfg, struct audit_log **out, char *err, size_t errlen);

/*
 * Append one record. kind is the record kind ("policy.fetch", "fs.open", "tunnel", ...);
 * agent may be NULL; fields is a JSON object text whose members are copied into the record
 * (it must not hold seq, ts, prev, kind or agent). With AUDIT_SYNC, waits until the record is
 * synced (whatever the fsync mode says for others). On success *seq (may be NULL) is the
 * record's line index. Returns AUDIT_OK or a status.
 *
 * Without AUDIT_SYNC and with seq NULL the call does not wait for the writer: it checks the
 * fields, queues the frame (sent within about a millisecond) and returns AUDIT_OK; a write
 * failure after that is reported by later calls (AUDIT_ERR_IO), not by this one.
 */
__attribute__((warn_unused_result)) int audit_append(struct audit_log *l, const char *kind,
                                                     const char *agent, const char *fields,
                                                     unsigned flags, uint64_t *seq);

struct audit_stats {
    uint64_t records;              /* lines in the log, recovered ones included */
    uint64_t synced;               /* lines known to be on disk */
    uint64_t checkpoints;          /* checkpoints signed since open */
    uint64_t last_checkpoint_size; /* tree size of the latest checkpoint */
    int failed;                    /* 1 after an I/O error */
};

/* A snapshot of the counters, for /metrics ("audit lag" is records - synced). */
void audit_stats_get(struct audit_log *l, struct audit_stats *s);

/*
 * The caller's end of the socket to the writer. Exposed so that tests can play the hostile
 * caller the writer is built to withstand; cordond has no use for it.
 */
int audit_caller_socket(struct audit_log *l);

/* The writer process's pid (tests find it to play an attacker; cordond names it). */
pid_t audit_writer_pid(struct audit_log *l);

/*
 * Whether the log can still record, without a round trip to the writer (cheap enough for a
 * once-a-second look). Returns AUDIT_OK; AUDIT_ERR_IO when the writer runs but has failed
 * (a write or sync error: it refuses every record until restarted); AUDIT_ERR_CLOSED when
 * the writer process is gone (it exited or was killed; it is then reaped here, waiting at
 * most half a second). Except for AUDIT_OK, why holds a sentence naming the writer's pid and
 * what happened to it ("was killed by signal 9 (Killed)").
 */
int audit_check(struct audit_log *l, char *why, size_t whylen);

/* Append a "stop" record, sign a final checkpoint, stop the writer and free l. NULL is a
 * no-op. Returns AUDIT_OK or the first error seen. */
int audit_close(struct audit_log *l);

/* What a status means, in a few words ("the audit writer process is gone"): an audit code,
 * or a negative errno (strerror). */
const char *audit_strerror(int status);

/*
 * Private to policy/audit/: the writer process's body (audit_writer.c), which audit_open()
 * runs in the child it forks, on its end sock of the socket pair. It answers with a frame_init
 * (audit_frame.h), serves frames until the caller's end closes, and returns; the child then
 * exits. Declared here, not in a header of its own, so that the handle (audit.c) and the writer
 * depend on this header alone and not on each other.
 */
void audit_writer_main(const struct audit_config *cfg, int sock);

#endif
