/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is asking: the one place where cordond turns a credential into an agent. A credential
 * is an agent key (ck_..., docs/PROTOCOL.md) or a session token (cs_..., minted for the root
 * of a governed process tree, bound to its agent and session). The policy fetch, the tunnel,
 * the event channel and the model proxy all ask here, so that a revoked key or an expired
 * session is refused the same way everywhere.
 */
#ifndef CORDON_SERVER_IDENTITY_H
#define CORDON_SERVER_IDENTITY_H

#include "policy/server/agents.h"

struct srv;

#define IDENTITY_SESSION_MAX 64

struct identity {
    char agent[AGENTS_NAME_MAX + 1];        /* the agent's name */
    char key_id[AGENTS_ID_LEN + 1];         /* the id of the agent key (or of the key the session
                                               token was minted under) */
    char session[IDENTITY_SESSION_MAX + 1]; /* the session id; "" for an agent key */
    int via_session;                        /* 1 when the credential was a session token */
};

/*
 * Check credential (NUL-terminated, as the client sent it) and fill *who. Returns AGENTS_OK
 * (0), or AGENTS_ERR_MALFORMED, AGENTS_ERR_UNKNOWN or AGENTS_ERR_REVOKED (agents.h; a revoked
 * key, or a session that ended, expired or was revoked). On AGENTS_ERR_REVOKED *who still
 * names the agent and key, so that the refusal can be recorded against them; on the other
 * failures it is cleared.
 */
__attribute__((warn_unused_result)) int identity_check(struct srv *s, const char *credential,
                                                       struct identity *who);

#endif
