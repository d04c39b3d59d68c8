/* SPDX-License-Identifier: Apache-2.0 */
/* Private to policy/: the sandbox half of the policy walk (policy_sandbox.c). */
#ifndef CORDON_POLICY_SANDBOX_H
#define CORDON_POLICY_SANDBOX_H

#include "policy/policy_walk.h"

/* The document's "host_deny": read before the sandbox, whose deny list it joins. */
void pw_get_host_deny(struct ctx *c, const cJSON *v);
/* The document's "sandbox" object (NULL: every default). */
void pw_walk_sandbox(struct ctx *c, const cJSON *sb);

#endif
