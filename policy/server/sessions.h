/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Session tokens: the credential a governed process tree holds in place of its agent key
 * (docs/PROTOCOL.md "Session tokens"). A token is "cs_" + 43 characters of URL-safe base64 of
 * 32 bytes: a 16-byte random id and the first 16 bytes of HMAC-SHA-256(server secret, "cordon
 * session v1" NUL id agent NUL key-id NUL session NUL). cordond mints one for the root of a
 * tree when it sends its sandbox.report event, bound to the agent, the key the root
 * authenticated with and the tree's session id; the table here holds what each token is bound
 * to, so that a token dies at the session's end (session.end), when its key is revoked, or
 * after its TTL, whichever comes first. The secret is the agents module's (agents_hmac): a
 * token cannot be forged without it, and a copy of the table gives none.
 *
 * A token is never written anywhere in clear: logs and the audit trail name it by its id
 * (sessions_token_id: "st_" + 16 hex digits of SHA-256 of the token).
 */
#ifndef CORDON_SERVER_SESSIONS_H
#define CORDON_SERVER_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/server/agents.h"

#define SESSIONS_TOKEN_LEN 46   /* "cs_" + 43, the length of an agent key */
#define SESSIONS_ID_LEN 19      /* "st_" + 16 hex */
#define SESSIONS_SESSION_MAX 64 /* the tree's session id (32 hex digits from the shim) */
#define SESSIONS_MAX 65536      /* live tokens at once */
#define SESSIONS_TTL_MS (24LL * 3600 * 1000)

struct sessions;

/* What a token is bound to (sessions_check fills it). */
struct session_bind {
    char agent[AGENTS_NAME_MAX + 1];
    char key_id[AGENTS_ID_LEN + 1];
    char session[SESSIONS_SESSION_MAX + 1];
};

/* A table of tokens signed under a's secret, each living at most ttl_ms (0: SESSIONS_TTL_MS).
 * Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int sessions_new(struct agents *a, int64_t ttl_ms,
                                                     struct sessions **out);
void sessions_free(struct sessions *ss);

/*
 * Mint a token for agent, key_id and session (each a NUL-terminated string within the limits
 * above). parent (NULL or "" for none) is the session of the token the minting root itself
 * authenticated with, for a process of a tree that became a root again: the new token ends
 * with that session too. token gets the token, id (may be NULL) its id. Returns 0, -EINVAL
 * for a binding out of bounds, -ENOSPC when SESSIONS_MAX live tokens exist, -ENOMEM.
 */
__attribute__((warn_unused_result)) int
sessions_mint(struct sessions *ss, const char *agent, const char *key_id, const char *session,
              const char *parent, char token[SESSIONS_TOKEN_LEN + 1], char id[SESSIONS_ID_LEN + 1]);

/*
 * Check a token (NUL-terminated, as the client sent it). Returns AGENTS_OK and fills *b;
 * AGENTS_ERR_MALFORMED (not cs_ + 43 base64url), AGENTS_ERR_UNKNOWN (never minted here, or
 * forged), AGENTS_ERR_REVOKED (its session ended, its TTL passed, or its key was revoked; *b
 * still names the agent and key). On the other failures *b is cleared.
 */
int sessions_check(struct sessions *ss, const char *token, struct session_bind *b);

/* End every token of this session, and those minted under it (parent), for session.end.
 * Returns how many ended. */
size_t sessions_end(struct sessions *ss, const char *session);

/* The live session tokens of agent now, one per governed tree (`cordon status`). */
size_t sessions_live(struct sessions *ss, const char *agent);

/* The id a token is named by in logs: "st_" + 16 hex digits of its SHA-256. */
void sessions_token_id(const char *token, char id[SESSIONS_ID_LEN + 1]);

#endif
