/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File system hooks: the open family, including glibc's fortified (__open_2...) and 64-bit
 * twins, creat and the stdio openers. A path under a sandbox.filesystem.deny entry is refused
 * before the kernel sees it, with the rule named; a path the kernel refuses for lying outside
 * the grants is reported after the fact, since only Landlock knows its own grants exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shim/decide.h"
#include "shim/events.h"
#include "shim/hooks.h"

/* glibc's fortified entry points (<fcntl.h> declares them only under _FORTIFY_SOURCE). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);
static int (*r___open_2)(const char *, int);
static int (*r___open64_2)(const char *, int);
static int (*r___openat_2)(int, const char *, int);
static int (*r___openat64_2)(int, const char *, int);
static int (*r_creat)(const char *, mode_t);
static int (*r_creat64)(const char *, mode_t);
static FILE *(*r_fopen)(const char *, const char *);
static FILE *(*r_fopen64)(const char *, const char *);
static FILE *(*r_freopen)(const char *, const char *, FILE *);
static FILE *(*r_freopen64)(const char *, const char *, FILE *);

static void flag_words(int flags, struct jbuf *b)
{
    int acc = flags & O_ACCMODE;
    jbuf_raw(b, acc == O_WRONLY ? "O_WRONLY" : acc == O_RDWR ? "O_RDWR" : "O_RDONLY");
    if (flags & O_CREAT)
        jbuf_raw(b, "|O_CREAT");
    if (flags & O_TRUNC)
        jbuf_raw(b, "|O_TRUNC");
    if (flags & O_APPEND)
        jbuf_raw(b, "|O_APPEND");
    if ((flags & O_TMPFILE) == O_TMPFILE)
        jbuf_raw(b, "|O_TMPFILE");
}

static void detail(char *mem, size_t cap, const char *path, int flags, const char *rule)
{
    struct jbuf b;
    jbuf_init(&b, mem, cap);
    jbuf_raw(&b, "{\"path\":");
    jbuf_str(&b, path, EVENTS_MAX_PATH);
    jbuf_raw(&b, ",\"flags\":\"");
    flag_words(flags, &b);
    jbuf_raw(&b, "\",\"rule\":");
    jbuf_str(&b, rule, 256);
    jbuf_raw(&b, "}");
}

static int absolute(int dirfd, const char *path, char *out, size_t len)
{
    char base[PATH_MAXLEN];
    if (path[0] == '/')
        return decide_abspath("/", path, out, len);
    if (shim_dir_of(dirfd, base, sizeof base) != 0)
        return -1;
    return decide_abspath(base, path, out, len);
}

int hooks_fs_gate(int dirfd, const char *path, int flags, const char *what)
{
    if (!atomic_load(&shim.active) || !path || !shim.policy)
        return 0;
    int saved = errno;
    char abs[PATH_MAXLEN];
    if (absolute(dirfd, path, abs, sizeof abs) != 0) {
        errno = saved;
        return 0; /* cannot tell: the kernel decides */
    }
    int i = decide_fs_deny_indexed(&shim.fs_deny, abs);
    if (i < 0) {
        errno = saved;
        return 0;
    }
    const struct policy_path *r = &shim.policy->sandbox.fs.deny.v[i];
    char rule[600], mem[EVENTS_MAX_MSG - 256];
    snprintf(rule, sizeof rule, "filesystem.deny \"%s\"%s", r->raw,
             r->origin == POLICY_ORIGIN_CREDENTIALS ? " (credential deny set)"
             : r->origin == POLICY_ORIGIN_HOST      ? " (cordond's secrets: host deny set)"
                                                    : "");
    detail(mem, sizeof mem, abs, flags, rule);
    if (shim.observe) {
        shim_report(SHIM_KIND_FS, "fs.open", "log", what, abs, rule, mem);
        errno = saved;
        return 0;
    }
    shim_report(SHIM_KIND_FS, "fs.open", "deny", what, abs, rule, mem);
    errno = EACCES;
    return -1;
}

void hooks_fs_after(int dirfd, const char *path, int flags, const char *what, int err)
{
    if (!atomic_load(&shim.active) || !path || (err != EACCES && err != EPERM))
        return;
    char abs[PATH_MAXLEN], mem[EVENTS_MAX_MSG - 256];
    if (absolute(dirfd, path, abs, sizeof abs) != 0)
        return;
    const char *rule = "refused by the kernel: outside the policy's filesystem grants, or "
                       "denied by the file's permissions";
    detail(mem, sizeof mem, abs, flags, "kernel");
    shim_report(SHIM_KIND_KERNEL_FS, "fs.open", "deny", what, abs, rule, mem);
    errno = err;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_BODY(fn, dirfd, what, call)                                                           \
    do {                                                                                           \
        if (hooks_fs_gate(dirfd, path, flags, what) != 0)                                          \
            return -1;                                                                             \
        int fd_ = (call);                                                                          \
        if (fd_ < 0)                                                                               \
            hooks_fs_after(dirfd, path, flags, what, errno);                                       \
        return fd_;                                                                                \
    } while (0)

EXPORT int HOOK(open)(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(open, AT_FDCWD, "open", REAL(open)(path, flags, m));
}

EXPORT int HOOK(open64)(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(open64, AT_FDCWD, "open", REAL(open64)(path, flags, m));
}

EXPORT int HOOK(openat)(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(openat, dirfd, "openat", REAL(openat)(dirfd, path, flags, m));
}

EXPORT int HOOK(openat64)(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    OPEN_BODY(openat64, dirfd, "openat", REAL(openat64)(dirfd, path, flags, m));
}

EXPORT int HOOK(__open_2)(const char *path, int flags)
{
    OPEN_BODY(__open_2, AT_FDCWD, "open", REAL(__open_2)(path, flags));
}

EXPORT int HOOK(__open64_2)(const char *path, int flags)
{
    OPEN_BODY(__open64_2, AT_FDCWD, "open", REAL(__open64_2)(path, flags));
}

EXPORT int HOOK(__openat_2)(int dirfd, const char *path, int flags)
{
    OPEN_BODY(__openat_2, dirfd, "openat", REAL(__openat_2)(dirfd, path, flags));
}

EXPORT int HOOK(__openat64_2)(int dirfd, const char *path, int flags)
{
    OPEN_BODY(__openat64_2, dirfd, "openat", REAL(__openat64_2)(dirfd, path, flags));
}

EXPORT int HOOK(creat)(const char *path, mode_t mode)
{
    int flags = O_WRONLY | O_CREAT | O_TRUNC;
    OPEN_BODY(creat, AT_FDCWD, "creat", REAL(creat)(path, mode));
}

EXPORT int HOOK(creat64)(const char *path, mode_t mode)
{
    int flags = O_WRONLY | O_CREAT | O_TRUNC;
    OPEN_BODY(creat64, AT_FDCWD, "creat", REAL(creat64)(path, mode));
}

static int stdio_flags(const char *mode)
{
    int plus = mode && strchr(mode, '+') != NULL;
    if (!mode || mode[0] == 'r')
        return plus ? O_RDWR : O_RDONLY;
    if (mode[0] == 'a')
        return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
}

#define FOPEN_BODY(what, call)                                                                     \
    do {                                                                                           \
        int flags = stdio_flags(mode);                                                             \
        if (hooks_fs_gate(AT_FDCWD, path, flags, what) != 0)                                       \
            return NULL;                                                                           \
        FILE *f_ = (call);                                                                         \
        if (!f_)                                                                                   \
            hooks_fs_after(AT_FDCWD, path, flags, what, errno);                                    \
        return f_;                                                                                 \
    } while (0)

EXPORT FILE *HOOK(fopen)(const char *path, const char *mode)
{
    FOPEN_BODY("fopen", REAL(fopen)(path, mode));
}

EXPORT FILE *HOOK(fopen64)(const char *path, const char *mode)
{
    FOPEN_BODY("fopen", REAL(fopen64)(path, mode));
}

EXPORT FILE *HOOK(freopen)(const char *path, const char *mode, FILE *stream)
{
    FOPEN_BODY("freopen", REAL(freopen)(path, mode, stream));
}

EXPORT FILE *HOOK(freopen64)(const char *path, const char *mode, FILE *stream)
{
    FOPEN_BODY("freopen", REAL(freopen64)(path, mode, stream));
}
