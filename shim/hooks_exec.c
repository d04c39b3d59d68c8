/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec hooks: every way glibc starts a program. Each resolves the program the way the real
 * call would (PATH search for the p variants), decides with sandbox.exec, refuses setuid and
 * setgid programs (no_new_privs would make them run without their privileges and fail in
 * confusing ways), and gives the child an environment that still carries the profile and the
 * tree mark even when the caller dropped them (env -i, Python's env={}).
 *
 * These run in vfork children too (posix_spawn, Python's subprocess): nothing here allocates
 * from the heap; arrays live on the stack, or in an mmap for very large environments.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim/decide.h"
#include "shim/events.h"
#include "shim/hooks.h"

extern char **environ;

static int (*r_execve)(const char *, char *const[], char *const[]);
static int (*r_execvpe)(const char *, char *const[], char *const[]);
static int (*r_fexecve)(int, char *const[], char *const[]);
static int (*r_execveat)(int, const char *, char *const[], char *const[], int);
static int (*r_posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                            const posix_spawnattr_t *, char *const[], char *const[]);
static int (*r_posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                             const posix_spawnattr_t *, char *const[], char *const[]);
static int (*r_system)(const char *);
static FILE *(*r_popen)(const char *, const char *);

#define STACK_ENV 384

/* An environment array: on the stack when it fits, else mapped (and unmapped after). */
struct envbuf {
    char *stack[STACK_ENV];
    char **heap;
    size_t heap_len;
    char scratch[4200];
};

static char *const *env_make(struct envbuf *b, char *const envp[])
{
    b->heap = NULL;
    if (!atomic_load(&shim.active))
        return envp;
    size_t n = 0;
    while (envp && envp[n])
        n++;
    size_t need = n + SHIM_ENV_MAX + 2;
    char **out = b->stack;
    if (need > STACK_ENV) {
        b->heap_len = need * sizeof(char *);
        void *m =
            mmap(NULL, b->heap_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return envp;
        b->heap = m;
        out = b->heap;
    } else {
        need = STACK_ENV;
    }
    return shim_env_for_exec(envp, out, need, b->scratch, sizeof b->scratch);
}

static void env_done(struct envbuf *b)
{
    if (b->heap)
        munmap(b->heap, b->heap_len);
}

/* glibc marks these arguments nonnull, but a hook must not crash where the call would fail. */
__attribute__((noinline)) static int nonempty(const char *s)
{
    return s && *s;
}

/* The PATH search of execvp: the first executable candidate into out; -1 when none. */
static int search_path(const char *file, char *out, size_t len)
{
    if (strchr(file, '/')) {
        if (strlen(file) >= len)
            return -1;
        memcpy(out, file, strlen(file) + 1);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/bin:/usr/bin";
    size_t fl = strlen(file);
    while (*path) {
        const char *e = strchr(path, ':');
        size_t dl = e ? (size_t)(e - path) : strlen(path);
        if (dl + fl + 2 <= len) {
            if (dl == 0) {
                out[0] = '.';
                dl = 1;
            } else {
                memcpy(out, path, dl);
            }
            out[dl] = '/';
            memcpy(out + dl + 1, file, fl + 1);
            if (access(out, X_OK) == 0)
                return 0;
        }
        if (!e)
            break;
        path = e + 1;
    }
    return -1;
}

static void exec_detail(char *mem, size_t cap, const char *prog, char *const argv[],
                        const char *rule)
{
    struct jbuf b;
    jbuf_init(&b, mem, cap);
    jbuf_raw(&b, "{\"path\":");
    jbuf_str(&b, prog, EVENTS_MAX_PATH);
    jbuf_raw(&b, ",\"argv\":[");
    size_t used = 0;
    for (size_t i = 0; argv && argv[i]; i++) {
        size_t l = strlen(argv[i]);
        if (i)
            jbuf_raw(&b, ",");
        if (used + l > EVENTS_MAX_ARGV) {
            jbuf_str(&b, argv[i], EVENTS_MAX_ARGV > used ? EVENTS_MAX_ARGV - used : 1);
            break;
        }
        jbuf_str(&b, argv[i], 0);
        used += l;
    }
    jbuf_raw(&b, "],\"rule\":");
    jbuf_str(&b, rule, 256);
    jbuf_raw(&b, "}");
    if (b.overflow) { /* keep the event: drop argv rather than the whole message */
        jbuf_init(&b, mem, cap);
        jbuf_raw(&b, "{\"path\":");
        jbuf_str(&b, prog, EVENTS_MAX_PATH);
        jbuf_raw(&b, ",\"argv\":[\"...\"],\"rule\":");
        jbuf_str(&b, rule, 256);
        jbuf_raw(&b, "}");
    }
}

/* Decide on program (a path as given to the kernel). 0 go, -1 refused with errno. */
static int exec_gate(const char *prog, char *const argv[], const char *what)
{
    if (!atomic_load(&shim.active) || !prog || !shim.policy)
        return 0;
    int saved = errno;
    char abs[PATH_MAXLEN], base[PATH_MAXLEN], rule[320], mem[EVENTS_MAX_MSG - 256];
    if (prog[0] == '/')
        decide_abspath("/", prog, abs, sizeof abs);
    else if (shim_dir_of(AT_FDCWD, base, sizeof base) != 0 ||
             decide_abspath(base, prog, abs, sizeof abs) != 0) {
        errno = saved;
        return 0;
    }
    struct stat st;
    if (stat(abs, &st) != 0) { /* nothing to run there (a shell's PATH walk): the kernel says */
        errno = saved;
        return 0;
    }
    char real[PATH_MAXLEN];
    const char *rp = realpath(abs, real) ? real : NULL;
    int deny = decide_exec(shim.policy, abs, rp, rule, sizeof rule);
    unsigned kind = SHIM_KIND_EXEC;
    if (!deny && S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID))) {
        deny = 1;
        kind = SHIM_KIND_SETUID;
        snprintf(rule, sizeof rule,
                 "a set-user-ID or set-group-ID program; no_new_privs keeps "
                 "it from gaining privileges, so it would fail");
    }
    exec_detail(mem, sizeof mem, abs, argv, deny ? rule : "allowed");
    if (!deny) {
        events_emit("exec", "allow", mem);
        errno = saved;
        return 0;
    }
    if (shim.observe) {
        shim_report(kind, "exec", "log", what, abs, rule, mem);
        errno = saved;
        return 0;
    }
    shim_report(kind, "exec", "deny", what, abs, rule, mem);
    errno = EACCES;
    return -1;
}

/*
 * An exec the hook let through and the kernel refused (a program in the workspace, which
 * Landlock does not grant EXECUTE): record it as a denial too, so that the audit trail does
 * not show only the hook's "allow". err is the errno of the failed exec; errno is kept.
 */
static void exec_after(const char *prog, char *const argv[], const char *what, int err)
{
    if (!atomic_load(&shim.active) || !prog || (err != EACCES && err != EPERM))
        return;
    int saved = errno;
    char abs[PATH_MAXLEN], base[PATH_MAXLEN], mem[EVENTS_MAX_MSG - 256];
    if (prog[0] == '/')
        decide_abspath("/", prog, abs, sizeof abs);
    else if (shim_dir_of(AT_FDCWD, base, sizeof base) != 0 ||
             decide_abspath(base, prog, abs, sizeof abs) != 0) {
        errno = saved;
        return;
    }
    exec_detail(mem, sizeof mem, abs, argv, "kernel");
    /* A directory's mode (a build in /root, 0700, run as another user) is no policy matter:
     * name it, so that nobody goes looking in sandbox.exec. */
    static const char fs[] = "the file system refused: ";
    char *rule = base; /* free again once abs is made: the stack of a vfork child is small */
    memcpy(rule, fs, sizeof fs);
    if (path_exec_blocker(abs, rule + sizeof fs - 1, sizeof base - (sizeof fs - 1)) != 1)
        snprintf(rule, sizeof base, "%s",
                 "refused by the kernel: no execute right there under the policy's grants");
    shim_report(SHIM_KIND_KERNEL_EXEC, "exec", "deny", what, abs, rule, mem);
    errno = saved;
}

int hooks_exec_execve(const char *path, char *const argv[], char *const envp[])
{
    if (exec_gate(path, argv, "execve") != 0)
        return -1;
    struct envbuf b;
    char *const *e = env_make(&b, envp);
    int rc = REAL(execve)(path, argv, e);
    int saved = errno;
    env_done(&b);
    exec_after(path, argv, "execve", saved);
    errno = saved;
    return rc;
}

static int do_execvpe(const char *file, char *const argv[], char *const envp[], const char *what)
{
    char found[PATH_MAXLEN];
    if (nonempty(file) && search_path(file, found, sizeof found) == 0 &&
        exec_gate(found, argv, what) != 0)
        return -1;
    struct envbuf b;
    char *const *e = env_make(&b, envp);
    int rc = REAL(execvpe)(file, argv, e);
    int saved = errno;
    env_done(&b);
    if (nonempty(file) && search_path(file, found, sizeof found) == 0)
        exec_after(found, argv, what, saved);
    errno = saved;
    return rc;
}

EXPORT int HOOK(execve)(const char *path, char *const argv[], char *const envp[])
{
    return hooks_exec_execve(path, argv, envp);
}

EXPORT int HOOK(execv)(const char *path, char *const argv[])
{
    return hooks_exec_execve(path, argv, environ);
}

EXPORT int HOOK(execvp)(const char *file, char *const argv[])
{
    return do_execvpe(file, argv, environ, "execvp");
}

EXPORT int HOOK(execvpe)(const char *file, char *const argv[], char *const envp[])
{
    return do_execvpe(file, argv, envp, "execvpe");
}

/* Collect execl's variable arguments into a mapped argv (a vfork child has a small stack). */
static char **list_args(const char *arg0, va_list ap, size_t *maplen, char *const **envp_out)
{
    va_list cp;
    va_copy(cp, ap);
    size_t n = 1;
    while (va_arg(cp, char *))
        n++;
    va_end(cp);
    *maplen = (n + 1) * sizeof(char *);
    char **v = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED)
        return NULL;
    v[0] = (char *)arg0;
    for (size_t i = 1; i < n; i++)
        v[i] = va_arg(ap, char *);
    v[n] = NULL;
    if (envp_out) {
        (void)va_arg(ap, char *); /* the NULL that ends the list */
        *envp_out = va_arg(ap, char *const *);
    }
    return v;
}

/* The execl family: its list (and execle's envp) into a mapped argv, then the vector form. */
static int exec_listed(const char *prog, const char *arg0, va_list ap, int has_envp, int search,
                       const char *what)
{
    size_t ml;
    char *const *envp = environ;
    char **v = list_args(arg0, ap, &ml, has_envp ? &envp : NULL);
    if (!v) {
        errno = ENOMEM;
        return -1;
    }
    int rc = search ? do_execvpe(prog, v, envp, what) : hooks_exec_execve(prog, v, envp);
    int saved = errno;
    munmap(v, ml);
    errno = saved;
    return rc;
}

EXPORT int HOOK(execl)(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = exec_listed(path, arg, ap, 0, 0, "execl");
    va_end(ap);
    return rc;
}

EXPORT int HOOK(execle)(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = exec_listed(path, arg, ap, 1, 0, "execle");
    va_end(ap);
    return rc;
}

EXPORT int HOOK(execlp)(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int rc = exec_listed(file, arg, ap, 0, 1, "execlp");
    va_end(ap);
    return rc;
}

EXPORT int HOOK(fexecve)(int fd, char *const argv[], char *const envp[])
{
    char path[PATH_MAXLEN];
    if (shim_dir_of(fd, path, sizeof path) == 0 && exec_gate(path, argv, "fexecve") != 0)
        return -1;
    struct envbuf b;
    char *const *e = env_make(&b, envp);
    int rc = REAL(fexecve)(fd, argv, e);
    int saved = errno;
    env_done(&b);
    errno = saved;
    return rc;
}

int hooks_exec_execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                        int flags)
{
    char full[PATH_MAXLEN], base[PATH_MAXLEN];
    int known = 0;
    if (path && path[0] == '/')
        known = decide_abspath("/", path, full, sizeof full) == 0;
    else if (path && path[0] == '\0' && (flags & AT_EMPTY_PATH))
        known = shim_dir_of(dirfd, full, sizeof full) == 0;
    else if (path && shim_dir_of(dirfd, base, sizeof base) == 0)
        known = decide_abspath(base, path, full, sizeof full) == 0;
    if (known && exec_gate(full, argv, "execveat") != 0)
        return -1;
    struct envbuf b;
    char *const *e = env_make(&b, envp);
    int rc = REAL(execveat)(dirfd, path, argv, e, flags);
    int saved = errno;
    env_done(&b);
    errno = saved;
    return rc;
}

EXPORT int HOOK(execveat)(int dirfd, const char *path, char *const argv[], char *const envp[],
                          int flags)
{
    return hooks_exec_execveat(dirfd, path, argv, envp, flags);
}

EXPORT int HOOK(posix_spawn)(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (exec_gate(path, argv, "posix_spawn") != 0)
        return EACCES;
    struct envbuf b;
    char *const *e = env_make(&b, envp);
    int rc = REAL(posix_spawn)(pid, path, fa, attr, argv, e);
    env_done(&b);
    if (rc != 0)
        exec_after(path, argv, "posix_spawn", rc);
    return rc;
}

EXPORT int HOOK(posix_spawnp)(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    char found[PATH_MAXLEN];
    if (nonempty(file) && search_path(file, found, sizeof found) == 0 &&
        exec_gate(found, argv, "posix_spawnp") != 0)
        return EACCES;
    struct envbuf b;
    char *const *e = env_make(&b, envp);
    int rc = REAL(posix_spawnp)(pid, file, fa, attr, argv, e);
    env_done(&b);
    if (rc != 0 && nonempty(file) && search_path(file, found, sizeof found) == 0)
        exec_after(found, argv, "posix_spawnp", rc);
    return rc;
}

EXPORT int HOOK(system)(const char *cmd)
{
    if (cmd) {
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        if (exec_gate("/bin/sh", argv, "system") != 0)
            return -1;
    }
    return REAL(system)(cmd);
}

EXPORT FILE *HOOK(popen)(const char *cmd, const char *type)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    if (exec_gate("/bin/sh", argv, "popen") != 0)
        return NULL;
    return REAL(popen)(cmd, type);
}
