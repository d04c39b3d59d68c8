/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a compiled policy means, in full: every path as written and as resolved (with the
 * symlinks followed), every default filled in, every rule expanded. Text for people
 * (`cordon explain`), JSON for programs (`cordon explain --json`).
 */
#ifndef CORDON_POLICY_EXPLAIN_H
#define CORDON_POLICY_EXPLAIN_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "policy/policy.h"

/* Write the explanation as text. Returns 0, or -EIO when out fails. */
__attribute__((warn_unused_result)) int policy_explain_text(const struct policy *p, FILE *out);

/* The explanation as a JSON object (caller cJSON_Delete's it); NULL on OOM. */
cJSON *policy_explain_json(const struct policy *p);

/*
 * Programs in the exec search directories that a name rule matches, for the explanation.
 * Calls fn once per match with the absolute file path. Symlinked directories inside a search
 * directory are not followed (Debian's /usr/bin/X11 -> . would list every program twice).
 */
void policy_exec_matches(const struct policy *p, const char *glob,
                         void (*fn)(const char *path, void *arg), void *arg);

#endif
