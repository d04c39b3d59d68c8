/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read side of the audit log, shared by the writer's recovery at open, `cordon audit
 * verify`, `cordon audit query` and the tests: walk audit.jsonl line by line, check the hash
 * chain and the sequence numbers, recompute the Merkle root, verify every checkpoint record and
 * every anchor given, and say precisely where the first problem is. The format is specified in
 * docs/AUDIT-FORMAT.md.
 */
#ifndef CORDON_AUDIT_AUDIT_READ_H
#define CORDON_AUDIT_AUDIT_READ_H

#include <stddef.h>
#include <stdint.h>

#include "policy/audit/merkle.h"

struct cJSON;
struct key_public;

#define AUDIT_FORMAT 1
#define AUDIT_KIND_MAX 64
#define AUDIT_AGENT_MAX 128
#define AUDIT_FIELDS_MAX 65536 /* bytes of caller fields in one record */
#define AUDIT_LINE_MAX (AUDIT_FIELDS_MAX + 8192)

/* 1 if kind is 1..64 characters of [a-z0-9._-]. */
int audit_kind_valid(const char *kind);
/* 1 if agent is 1..128 bytes of printable ASCII. */
int audit_agent_valid(const char *agent);
/* 1 if name is one of the members the log itself sets (seq, ts, prev, kind, agent). */
int audit_member_reserved(const char *name);
/*
 * The caller's fields of a record, checked as the writer checks them (and the handle, so that
 * a caller learns of its mistake without waiting): empty (*out NULL), or exactly one JSON
 * object of at most AUDIT_FIELDS_MAX bytes, no NUL, no member the log sets itself. Returns 0
 * with *out the parsed object (cJSON_Delete it), or -EINVAL.
 */
struct cJSON;
__attribute__((warn_unused_result)) int audit_fields_parse(const char *text, size_t len,
                                                           struct cJSON **out);

/*
 * 1 if the fields text is a JSON object exactly as cJSON_PrintUnformatted would print what
 * audit_fields_parse makes of it, and that parse would accept it: compact, strings with only
 * the escapes cJSON prints, integers of at most 15 digits, at most AUDIT_CANON_DEPTH levels,
 * no member the log sets itself. Such text can go into a line as it stands, with the bytes
 * the parse and print would give; 0 means only that the parse must decide (floats, other
 * escapes, whitespace, deeper nesting, or text that is not valid at all).
 */
#define AUDIT_CANON_DEPTH 64
int audit_fields_canonical(const char *text, size_t len);

/*
 * Parse a time for queries and records: RFC 3339 ("2026-11-24T09:00:00Z", fractional seconds
 * and numeric offsets accepted), a date "2026-11-24" (midnight UTC), or a duration before now
 * ("90s", "15m", "24h", "7d"). now_ms is the reference for durations. Returns 0 with *ms
 * (milliseconds since the epoch) or -EINVAL.
 */
__attribute__((warn_unused_result)) int audit_time_parse(const char *s, int64_t now_ms,
                                                         int64_t *ms);
/* Format ms as RFC 3339 UTC with milliseconds into out (at least 25 bytes). */
void audit_time_format(int64_t ms, char *out, size_t outlen);

/* One record as the walker hands it to a visitor. */
struct audit_rec {
    uint64_t seq;
    const char *line; /* the exact line bytes, without the LF; not NUL-terminated */
    size_t len;
    const char *kind;
    const char *agent; /* NULL when the record names none */
    int64_t ts_ms;
    const struct cJSON *json;
};

struct audit_read_opts {
    int check_signatures;           /* verify checkpoint signatures (the writer does not) */
    const struct key_public *trust; /* keys to verify with; NULL: the start record's key */
    size_t ntrust;
    const char *const *anchors; /* signed checkpoint texts to check the log against */
    const size_t *anchor_lens;
    size_t nanchors;
    /* Called for each valid line in order; a non-zero return stops the walk. */
    int (*visit)(const struct audit_rec *r, void *ctx);
    void *ctx;
};

/* A writer that stopped without its stop record, found inside the log (see closed below). */
struct audit_gap {
    uint64_t line;      /* the first record of the next writer (its gap, recovery or start) */
    uint64_t last_line; /* the last record of the writer that stopped */
    int64_t last_ts_ms; /* that record's time */
    int recorded;       /* the next writer wrote a gap record for it (writers before this
                           format version did not) */
};

#define AUDIT_READ_MAX_GAPS 32 /* gaps kept in the report; all are counted */

enum audit_read_status {
    AUDIT_READ_VALID = 0,
    AUDIT_READ_TAMPERED = 1,  /* a line, the chain, seq or a checkpoint does not hold */
    AUDIT_READ_TRUNCATED = 2, /* an anchor covers more lines than the log has, or another log */
};

struct audit_read_report {
    enum audit_read_status status;
    uint64_t bad_line;        /* index of the first bad line (status != VALID) */
    char problem[768];        /* a sentence: what is wrong, where, what to do */
    uint64_t lines;           /* complete lines read and found valid */
    uint64_t bytes;           /* their bytes, LFs included: where the valid log ends */
    uint64_t checkpoints;     /* checkpoint records whose root (and signature) held */
    uint64_t checkpoint_size; /* tree size of the last one */
    uint64_t anchors_ok;
    uint64_t anchored;   /* lines covered by a verified checkpoint or anchor */
    int self_asserted;   /* signatures were checked with the key the log names itself */
    int key_changes;     /* start records naming a different key than the one before */
    uint64_t torn_bytes; /* a trailing partial or unparseable last line */
    unsigned char torn_sha256[32];
    int torn_no_lf;              /* the torn tail had no LF (a torn write) */
    struct merkle_tree tree;     /* over the valid lines */
    unsigned char last_hash[32]; /* SHA-256 of the last valid line; zeros when none */
    /* How the log ends: closed when its last valid record is the writer's own stop record
     * or the final checkpoint right after it, which only an orderly audit_close() writes.
     * A log whose writer died, was killed or lost its disk ends otherwise (a live log
     * too: its writer has not stopped yet). */
    int closed;
    char last_kind[AUDIT_KIND_MAX + 1]; /* kind of the last valid record; "" when none */
    int64_t last_ts_ms;                 /* its time */
    /* Every start record that follows a writer which stopped without its stop record. */
    uint64_t gaps;
    struct audit_gap gap[AUDIT_READ_MAX_GAPS]; /* the first AUDIT_READ_MAX_GAPS of them */
};

/*
 * Walk the log at path. Returns 0 when the file could be read (the verdict is in
 * report->status), or a negative errno with report->problem saying what could not be read.
 * A missing file reads as an empty log.
 */
__attribute__((warn_unused_result)) int audit_read_file(const char *path,
                                                        const struct audit_read_opts *opts,
                                                        struct audit_read_report *report);

/* The same walk over a log held in memory (buf need not be NUL-terminated). */
__attribute__((warn_unused_result)) int audit_read_buf(const char *buf, size_t len,
                                                       const struct audit_read_opts *opts,
                                                       struct audit_read_report *report);

#endif
