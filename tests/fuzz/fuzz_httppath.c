/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the path normalizer, query splitter and host reader of judged egress
 * requests (policy/server/httppath.c) on arbitrary bytes. A normalized path starts with '/',
 * has no "//", no "." or ".." segment and no NUL; normalizing it again, when it is still a
 * path as sent (printable ASCII without '%', '\\' or ';'), changes nothing. Query parameters
 * and hosts stay within their buffers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/httppath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *out)
{
    if (strcmp(out, "*") == 0)
        return;
    if (out[0] != '/' || strstr(out, "//"))
        __builtin_trap();
    for (const char *s = out; (s = strchr(s, '/')) != NULL; s++) {
        size_t n = strcspn(s + 1, "/");
        if ((n == 1 && s[1] == '.') || (n == 2 && s[1] == '.' && s[2] == '.'))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    const char *raw = (const char *)data;
    char out[4100], again[4100];
    const char *why = NULL;
    for (int flags = 0; flags <= HTTPPATH_STRIP_PARAMS; flags++) {
        int rc = httppath_normalize(raw, size, flags, out, sizeof out, &why);
        if (rc == -EINVAL && (!why || !why[0]))
            __builtin_trap();
        if (rc != 0)
            continue;
        if (strlen(out) > size + 1)
            __builtin_trap();
        check_path(out);
        int plain = 1;
        for (const char *s = out; *s; s++)
            if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr("%\\;", *s))
                plain = 0;
        if (plain && strcmp(out, "*") != 0) {
            if (httppath_normalize(out, strlen(out), flags, again, sizeof again, &why) != 0 ||
                strcmp(out, again) != 0)
                __builtin_trap();
        }
    }
    /* a small buffer is reported, never overrun */
    char tiny[8];
    int rc = httppath_normalize(raw, size, 0, tiny, sizeof tiny, &why);
    if (rc == 0 && strlen(tiny) >= sizeof tiny)
        __builtin_trap();

    struct httppath_param v[32];
    char buf[4096 + 65];
    size_t n = 0;
    rc = httppath_query(raw, size, v, 32, &n, buf, sizeof buf, &why);
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            if (v[i].name < buf || v[i].name >= buf + sizeof buf ||
                (v[i].value[0] && (v[i].value < buf || v[i].value >= buf + sizeof buf)))
                __builtin_trap();

    char a[256], host[64];
    unsigned port = 0;
    size_t al = size < sizeof a - 1 ? size : sizeof a - 1;
    memcpy(a, data, al);
    a[al] = '\0';
    if (httppath_host(a, host, sizeof host, &port, &why) == 0 &&
        (strlen(host) >= sizeof host || port > 65535 || !host[0]))
        __builtin_trap();
    return 0;
}
