/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics: the list of errors a person reads when a policy is wrong. Every entry names the
 * JSON path of the offending value and says what was expected and what was found, e.g.
 *   sandbox.network.mode: expected one of none|proxy|host, got "proxi"
 * Validation reports every error it finds, not only the first, up to DIAG_MAX; beyond that
 * the entries are counted so the reader knows the list is cut.
 */
#ifndef CORDON_BASE_DIAG_H
#define CORDON_BASE_DIAG_H

#include <stddef.h>

#define DIAG_MAX 64
#define DIAG_PATH_MAX 160
#define DIAG_MSG_MAX 320

struct diag_entry {
    char path[DIAG_PATH_MAX]; /* "sandbox.filesystem.deny[2]", or "" for the whole document */
    char msg[DIAG_MSG_MAX];
};

struct diag {
    size_t count;   /* entries stored */
    size_t dropped; /* entries beyond DIAG_MAX, counted but not stored */
    struct diag_entry e[DIAG_MAX];
};

void diag_init(struct diag *d);
/* Append an error at path (printf-style message). Never fails: overflow is counted. */
__attribute__((format(printf, 3, 4))) void diag_add(struct diag *d, const char *path,
                                                    const char *fmt, ...);
/* Total errors seen, stored or not. */
size_t diag_total(const struct diag *d);
/* Write entry i as "path: msg" (or just msg for the document) into buf. */
void diag_format(const struct diag *d, size_t i, char *buf, size_t len);

/*
 * Quote a JSON-ish value for a message: strings are shown in double quotes with control
 * characters escaped and cut at 60 characters with "...", so hostile input cannot flood or
 * forge a terminal line.
 */
void diag_quote(const char *s, char *buf, size_t len);

/* Set err (errlen bytes, may be 0) to a formatted sentence; for modules that report one error. */
__attribute__((format(printf, 3, 4))) void diag_set(char *err, size_t errlen, const char *fmt, ...);

struct cJSON;
/* "a string", "an object", ... for "expected X, got Y" messages. */
const char *diag_json_type(const struct cJSON *v);

/* JSON paths for messages: parent.key, or parent["odd key"] when the key is not a plain
 * identifier (so user-chosen keys such as model names cannot forge a path); parent[i]. */
void diag_path_key(char out[DIAG_PATH_MAX], const char *parent, const char *key);
void diag_path_index(char out[DIAG_PATH_MAX], const char *parent, int i);

#endif
