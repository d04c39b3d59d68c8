/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `cordon run` and `cordon doctor` share: finding libcordon.so, and starting a command
 * with it preloaded while waiting for the shim's handshake line.
 */
#ifndef CORDON_TOOLS_RUN_H
#define CORDON_TOOLS_RUN_H

#include <stddef.h>
#include <sys/types.h>

/* The libcordon.so to preload: CORDON_SHIM_LIBRARY, next to the cordon binary, the build
 * tree's shim/, or the installed library directory. 0 with path filled, -ENOENT. */
int run_find_shim(char *path, size_t len);

enum run_start {
    RUN_STARTED = 0,      /* the shim answered: *line holds its handshake */
    RUN_EXEC_FAILED = 1,  /* CMD could not be executed: *exec_errno says why */
    RUN_NO_HANDSHAKE = 2, /* CMD ran but no shim answered in time; the child was killed */
    RUN_SHIM_REFUSED = 3  /* the shim in CMD refused to start it (its message is on stderr) */
};

/*
 * Fork, and in the child exec argv (PATH search) with LD_PRELOAD=shim prepended and the
 * handshake pipe in CORDON_HANDSHAKE_FD. Waits for the exec (a close-on-exec pipe) and then
 * up to timeout_s seconds for the handshake. *pid receives the child.
 */
int run_start(char *const argv[], const char *shim, double timeout_s, pid_t *pid, int *exec_errno,
              char *line, size_t linelen);

#endif
