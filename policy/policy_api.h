/* SPDX-License-Identifier: Apache-2.0 */
/* Private to policy/: the API half of the policy walk (policy_api.c). */
#ifndef CORDON_POLICY_API_H
#define CORDON_POLICY_API_H

#include "policy/policy_walk.h"

/* The document's "api" object (NULL: none; the budgets are then unset). */
void pw_walk_api(struct ctx *c, const cJSON *api);

#endif
