/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Data classification: find the data classes a policy names (built-in PII, secrets, health
 * and financial classes; custom regexes, word lists and exact-data-match sets) in text, in
 * one pass, in block mode or across the chunks of a stream. A library of its own, with no
 * server and no policy document: the engine's data stage (policy/engine/stage_data.c) turns
 * api.data into a struct data_config and calls it; tests and benchmarks call it directly.
 *
 * Shape:
 *   - one vectorscan database per configuration holds the candidate pattern of every enabled
 *     class (built-in and custom); a candidate is confirmed by the class's validator in C
 *     (Luhn and IIN ranges, mod-97, SSN rules, entropy floors...), by the allow and deny
 *     lists, and by context words near it;
 *   - struct data_scanner is built once per policy and read-only afterwards: every thread may
 *     share it; scratch space is per thread and per stream;
 *   - a stream keeps the text it has not released yet; text is released as soon as no match
 *     can still start in it, so it is held at most data_scanner_window() bytes.
 *
 * Actions (what is done with a match) are data_action.h's; the exact-data-match file format
 * is data_edm.h's; the tokenize vault is data_vault.h's.
 */
#ifndef CORDON_POLICY_DATA_DATA_H
#define CORDON_POLICY_DATA_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

/* The library's own codes (base/err.h block ERR_BLOCK_DATA): data_strerror() names them. */
#define DATA_ERR_PATTERN (ERR_BLOCK_DATA - 1)      /* a custom pattern vectorscan refuses */
#define DATA_ERR_PATHOLOGICAL (ERR_BLOCK_DATA - 2) /* a pattern too costly to run */
#define DATA_ERR_BUDGET (ERR_BLOCK_DATA - 3)       /* a scan over its memory or match budget */
#define DATA_ERR_SCAN (ERR_BLOCK_DATA - 4)         /* the scanner failed: the text is not scanned */
#define DATA_ERR_EDM (ERR_BLOCK_DATA - 5)          /* an exact-data-match file that does not read */
const char *data_strerror(int rc);

/* The built-in classes, in a fixed order (their ids are indexes into this list),
 * NULL-terminated: "pii.email", "pii.phone", "pii.credit_card", "pii.ssn", "pii.iban",
 * "pii.ip", "secret.aws_access_key", ..., "health", "financial". policy.c's
 * policy_data_classes is built from the same list (data_names.h). */
extern const char *const data_builtin_classes[];

struct data_edm; /* data_edm.h */

/* One class to look for. A built-in class is named and nothing else is set; a custom class
 * gives exactly one of pattern, words or edm. */
struct data_class_spec {
    const char *name;         /* "pii.email", or a custom class "claim_id" */
    const char *pattern;      /* custom: a regex (vectorscan's dialect, UTF-8 mode) */
    const char *const *words; /* custom: a word list, matched as whole words, case-blind */
    size_t n_words;
    const struct data_edm *edm; /* custom: an exact-data-match set (borrowed) */
    /* Per class, for built-in and custom alike: values that never count (test card numbers
     * in docs, "S3"), values that always count; compared after the class's normalization. */
    const char *const *allow;
    size_t n_allow;
    const char *const *deny;
    size_t n_deny;
};

struct data_config {
    const struct data_class_spec *classes;
    size_t n_classes;
    size_t max_matches; /* per scan or stream; beyond it DATA_ERR_BUDGET (0: 100,000) */
    size_t max_memory;  /* bytes a stream may hold; beyond it DATA_ERR_BUDGET (0: 1 MiB) */
};

struct data_scanner;

/* Compile cfg (copied: the scanner keeps nothing cfg points to, except edm sets, which must
 * outlive it). Returns 0 and *out; DATA_ERR_PATTERN or DATA_ERR_PATHOLOGICAL with err naming
 * the class and why; -ELIBACC when vectorscan cannot be loaded; -ENOMEM. The same call is
 * what `cordon policy check` runs, so a policy that passes there loads in cordond. */
__attribute__((warn_unused_result)) int data_scanner_new(const struct data_config *cfg,
                                                         struct data_scanner **out, char *err,
                                                         size_t errlen);
void data_scanner_free(struct data_scanner *s);

/* The holdback window, in bytes: the longest match any enabled class can make, and for the
 * numeric and e-mail classes the look-behind of their pass (a few hundred bytes). */
size_t data_scanner_window(const struct data_scanner *s);
/* The index in cfg->classes of each match's class, and its name. */
size_t data_scanner_n_classes(const struct data_scanner *s);
const char *data_scanner_class_name(const struct data_scanner *s, size_t cls);

/* One confirmed match: [start, end) in the text (in a stream: from the stream's first byte),
 * never overlapping another reported match (the longer, then the earlier, wins). */
struct data_match {
    size_t cls;
    uint64_t start, end;
};

/* Every confirmed match in len bytes of text (any bytes: invalid UTF-8 and NUL are scanned,
 * not skipped), in order of start. Returns the number of matches (0 or more) with *out
 * (malloc'ed, caller frees; NULL when none); DATA_ERR_BUDGET, DATA_ERR_SCAN, -ENOMEM. A
 * negative answer means the text was not scanned: the caller must not forward it. */
__attribute__((warn_unused_result)) long data_scan(const struct data_scanner *s, const char *text,
                                                   size_t len, struct data_match **out);

/*
 * A stream: one text position that arrives in pieces (a streamed choice's content, a tool
 * call's argument fragments). data_stream_feed() appends; afterwards the first
 * data_stream_ready() bytes of what is pending are final: no match can still start in them,
 * and the matches in them are data_stream_matches(). The caller takes them (applies the
 * actions, emits) and calls data_stream_release(). data_stream_end() makes everything pending
 * final.
 */
struct data_stream;
__attribute__((warn_unused_result)) int data_stream_new(const struct data_scanner *s,
                                                        struct data_stream **out);
void data_stream_free(struct data_stream *st);
/* 0; DATA_ERR_BUDGET, DATA_ERR_SCAN, -ENOMEM: the stream is dead and nothing pending may go. */
__attribute__((warn_unused_result)) int data_stream_feed(struct data_stream *st, const char *buf,
                                                         size_t len);
__attribute__((warn_unused_result)) int data_stream_end(struct data_stream *st);
/* The pending text (not yet released) starts at stream offset *base. */
const char *data_stream_pending(const struct data_stream *st, uint64_t *base, size_t *len);
/* How many pending bytes are final. */
size_t data_stream_ready(const struct data_stream *st);
/* The matches wholly inside the final bytes, in order, offsets from the stream's start. */
const struct data_match *data_stream_matches(const struct data_stream *st, size_t *n);
/* Drop the first n final bytes (n <= data_stream_ready()) and the matches inside them. */
void data_stream_release(struct data_stream *st, size_t n);

#endif
