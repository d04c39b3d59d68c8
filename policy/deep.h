/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deep checks of a compiled policy: the parts whose validation needs a heavy library or the
 * machine's databases. Regular expressions (custom data classes, tool argument constraints)
 * are compiled with vectorscan, the engine the API layer will run them on, so a pattern that
 * passes here is a pattern cordond can load; time zones are looked up in the tz database.
 *
 * `cordon policy check`, `cordon sign` and cordond run these before a policy is signed. The
 * shim does not: it only enforces the sandbox half of a policy that was checked before it was
 * signed, and it must not pay for vectorscan in every process.
 */
#ifndef CORDON_POLICY_DEEP_H
#define CORDON_POLICY_DEEP_H

#include "base/diag.h"
#include "policy/policy.h"

#define DEEP_ZONEINFO_DIR "/usr/share/zoneinfo"

/*
 * Add an error to d for every pattern vectorscan rejects (or one that matches the empty
 * string, which would flag every request), and every unknown time zone. zoneinfo is the tz
 * database directory (DEEP_ZONEINFO_DIR; tests pass their own). Returns the number of
 * errors added.
 */
size_t policy_check_deep(const struct policy *p, const char *zoneinfo, struct diag *d);

#endif
