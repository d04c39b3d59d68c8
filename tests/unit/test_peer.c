/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The admin peer check: the two /proc parsers on good, malformed, oversized and hostile text,
 * and peer_check() on real connections, unix and TCP, from this process (outside every
 * sandbox), from a child that runs with no_new_privs and a seccomp filter (refused), and from
 * a peer that exited before it could be judged (refused).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/server/peer.h"

/* ------------------------------------------------------------------ /proc/PID/status */

static int parse(const char *text, struct peer_status *st)
{
    return peer_status_parse(text, strlen(text), st);
}

Test(status, the_two_lines_are_read)
{
    struct peer_status st;
    cr_assert_eq(parse("Name:\tsh\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t3\n", &st), 0);
    cr_assert_eq(st.no_new_privs, 1);
    cr_assert_eq(st.seccomp, 2);
    cr_assert_eq(parse("NoNewPrivs:\t0\nSeccomp:\t0", &st), 0, "no final newline");
    cr_assert_eq(st.no_new_privs, 0);
    /* a kernel without seccomp has no Seccomp line: no filter */
    cr_assert_eq(parse("Name:\tx\nNoNewPrivs:\t1\n", &st), 0);
    cr_assert_eq(st.seccomp, 0);
}

Test(status, this_process_status_parses)
{
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    static char buf[PEER_STATUS_MAX];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    struct peer_status st;
    cr_assert_eq(peer_status_parse(buf, n, &st), 0);
    cr_assert(st.no_new_privs == (int)prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
}

Test(status, malformed_text_is_never_taken_for_an_ungoverned_peer)
{
    struct peer_status st;
    const char *bad[] = {
        "",                                              /* nothing */
        "Name:\tx\nSeccomp:\t2\n",                       /* NoNewPrivs missing */
        "NoNewPrivs:\t0\nNoNewPrivs:\t1\nSeccomp:\t2\n", /* twice: which one? */
        "NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp:\t0\n",
        "NoNewPrivs:\t2\n", /* not a flag */
        "NoNewPrivs:\t10\n",
        "NoNewPrivs:\t\n",
        "NoNewPrivs:\tyes\n",
        "NoNewPrivs:\t0 1\n",
        "NoNewPrivs:\t-1\n",
        "NoNewPrivs:\t1\nSeccomp:\t3\n", /* no such mode */
        "NoNewPrivs:\t1\nSeccomp:\tfilter\n",
        NULL,
    };
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(parse(bad[i], &st), -EINVAL, "accepted: %s", bad[i]);
    /* a NUL byte would let what follows hide from a C string reader */
    const char nul[] = "NoNewPrivs:\t0\n\0NoNewPrivs:\t1\n";
    cr_assert_eq(peer_status_parse(nul, sizeof nul - 1, &st), -EINVAL);
    cr_assert_eq(peer_status_parse(NULL, 0, &st), -EINVAL);
}

Test(status, a_command_name_cannot_forge_a_line)
{
    /* the kernel escapes a newline in the name; a name that says "NoNewPrivs:" mid-line is
     * not a line of its own */
    struct peer_status st;
    cr_assert_eq(parse("Name:\tNoNewPrivs:\t0\nNoNewPrivs:\t1\nSeccomp:\t2\n", &st), 0);
    cr_assert_eq(st.no_new_privs, 1);
    cr_assert_eq(parse("Name:\tx\\nNoNewPrivs:\t0\nNoNewPrivs:\t1\nSeccomp:\t2\n", &st), 0);
    cr_assert_eq(st.no_new_privs, 1);
    /* a prefix of the key is another key */
    cr_assert_eq(parse("NoNewPrivsX:\t0\nNoNewPrivs:\t1\nSeccomp:\t2\n", &st), 0);
    cr_assert_eq(st.no_new_privs, 1);
}

Test(status, oversized_text_is_refused_before_it_is_read)
{
    static char big[PEER_STATUS_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "NoNewPrivs:\t0\n", 14);
    struct peer_status st;
    cr_assert_eq(peer_status_parse(big, PEER_STATUS_MAX + 1, &st), -EINVAL);
    cr_assert_eq(peer_status_parse(big, PEER_STATUS_MAX, &st), 0, "the limit itself is fine");
}

/* ------------------------------------------------------------------ /proc/net/tcp */

static const char table[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0    "
    "    0 4242 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000    "
    "    0 98765 1 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:A1B3 0100007F:1F90 06 00000000:00000000 03:00000F2C 00000000     0    "
    "    0 0 3 0000000000000000\n";

Test(tcp, finds_the_line_of_the_peer_socket)
{
    unsigned long ino = 0;
    unsigned uid = 0;
    cr_assert_eq(peer_tcp_find(table, strlen(table), "0100007F:A1B2", "0100007F:1F90", &ino, &uid),
                 0);
    cr_assert_eq(ino, 98765);
    cr_assert_eq(uid, 1000);
    /* a closing socket has no owner: inode 0, which the check refuses */
    cr_assert_eq(peer_tcp_find(table, strlen(table), "0100007F:A1B3", "0100007F:1F90", &ino, &uid),
                 0);
    cr_assert_eq(ino, 0);
    /* the reverse direction is the server's own socket, not the peer's */
    cr_assert_eq(peer_tcp_find(table, strlen(table), "0100007F:1F90", "0100007F:A1B2", &ino, &uid),
                 -ENOENT);
    cr_assert_eq(peer_tcp_find(table, strlen(table), "0100007F:A1B", "0100007F:1F90", &ino, &uid),
                 -ENOENT, "a prefix is not an address");
}

Test(tcp, malformed_lines_are_skipped_and_bad_input_refused)
{
    unsigned long ino = 7;
    unsigned uid = 7;
    const char *junk[] = {
        "0: 0100007F:A1B2 0100007F:1F90\n",                          /* too few fields */
        "0: 0100007F:A1B2 0100007F:1F90 01 x x x 99999999999 0 5\n", /* uid too long */
        "0: 0100007F:A1B2 0100007F:1F90 01 x x x u 0 5\n",           /* uid not a number */
        "0: 0100007F:A1B2 0100007F:1F90 01 x x x 0 0 123456789012345678901\n", /* inode */
        "0: 0100007F:A1B2 0100007F:1F90 01 x x x 0 0 -1\n",
        NULL,
    };
    for (int i = 0; junk[i]; i++)
        cr_assert_eq(
            peer_tcp_find(junk[i], strlen(junk[i]), "0100007F:A1B2", "0100007F:1F90", &ino, &uid),
            -ENOENT, "%s", junk[i]);
    cr_assert_eq(ino, 7, "nothing written for a line that does not parse");
    const char nul[] = "0: 0100007F:A1B2 0100007F:1F90 01 x x x 0 0 5\n\0";
    cr_assert_eq(peer_tcp_find(nul, sizeof nul - 1, "0100007F:A1B2", "0100007F:1F90", &ino, &uid),
                 -EINVAL);
    cr_assert_eq(peer_tcp_find(table, (size_t)PEER_TCP_TABLE_MAX + 1, "a", "b", &ino, &uid),
                 -EINVAL, "refused by its length, before any byte is read");
}

/* A connected loopback pair: *srv the accepted end, *cli the client's. */
static void tcp_pair(int *srv, int *cli)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 4), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    *cli = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(*cli, (struct sockaddr *)&a, sizeof a), 0);
    *srv = accept(l, NULL, NULL);
    cr_assert_geq(*srv, 0);
    close(l);
}

Test(tcp, the_kernel_table_names_a_real_client_socket)
{
    int srv, cli;
    tcp_pair(&srv, &cli);
    struct sockaddr_storage me, peer;
    socklen_t ml = sizeof me, pl = sizeof peer;
    cr_assert_eq(getsockname(srv, (struct sockaddr *)&me, &ml), 0);
    cr_assert_eq(getpeername(srv, (struct sockaddr *)&peer, &pl), 0);
    char lhex[48], rhex[48];
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&peer, 0, lhex, sizeof lhex), 0);
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&me, 0, rhex, sizeof rhex), 0);
    static char text[8 << 20];
    unsigned long ino = 0;
    unsigned uid = 0;
    int rc = -ENOENT;
    /* the table is printed in pieces; sockets of other tests coming and going between them
     * can hide a line for one read */
    for (int tries = 0; rc != 0 && tries < 5; tries++) {
        FILE *f = fopen("/proc/self/net/tcp", "r");
        cr_assert_not_null(f);
        size_t n = fread(text, 1, sizeof text, f);
        fclose(f);
        rc = peer_tcp_find(text, n, lhex, rhex, &ino, &uid);
    }
    cr_assert_eq(rc, 0, "%s -> %s", lhex, rhex);
    struct stat st;
    cr_assert_eq(fstat(cli, &st), 0);
    cr_assert_eq(ino, (unsigned long)st.st_ino, "the line is the client's socket");
    cr_assert_eq(uid, (unsigned)geteuid());
    /* and the whole check names this process */
    char why[400];
    pid_t pid;
    enum peer_verdict v = peer_check(srv, &pid, why, sizeof why);
    cr_assert_eq(pid, getpid(), "%s", why);
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0)
        cr_assert_eq(v, PEER_OUTSIDE, "%s", why);
    close(srv);
    close(cli);
}

Test(tcp, hex_forms)
{
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    char out[48];
    cr_assert_eq(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr), 1);
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&a6, 1, out, sizeof out), 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(443)};
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char want[48];
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&a4, 0, want, sizeof want), 0);
    cr_assert_str_eq(out, want, "a mapped address in its IPv4 form");
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&a6, 0, out, sizeof out), 0);
    cr_assert_eq(strlen(out), 32 + 5);
    cr_assert_eq(inet_pton(AF_INET6, "::1", &a6.sin6_addr), 1);
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&a6, 1, out, sizeof out), -EINVAL);
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&a4, 0, out, 8), -EINVAL, "no room");
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    cr_assert_eq(peer_tcp_hex((struct sockaddr *)&un, 0, out, sizeof out), -EINVAL);
}

/* ------------------------------------------------------------------ peers */

/* What every governed process carries: no_new_privs and a seccomp filter (one that allows
 * everything will do: the check cannot tell filters apart, and says so). */
static void become_governed(void)
{
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        _exit(99);
}

static char sock_dir[] = "/tmp/cordon-peer-XXXXXX";

/* A unix listener in a fresh directory; the path goes to path. */
static int unix_listener(char *path, size_t len)
{
    cr_assert_not_null(mkdtemp(sock_dir));
    snprintf(path, len, "%s/s", sock_dir);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    cr_assert_eq(bind(l, (struct sockaddr *)&un, sizeof un), 0);
    cr_assert_eq(listen(l, 4), 0);
    return l;
}

/* Fork a child that (governed or not) connects to the unix path and waits on a pipe. */
static pid_t child_connects(const char *path, int governed, int *release)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        close(p[1]);
        if (governed)
            become_governed();
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
        if (connect(s, (struct sockaddr *)&un, sizeof un) != 0)
            _exit(98);
        char b;
        ssize_t r = read(p[0], &b, 1);
        (void)r;
        _exit(0);
    }
    close(p[0]);
    *release = p[1];
    return c;
}

static void cleanup_dir(const char *path)
{
    unlink(path);
    rmdir(sock_dir);
}

Test(peer, a_process_outside_every_sandbox_passes)
{
    char path[128], why[400];
    int l = unix_listener(path, sizeof path), rel;
    pid_t c = child_connects(path, 0, &rel);
    int s = accept(l, NULL, NULL);
    pid_t pid;
    enum peer_verdict v = peer_check(s, &pid, why, sizeof why);
    cr_assert_eq(pid, c);
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0)
        cr_assert_eq(v, PEER_OUTSIDE, "%s", why);
    close(rel);
    waitpid(c, NULL, 0);
    close(s);
    close(l);
    cleanup_dir(path);
}

Test(peer, a_governed_process_is_refused_on_a_unix_socket)
{
    char path[128], why[400];
    int l = unix_listener(path, sizeof path), rel;
    pid_t c = child_connects(path, 1, &rel);
    int s = accept(l, NULL, NULL);
    pid_t pid;
    cr_assert_eq(peer_check(s, &pid, why, sizeof why), PEER_GOVERNED, "%s", why);
    cr_assert_eq(pid, c);
    cr_assert(strstr(why, "no_new_privs and a seccomp filter"), "%s", why);
    close(rel);
    int st;
    waitpid(c, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child could not become governed");
    close(s);
    close(l);
    cleanup_dir(path);
}

Test(peer, a_peer_that_is_gone_cannot_be_judged)
{
    char path[128], why[400];
    int l = unix_listener(path, sizeof path), rel;
    pid_t c = child_connects(path, 0, &rel);
    int s = accept(l, NULL, NULL);
    close(rel);
    waitpid(c, NULL, 0); /* the peer is gone: its pid may belong to anyone next */
    pid_t pid;
    cr_assert_eq(peer_check(s, &pid, why, sizeof why), PEER_UNKNOWN, "%s", why);
    close(s);
    close(l);
    cleanup_dir(path);
}

Test(peer, a_governed_process_is_refused_over_tcp)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 4), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t c = fork();
    cr_assert_geq(c, 0);
    if (c == 0) {
        close(p[1]);
        become_governed();
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
            _exit(98);
        char b;
        ssize_t r = read(p[0], &b, 1);
        (void)r;
        _exit(0);
    }
    close(p[0]);
    int s = accept(l, NULL, NULL);
    char why[400];
    pid_t pid;
    cr_assert_eq(peer_check(s, &pid, why, sizeof why), PEER_GOVERNED, "%s", why);
    cr_assert_eq(pid, c);
    close(p[1]);
    waitpid(c, NULL, 0);
    close(s);
    close(l);
}

Test(peer, a_closed_tcp_peer_is_unidentified)
{
    int srv, cli;
    tcp_pair(&srv, &cli);
    close(cli); /* orphaned: the table still has the line, with no owner */
    char why[400];
    pid_t pid;
    cr_assert_eq(peer_check(srv, &pid, why, sizeof why), PEER_UNKNOWN, "%s", why);
    close(srv);
}
