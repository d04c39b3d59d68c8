/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agent identities: who may fetch which policy, open which tunnel and send which events. An
 * agent key is "ck_" + 43 characters of URL-safe base64 (32 random bytes), as docs/PROTOCOL.md
 * "Agent keys" fixes. The keys file never holds a key: each line is
 *
 *     KEY_ID AGENT HMAC CREATED REVOKED
 *
 * with HMAC = hex HMAC-SHA-256(server secret, key), CREATED and REVOKED in seconds since the
 * epoch ("-" while the key is live). The server secret is 32 random bytes in a 0600 file in
 * the state dir, so a leaked keys file gives no usable key and cannot be brute-forced offline
 * without the secret either.
 *
 * Lookups take a read lock for the length of one scan; add and revoke rewrite the file
 * atomically (temporary file, fsync, rename) before they change memory.
 */
#ifndef CORDON_SERVER_AGENTS_H
#define CORDON_SERVER_AGENTS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/err.h"

#define AGENTS_KEY_LEN 46 /* "ck_" + 43 */
#define AGENTS_ID_LEN 19  /* "ak_" + 16 hex */
#define AGENTS_NAME_MAX 64
#define AGENTS_MAX 65536            /* keys one file may hold, revoked ones included */
#define AGENTS_FILE_MAX (16u << 20) /* bytes */

struct agents;

/*
 * What agents_check() finds. The codes live in the module's block of base/err.h, far from
 * every errno value, so that no code can be read as an errno (they were -1, -2, -3: -EPERM,
 * -ENOENT, -ESRCH). Every other function of this module returns 0 or a negative errno.
 */
enum agents_status {
    AGENTS_OK = 0,
    AGENTS_ERR_MALFORMED = ERR_BLOCK_AGENTS - 1, /* not ck_ + 43 base64url characters */
    AGENTS_ERR_UNKNOWN = ERR_BLOCK_AGENTS - 2,   /* no key with this HMAC */
    AGENTS_ERR_REVOKED = ERR_BLOCK_AGENTS - 3,   /* the key existed and was revoked */
};

/* A sentence for rc: an agents_status, a negative errno (strerror's text) or 0. Never NULL;
 * the text is static. */
const char *agents_strerror(int rc);

struct agents_entry {
    char id[AGENTS_ID_LEN + 1];
    char name[AGENTS_NAME_MAX + 1];
    unsigned char mac[32];
    time_t created, revoked; /* revoked 0: live */
    int ephemeral;           /* given by flag, never written to the file */
};

/*
 * Load the server secret (creating it, 0600, if missing) and the keys file (missing means
 * empty). A secret file with group or other permission bits, a keys file with a malformed
 * line (named by number) or over the limits is refused. *out is released with agents_free().
 */
__attribute__((warn_unused_result)) int agents_open(const char *keys_path, const char *secret_path,
                                                    struct agents **out, char *err, size_t errlen);
void agents_free(struct agents *a);

/* Parse keys-file text (what agents_open reads); exposed for tests. Entries go into a. */
__attribute__((warn_unused_result)) int agents_parse(struct agents *a, const char *text, size_t len,
                                                     char *err, size_t errlen);

/*
 * Identify a key: compares its HMAC with every entry in constant time (the scan does not stop
 * at a match). Returns an agents_status; on AGENTS_OK fills name and id (either may be NULL).
 */
int agents_check(struct agents *a, const char *key, char name[AGENTS_NAME_MAX + 1],
                 char id[AGENTS_ID_LEN + 1]);

/* Create a key for agent name, persist its HMAC, and return the key (shown once) and id. */
__attribute__((warn_unused_result)) int agents_add(struct agents *a, const char *name,
                                                   char key[AGENTS_KEY_LEN + 1],
                                                   char id[AGENTS_ID_LEN + 1], char *err,
                                                   size_t errlen);

/* Register an existing key for name in memory only (single-policy mode's --agent-key-file). */
__attribute__((warn_unused_result)) int
agents_add_ephemeral(struct agents *a, const char *name, const char *key, char *err, size_t errlen);

/* Revoke the key with this id, or every live key of the agent with this name. *count gets
 * how many were revoked (0 is not an error). */
__attribute__((warn_unused_result)) int agents_revoke(struct agents *a, const char *id_or_name,
                                                      size_t *count, char *err, size_t errlen);

/*
 * For holders of a connection opened with a key that may be revoked later (tunnels, event
 * connections): agents_revocations() grows with every revoke that revoked a key, so a holder
 * that sees it change asks agents_id_live() whether its key id is still live (known and not
 * revoked).
 */
uint64_t agents_revocations(struct agents *a);
int agents_id_live(struct agents *a, const char *id);

/* A JSON array of {"id","agent","created","revoked"} (malloc'd, caller frees), or NULL. */
char *agents_list_json(struct agents *a);

/* 1 if s is a valid agent name: 1 to 64 of [A-Za-z0-9._-]. */
int agents_valid_name(const char *s);

/* HMAC-SHA-256 of msg under the server secret, for the modules that bind what they mint to
 * this cordond (session tokens, sessions.h): one secret, never a second. */
void agents_hmac(struct agents *a, const void *msg, size_t len, unsigned char mac[32]);

#endif
