/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's audit state for escape.kernel_audit, which must leave the host as it found it:
 *
 *   audit_state get        "enabled=E backlog_limit=B failure=F pid=P lost=L backlog=N"
 *   audit_state set E B    restore the enabled flag and the backlog limit
 *
 * Exit status: 0 done, 1 the kernel refused (the message says why), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/kaudit.h"

int main(int argc, char **argv)
{
    char err[512];
    struct kaudit_state st;
    if (argc == 2 && strcmp(argv[1], "get") == 0) {
        if (kaudit_state_get(&st, err, sizeof err) != 0) {
            fprintf(stderr, "audit_state: %s\n", err);
            return 1;
        }
        printf("enabled=%u backlog_limit=%u failure=%u pid=%u lost=%u backlog=%u\n", st.enabled,
               st.backlog_limit, st.failure, st.pid, st.lost, st.backlog);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "set") == 0) {
        memset(&st, 0, sizeof st);
        st.enabled = (unsigned)strtoul(argv[2], NULL, 10);
        st.backlog_limit = (unsigned)strtoul(argv[3], NULL, 10);
        if (kaudit_state_set(KAUDIT_SET_BACKLOG, &st, err, sizeof err) != 0 ||
            kaudit_state_set(KAUDIT_SET_ENABLED, &st, err, sizeof err) != 0) {
            fprintf(stderr, "audit_state: %s\n", err);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: audit_state get | set ENABLED BACKLOG_LIMIT\n");
    return 2;
}
