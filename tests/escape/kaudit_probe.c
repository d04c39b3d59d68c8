/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attacker of escape.kernel_audit, linked statically so that no hook stands between it
 * and the kernel: each mode makes one raw system call (or a burst of them) and says what the
 * kernel answered, on one line: "MODE pid=P ok" or "MODE pid=P refused errno=E".
 *
 *   kaudit_probe read PATH      open(2) PATH for reading
 *   kaudit_probe exec PATH      execve(2) PATH (its output, if it runs, is its own)
 *   kaudit_probe udp            socket(AF_INET, SOCK_DGRAM)
 *   kaudit_probe burst N PATH   N opens of PATH; "burst pid=P refused=R ok=K"
 *
 * Exit status: 0 when every call was refused, 1 when one succeeded, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int say(const char *mode, long rc)
{
    if (rc >= 0) {
        printf("%s pid=%d ok\n", mode, (int)getpid());
        return 1;
    }
    printf("%s pid=%d refused errno=%d\n", mode, (int)getpid(), errno);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "read") == 0)
        return say("read", syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY | O_CLOEXEC));
    if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
        char *args[] = {argv[2], NULL}, *env[] = {NULL};
        return say("exec", syscall(SYS_execve, argv[2], args, env));
    }
    if (argc >= 2 && strcmp(argv[1], "udp") == 0)
        return say("udp", syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (argc >= 4 && strcmp(argv[1], "burst") == 0) {
        long n = strtol(argv[2], NULL, 10), refused = 0, ok = 0;
        for (long i = 0; i < n; i++) {
            long fd = syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                ok++;
                close((int)fd);
            } else {
                refused++;
            }
        }
        printf("burst pid=%d refused=%ld ok=%ld\n", (int)getpid(), refused, ok);
        return ok ? 1 : 0;
    }
    fprintf(stderr, "usage: kaudit_probe read PATH | exec PATH | udp | burst N PATH\n");
    return 2;
}
