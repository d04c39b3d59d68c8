/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Linux sandbox against the real kernel. Each case compiles a policy for a private tree in
 * /tmp, forks, applies the sandbox in the child and reports what the kernel allowed through the
 * child's exit status; the child leaves with _exit() so no sanitizer runs inside the sandbox.
 * The escape suite (tests/escape) attacks the same sandbox through `cordon exec` with raw
 * system calls; this suite pins the module's contract: rights per ABI, sibling expansion,
 * exec by inode, strict refusals and the report.
 */
#include <criterion/criterion.h>
#include "tests/unit/support.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/landlock.h"
#include "sandbox/sandbox.h"

static char root[64], home[128], ws[128], bin[128];

static void put(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "cannot create %s", path);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void copy_true(const char *dst)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp /bin/true '%s'", dst);
    cr_assert_eq(system(cmd), 0);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/cordon-sb-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(home, sizeof home, "%s/home", root);
    snprintf(ws, sizeof ws, "%s/ws", root);
    snprintf(bin, sizeof bin, "%s/bin", root);
    char p[256];
    mkdir(home, 0755);
    mkdir(ws, 0755);
    mkdir(bin, 0755);
    snprintf(p, sizeof p, "%s/.ssh", home);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/.ssh/id_rsa", home);
    put(p, "SECRET-KEY", 0600);
    snprintf(p, sizeof p, "%s/.sshfoo", home);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/.sshfoo/file", home);
    put(p, "not secret", 0644);
    snprintf(p, sizeof p, "%s/notes.txt", home);
    put(p, "notes", 0644);
    snprintf(p, sizeof p, "%s/rm", bin);
    copy_true(p);
    snprintf(p, sizeof p, "%s/ok", bin);
    copy_true(p);
    snprintf(p, sizeof p, "%s/rm-alias", bin); /* a hard link: same program, other name */
    char rm[256];
    snprintf(rm, sizeof rm, "%s/rm", bin);
    cr_assert_eq(link(rm, p), 0);
    snprintf(p, sizeof p, "%s/X11", bin); /* as Debian's /usr/bin/X11 -> . */
    cr_assert_eq(symlink(".", p), 0);
}

static void teardown(void)
{
    remove_tree(root);
}

TestSuite(sandbox, .init = setup, .fini = teardown);

/* The test tree's policy: cwd = home (read-only) with the credential set, workspace rw,
 * exec search = the private bin with "rm" denied. extra is spliced into "sandbox". */
static struct policy *compile(const char *extra)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"cordon_policy\": 1, \"agent\": \"t\", \"sandbox\": {"
             "\"filesystem\": {\"read_write\": [\"${workspace}\"], \"read_only\": [\"~\"]},"
             "\"exec\": {\"deny\": [\"rm\"], \"search\": [\"%s\", \"/usr/bin\", \"/bin\"]}%s%s}}",
             bin, extra ? ", " : "", extra ? extra : "");
    struct policy_env env = {.vars = {home, home, ws, "/tmp"}, .resolve_symlinks = 1};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    int rc = policy_load(json, strlen(json), &env, &p, &d);
    cr_assert_eq(rc, 0, "policy refused: %s: %s", d.count ? d.e[0].path : "",
                 d.count ? d.e[0].msg : "");
    return p;
}

/* Run fn in a forked child after applying the sandbox; returns fn's result, or -100 - status
 * when apply failed. */
static int in_sandbox(const struct policy *p, const struct sandbox_opts *o,
                      int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct sandbox_report r;
        char err[512];
        int rc = sandbox_apply(p, o, &r, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "apply: %s\n", err);
            _exit(100 - rc);
        }
        _exit(fn(arg));
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died with signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

/* 0 when open(path, flags) succeeds, else errno (as an exit status). */
static int try_open(const char *path, int flags)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

struct probe {
    const char *path;
    int flags;
};

static int open_probe(void *arg)
{
    struct probe *pr = arg;
    return try_open(pr->path, pr->flags);
}

/* Open dir/rel inside a fresh sandbox. */
static int open_in_sandbox(const struct policy *p, const char *dir, const char *rel, int flags)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct probe pr = {path, flags};
    struct sandbox_opts o = {0};
    return in_sandbox(p, &o, open_probe, &pr);
}

Test(sandbox, rights_follow_the_abi)
{
    uint64_t v1 = sandbox_landlock_fs_rights(1);
    cr_assert_eq(v1, (1ULL << 13) - 1);
    cr_assert_eq(sandbox_landlock_fs_rights(2), v1 | LANDLOCK_ACCESS_FS_REFER);
    cr_assert_eq(sandbox_landlock_fs_rights(3) & LANDLOCK_ACCESS_FS_TRUNCATE,
                 LANDLOCK_ACCESS_FS_TRUNCATE);
    cr_assert_eq(sandbox_landlock_fs_rights(4), sandbox_landlock_fs_rights(3));
    cr_assert_eq(sandbox_landlock_fs_rights(5) & LANDLOCK_ACCESS_FS_IOCTL_DEV,
                 LANDLOCK_ACCESS_FS_IOCTL_DEV);
    /* an ABI newer than this code knows is used at the level it knows */
    cr_assert_eq(sandbox_landlock_fs_rights(12), sandbox_landlock_fs_rights(7));
    cr_assert_eq(sandbox_landlock_fs_rights(0), 0);
}

Test(sandbox, home_read_only_with_ssh_denied)
{
    if (sandbox_probe_landlock_abi() < 1)
        cr_skip_test("no Landlock on this kernel");
    struct policy *p = compile(NULL);
    cr_assert_eq(open_in_sandbox(p, home, ".ssh/id_rsa", O_RDONLY), EACCES);
    cr_assert_eq(open_in_sandbox(p, home, "notes.txt", O_RDONLY), 0, "siblings stay readable");
    cr_assert_eq(open_in_sandbox(p, home, ".sshfoo/file", O_RDONLY), 0,
                 "a prefix of a denied name is another name");
    cr_assert_eq(open_in_sandbox(p, home, "notes.txt", O_WRONLY), EACCES, "home is read-only");
    cr_assert_eq(open_in_sandbox(p, home, ".ssh/authorized_keys", O_WRONLY | O_CREAT), EACCES,
                 "nothing may be planted in a denied directory");
    cr_assert_eq(open_in_sandbox(p, ws, "new", O_WRONLY | O_CREAT), 0, "workspace is writable");
    cr_assert_eq(open_in_sandbox(p, home, "notes.txt", O_RDONLY | O_TRUNC), EACCES);
    policy_free(p);
}

Test(sandbox, a_denied_symlink_is_denied_at_its_target)
{
    if (sandbox_probe_landlock_abi() < 1)
        cr_skip_test("no Landlock on this kernel");
    char link_path[256], target[256];
    snprintf(target, sizeof target, "%s/secret-dir", home);
    mkdir(target, 0700);
    char f[300];
    snprintf(f, sizeof f, "%s/key", target);
    put(f, "K", 0600);
    snprintf(link_path, sizeof link_path, "%s/link-to-secret", home);
    cr_assert_eq(symlink(target, link_path), 0);
    /* deny names the link; the policy is compiled with symlinks resolved */
    char json[2048];
    snprintf(json, sizeof json,
             "{\"cordon_policy\": 1, \"agent\": \"t\", \"sandbox\": {\"filesystem\": "
             "{\"read_only\": [\"~\"], \"deny\": [\"%s\"]}}}",
             link_path);
    struct policy_env env = {.vars = {home, home, ws, "/tmp"}, .resolve_symlinks = 1};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    cr_assert_eq(policy_load(json, strlen(json), &env, &p, &d), 0);
    cr_assert_eq(open_in_sandbox(p, home, "secret-dir/key", O_RDONLY), EACCES);
    cr_assert_eq(open_in_sandbox(p, home, "link-to-secret/key", O_RDONLY), EACCES);
    cr_assert_eq(open_in_sandbox(p, home, "notes.txt", O_RDONLY), 0);
    policy_free(p);
}

static int exec_probe(void *arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)arg, NULL};
        execve((char *)arg, argv, (char *[]){NULL});
        _exit(errno == EACCES ? 13 : 99);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 98;
}

Test(sandbox, denied_programs_do_not_run_by_any_name)
{
    if (sandbox_probe_landlock_abi() < 1)
        cr_skip_test("no Landlock on this kernel");
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    char path[256];
    snprintf(path, sizeof path, "%s/ok", bin);
    cr_assert_eq(in_sandbox(p, &o, exec_probe, path), 0, "an allowed program runs");
    snprintf(path, sizeof path, "%s/rm", bin);
    cr_assert_eq(in_sandbox(p, &o, exec_probe, path), 13, "rm is denied");
    snprintf(path, sizeof path, "%s/rm-alias", bin);
    cr_assert_eq(in_sandbox(p, &o, exec_probe, path), 13, "a hard link to rm is rm");
    snprintf(path, sizeof path, "%s/X11/rm", bin);
    cr_assert_eq(in_sandbox(p, &o, exec_probe, path), 13, "X11 -> . does not re-grant rm");
    /* a copy of an allowed program in the workspace does not run either */
    snprintf(path, sizeof path, "%s/true-copy", ws);
    copy_true(path);
    cr_assert_eq(in_sandbox(p, &o, exec_probe, path), 13, "the workspace has no EXECUTE");
    policy_free(p);
}

static void *sleeper(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

/*
 * Apply p in a forked child that has started a second thread first; the result, the report
 * and the error come back through shared memory.
 */
static int apply_beside_a_thread(const struct policy *p, struct sandbox_report *r, char *err,
                                 size_t errlen)
{
    struct shared {
        int rc;
        struct sandbox_report r;
        char err[512];
    } *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(sh, MAP_FAILED);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        pthread_t t;
        pthread_create(&t, NULL, sleeper, NULL);
        struct sandbox_opts o = {0};
        sh->rc = sandbox_apply(p, &o, &sh->r, sh->err, sizeof sh->err);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died");
    int rc = sh->rc;
    *r = sh->r;
    snprintf(err, errlen, "%s", sh->err);
    munmap(sh, sizeof *sh);
    return rc;
}

Test(sandbox, strict_refuses_a_second_thread)
{
    struct policy *p = compile(NULL);
    struct sandbox_report r;
    char err[512];
    cr_assert_eq(apply_beside_a_thread(p, &r, err, sizeof err), SANDBOX_ERR_THREADS,
                 "strict policy applied with two threads");
    cr_assert(strstr(err, "thread"), "%s", err);
    policy_free(p);
}

Test(sandbox, best_effort_reports_the_second_thread)
{
    struct policy *p = compile("\"enforcement\": \"best_effort\"");
    struct sandbox_report r;
    char err[512];
    cr_assert_eq(apply_beside_a_thread(p, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.threads, 2);
    int seen = 0;
    for (size_t i = 0; i < r.n_degradations; i++)
        seen |= strstr(r.degradations[i], "thread") != NULL;
    cr_assert(seen, "no degradation names the thread");
    policy_free(p);
}

static int listener(uint16_t *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s, 8), 0);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return s;
}

static int connect_probe(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    int s = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = (int)syscall(SYS_connect, s, &a, sizeof a);
    return rc == 0 ? 0 : errno;
}

static int udp_probe(void *arg)
{
    (void)arg;
    int s = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    return s < 0 ? errno : 0;
}

Test(sandbox, proxy_mode_allows_only_the_proxy_port)
{
    if (sandbox_probe_landlock_abi() < 4)
        cr_skip_test("Landlock ABI < 4 has no TCP rules");
    uint16_t proxy, other;
    int l1 = listener(&proxy), l2 = listener(&other);
    struct policy *p = compile("\"network\": {\"mode\": \"proxy\"}");
    struct sandbox_opts o = {.n_proxy_ports = 1, .proxy_ports = {proxy}};
    cr_assert_eq(in_sandbox(p, &o, connect_probe, &proxy), 0, "the proxy port is reachable");
    cr_assert_eq(in_sandbox(p, &o, connect_probe, &other), EACCES);
    cr_assert_eq(in_sandbox(p, &o, udp_probe, NULL), EACCES, "UDP sockets are refused");
    policy_free(p);
    close(l1);
    close(l2);
}

Test(sandbox, mode_none_refuses_inet_sockets)
{
    struct policy *p = compile("\"network\": {\"mode\": \"none\"}");
    struct sandbox_opts o = {0};
    uint16_t port = 9;
    cr_assert_eq(in_sandbox(p, &o, connect_probe, &port), EACCES);
    policy_free(p);
}

static int ptrace_probe(void *arg)
{
    (void)arg;
    long rc = syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
    int e = errno;
    long ur = syscall(SYS_io_uring_setup, 1, NULL);
    int e2 = errno;
    return rc < 0 && e == EPERM && ur < 0 && e2 == EPERM ? 0 : 1;
}

Test(sandbox, seccomp_refuses_ptrace_and_io_uring)
{
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, ptrace_probe, NULL), 0);
    policy_free(p);
}

/*
 * A dry run in a forked child (the test runner itself has threads, which a strict policy
 * rightly refuses); the report comes back through shared memory.
 */
static int dry_run(const struct policy *p, struct sandbox_opts o, struct sandbox_report *out,
                   char *err, size_t errlen)
{
    struct shared {
        int rc, seccomp_before, seccomp_after;
        struct sandbox_report r;
        char err[512];
    } *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(sh, MAP_FAILED);
    o.dry_run = 1;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        sh->seccomp_before = sandbox_probe_seccomp_mode();
        sh->rc = sandbox_apply(p, &o, &sh->r, sh->err, sizeof sh->err);
        sh->seccomp_after = sandbox_probe_seccomp_mode();
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_eq(sh->seccomp_after, sh->seccomp_before, "a dry run installed a filter");
    int rc = sh->rc;
    *out = sh->r;
    snprintf(err, errlen, "%s", sh->err);
    munmap(sh, sizeof *sh);
    return rc;
}

Test(sandbox, dry_run_counts_without_restricting)
{
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    struct sandbox_report r;
    char err[512];
    cr_assert_eq(dry_run(p, o, &r, err, sizeof err), 0, "%s", err);
    if (r.landlock_abi >= 1) {
        cr_assert_eq(r.landlock_applied, 0);
        cr_assert_geq(r.expanded_dirs, 1, "home should be expanded around .ssh");
        cr_assert_gt(r.fs_rules, 3);
        cr_assert_gt(r.exec_rules, 0);
    }
    cr_assert_gt(r.seccomp_rules, 30);
    char *json = sandbox_report_json(&r);
    cr_assert_not_null(json);
    cr_assert(strstr(json, "\"expanded_dirs\""), "%s", json);
    cr_assert(strstr(json, "\"limits\""), "%s", json);
    free(json);
    policy_free(p);
}

Test(sandbox, strict_names_the_missing_proxy_port_as_a_limit)
{
    struct policy *p = compile("\"network\": {\"mode\": \"proxy\"}");
    struct sandbox_opts o = {0};
    struct sandbox_report r;
    char err[512];
    cr_assert_eq(dry_run(p, o, &r, err, sizeof err), 0, "%s", err);
    int seen = 0;
    for (size_t i = 0; i < r.n_limits; i++)
        seen |= strstr(r.limits[i], "without a proxy port") != NULL;
    cr_assert(seen);
    policy_free(p);
}

/* 0 when every call with stray upper bits is refused as its plain form would be. */
static int upper_bits_probe(void *arg)
{
    (void)arg;
    const unsigned long hi = 1UL << 32;
    char c = 'x';
    /* without the filter this ioctl fails with ENOTTY (fd 100 is no terminal); the filter
     * must answer first, as it does for plain TIOCSTI */
    int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || dup2(fd, 100) != 100)
        return 10;
    if (syscall(SYS_ioctl, 100, (unsigned long)TIOCSTI | hi, &c) == 0 || errno != EPERM)
        return 1;
    if (syscall(SYS_socket, AF_INET | hi, SOCK_DGRAM, 0) >= 0 || errno != EACCES)
        return 2;
    if (syscall(SYS_socket, AF_INET, SOCK_DGRAM | hi, 0) >= 0 || errno != EACCES)
        return 3;
    if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 262 /* MPTCP */ | hi) >= 0 || errno != EACCES)
        return 4;
    if (syscall(SYS_socket, 17 /* AF_PACKET */ | hi, SOCK_RAW, 0) >= 0 || errno != EACCES)
        return 5;
    if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) < 0)
        return 6; /* plain TCP still works */
    return 0;
}

Test(sandbox, upper_bits_of_32_bit_arguments_do_not_dodge_the_filter)
{
    struct policy *p = compile("\"network\": {\"mode\": \"proxy\"}");
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, upper_bits_probe, NULL), 0);
    policy_free(p);
}

/* The effective capability mask of this process, from /proc/self/status. */
static unsigned long long cap_eff(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long v = ~0ULL;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static int caps_probe(void *arg)
{
    (void)arg;
    unsigned long long eff = cap_eff();
    const int gone[] = {2 /* DAC_READ_SEARCH */, 12 /* NET_ADMIN */, 13 /* NET_RAW */,
                        19 /* SYS_PTRACE */, 21 /* SYS_ADMIN */, 25 /* SYS_TIME */,
                        38 /* PERFMON */};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (eff & (1ULL << gone[i]))
            return 1 + (int)i;
    return (eff & (1ULL << 0 /* CHOWN */)) ? 0 : 20; /* the file set is kept */
}

Test(sandbox, a_root_agent_loses_all_but_the_file_capabilities)
{
    if (geteuid() != 0 || !(cap_eff() & (1ULL << 21)))
        cr_skip_test("needs root with CAP_SYS_ADMIN to show the drop");
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, caps_probe, NULL), 0);
    policy_free(p);
}

__attribute__((format(printf, 1, 2))) static struct policy *compile_json(const char *fmt, ...)
{
    char json[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    struct policy_env env = {.vars = {home, home, ws, "/tmp"}, .resolve_symlinks = 1};
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    int rc = policy_load(json, strlen(json), &env, &p, &d);
    cr_assert_eq(rc, 0, "policy refused: %s: %s", d.count ? d.e[0].path : "",
                 d.count ? d.e[0].msg : "");
    return p;
}

Test(sandbox, an_exec_grant_cannot_read_a_denied_file)
{
    if (sandbox_probe_landlock_abi() < 1)
        cr_skip_test("no Landlock on this kernel");
    char env_file[256];
    snprintf(env_file, sizeof env_file, "%s/.env", ws);
    put(env_file, "DB_PASSWORD=x", 0600);
    struct policy *p = compile_json(
        "{\"cordon_policy\": 1, \"agent\": \"t\", \"sandbox\": {\"filesystem\": {\"deny\": "
        "[\"${workspace}/.env\"]}, \"exec\": {\"allow\": [\"*\", \"%s\"]}}}",
        ws);
    cr_assert_eq(open_in_sandbox(p, ws, ".env", O_RDONLY), EACCES);
    policy_free(p);
}

Test(sandbox, a_grant_of_the_root_does_not_open_dev)
{
    if (sandbox_probe_landlock_abi() < 1)
        cr_skip_test("no Landlock on this kernel");
    char shm[128];
    snprintf(shm, sizeof shm, "/dev/shm/cordon-test-%d", (int)getpid());
    put(shm, "SHM", 0644);
    struct policy *p = compile_json("{\"cordon_policy\": 1, \"agent\": \"t\", \"sandbox\": "
                                    "{\"filesystem\": {\"read_only\": [\"%s\"]}}}",
                                    "/");
    cr_assert_eq(open_in_sandbox(p, "/dev/shm", shm + strlen("/dev/shm/"), O_RDONLY), EACCES);
    cr_assert_eq(open_in_sandbox(p, "/dev", "null", O_WRONLY), 0, "listed nodes stay usable");
    cr_assert_eq(open_in_sandbox(p, "/etc", "hostname", O_RDONLY), 0, "the rest of / is read");
    unlink(shm);
    policy_free(p);
}

static int setuid_probe(void *arg)
{
    const char *file = arg;
    if (syscall(SYS_fchmodat, AT_FDCWD, file, 04755, 0) == 0 || errno != EPERM)
        return 1;
    if (syscall(SYS_chmod, file, 02755) == 0 || errno != EPERM)
        return 2;
    if (syscall(SYS_chmod, file, 0755) != 0)
        return 3; /* an ordinary mode change still works */
    return 0;
}

Test(sandbox, setuid_and_setgid_bits_cannot_be_set)
{
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    char file[256];
    snprintf(file, sizeof file, "%s/tool", ws);
    copy_true(file);
    cr_assert_eq(in_sandbox(p, &o, setuid_probe, file), 0);
    policy_free(p);
}

static int namespace_probe(void *arg)
{
    (void)arg;
    if (syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */) == 0 || errno != EPERM)
        return 1;
    if (syscall(SYS_unshare, 0x40000000UL | (1UL << 32) /* NEWNET, stray bit */) == 0 ||
        errno != EPERM)
        return 2;
    if (syscall(435 /* clone3 */, NULL, 0) == 0 || errno != ENOSYS)
        return 3; /* glibc falls back to clone on ENOSYS */
    return 0;
}

Test(sandbox, new_namespaces_are_refused)
{
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, namespace_probe, NULL), 0);
    policy_free(p);
}

/* A listener on a pathname socket inside the denied ~/.ssh, as gpg-agent or ssh-agent are. */
static int unix_probe(void *arg)
{
    const char *path = arg;
    const unsigned long hi = 1UL << 32;
    long s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (s >= 0)
        return 1; /* could connect to path from here */
    if (errno != EACCES)
        return 2;
    if (syscall(SYS_socket, AF_UNIX | hi, SOCK_STREAM, 0) >= 0)
        return 3;
    int sv[2];
    if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 4; /* stream pairs stay: subprocess and node IPC use them */
    if (syscall(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, sv) == 0 || errno != EACCES)
        return 5; /* a datagram pair could sendto() a named socket */
    (void)path;
    return 0;
}

static int unix_connect_probe(void *arg)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(arg) >= sizeof a.sun_path)
        return 99;
    memcpy(a.sun_path, arg, strlen(arg) + 1);
    long s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    return syscall(SYS_connect, s, &a, sizeof a) == 0 ? 0 : errno;
}

Test(sandbox, unix_pairs_keep_named_sockets_out_of_reach)
{
    char path[256];
    snprintf(path, sizeof path, "%s/.ssh/agent.sock", home);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(path), sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 4), 0);
    struct policy *open_p = compile(NULL);
    struct policy *pairs_p = compile("\"ipc\": {\"unix_sockets\": \"pairs\"}");
    struct sandbox_opts o = {0};
    /* open (the default): the documented limit, Landlock <= ABI 7 lets the connect through */
    cr_assert_eq(in_sandbox(open_p, &o, unix_connect_probe, path), 0);
    cr_assert_eq(in_sandbox(pairs_p, &o, unix_connect_probe, path), EACCES);
    cr_assert_eq(in_sandbox(pairs_p, &o, unix_probe, path), 0);
    close(l);
    unlink(path);
    policy_free(open_p);
    policy_free(pairs_p);
}

Test(sandbox, a_bind_mount_of_a_denied_directory_is_denied_too)
{
    if (sandbox_probe_landlock_abi() < 1)
        cr_skip_test("no Landlock on this kernel");
    struct policy *p = compile(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* a dev container's mount: ~/.ssh shown again inside the workspace */
        char ssh[256], mnt[256], key[300], control[300];
        snprintf(ssh, sizeof ssh, "%s/.ssh", home);
        snprintf(mnt, sizeof mnt, "%s/mounted-ssh", ws);
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            _exit(77); /* not allowed to make a mount namespace here */
        if (mkdir(mnt, 0700) != 0 || mount(ssh, mnt, NULL, MS_BIND, NULL) != 0)
            _exit(78);
        snprintf(key, sizeof key, "%s/id_rsa", mnt);
        snprintf(control, sizeof control, "%s/control", ws);
        if (try_open(key, O_RDONLY) != 0)
            _exit(79); /* the mount must show the key before the sandbox */
        int cfd = open(control, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (cfd < 0)
            _exit(82);
        close(cfd);
        struct sandbox_report r;
        struct sandbox_opts o = {0};
        char err[512];
        if (sandbox_apply(p, &o, &r, err, sizeof err) != 0)
            _exit(80);
        if (try_open(control, O_WRONLY) != 0)
            _exit(81); /* the rest of the workspace stays writable */
        _exit(try_open(key, O_RDONLY) == EACCES ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        cr_skip_test("cannot create a mount namespace here");
    cr_assert_eq(WEXITSTATUS(status), 0, "status %d", WEXITSTATUS(status));
    policy_free(p);
}
