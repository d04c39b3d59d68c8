/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the agent keys file parser on arbitrary bytes. A damaged file is refused
 * with the line number and a negative errno; an accepted one yields entries with valid ids and
 * names. The input's first line is also checked as a key, whose answer must be one of
 * agents_check's codes, none of which reads as an errno.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/agents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agents *a = NULL;
    char err[1024];
    if (agents_open(NULL, NULL, &a, err, sizeof err) != 0)
        abort();
    err[0] = '\0';
    int rc = agents_parse(a, (const char *)data, size, err, sizeof err);
    if (rc != 0 && (err[0] == '\0' || !err_is_errno(rc)))
        __builtin_trap(); /* refused without a reason, or with something not an errno */
    /* the input's first line as a key: the answer is one of agents_check's four */
    char key[AGENTS_KEY_LEN + 2];
    size_t kl = 0;
    while (kl < size && kl < sizeof key - 1 && data[kl] != '\n' && data[kl] != '\0') {
        key[kl] = (char)data[kl];
        kl++;
    }
    key[kl] = '\0';
    int st = agents_check(a, key, NULL, NULL);
    if ((st != AGENTS_OK && st != AGENTS_ERR_MALFORMED && st != AGENTS_ERR_UNKNOWN &&
         st != AGENTS_ERR_REVOKED) ||
        err_is_errno(st) || !agents_strerror(st)[0])
        __builtin_trap();
    char *list = agents_list_json(a);
    if (!list)
        __builtin_trap();
    free(list);
    agents_free(a);
    return 0;
}
