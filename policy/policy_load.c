/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy parse, validation and compilation. One pass walks the cJSON tree with a table of the
 * keys each object may hold, records every error with its JSON path (an unknown key is an
 * error: a typo must never switch a rule off in silence), and fills the compiled struct as it
 * goes. The compiled form is only handed out when the document had no error at all.
 *
 * Hostile input is bounded before cJSON sees it: size, nesting depth and "\u0000" escapes are
 * checked on the raw bytes; string lengths, array and object sizes and duplicate keys (which
 * cJSON keeps, letting a second "deny" hide behind the first) during the walk.
 *
 * This file holds the document: the raw-byte guards and the top-level keys. The readers the
 * walk shares are policy_walk.c, the "sandbox" half of the walk policy_sandbox.c, the "api"
 * half policy_api.c.
 */
#include "policy/policy.h"
#include "policy/policy_api.h"
#include "policy/policy_sandbox.h"
#include "policy/policy_walk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_top[] = {"cordon_policy", "agent",        "mode",      "sandbox",
                                    "api",           "poll_seconds", "version",   "issued_at",
                                    "expires_at",    "description",  "host_deny", NULL};

/* ---------------------------------------------------------------- raw-byte guards */

/* Depth of nesting and "\u0000" escapes, before cJSON recurses into anything. */
static int prescan(const char *buf, size_t len, struct diag *d)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch == '\0') {
            diag_add(d, "",
                     "the document contains a NUL byte at offset %zu; a policy is "
                     "UTF-8 JSON text",
                     i);
            return -EINVAL;
        }
        if (in_str) {
            if (ch == '\\' && i + 1 < len) {
                if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0) {
                    diag_add(d, "",
                             "the document contains the escape \\u0000 at offset %zu; "
                             "NUL characters are not accepted in a policy",
                             i);
                    return -EINVAL;
                }
                i++;
            } else if (ch == '"') {
                in_str = 0;
            }
            continue;
        }
        if (ch == '"')
            in_str = 1;
        else if (ch == '{' || ch == '[') {
            if (++depth > POLICY_MAX_DEPTH) {
                diag_add(d, "",
                         "the document nests deeper than %d levels (offset %zu); the "
                         "schema needs far fewer",
                         POLICY_MAX_DEPTH, i);
                return -EINVAL;
            }
        } else if (ch == '}' || ch == ']')
            depth--;
    }
    return 0;
}

static void parse_error(const char *buf, size_t len, const char *at, struct diag *d)
{
    size_t off = at && at >= buf && at <= buf + len ? (size_t)(at - buf) : len;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char near[40] = "";
    size_t k = 0;
    for (size_t i = off; i < len && k < 20 && buf[i] != '\n'; i++)
        near[k++] = buf[i];
    near[k] = '\0';
    char q[96];
    diag_quote(near, q, sizeof q);
    diag_add(d, "",
             "not valid JSON at line %zu, column %zu (near %s); check for a missing "
             "comma, quote or brace",
             line, col, q);
}

/* ---------------------------------------------------------------- entry points */

int policy_load(const char *buf, size_t len, const struct policy_env *env, struct policy **out,
                struct diag *d)
{
    int rc = -EINVAL;
    cJSON *root = NULL;
    struct policy *p = NULL;
    size_t errors_before = diag_total(d);

    *out = NULL;
    if (len > POLICY_MAX_BYTES) {
        diag_add(d, "", "the document is %zu bytes; a policy may be at most %u bytes", len,
                 POLICY_MAX_BYTES);
        goto out;
    }
    if (len == 0) {
        diag_add(d, "", "the document is empty; a policy is a JSON object");
        goto out;
    }
    if (prescan(buf, len, d) != 0)
        goto out;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        parse_error(buf, len, cJSON_GetErrorPtr(), d);
        goto out;
    }
    /* cJSON stops after the first value; anything but white space after it is an error. */
    for (const char *t = end; t && t < buf + len; t++)
        if (!strchr(" \t\r\n", *t)) {
            parse_error(buf, len, t, d);
            goto out;
        }

    struct policy_arena *a = pw_arena_new();
    p = calloc(1, sizeof *p);
    if (!a || !p) {
        free(a);
        rc = -ENOMEM;
        goto out;
    }
    p->arena = a;
    p->paths_resolved = env->resolve_symlinks;
    struct ctx c = {.d = d, .p = p, .a = a, .env = env, .oom = 0};

    if (!pw_check_object(&c, root, "", k_top)) {
        diag_add(d, "", "a policy is a JSON object with \"cordon_policy\": %d and \"agent\"",
                 POLICY_SCHEMA);
        goto out;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "cordon_policy");
    if (!schema)
        diag_add(d, "cordon_policy",
                 "missing; the first line of every policy is "
                 "\"cordon_policy\": %d",
                 POLICY_SCHEMA);
    else
        p->schema = (int)pw_get_int(&c, schema, "cordon_policy", POLICY_SCHEMA, POLICY_SCHEMA, 0);

    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(root, "agent");
    if (!agent) {
        diag_add(d, "agent", "missing; name the agent identity this policy governs");
    } else {
        const char *s = pw_get_str(&c, agent, "agent");
        int ok = s != NULL;
        for (const char *q = s; ok && *q; q++)
            if (!isalnum((unsigned char)*q) && !strchr("._-", *q))
                ok = 0;
        if (s && (!ok || strlen(s) > 64 || s[0] == '.' || s[0] == '-')) {
            char q[96];
            diag_quote(s, q, sizeof q);
            diag_add(d, "agent",
                     "expected 1 to 64 letters, digits, '.', '_' or '-' not "
                     "starting with '.' or '-', got %s",
                     q);
        } else if (s) {
            p->agent = pw_cx_strdup(&c, s);
        }
    }
    p->mode = (enum policy_mode)pw_get_enum(&c, cJSON_GetObjectItemCaseSensitive(root, "mode"),
                                            "mode", pw_n_mode, POLICY_MODE_ENFORCE);
    p->poll_seconds = (unsigned)pw_get_int(
        &c, cJSON_GetObjectItemCaseSensitive(root, "poll_seconds"), "poll_seconds", 5, 86400, 60);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc)
        (void)pw_get_str(&c, desc, "description");

    /* The stamp is added by signing; it is read here so that the payload of an envelope is
     * itself a valid policy, and so explain can show it. envelope.c checks its meaning. */
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver)
        p->version = (uint64_t)pw_get_int(&c, ver, "version", 1, 9007199254740992LL, 0);
    const cJSON *ia = cJSON_GetObjectItemCaseSensitive(root, "issued_at");
    if (ia && (p->issued_at = pw_get_str(&c, ia, "issued_at")))
        p->issued_at = pw_cx_strdup(&c, p->issued_at);
    const cJSON *ea = cJSON_GetObjectItemCaseSensitive(root, "expires_at");
    if (ea && (p->expires_at = pw_get_str(&c, ea, "expires_at")))
        p->expires_at = pw_cx_strdup(&c, p->expires_at);

    /* host_deny is stamped in by cordond (envelope.c) and read before the sandbox, whose deny
     * list it joins. */
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "host_deny");
    if (hd)
        pw_get_host_deny(&c, hd);

    pw_walk_sandbox(&c, cJSON_GetObjectItemCaseSensitive(root, "sandbox"));
    pw_walk_api(&c, cJSON_GetObjectItemCaseSensitive(root, "api"));

    if (c.oom) {
        rc = -ENOMEM;
        goto out;
    }
    if (diag_total(d) != errors_before)
        goto out;
    crypto_hash_sha256(p->digest, (const unsigned char *)buf, len);
    *out = p;
    p = NULL; /* transferred */
    rc = 0;
out:
    policy_free(p);
    cJSON_Delete(root);
    return rc;
}
