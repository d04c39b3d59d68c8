/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every libc function libcordon hooks, in one list. CORDON_HOOKS(ALL, GLIBC) applies ALL to
 * the functions that both glibc and macOS's libSystem have, and GLIBC to those only glibc
 * has: the fortified entry points (__open_2...), the 64-bit twins, and the GNU and Linux
 * extensions (execvpe, execveat, fexecve, sendmmsg, the _r resolvers, close_range, dup3).
 *
 * The list feeds libcordon.so's version script on Linux (exports.map.in: the library
 * exports these names and nothing else) and the __DATA,__interpose table on macOS
 * (interpose_macos.c). A hook is defined with HOOK(name) (shim.h), which is the libc name
 * itself on Linux, where the preloaded definition wins symbol lookup, and cordon_hook_<name>
 * on macOS, where dyld swaps the pairs of the interpose table instead.
 *
 * This header holds no C declarations: the version script is made from it by the C
 * preprocessor alone.
 */
#ifndef CORDON_SHIM_HOOKLIST_H
#define CORDON_SHIM_HOOKLIST_H

/* One group per line, as the hooks' files are; clang-format would reflow the list. */
/* clang-format off */
#define CORDON_HOOKS(ALL, GLIBC)                                                                   \
    /* the open family (hooks_fs.c) */                                                             \
    ALL(open) GLIBC(open64) ALL(openat) GLIBC(openat64) GLIBC(__open_2) GLIBC(__open64_2)          \
    GLIBC(__openat_2) GLIBC(__openat64_2) ALL(creat) GLIBC(creat64) ALL(fopen) GLIBC(fopen64)      \
    ALL(freopen) GLIBC(freopen64)                                                                  \
    /* starting programs (hooks_exec.c) */                                                         \
    ALL(execve) ALL(execv) ALL(execvp) GLIBC(execvpe) ALL(execl) ALL(execlp) ALL(execle)          \
    GLIBC(fexecve) GLIBC(execveat) ALL(posix_spawn) ALL(posix_spawnp) ALL(system) ALL(popen)      \
    /* the network (hooks_net.c, hooks_dns.c) */                                                  \
    ALL(connect) ALL(sendto) ALL(sendmsg) GLIBC(sendmmsg) ALL(getaddrinfo) ALL(gethostbyname)     \
    ALL(gethostbyname2) GLIBC(gethostbyname_r) GLIBC(gethostbyname2_r) ALL(getnameinfo)          \
    /* the raw gate and the shim's own descriptors (hooks_syscall.c, hooks_fd.c) */                \
    ALL(syscall) ALL(close) GLIBC(close_range) ALL(dup2) GLIBC(dup3)
/* clang-format on */

#endif
