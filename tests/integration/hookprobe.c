/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives one hooked libc entry point per run against a target the policy denies, and
 * prints what the call returned, so the shim's integration test can check the denial path
 * of each hook: hookprobe NAME TARGET. Built at test time with _FORTIFY_SOURCE so that
 * open() with a non-constant flag compiles to __open_2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static void result(const char *name, long rc)
{
    printf("%s rc=%ld errno=%s\n", name, rc, rc < 0 ? strerror(errno) : "-");
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *n = argv[1], *t = argv[2];
    volatile int flags = O_RDONLY; /* not a constant: fortified open becomes __open_2 */
    if (!strcmp(n, "open"))
        result(n, open(t, flags));
    else if (!strcmp(n, "open64"))
        result(n, open64(t, flags));
    else if (!strcmp(n, "openat"))
        result(n, openat(AT_FDCWD, t, flags));
    else if (!strcmp(n, "open-plain"))
        result(n, open(t, O_RDONLY)); /* a constant flag: the plain symbol, not __open_2 */
    else if (!strcmp(n, "open64-plain"))
        result(n, open64(t, O_RDONLY));
    else if (!strcmp(n, "openat-plain"))
        result(n, openat(AT_FDCWD, t, O_RDONLY));
    else if (!strcmp(n, "openat64-plain"))
        result(n, openat64(AT_FDCWD, t, O_RDONLY));
    else if (!strcmp(n, "creat64"))
        result(n, creat64(t, 0600));
    else if (!strcmp(n, "fopen64"))
        result(n, fopen64(t, "r") ? 0 : -1);
    else if (!strcmp(n, "freopen64"))
        result(n, freopen64(t, "r", stdin) ? 0 : -1);
    else if (!strcmp(n, "syscall-open"))
        result(n, syscall(SYS_open, t, O_RDONLY));
    else if (!strcmp(n, "syscall-openat2")) {
        struct open_how how = {.flags = O_RDONLY};
        result(n, syscall(SYS_openat2, AT_FDCWD, t, &how, sizeof how));
    } else if (!strcmp(n, "popen"))
        result(n, pclose(popen(t, "r")));
    else if (!strcmp(n, "posix_spawn")) {
        pid_t pid;
        char *a[] = {(char *)t, NULL};
        int e = posix_spawn(&pid, t, NULL, NULL, a, environ);
        errno = e;
        result(n, e ? -1 : 0);
    } else if (!strcmp(n, "execvpe")) {
        char *a[] = {(char *)t, NULL};
        result(n, execvpe(t, a, environ));
    } else if (!strcmp(n, "execveat")) {
        char *a[] = {(char *)t, NULL};
        result(n, execveat(AT_FDCWD, t, a, environ, 0));
    } else if (!strcmp(n, "fexecve")) {
        char *a[] = {(char *)t, NULL};
        int fd = open(t, O_RDONLY | O_CLOEXEC);
        result(n, fd < 0 ? -2 : fexecve(fd, a, environ));
    } else if (!strcmp(n, "creat"))
        result(n, creat(t, 0600));
    else if (!strcmp(n, "fopen"))
        result(n, fopen(t, "r") ? 0 : -1);
    else if (!strcmp(n, "freopen"))
        result(n, freopen(t, "r", stdin) ? 0 : -1);
    else if (!strcmp(n, "syscall-openat"))
        result(n, syscall(SYS_openat, AT_FDCWD, t, O_RDONLY));
    else if (!strcmp(n, "execv")) {
        char *a[] = {(char *)t, NULL};
        result(n, execv(t, a));
    } else if (!strcmp(n, "execvp")) {
        char *a[] = {(char *)t, NULL};
        result(n, execvp(t, a));
    } else if (!strcmp(n, "execl"))
        result(n, execl(t, t, (char *)NULL));
    else if (!strcmp(n, "execlp"))
        result(n, execlp(t, t, (char *)NULL));
    else if (!strcmp(n, "execle"))
        result(n, execle(t, t, (char *)NULL, environ));
    else if (!strcmp(n, "posix_spawnp")) {
        pid_t pid;
        char *a[] = {(char *)t, NULL};
        int e = posix_spawnp(&pid, t, NULL, NULL, a, environ);
        errno = e;
        result(n, e ? -1 : 0);
    } else if (!strcmp(n, "system"))
        result(n, system(t));
    else if (!strcmp(n, "syscall-execve")) {
        char *a[] = {(char *)t, NULL};
        result(n, syscall(SYS_execve, t, a, environ));
    } else if (!strcmp(n, "close-own")) {
        /* close every descriptor but stdio, then exec: the child must still be governed */
        close_range(3, ~0u, 0);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execl("/bin/cat", "cat", t, (char *)NULL);
        result(n, -1);
    } else if (!strcmp(n, "dup2-own")) {
        /* take over every low and high number the shim might hold, then exec */
        int fd = open("/dev/null", O_RDONLY);
        for (int i = 3; i < 200; i++)
            if (i != fd)
                dup2(fd, i);
        execl("/bin/cat", "cat", t, (char *)NULL);
        result(n, -1);
    } else
        return 2;
    return 0;
}
