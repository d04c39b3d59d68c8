/* SPDX-License-Identifier: Apache-2.0 */
/*
 * escape_threads: a thread that exists before the sandbox is applied. Landlock before ABI 8
 * restricts only the thread that calls landlock_restrict_self(), so a second thread started
 * earlier keeps the file system as it was; seccomp (with TSYNC) and no_new_privs do reach it.
 * sandbox_apply() must therefore refuse a strict policy in a multi-threaded process, and under
 * best_effort must say so in its report.
 *
 *     escape_threads strict POLICY WORKSPACE
 *         exit 1 when sandbox_apply refuses with SANDBOX_ERR_THREADS (the expected outcome),
 *         0 when it applies anyway (the attack succeeded), 3 on any other result.
 *     escape_threads best_effort POLICY WORKSPACE CANARY
 *         applies, then prints one line per finding:
 *           apply: rc=0 threads=N landlock_applied=N seccomp_installed=N no_new_privs=N
 *           degradation: TEXT                   (each one the report carries)
 *           main: errno=EACCES | main: SUCCEEDED ...      reading CANARY from the caller
 *           other: no_new_privs=N seccomp=N            the earlier thread's kernel state
 *           other: io_uring_setup errno=... | SUCCEEDED
 *           other: errno=... | other: SUCCEEDED ...    reading CANARY from the earlier thread
 *
 * The policy is read with HOME, TMPDIR and the current directory of the caller, as the shim
 * does; the runner points HOME at its canary home.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "policy/policy.h"
#include "sandbox/sandbox.h"

static int gate[2];
static const char *canary;

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

/* Read the canary with raw system calls and print the outcome under the given label. */
static void try_read(const char *who)
{
    long fd = syscall(SYS_openat, AT_FDCWD, canary, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("%s: errno=%s (open canary)\n", who, errname(errno));
        return;
    }
    char buf[512];
    long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n < 0) {
        printf("%s: errno=%s (read canary)\n", who, errname(errno));
        return;
    }
    buf[n] = '\0';
    for (long i = 0; i < n; i++)
        if (buf[i] < 0x20 || buf[i] >= 0x7f)
            buf[i] = '.';
    printf("%s: SUCCEEDED read %ld bytes: %s\n", who, n, buf);
}

static void *other_thread(void *arg)
{
    (void)arg;
    char c;
    /* wait until the main thread has applied the sandbox */
    while (read(gate[0], &c, 1) < 0 && errno == EINTR)
        ;
    printf("other: no_new_privs=%ld seccomp=%ld\n",
           (long)syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L),
           (long)syscall(SYS_prctl, PR_GET_SECCOMP, 0L, 0L, 0L, 0L));
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long r = syscall(SYS_io_uring_setup, 4U, &p);
    if (r < 0)
        printf("other: io_uring_setup errno=%s\n", errname(errno));
    else
        printf("other: io_uring_setup SUCCEEDED\n");
    try_read("other");
    fflush(stdout);
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(POLICY_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, POLICY_MAX_BYTES + 1, f) : 0;
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    int rc = 3;
    char *buf = NULL;
    struct policy *p = NULL;
    static struct diag d;
    int strict;

    if (argc == 4 && strcmp(argv[1], "strict") == 0) {
        strict = 1;
    } else if (argc == 5 && strcmp(argv[1], "best_effort") == 0) {
        strict = 0;
        canary = argv[4];
    } else {
        fprintf(stderr, "usage: escape_threads strict POLICY WORKSPACE\n"
                        "       escape_threads best_effort POLICY WORKSPACE CANARY\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    size_t len;
    if (!(buf = slurp(argv[2], &len))) {
        fprintf(stderr, "escape_threads: cannot read %s: %s\n", argv[2], strerror(errno));
        goto out;
    }
    struct policy_env env;
    struct policy_env_storage st;
    if (policy_env_from_process(&env, &st, argv[3]) != 0) {
        fprintf(stderr, "escape_threads: cannot compute the policy environment\n");
        goto out;
    }
    diag_init(&d);
    if (policy_load(buf, len, &env, &p, &d) != 0) {
        for (size_t i = 0; i < d.count; i++) {
            char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
            diag_format(&d, i, line, sizeof line);
            fprintf(stderr, "escape_threads: %s: %s\n", argv[2], line);
        }
        goto out;
    }

    if (pipe(gate) != 0) {
        perror("escape_threads: pipe");
        goto out;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, other_thread, NULL) != 0) {
        fprintf(stderr, "escape_threads: pthread_create failed\n");
        goto out;
    }

    struct sandbox_opts o;
    memset(&o, 0, sizeof o);
    struct sandbox_report r;
    memset(&r, 0, sizeof r);
    char err[1024] = "";
    int ar = sandbox_apply(p, &o, &r, err, sizeof err);

    if (strict) {
        printf("apply: rc=%d%s err=%s\n", ar,
               ar == SANDBOX_ERR_THREADS ? " (SANDBOX_ERR_THREADS)" : "", err);
        rc = ar == SANDBOX_ERR_THREADS ? 1 : ar == SANDBOX_OK ? 0 : 3;
        /* the other thread stays blocked on the gate; exit() ends it */
        goto out;
    }

    printf("apply: rc=%d threads=%d landlock_applied=%d seccomp_installed=%d no_new_privs=%d "
           "err=%s\n",
           ar, r.threads, r.landlock_applied, r.seccomp_installed, r.no_new_privs, err);
    for (size_t i = 0; i < r.n_degradations && i < SANDBOX_MAX_NOTES; i++)
        printf("degradation: %s\n", r.degradations[i]);
    for (size_t i = 0; i < r.n_limits && i < SANDBOX_MAX_NOTES; i++)
        printf("limit: %s\n", r.limits[i]);
    if (ar != SANDBOX_OK)
        goto out;
    try_read("main");
    if (write(gate[1], "x", 1) != 1) {
        perror("escape_threads: write");
        goto out;
    }
    pthread_join(t, NULL);
    rc = 0;
out:
    fflush(stdout);
    policy_free(p);
    free(buf);
    return rc;
}
