/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy document's api.* keys that shape how the engine runs, turned into engine
 * options here and nowhere else, so that cordond and the tests build an engine the same way.
 */
#include "policy/engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int engine_options_from_policy(const struct policy *p, struct engine_options *o, char *err,
                               size_t errlen)
{
    memset(o, 0, sizeof *o);
    switch (p->api.on_denied_definition) {
    case POLICY_DEFINITION_STRIP:
        o->on_denied_definition = ENGINE_DEFINITION_STRIP;
        break;
    case POLICY_DEFINITION_REFUSE:
        o->on_denied_definition = ENGINE_DEFINITION_REFUSE;
        break;
    default:
        snprintf(err, errlen,
                 "api.tools.on_denied_definition holds value %d, which this "
                 "engine does not know",
                 (int)p->api.on_denied_definition);
        return -EINVAL;
    }
    switch (p->api.on_denied_call) {
    case POLICY_CALL_DROP:
        o->on_denied_call = ENGINE_CALL_DROP;
        break;
    case POLICY_CALL_NOTICE:
        o->on_denied_call = ENGINE_CALL_NOTICE;
        break;
    default:
        snprintf(err, errlen,
                 "api.tools.on_denied_call holds value %d, which this engine does "
                 "not know",
                 (int)p->api.on_denied_call);
        return -EINVAL;
    }
    switch (p->api.previous_response_id) {
    case POLICY_STORED_REFUSE:
        o->allow_stored_context = 0;
        break;
    case POLICY_STORED_ALLOW:
        o->allow_stored_context = 1;
        break;
    default:
        snprintf(err, errlen,
                 "api.previous_response_id holds value %d, which this engine does "
                 "not know",
                 (int)p->api.previous_response_id);
        return -EINVAL;
    }
    return 0;
}
