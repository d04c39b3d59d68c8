/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the two parsers of the shim that read bytes from outside, the policy
 * fetch's HTTP response parser (what a server, or anything answering on its port, sends)
 * and the profile file parser. Either must accept or refuse with a reason, never crash, and
 * an accepted response must describe itself consistently (a header length within the input,
 * a status from 100 to 599).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shim/fetch.h"
#include "shim/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fetch_response r;
    char err[512] = "";
    int rc = fetch_parse_response((const char *)data, size, &r, err, sizeof err);
    if (rc == 0 && (r.header_len > size || r.status < 100 || r.status > 599))
        __builtin_trap();
    if (rc == -EPROTO && err[0] == '\0')
        __builtin_trap();
    if (rc != 0 && rc != -EPROTO && rc != -EAGAIN)
        __builtin_trap();

    static struct profile p;
    memset(&p, 0, sizeof p);
    err[0] = '\0';
    rc = profile_parse((const char *)data, size, &p, err, sizeof err);
    if (rc != 0 && err[0] == '\0')
        __builtin_trap();
    return 0;
}
