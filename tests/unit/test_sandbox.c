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
#include <grp.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "sandbox/seccomp_rules.h"

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

/*
 * Under CI nothing here may skip: a kernel without Landlock, seccomp or the namespaces a test
 * needs would otherwise pass the kernel suite without testing anything, so under CI=true it
 * is a failure that says what is missing. Elsewhere (a laptop, an old kernel) the test skips
 * and says why.
 */
static void skip_or_fail(const char *why)
{
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        cr_assert_fail("CI=true, and %s: the kernel suite must run where the kernel sandbox "
                       "can be tested",
                       why);
    cr_skip_test("%s", why);
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
static int in_sandbox(const struct policy *p, const struct sandbox_opts *o, int (*fn)(void *),
                      void *arg)
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
        skip_or_fail("no Landlock on this kernel");
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
        skip_or_fail("no Landlock on this kernel");
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
        skip_or_fail("no Landlock on this kernel");
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
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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
        skip_or_fail("Landlock ABI < 4 has no TCP rules");
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

static int bind_probe(void *arg)
{
    (void)arg;
    int s = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return syscall(SYS_bind, s, &a, sizeof a) == 0 ? 0 : errno;
}

/* Mode none with cordond's API port: that port alone, no UDP, no bind (so no DNS server and
 * no listener); the proxy ports of mode proxy (the tunnel) are not reachable. */
Test(sandbox, mode_none_allows_only_the_api_port)
{
    uint16_t api, tunnel, other;
    int l1 = listener(&api), l2 = listener(&tunnel), l3 = listener(&other);
    struct policy *p = compile("\"network\": {\"mode\": \"none\"}");
    struct sandbox_opts o = {.n_proxy_ports = 2, .proxy_ports = {api, tunnel}, .api_port = api};
    if (sandbox_probe_landlock_abi() < 4) {
        /* no TCP rules: every inet socket stays refused, as without a cordond */
        cr_assert_eq(in_sandbox(p, &o, connect_probe, &api), EACCES);
    } else {
        cr_assert_eq(in_sandbox(p, &o, connect_probe, &api), 0, "the API port is reachable");
        cr_assert_eq(in_sandbox(p, &o, connect_probe, &tunnel), EACCES, "the tunnel port");
        cr_assert_eq(in_sandbox(p, &o, connect_probe, &other), EACCES);
        cr_assert_eq(in_sandbox(p, &o, bind_probe, NULL), EACCES, "bind is refused");
    }
    cr_assert_eq(in_sandbox(p, &o, udp_probe, NULL), EACCES, "UDP sockets are refused");
    policy_free(p);
    close(l1);
    close(l2);
    close(l3);
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

Test(sandbox, mode_none_reports_the_api_port_or_why_it_is_unreachable)
{
    struct policy *p = compile("\"network\": {\"mode\": \"none\"}");
    struct sandbox_opts o = {.api_port = 4242};
    struct sandbox_report r;
    char err[512];
    cr_assert_eq(dry_run(p, o, &r, err, sizeof err), 0, "%s", err);
    int seen = 0;
    for (size_t i = 0; i < r.n_limits; i++)
        seen |= strstr(r.limits[i], r.api_port ? "reach cordond's API port 4242"
                                               : "model proxy (port 4242) is unreachable") != NULL;
    cr_assert(seen, "no limit names the API port");
    char *json = sandbox_report_json(&r);
    cr_assert_not_null(json);
    if (r.landlock_abi >= 4 && r.seccomp_available) {
        cr_assert_eq(r.api_port, 4242);
        cr_assert_eq(r.net_rules, 1);
        cr_assert(strstr(json, "\"api_port\":\t4242") || strstr(json, "\"api_port\": 4242"), "%s",
                  json);
    } else {
        cr_assert_eq(r.api_port, 0);
    }
    free(json);
    /* without a cordond, mode none reports nothing of the kind */
    o.api_port = 0;
    cr_assert_eq(dry_run(p, o, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.api_port, 0);
    cr_assert_eq(r.net_rules, 0);
    for (size_t i = 0; i < r.n_limits; i++)
        cr_assert_null(strstr(r.limits[i], "API port"), "%s", r.limits[i]);
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
    const int gone[] = {2 /* DAC_READ_SEARCH */,
                        12 /* NET_ADMIN */,
                        13 /* NET_RAW */,
                        19 /* SYS_PTRACE */,
                        21 /* SYS_ADMIN */,
                        25 /* SYS_TIME */,
                        38 /* PERFMON */};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (eff & (1ULL << gone[i]))
            return 1 + (int)i;
    return (eff & (1ULL << 0 /* CHOWN */)) ? 0 : 20; /* the file set is kept */
}

Test(sandbox, a_root_agent_loses_all_but_the_file_capabilities)
{
    if (geteuid() != 0 || !(cap_eff() & (1ULL << 21)))
        skip_or_fail("needs root with CAP_SYS_ADMIN to show the drop");
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
        skip_or_fail("no Landlock on this kernel");
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
        skip_or_fail("no Landlock on this kernel");
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
        skip_or_fail("no Landlock on this kernel");
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
        skip_or_fail("cannot create a mount namespace here");
    cr_assert_eq(WEXITSTATUS(status), 0, "status %d", WEXITSTATUS(status));
    policy_free(p);
}

/* ------------------------------------------------------------------ seccomp: the programs */

/* The BPF compiled into cordon is what the rules give when built again now. */
Test(sandbox, compiled_programs_match_the_rules)
{
    for (int n = 0; n < 3; n++)
        for (int u = 0; u < 2; u++)
            for (int v = 0; v < 2; v++) {
                scmp_filter_ctx ctx;
                unsigned rules, built_rules;
                char err[256];
                cr_assert_eq(sandbox_seccomp_build((enum policy_net)n, (enum policy_unix)u,
                                                   (enum sandbox_sysv)v, &ctx, &rules, err,
                                                   sizeof err),
                             0, "%s", err);
                int fd = memfd_create("bpf", 0);
                cr_assert_geq(fd, 0);
                cr_assert_eq(seccomp_export_bpf(ctx, fd), 0);
                off_t len = lseek(fd, 0, SEEK_END);
                unsigned char *buf = malloc((size_t)len);
                cr_assert_eq(pread(fd, buf, (size_t)len, 0), len);
                size_t ins;
                const struct sock_filter *bpf =
                    sandbox_seccomp_program((enum policy_net)n, (enum policy_unix)u,
                                            (enum sandbox_sysv)v, &ins, &built_rules);
                cr_assert_eq(ins * sizeof *bpf, (size_t)len, "net %d unix %d sysv %d", n, u, v);
                cr_assert_eq(memcmp(bpf, buf, (size_t)len), 0, "net %d unix %d sysv %d", n, u, v);
                cr_assert_eq(built_rules, rules);
                free(buf);
                close(fd);
                seccomp_release(ctx);
            }
    size_t ins;
    unsigned deny_rules, allow_rules;
    (void)sandbox_seccomp_program(POLICY_NET_PROXY, POLICY_UNIX_PAIRS, SANDBOX_SYSV_DENY, &ins,
                                  &deny_rules);
    (void)sandbox_seccomp_program(POLICY_NET_PROXY, POLICY_UNIX_PAIRS, SANDBOX_SYSV_ALLOW, &ins,
                                  &allow_rules);
    cr_assert_eq(deny_rules, allow_rules + 12, "deny adds one rule per SysV call");
}

/* ------------------------------------------------------------------ other processes by pid */

#define IOPRIO(cls, data) (((long)(cls) << 13) | (data))

/* 0 when the calls on the caller itself work and the same calls on anyone else are refused;
 * otherwise the number of the check that failed. */
static int pid_calls_probe(void *arg)
{
    (void)arg;
    const long hi = 1L << 32;
    long other = getppid(); /* the test runner, outside the sandbox */
    struct rlimit rl, lower;
    if (syscall(SYS_prlimit64, 0L, (long)RLIMIT_NOFILE, NULL, &rl) != 0)
        return 1;
    lower.rlim_cur = rl.rlim_cur > 64 ? 64 : rl.rlim_cur;
    lower.rlim_max = rl.rlim_max;
    if (syscall(SYS_prlimit64, 0L, (long)RLIMIT_NOFILE, &lower, NULL) != 0)
        return 2;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 3; /* glibc passes pid 0 */
    if (syscall(SYS_prlimit64, other, (long)RLIMIT_NOFILE, NULL, &rl) == 0 || errno != EPERM)
        return 4; /* a read of another process: refused too */
    if (syscall(SYS_prlimit64, (long)getpid(), (long)RLIMIT_NOFILE, NULL, &rl) == 0 ||
        errno != EPERM)
        return 5; /* its own pid spelled out: a static filter cannot tell, documented */
    if (syscall(SYS_prlimit64, hi, (long)RLIMIT_NOFILE, NULL, &rl) == 0 || errno != EPERM)
        return 6; /* the kernel would read pid 0: errs towards refusing */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || sched_setaffinity(0, sizeof set, &set) != 0)
        return 7;
    if (syscall(SYS_sched_setaffinity, other, (long)sizeof set, &set) == 0 || errno != EPERM)
        return 8;
    struct sched_param sp = {0};
    if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0)
        return 9;
    if (syscall(SYS_sched_setscheduler, other, (long)SCHED_IDLE, &sp) == 0 || errno != EPERM)
        return 10;
    if (syscall(SYS_sched_setparam, other, &sp) == 0 || errno != EPERM)
        return 11;
    if (setpriority(PRIO_PROCESS, 0, 5) != 0)
        return 12; /* nice(1) */
    if (syscall(SYS_setpriority, (long)PRIO_USER, 0L, 19L) == 0 || errno != EPERM)
        return 13; /* for root: every root process of the host */
    if (syscall(SYS_setpriority, (long)PRIO_PGRP, 0L, 19L) == 0 || errno != EPERM)
        return 14;
    if (syscall(SYS_setpriority, (long)PRIO_PROCESS, other, 19L) == 0 || errno != EPERM)
        return 15;
    if (syscall(SYS_ioprio_set, 1L /* WHO_PROCESS */, 0L, IOPRIO(2 /* BE */, 4)) != 0)
        return 16; /* ionice on itself */
    if (syscall(SYS_ioprio_set, 3L /* WHO_USER */, 0L, IOPRIO(3 /* IDLE */, 0)) == 0 ||
        errno != EPERM)
        return 17;
    if (syscall(SYS_ioprio_set, 1L | hi, other, IOPRIO(3, 0)) == 0 || errno != EPERM)
        return 18;
    if (syscall(SYS_setns, -1L, 0L) == 0 || errno != EPERM)
        return 19; /* EPERM before the kernel's EBADF */
    return 0;
}

Test(sandbox, calls_on_another_pid_are_refused_on_oneself_they_work)
{
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, pid_calls_probe, NULL), 0);
    policy_free(p);
}

/* 0 when every SysV and POSIX message queue call is refused before the kernel looks. */
static int ipc_denied_probe(void *arg)
{
    (void)arg;
    if (syscall(SYS_shmget, (long)IPC_PRIVATE, 4096L, (long)(IPC_CREAT | 0600)) >= 0 ||
        errno != EPERM)
        return 1;
    if (syscall(SYS_shmat, 0L, NULL, 0L) != -1 || errno != EPERM)
        return 2;
    if (syscall(SYS_msgget, (long)IPC_PRIVATE, (long)(IPC_CREAT | 0600)) >= 0 || errno != EPERM)
        return 3;
    if (syscall(SYS_msgrcv, 0L, NULL, 0L, 0L, (long)IPC_NOWAIT) >= 0 || errno != EPERM)
        return 4;
    if (syscall(SYS_semget, (long)IPC_PRIVATE, 1L, (long)(IPC_CREAT | 0600)) >= 0 || errno != EPERM)
        return 5;
    if (syscall(SYS_semctl, 0L, 0L, (long)GETVAL, 0L) >= 0 || errno != EPERM)
        return 6;
    if (syscall(SYS_mq_open, "cordon-unit", (long)O_RDONLY, 0L, NULL) >= 0 || errno != EPERM)
        return 7;
    if (syscall(SYS_mq_unlink, "cordon-unit") == 0 || errno != EPERM)
        return 8;
    return 0;
}

Test(sandbox, sysv_and_mqueues_are_refused_by_default)
{
    struct policy *p = compile(NULL);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, ipc_denied_probe, NULL), 0);
    policy_free(p);
}

static int private_ipc_probe(void *arg)
{
    long key = *(long *)arg;
    if (syscall(SYS_shmget, key, 0L, 0L) >= 0 || errno != ENOENT)
        return 1; /* the segment outside is invisible */
    long id = syscall(SYS_shmget, (long)IPC_PRIVATE, 4096L, (long)(IPC_CREAT | 0600));
    if (id < 0)
        return 2;
    char *a = shmat((int)id, NULL, 0);
    if (a == (void *)-1)
        return 3;
    memcpy(a, "own", 4);
    if (shmdt(a) != 0 || shmctl((int)id, IPC_RMID, NULL) != 0)
        return 4;
    if (syscall(SYS_mq_open, "cordon-unit", (long)O_RDONLY, 0L, NULL) >= 0 || errno != EPERM)
        return 5; /* POSIX queues stay refused */
    return 0;
}

Test(sandbox, private_sysv_gets_a_namespace_of_its_own)
{
    if (geteuid() != 0)
        skip_or_fail("an IPC namespace needs CAP_SYS_ADMIN: run the unit tests as root");
    long key = 0x434f0000 | (getpid() & 0xffff);
    int id = shmget((key_t)key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    cr_assert_geq(id, 0, "cannot plant a segment: %s", strerror(errno));
    struct policy *p = compile("\"ipc\": {\"sysv\": \"private\"}");
    struct sandbox_opts o = {0};
    int rc = in_sandbox(p, &o, private_ipc_probe, &key);
    shmctl(id, IPC_RMID, NULL);
    cr_assert_eq(rc, 0);
    policy_free(p);
}

/* Apply p as an unprivileged user (no CAP_SYS_ADMIN) in a child; the report and the error
 * come back through shared memory. */
struct apply_result {
    int rc, shm_errno;
    struct sandbox_report r;
    char err[1024];
};

static void apply_unprivileged(const struct policy *p, struct apply_result *out)
{
    struct apply_result *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(sh, MAP_FAILED);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                               setresuid(65534, 65534, 65534) != 0))
            _exit(2);
        struct sandbox_opts o = {0};
        sh->rc = sandbox_apply(p, &o, &sh->r, sh->err, sizeof sh->err);
        errno = 0;
        if (sh->rc == 0 && syscall(SYS_shmget, (long)IPC_PRIVATE, 4096L, 0600L) < 0)
            sh->shm_errno = errno;
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child could not drop root");
    *out = *sh;
    munmap(sh, sizeof *sh);
}

Test(sandbox, private_sysv_without_the_capability_refuses_or_degrades)
{
    struct policy *strict =
        compile_json("{\"cordon_policy\": 1, \"agent\": \"t\", \"sandbox\": {\"filesystem\": "
                     "{\"read_write\": [\"%s\"]}, \"ipc\": {\"sysv\": \"private\"}}}",
                     ws);
    struct apply_result a;
    apply_unprivileged(strict, &a);
    cr_assert_eq(a.rc, SANDBOX_ERR_UNSUPPORTED);
    cr_assert(strstr(a.err, "CAP_SYS_ADMIN") && strstr(a.err, "\"deny\"") &&
                  strstr(a.err, "best_effort"),
              "%s", a.err);
    policy_free(strict);
    struct policy *be = compile_json(
        "{\"cordon_policy\": 1, \"agent\": \"t\", \"sandbox\": {\"enforcement\": "
        "\"best_effort\", \"filesystem\": {\"read_write\": [\"%s\"]}, \"ipc\": {\"sysv\": "
        "\"private\"}}}",
        ws);
    apply_unprivileged(be, &a);
    cr_assert_eq(a.rc, 0, "%s", a.err);
    cr_assert_eq(a.r.ipc_namespace, 0);
    cr_assert_eq(a.shm_errno, EPERM, "the fallback is deny");
    int seen = 0;
    for (size_t i = 0; i < a.r.n_degradations; i++)
        seen |= strstr(a.r.degradations[i], "fell back to \"deny\"") != NULL;
    cr_assert(seen, "no degradation says what happened");
    policy_free(be);
}

/* ------------------------------------------------------------------ sandbox.limits */

struct limits_seen {
    struct rlimit cpu, nofile, as, nproc;
};

static int limits_probe(void *arg)
{
    struct limits_seen *s = arg; /* shared memory */
    getrlimit(RLIMIT_CPU, &s->cpu);
    getrlimit(RLIMIT_NOFILE, &s->nofile);
    getrlimit(RLIMIT_AS, &s->as);
    getrlimit(RLIMIT_NPROC, &s->nproc);
    struct rlimit up = {s->nofile.rlim_max + 1, s->nofile.rlim_max + 1};
    return setrlimit(RLIMIT_NOFILE, &up) == 0 ? 1 : 0; /* it cannot raise them back */
}

Test(sandbox, cpu_and_open_files_are_rlimits_soft_and_hard)
{
    struct policy *p = compile("\"limits\": {\"cpu_seconds\": 100, \"open_files\": 64}");
    struct limits_seen *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, limits_probe, s), 0, "a limit could be raised again");
    cr_assert_eq(s->cpu.rlim_cur, 100);
    cr_assert_eq(s->cpu.rlim_max, 100);
    cr_assert_eq(s->nofile.rlim_cur, 64);
    cr_assert_eq(s->nofile.rlim_max, 64);
    munmap(s, sizeof *s);
    policy_free(p);
}

static int lower_nofile_then_probe(void *arg)
{
    return limits_probe(arg);
}

Test(sandbox, a_lower_hard_limit_already_in_place_is_kept)
{
    struct policy *p = compile("\"limits\": {\"open_files\": 4096}");
    struct limits_seen *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct rlimit low = {32, 32};
        struct sandbox_report r;
        struct sandbox_opts o = {0};
        char err[512];
        if (setrlimit(RLIMIT_NOFILE, &low) != 0 || sandbox_apply(p, &o, &r, err, sizeof err))
            _exit(90);
        if (r.resources[SANDBOX_LIMIT_OPEN_FILES].value != 32 ||
            !strstr(r.resources[SANDBOX_LIMIT_OPEN_FILES].where, "already lower: 32"))
            _exit(91);
        _exit(lower_nofile_then_probe(s));
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", WEXITSTATUS(status));
    cr_assert_eq(s->nofile.rlim_max, 32);
    munmap(s, sizeof *s);
    policy_free(p);
}

/* A dry run of p in a child: the report, the error, the result. */
static int dry(const struct policy *p, struct sandbox_report *r, char *err, size_t errlen);

Test(sandbox, memory_is_a_cgroup_limit_or_rlimit_as)
{
    /* the largest limit there is: a sanitizer's shadow memory already takes terabytes of
     * address space, and every later mmap would fail below it */
    struct policy *p = compile("\"limits\": {\"memory\": \"1024T\"}");
    enum sandbox_cgroup_kind kind;
    char file[256], err[512];
    uint64_t cg = sandbox_cgroup_limit_of_self(SANDBOX_CGROUP_MEMORY, &kind, file, sizeof file);
    if (cg) {
        /* this process already runs in a group that limits memory: that group holds it */
        struct sandbox_report r;
        cr_assert_eq(dry(p, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(r.resources[SANDBOX_LIMIT_MEMORY].via,
                     kind == SANDBOX_CGROUP_V2 ? SANDBOX_VIA_CGROUP_V2 : SANDBOX_VIA_CGROUP_V1);
        cr_assert_eq(r.resources[SANDBOX_LIMIT_MEMORY].value, cg);
        cr_assert_str_eq(r.resources[SANDBOX_LIMIT_MEMORY].where, file);
        policy_free(p);
        return;
    }
    struct limits_seen *s =
        mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct sandbox_opts o = {0};
    cr_assert_eq(in_sandbox(p, &o, limits_probe, s), 0);
    cr_assert_eq(s->as.rlim_cur, 1ULL << 50);
    cr_assert_eq(s->as.rlim_max, 1ULL << 50);
    munmap(s, sizeof *s);
    policy_free(p);
}

/* A dry run of p in a child: the report, the error, the result. */
static int dry(const struct policy *p, struct sandbox_report *r, char *err, size_t errlen)
{
    struct sandbox_opts o = {0};
    return dry_run(p, o, r, err, errlen);
}

Test(sandbox, processes_of_root_without_a_cgroup_refuse_or_degrade)
{
    enum sandbox_cgroup_kind kind;
    char file[256], err[512];
    uint64_t cg = sandbox_cgroup_limit_of_self(SANDBOX_CGROUP_PIDS, &kind, file, sizeof file);
    struct sandbox_report r;
    struct policy *strict = compile("\"limits\": {\"processes\": 50}");
    struct policy *be = compile("\"enforcement\": \"best_effort\", \"limits\": "
                                "{\"processes\": 50}");
    if (cg && cg <= 50) {
        /* a group of this process holds it already */
        cr_assert_eq(dry(strict, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(r.resources[SANDBOX_LIMIT_PROCESSES].via,
                     kind == SANDBOX_CGROUP_V2 ? SANDBOX_VIA_CGROUP_V2 : SANDBOX_VIA_CGROUP_V1);
        cr_assert_str_eq(r.resources[SANDBOX_LIMIT_PROCESSES].where, file);
    } else if (getuid() == 0) {
        cr_assert_eq(dry(strict, &r, err, sizeof err), SANDBOX_ERR_UNSUPPORTED);
        cr_assert(strstr(err, "RLIMIT_NPROC") && strstr(err, "cgroup") &&
                      strstr(err, "user of its own") && strstr(err, "best_effort"),
                  "%s", err);
        cr_assert_eq(dry(be, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(r.resources[SANDBOX_LIMIT_PROCESSES].via, SANDBOX_VIA_NOTHING);
        int seen = 0;
        for (size_t i = 0; i < r.n_degradations; i++)
            seen |= strstr(r.degradations[i], "sandbox.limits.processes (50)") != NULL;
        cr_assert(seen, "no degradation names the limit");
    } else {
        cr_assert_eq(dry(strict, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(r.resources[SANDBOX_LIMIT_PROCESSES].via, SANDBOX_VIA_RLIMIT);
        cr_assert_str_eq(r.resources[SANDBOX_LIMIT_PROCESSES].where, "RLIMIT_NPROC");
    }
    policy_free(strict);
    policy_free(be);
}

Test(sandbox, the_report_says_what_holds_each_limit)
{
    struct policy *p = compile("\"enforcement\": \"best_effort\", \"limits\": "
                               "{\"cpu_seconds\": 30, \"open_files\": 256}");
    struct sandbox_report r;
    char err[512];
    cr_assert_eq(dry(p, &r, err, sizeof err), 0, "%s", err);
    char *json = sandbox_report_json(&r);
    cr_assert_not_null(json);
    cr_assert(strstr(json, "\"resource_limits\""), "%s", json);
    cr_assert(strstr(json, "\"RLIMIT_CPU\""), "%s", json);
    cr_assert(strstr(json, "\"RLIMIT_NOFILE\""), "%s", json);
    cr_assert(strstr(json, "\"enforced_by\":\t\"rlimit\""), "%s", json);
    cr_assert(strstr(json, "\"enforced_by\":\t\"unset\""), "processes and memory are unset");
    cr_assert(strstr(json, "\"sysv\":\t\"deny\""), "%s", json);
    cr_assert(strstr(json, "\"ipc_namespace\":\tfalse"), "%s", json);
    free(json);
    char text[8192];
    size_t need = sandbox_report_text(&r, text, sizeof text);
    cr_assert_lt(need, sizeof text);
    cr_assert(strstr(text, "cpu_seconds 30, rlimit: each process's CPU time"), "%s", text);
    cr_assert(strstr(text, "RLIMIT_CPU = 30\n"), "%s", text);
    cr_assert(strstr(text, "open_files  256, rlimit: each process\n"), "%s", text);
    cr_assert(strstr(text, "RLIMIT_NOFILE = 256\n"), "%s", text);
    cr_assert(strstr(text, "sysv ipc     refused by seccomp"), "%s", text);
    /* a short buffer is cut, never overrun, and the length needed is still told */
    char small[16];
    cr_assert_eq(sandbox_report_text(&r, small, sizeof small), need);
    cr_assert_eq(strlen(small), sizeof small - 1);
    policy_free(p);
}

Test(sandbox, no_limit_by_default_is_reported_as_none)
{
    struct policy *p = compile(NULL);
    struct sandbox_report r;
    char err[512], text[8192];
    cr_assert_eq(dry(p, &r, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < SANDBOX_N_LIMITS; i++)
        cr_assert_eq(r.resources[i].via, SANDBOX_VIA_UNSET);
    sandbox_report_text(&r, text, sizeof text);
    cr_assert(strstr(text, "limits       none"), "%s", text);
    policy_free(p);
}

/* Every code of the module lies outside errno's range (ENVELOPE_ERR_EXPIRED once equalled
 * -EINVAL), and sandbox_strerror names each one apart, and an errno as strerror does. */
Test(sandbox, codes_are_disjoint_from_errno_and_named)
{
    static const int codes[] = {SANDBOX_ERR_UNSUPPORTED, SANDBOX_ERR_THREADS, SANDBOX_ERR_SYSCALL,
                                SANDBOX_ERR_NOMEM};
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(codes[i], 0);
        cr_assert(!err_is_errno(codes[i]), "code %d overlaps errno", codes[i]);
        cr_assert_str_neq(sandbox_strerror(codes[i]), sandbox_strerror(0));
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(sandbox_strerror(codes[i]), sandbox_strerror(codes[j]), "%d and %d",
                              codes[i], codes[j]);
    }
    cr_assert_str_eq(sandbox_strerror(-ENOENT), strerror(ENOENT));
}
