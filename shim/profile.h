/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent profile: the handful of CORDON_* variables that tell a governed process where its
 * policy comes from (docs/PROTOCOL.md, "The agent profile"). Values come from the environment
 * first; a CORDON_PROFILE file of NAME=VALUE lines fills in what the environment leaves unset.
 * Parsing is separate from the environment so that it can be tested with hostile text.
 */
#ifndef CORDON_SHIM_PROFILE_H
#define CORDON_SHIM_PROFILE_H

#include <stddef.h>

#define PROFILE_MAX_BYTES 65536 /* a profile file larger than this is refused */
#define PROFILE_VALUE_MAX 4096  /* bytes in one value */
#define PROFILE_KEY_LEN 46      /* "ck_" + 43 characters */

enum profile_log { PROFILE_LOG_ONCE, PROFILE_LOG_ALL, PROFILE_LOG_OFF };

struct profile {
    char server[PROFILE_VALUE_MAX];    /* CORDON_SERVER, "" when unset */
    char key[PROFILE_VALUE_MAX];       /* CORDON_KEY as given: a value or a path */
    char trust[PROFILE_VALUE_MAX];     /* CORDON_TRUST as given: inline text or a path */
    char policy[PROFILE_VALUE_MAX];    /* CORDON_POLICY */
    char workspace[PROFILE_VALUE_MAX]; /* CORDON_WORKSPACE */
    char log[16];                      /* CORDON_LOG */
    enum profile_log log_mode;
};

/*
 * Fill the members of p that are still empty from profile text (NAME=VALUE lines, '#'
 * comments, blank lines, an optional CR before LF). Only the variables of the profile are
 * accepted; any other line is refused and err names its line number. Returns 0 or -EINVAL.
 */
__attribute__((warn_unused_result)) int profile_parse(const char *text, size_t len,
                                                      struct profile *p, char *err, size_t errlen);

/*
 * Fill what p still lacks from a profile file (profile_parse), read once: a regular file of at
 * most PROFILE_MAX_BYTES, which must be mode 0600 if it holds the key itself
 * (profile_check_file_mode). Returns 0 or a negative errno with err saying what to do.
 */
__attribute__((warn_unused_result)) int profile_read_file(struct profile *p, const char *file,
                                                          char *err, size_t errlen);

/*
 * The profile of this process: the environment, then CORDON_PROFILE's file for what is left.
 * Checks that the combination can work (a server with a key, or a policy file; a trust).
 * Returns 0 or a negative errno with err set to a sentence saying what to do.
 */
__attribute__((warn_unused_result)) int profile_load(struct profile *p, char *err, size_t errlen);

/* Values given on a command line (`cordon run --server ...`); NULL: not given. */
struct profile_source {
    const char *file; /* the profile file (NULL: CORDON_PROFILE) */
    const char *server, *key, *policy, *trust, *workspace;
};

/*
 * profile_load with a command line on top: the one statement of the precedence. A value
 * given in src wins over the environment, which wins over the profile file. A server or a
 * policy given in src is the policy source: the environment's CORDON_SERVER and
 * CORDON_POLICY are then ignored, so a stray variable cannot shadow the option. A server
 * wins over a policy file that did not come from src. src NULL is profile_load. Returns 0 or
 * a negative errno with err set.
 */
__attribute__((warn_unused_result)) int
profile_load_from(struct profile *p, const struct profile_source *src, char *err, size_t errlen);

/* Check the combination of an already filled profile (what profile_load checks last). */
__attribute__((warn_unused_result)) int profile_check(struct profile *p, char *err, size_t errlen);

/*
 * The agent key: p->key itself when it starts with "ck_", else the content of the file it
 * names (mode 0600 or stricter, at most 256 bytes, one line). Checks the form ("ck_" and 43
 * URL-safe base64 characters). out receives PROFILE_KEY_LEN + 1 bytes. Returns 0 or -errno.
 */
__attribute__((warn_unused_result)) int
profile_key(const struct profile *p, char out[PROFILE_KEY_LEN + 1], char *err, size_t errlen);

/*
 * A profile file that holds the agent key itself (CORDON_KEY=ck_...) must be as private as a
 * key file: refuses (-EPERM, err says chmod 600) when mode has a group or other bit, unless
 * the key came from elsewhere (had_key: the environment set it first). Returns 0 or -EPERM.
 */
__attribute__((warn_unused_result)) int profile_check_file_mode(const char *file, unsigned mode,
                                                                int had_key,
                                                                const struct profile *p, char *err,
                                                                size_t errlen);

/* profile_key for a CORDON_KEY value given directly (a key, or the path of a key file). */
__attribute__((warn_unused_result)) int
profile_key_of(const char *key, char out[PROFILE_KEY_LEN + 1], char *err, size_t errlen);

/* The log mode CORDON_LOG names (NULL or "" is "once"). Returns 0, or -EINVAL with err set. */
__attribute__((warn_unused_result)) int profile_log_mode(const char *value, enum profile_log *mode,
                                                         char *err, size_t errlen);

/* 1 when s has the form of an agent key (ck_ + 43 URL-safe base64) or of the session token
 * (cs_ + 43) that stands for it inside a governed tree (docs/PROTOCOL.md "Session tokens"). */
int profile_key_valid(const char *s);

#endif
