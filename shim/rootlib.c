/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The entry points of libcordon-root.so (see rootlib.h): thin wrappers over the root
 * sequence of root.c, gathered in the one exported table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/diag.h"
#include "shim/rootlib.h"

static int start(struct root *r, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        diag_set(err, errlen, "libsodium cannot initialise (no entropy source?)");
        return -EIO;
    }
    int rc = root_prepare(r, err, errlen);
    return rc ? rc : root_enforce(r, err, errlen);
}

static int load_envelope(const char *trust_spec, const char *workspace, const char *env, size_t len,
                         const char *want, struct policy **out, uint64_t *version, char *err,
                         size_t errlen)
{
    char digest[7 + 64 + 1], keyid[KEY_ID_HEX + 1];
    char *payload = NULL;
    size_t plen = 0;
    struct key_trust trust;
    struct envelope_stamp stamp;
    int rc;
    if (sodium_init() < 0) {
        diag_set(err, errlen, "libsodium cannot initialise (no entropy source?)");
        return -EIO;
    }
    root_digest(env, len, digest);
    if (strcmp(digest, want) != 0) {
        diag_set(err, errlen,
                 "the tree's policy cache does not match CORDON_POLICY_DIGEST (it "
                 "was replaced); start the agent again from its profile");
        return -EINVAL;
    }
    if ((rc = root_load_trust(trust_spec, &trust, err, errlen)) != 0 ||
        (rc = root_verify(&trust, env, len, 0, &payload, &plen, &stamp, keyid, err, errlen)) != 0)
        return rc;
    rc = root_compile(payload, plen, workspace, out, err, errlen);
    free(payload);
    if (rc == 0)
        *version = stamp.version;
    return rc;
}

__attribute__((visibility("default"))) const struct rootlib cordon_rootlib = {
    .start = start,
    .poll_once = root_poll_once,
    .load_envelope = load_envelope,
};
