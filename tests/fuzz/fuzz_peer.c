/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the two /proc parsers of cordond's admin peer check. The status text is
 * partly the peer's own (its command name), the TCP tables are long; both are parsed on
 * arbitrary bytes. Nothing may crash, a status is accepted only with values the check knows,
 * and a socket found has an inode and uid that came from the matching line.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct peer_status st;
    if (peer_status_parse((const char *)data, size, &st) == 0 &&
        (st.no_new_privs < 0 || st.no_new_privs > 1 || st.seccomp < 0 || st.seccomp > 2))
        __builtin_trap();
    unsigned long ino = 0;
    unsigned uid = 0;
    /* the loopback pair of the seeds, IPv4 and IPv6 forms */
    (void)peer_tcp_find((const char *)data, size, "0100007F:A1B2", "0100007F:1F90", &ino, &uid);
    (void)peer_tcp_find((const char *)data, size, "00000000000000000000000001000000:A1B2",
                        "00000000000000000000000001000000:1F90", &ino, &uid);
    return 0;
}
