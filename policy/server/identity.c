/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity_check (identity.h). Agent keys are checked by the agents module, session tokens
 * by the sessions module (sessions.h), which also asks whether the key they were minted under
 * is still live.
 */
#include "policy/server/identity.h"

#include <string.h>

#include "policy/server/server.h"
#include "policy/server/sessions.h"

_Static_assert(IDENTITY_SESSION_MAX == SESSIONS_SESSION_MAX, "one session id bound");

int identity_check(struct srv *s, const char *credential, struct identity *who)
{
    memset(who, 0, sizeof *who);
    if (!credential)
        return AGENTS_ERR_UNKNOWN;
    int rc;
    if (strncmp(credential, "cs_", 3) == 0) {
        if (!s->sessions)
            return AGENTS_ERR_UNKNOWN;
        struct session_bind b;
        rc = sessions_check(s->sessions, credential, &b);
        memcpy(who->agent, b.agent, sizeof who->agent);
        memcpy(who->key_id, b.key_id, sizeof who->key_id);
        memcpy(who->session, b.session, sizeof who->session);
        who->via_session = 1;
    } else {
        rc = agents_check(s->agents, credential, who->agent, who->key_id);
    }
    if (rc != AGENTS_OK && rc != AGENTS_ERR_REVOKED)
        memset(who, 0, sizeof *who);
    return rc;
}
