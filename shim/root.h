/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root of a governed process tree: the sequence that turns an agent profile into a
 * verified, compiled policy and a kernel sandbox, and marks the tree for its descendants
 * (docs/PROTOCOL.md, "The agent profile"). The shim's constructor runs it when it finds no
 * valid tree mark; `cordon run` runs the very same code before it starts the command.
 *
 *   root_prepare: fetch (or read) the envelope, verify, compile, connect the event channel
 *   root_enforce: apply the sandbox, send the enforcement report, export and mark the tree
 *
 * Descendants use root_verify() and root_compile() on the cached envelope.
 */
#ifndef CORDON_SHIM_ROOT_H
#define CORDON_SHIM_ROOT_H

#include <stddef.h>
#include <stdint.h>

#include "policy/sign/envelope.h"
#include "policy/sign/key.h"
#include "sandbox/sandbox.h"
#include "shim/env.h"
#include "shim/fetch.h"
#include "shim/profile.h"

/* Exit statuses of a process that refuses to start. */
#define ROOT_EXIT_SHIM 126 /* the shim's constructor refused: the program never ran */
#define ROOT_EXIT_RUN 125  /* `cordon run` refused before running the command */

#define ROOT_FETCH_TIMEOUT_MS 5000

struct root {
    struct profile prof;
    char key[PROFILE_KEY_LEN + 1];   /* "" offline */
    char token[PROFILE_KEY_LEN + 1]; /* the tree's session token (cs_...), "" until cordond
                                        answered the sandbox report */
    char notice[256]; /* a quarantine notice read while waiting for the token (poll.h says it) */
    struct key_trust trust;
    int online; /* CORDON_SERVER given */
    struct fetch_target server;
    char etag[128];
    char proxy[FETCH_HOST_MAX]; /* Cordon-Proxy, "" when unknown */
    char ca[FETCH_CA_MAX];      /* Cordon-CA, "" when cordond terminates no TLS */
    char bundle[256];           /* the CA bundle written for the tree, "" when none */
    char events_url[FETCH_HOST_MAX];
    char *envelope; /* the verified envelope bytes (malloc'd) */
    size_t envelope_len;
    char *payload; /* the policy JSON inside it (malloc'd) */
    size_t payload_len;
    struct envelope_stamp stamp;
    char keyid[KEY_ID_HEX + 1];
    struct policy *policy;
    char digest[7 + 64 + 1]; /* "sha256:" + hex */
    char session[33];
    int event_fd, policy_fd, dns_fd, hooks_fd;
    char hooks_id[48];  /* "DEV:INO" of the hook image's memfd */
    char preload[4096]; /* libcordon.so, kept readable inside the sandbox */
    char rootlib[4096]; /* libcordon-root.so beside it, when it exists */
    struct sandbox_opts sopts;
    struct sandbox_report report;
    struct env_hidden hidden; /* what sandbox.env took from the environment (names only) */
    char env_notice[ENV_NAMES_MAX + 128]; /* the line saying so (env_hidden_line), or "" */
};

/* Zero r and set its fds to -1. */
void root_init(struct root *r);
/* Release everything r owns (not the fds handed to descendants). */
void root_free(struct root *r);

/* r->prof filled (profile_load or by hand): load key and trust, get the envelope, verify it,
 * compile the policy and connect the event channel. 0 or negative with err set. */
__attribute__((warn_unused_result)) int root_prepare(struct root *r, char *err, size_t errlen);

/*
 * After root_prepare: a second connection to cordond's event channel for the same session,
 * for a supervisor that stays outside the sandbox (`cordon run`). It is not inherited across
 * exec (close-on-exec) and not exported, so no process of the tree can use it or shut it
 * down; its hello says "role":"supervisor". Returns the fd, -ENOENT when r has no event
 * channel (offline, or cordond announced none), or another negative errno with err set.
 */
__attribute__((warn_unused_result)) int root_open_supervisor_events(const struct root *r, char *err,
                                                                    size_t errlen);

/* Apply the sandbox, report it, create the caches and export the tree mark and the proxy
 * variables into this process's environment. 0 or negative with err set. */
__attribute__((warn_unused_result)) int root_enforce(struct root *r, char *err, size_t errlen);

/* Verify envelope bytes against trust at the current time, refusing versions below
 * min_version. On success *payload (malloc'd) and *st. */
__attribute__((warn_unused_result)) int
root_verify(const struct key_trust *trust, const char *env, size_t len, uint64_t min_version,
            char **payload, size_t *payload_len, struct envelope_stamp *st,
            char keyid[KEY_ID_HEX + 1], char *err, size_t errlen);

/* Compile a verified policy JSON for this process (workspace "" = current directory). */
__attribute__((warn_unused_result)) int root_compile(const char *payload, size_t len,
                                                     const char *workspace, struct policy **out,
                                                     char *err, size_t errlen);

/* "sha256:" + hex SHA-256 of buf. */
void root_digest(const char *buf, size_t len, char out[7 + 64 + 1]);

/* Load trust from CORDON_TRUST's form: inline text or a file path. */
__attribute__((warn_unused_result)) int root_load_trust(const char *spec, struct key_trust *t,
                                                        char *err, size_t errlen);

/*
 * One conditional fetch (the poller). Returns 1 and fills msg with the warning line when a
 * newer policy is published, 0 when unchanged, negative on failure (err set).
 */
int root_poll_once(struct root *r, char *msg, size_t msglen, char *err, size_t errlen);

#endif
