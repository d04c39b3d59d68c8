/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity_check (identity.h). Agent keys are checked by the agents module; session tokens
 * join here when the sessions module exists.
 */
#include "policy/server/identity.h"

#include <string.h>

#include "policy/server/server.h"

int identity_check(struct srv *s, const char *credential, struct identity *who)
{
    memset(who, 0, sizeof *who);
    if (!credential)
        return AGENTS_ERR_UNKNOWN;
    int rc = agents_check(s->agents, credential, who->agent, who->key_id);
    if (rc != AGENTS_OK && rc != AGENTS_ERR_REVOKED)
        memset(who, 0, sizeof *who);
    return rc;
}
