/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy set: every agent's policy, validated as a whole, signed, and published with one
 * pointer swap. Readers (policy fetches, tunnels) take a reference to the current set with
 * pset_acquire() and drop it with pset_release(); a reload builds a complete new set off to
 * the side and swaps it in, so a reader sees the old set or the new one, never half of each,
 * and no lock is held across a request (the lock guards only the pointer and the count).
 *
 * Versions: each agent's version is persisted in STATE/versions with the SHA-256 of the
 * policy text it was given for, so a version grows only when the text changes and never goes
 * back across reloads and restarts.
 */
#ifndef CORDON_SERVER_PSET_H
#define CORDON_SERVER_PSET_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/diag.h"
#include "policy/server/agents.h"

#define PSET_MAX_AGENTS 4096
#define PSET_ETAG_MAX 48

struct policy;
struct engine;
struct key_secret;

struct httprule_set; /* httprule.h */

struct pset_entry {
    char agent[AGENTS_NAME_MAX + 1];
    char *source; /* the policy text as written (re-signing uses it) */
    size_t source_len;
    unsigned char digest[32]; /* SHA-256 of source */
    char *envelope;           /* the signed DSSE envelope */
    size_t envelope_len;
    char etag[PSET_ETAG_MAX]; /* "\"v7-0123456789abcdef\"" */
    uint64_t version;
    time_t issued_at, expires_at;
    struct policy *policy;           /* compiled, for the tunnel's allowlist */
    struct engine *engine;           /* the model proxy's engine for policy, built with the set */
    struct httprule_set *http_rules; /* sandbox.network.http compiled with the set; NULL: none */
};

struct pset {
    int refs;            /* atomic */
    uint64_t generation; /* grows with every swap */
    time_t resign_at;    /* when the earliest envelope passes half its validity */
    size_t n;
    struct pset_entry *v; /* sorted by agent */
};

struct pset_options {
    const char *policies_dir; /* one of dir and file */
    const char *policy_file;
    const char *versions_path;    /* NULL: versions kept in memory only */
    const struct key_secret *key; /* borrowed; outlives the manager */
    time_t expiry;                /* seconds of validity of each envelope */
    /* The server's own secret paths: every policy is compiled with them and signed with them
     * as its host_deny (borrowed; outlive the manager). */
    const char *const *host_deny;
    size_t n_host_deny;
    /* The data key (32 bytes, borrowed; outlives the manager) that api.data's exact-data-match
     * files were made with; NULL: a policy with such a class does not load. */
    const unsigned char *data_key;
};

struct pset_manager;

/* Create a manager and load the first set. On failure d holds every problem. */
__attribute__((warn_unused_result)) int
pset_manager_open(const struct pset_options *o, struct pset_manager **out, struct diag *d);
void pset_manager_free(struct pset_manager *m);

/* A pushed file: NAME.json and its text. */
struct pset_source {
    const char *file;
    const char *text;
    size_t len;
};

/*
 * Build a new set from the policies directory (or file) with pushed files overriding or
 * adding to it, validate every policy (policy_load + policy_check_deep, agent == NAME), sign,
 * persist versions, write the pushed files into the directory and swap. With resign set, the
 * current set's sources are re-signed instead (fresh expiry, same versions). On any error
 * nothing changes; d says what. Returns 0 or -EINVAL/-EIO/-ENOMEM.
 */
__attribute__((warn_unused_result)) int pset_manager_reload(struct pset_manager *m,
                                                            const struct pset_source *push,
                                                            size_t npush, int resign,
                                                            struct diag *d);

/* The current set with a reference held; never NULL after a successful open. */
struct pset *pset_acquire(struct pset_manager *m);
void pset_release(struct pset *s);
/* The entry for agent, or NULL. */
const struct pset_entry *pset_find(const struct pset *s, const char *agent);

/* Counters for /metrics. */
void pset_manager_stats(struct pset_manager *m, uint64_t *reloads, uint64_t *failures);

#endif
