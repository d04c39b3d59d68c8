/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What this kernel and this process offer, read without changing anything: the Landlock ABI,
 * the thread count, no_new_privs and the seccomp mode. `cordon doctor`, the enforcement report
 * and the strict-mode checks all start here. No stdio: the shim calls these before main().
 */
#include "base/io.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif

int sandbox_probe_landlock_abi(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

/* The number after "key:" in /proc/self/status, or -1. */
static int status_field(const char *key)
{
    char buf[4096];
    if (io_read_small("/proc/self/status", buf, sizeof buf) < 0)
        return -1;
    size_t kl = strlen(key);
    for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            char *p = line + kl + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p < '0' || *p > '9')
                return -1;
            return (int)strtol(p, NULL, 10);
        }
    }
    return -1;
}

int sandbox_probe_threads(void)
{
    return status_field("Threads");
}

int sandbox_probe_no_new_privs(void)
{
    return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
}

int sandbox_probe_seccomp_mode(void)
{
    return status_field("Seccomp");
}

int sandbox_probe_cordon_filter(void)
{
    int saved = errno;
    errno = 0;
    int r = prctl(SANDBOX_CANARY_OPTION, 0, 0, 0, 0);
    int ours = r == -1 && errno == SANDBOX_CANARY_ERRNO;
    errno = saved;
    return ours;
}
