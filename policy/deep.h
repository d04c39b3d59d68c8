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

/*
 * The argument patterns of api.tools.constraints as the proxy runs them: one dialect for the
 * check above and for the engine. The pattern is anchored at both ends (\A(?:RE)\z), so the
 * whole value must match; the empty string is a value like any other. A compiled pattern is
 * read-only and may be shared by every thread.
 */
struct deep_regex;
/* Returns 0 and *out (deep_regex_free), -EINVAL with err saying why vectorscan rejects it,
 * -ELIBACC when vectorscan cannot be loaded, -ENOMEM. */
int deep_regex_compile(const char *re, struct deep_regex **out, char *err, size_t errlen);
/* 1 when the len bytes of s match in full, 0 when not (also for bytes that are not UTF-8),
 * -ENOMEM or -EIO when the scan cannot run. */
int deep_regex_match(const struct deep_regex *r, const char *s, size_t len);
void deep_regex_free(struct deep_regex *r);

#endif
