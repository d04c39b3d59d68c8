/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's pure logic, under ASan and UBSan: profile parsing, the HTTP response parser of
 * the policy fetch (hostile and truncated answers included), the hook decisions, the DNS
 * placeholder map and the bounded JSON writer of the event channel; and the fetch itself
 * against a real loopback socket serving hostile answers.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/path.h"
#include "policy/policy.h"
#include "shim/decide.h"
#include "shim/dnsmap.h"
#include "shim/events.h"
#include "shim/fetch.h"
#include "shim/handshake.h"
#include "shim/hookpol.h"
#include "shim/poll.h"
#include "shim/root.h"
#include "shim/rootlib_path.h"
#include "shim/profile.h"

/* ---------------------------------------------------------------- profile */

Test(profile, parses_names_values_comments_and_crlf)
{
    struct profile p = {0};
    const char *t = "# the claims agent\r\n\nCORDON_SERVER=http://127.0.0.1:8443\r\n"
                    "  CORDON_KEY=/etc/cordon/agent.key\nCORDON_TRUST=/etc/cordon/t.pub\n"
                    "CORDON_LOG=all";
    char err[256];
    cr_assert_eq(profile_parse(t, strlen(t), &p, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(p.server, "http://127.0.0.1:8443");
    cr_assert_str_eq(p.key, "/etc/cordon/agent.key");
    cr_assert_str_eq(p.log, "all");
    cr_assert_eq(profile_check(&p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.log_mode, PROFILE_LOG_ALL);
}

Test(profile, environment_wins_over_the_file)
{
    struct profile p = {0};
    memcpy(p.server, "unix:/run/cordon.sock", 22);
    const char *t = "CORDON_SERVER=http://10.0.0.1:1\n";
    char err[256];
    cr_assert_eq(profile_parse(t, strlen(t), &p, err, sizeof err), 0);
    cr_assert_str_eq(p.server, "unix:/run/cordon.sock");
}

/* The precedence `cordon run` uses: its options, then the environment, then the file. */
Test(profile, options_win_over_the_environment_and_the_file)
{
    char dir[] = "/tmp/cordon-prof-XXXXXX", file[64], err[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/p", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("CORDON_TRUST=/file/t.pub\nCORDON_WORKSPACE=/file/ws\nCORDON_LOG=all\n", f);
    fclose(f);
    setenv("CORDON_SERVER", "http://127.0.0.1:1", 1);
    setenv("CORDON_KEY", "/env/key", 1);
    setenv("CORDON_POLICY", "/env/policy.dsse", 1);
    setenv("CORDON_WORKSPACE", "/env/ws", 1);
    unsetenv("CORDON_TRUST");
    unsetenv("CORDON_LOG");
    setenv("CORDON_PROFILE", "/nonexistent/profile", 1);

    struct profile p;
    struct profile_source src = {.file = file, .server = "unix:/run/c.sock", .key = "/opt/key"};
    cr_assert_eq(profile_load_from(&p, &src, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(p.server, "unix:/run/c.sock");
    cr_assert_str_eq(p.key, "/opt/key");
    cr_assert_str_eq(p.policy, "", "an option's server: the environment's policy is ignored");
    cr_assert_str_eq(p.workspace, "/env/ws", "the environment wins over the file");
    cr_assert_str_eq(p.trust, "/file/t.pub", "the file fills what is left");
    cr_assert_eq(p.log_mode, PROFILE_LOG_ALL);

    /* --policy: the environment's server is ignored and the option's file kept */
    struct profile_source off = {.file = file, .policy = "/opt/p.dsse"};
    cr_assert_eq(profile_load_from(&p, &off, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(p.server, "");
    cr_assert_str_eq(p.policy, "/opt/p.dsse");
    cr_assert_str_eq(p.key, "/env/key");

    /* no options: a server from the environment wins over its policy file */
    struct profile_source env = {.file = file};
    cr_assert_eq(profile_load_from(&p, &env, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(p.server, "http://127.0.0.1:1");
    cr_assert_str_eq(p.policy, "");

    /* profile_load is the same with no options at all (and reads CORDON_PROFILE) */
    cr_assert_neq(profile_load(&p, err, sizeof err), 0);
    cr_assert(strstr(err, "/nonexistent/profile"), "%s", err);
    setenv("CORDON_PROFILE", file, 1);
    cr_assert_eq(profile_load(&p, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(p.server, "http://127.0.0.1:1");
    cr_assert_str_eq(p.trust, "/file/t.pub");

    /* an option too long for its field is refused, naming the variable */
    static char huge[PROFILE_VALUE_MAX + 8];
    memset(huge, 'a', sizeof huge - 1);
    struct profile_source big = {.file = file, .workspace = huge};
    cr_assert_eq(profile_load_from(&p, &big, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "CORDON_WORKSPACE"), "%s", err);
    unlink(file);
    rmdir(dir);
}

Test(profile, unknown_name_is_refused_with_its_line)
{
    struct profile p = {0};
    const char *t = "CORDON_POLICY=/x\nCORDON_TRUSTT=/y\n";
    char err[256];
    cr_assert_eq(profile_parse(t, strlen(t), &p, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "line 2"), "%s", err);
    cr_assert(strstr(err, "CORDON_TRUSTT"), "%s", err);
}

Test(profile, hostile_input)
{
    struct profile p = {0};
    char err[256];
    cr_assert_eq(profile_parse("CORDON_LOG\n", 11, &p, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "NAME=VALUE"), "%s", err);
    cr_assert_eq(profile_parse("CORDON_LOG=a\0b\n", 15, &p, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "NUL"), "%s", err);
    /* a value longer than its field */
    char *big = malloc(PROFILE_VALUE_MAX + 64);
    memcpy(big, "CORDON_POLICY=", 14);
    memset(big + 14, 'a', PROFILE_VALUE_MAX + 10);
    cr_assert_eq(profile_parse(big, PROFILE_VALUE_MAX + 24, &p, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "bytes"), "%s", err);
    free(big);
    /* a file over the limit */
    char *huge = calloc(1, PROFILE_MAX_BYTES + 2);
    memset(huge, '#', PROFILE_MAX_BYTES + 1);
    cr_assert_eq(profile_parse(huge, PROFILE_MAX_BYTES + 1, &p, err, sizeof err), -EINVAL);
    free(huge);
    /* control characters in an unknown name are quoted, not echoed raw */
    cr_assert_eq(profile_parse("\x1b[2J=x\n", 7, &p, err, sizeof err), -EINVAL);
    cr_assert_null(strchr(err, '\x1b'), "%s", err);
}

Test(profile, a_file_holding_the_key_must_be_private)
{
    static struct profile p;
    char err[512];
    memset(&p, 0, sizeof p);
    const char *t = "CORDON_KEY=ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    cr_assert_eq(profile_parse(t, strlen(t), &p, err, sizeof err), 0, "%s", err);
    cr_expect_eq(profile_check_file_mode("/etc/a.env", 0100644, 0, &p, err, sizeof err), -EPERM);
    cr_expect(strstr(err, "chmod 600 /etc/a.env") != NULL, "%s", err);
    cr_expect_eq(profile_check_file_mode("/etc/a.env", 0100600, 0, &p, err, sizeof err), 0);
    /* the key came from the environment, not from this file */
    cr_expect_eq(profile_check_file_mode("/etc/a.env", 0100644, 1, &p, err, sizeof err), 0);
    /* a key file's path in a readable profile is fine: the key file has its own check */
    memset(&p, 0, sizeof p);
    t = "CORDON_KEY=/etc/cordon/agent.key\n";
    cr_assert_eq(profile_parse(t, strlen(t), &p, err, sizeof err), 0, "%s", err);
    cr_expect_eq(profile_check_file_mode("/etc/a.env", 0100644, 0, &p, err, sizeof err), 0);
}

Test(profile, check_says_what_is_missing)
{
    struct profile p = {0};
    char err[512];
    cr_assert_eq(profile_check(&p, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "CORDON_SERVER") && strstr(err, "CORDON_POLICY"), "%s", err);
    memcpy(p.server, "http://127.0.0.1:1", 19);
    cr_assert_eq(profile_check(&p, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "CORDON_KEY"), "%s", err);
    memcpy(p.key, "ck_x", 5);
    cr_assert_eq(profile_check(&p, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "CORDON_TRUST"), "%s", err);
    memcpy(p.server, "ftp://x", 8);
    memcpy(p.trust, "/t", 3);
    cr_assert_eq(profile_check(&p, err, sizeof err), -EINVAL);
    memcpy(p.server, "unix:/run/c", 12);
    memcpy(p.log, "loud", 5);
    cr_assert_eq(profile_check(&p, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "once, all or off"), "%s", err);
}

Test(profile, agent_key_form)
{
    cr_assert(profile_key_valid("ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234"));
    cr_assert_not(profile_key_valid("ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ0123"));
    cr_assert_not(profile_key_valid("ck_0123456789abcdefghijABCDEFGHIJ+/xyzXYZ01234"));
    cr_assert_not(profile_key_valid("xx_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234"));
    /* the session token that stands for the key inside a tree has the same form */
    cr_assert(profile_key_valid("cs_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234"));
    cr_assert_not(profile_key_valid("cs_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ0123"));
    struct profile p = {0};
    char out[PROFILE_KEY_LEN + 1], err[256];
    memcpy(p.key, "ck_short", 9);
    cr_assert_eq(profile_key(&p, out, err, sizeof err), -EINVAL);
}

Test(profile, log_mode_and_key_from_a_value)
{
    enum profile_log m = PROFILE_LOG_OFF;
    char err[256], out[PROFILE_KEY_LEN + 1];
    cr_assert_eq(profile_log_mode(NULL, &m, err, sizeof err), 0);
    cr_assert_eq(m, PROFILE_LOG_ONCE);
    cr_assert_eq(profile_log_mode("all", &m, err, sizeof err), 0);
    cr_assert_eq(m, PROFILE_LOG_ALL);
    cr_assert_eq(profile_log_mode("off", &m, err, sizeof err), 0);
    cr_assert_eq(m, PROFILE_LOG_OFF);
    cr_assert_eq(profile_log_mode("OFF\n", &m, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "once, all or off"), "%s", err);
    cr_assert_eq(
        profile_key_of("ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234", out, err, sizeof err), 0,
        "%s", err);
    cr_assert_str_eq(out, "ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234");
    cr_assert_eq(profile_key_of("ck_0123", out, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "form of an agent key"), "%s", err);
    cr_assert_eq(profile_key_of("/nonexistent/agent.key", out, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "/nonexistent/agent.key"), "%s", err);
}

Test(profile, read_file_refuses_what_is_not_a_small_private_profile)
{
    char dir[] = "/tmp/cordon-test-XXXXXX", path[96], err[512];
    cr_assert_not_null(mkdtemp(dir));
    struct profile p = {0};
    snprintf(path, sizeof path, "%s/none", dir);
    cr_assert_eq(profile_read_file(&p, path, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "cannot read the profile") && strstr(err, path), "%s", err);
    cr_assert_eq(profile_read_file(&p, dir, err, sizeof err), -EINVAL, "a directory");
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    snprintf(path, sizeof path, "%s/huge", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i <= PROFILE_MAX_BYTES; i++)
        fputc('#', f);
    fclose(f);
    cr_assert_eq(profile_read_file(&p, path, err, sizeof err), -EINVAL, "oversized");
    cr_assert(strstr(err, "at most 65536 bytes"), "%s", err);
    unlink(path);
    snprintf(path, sizeof path, "%s/key.profile", dir);
    f = fopen(path, "w");
    fputs("CORDON_KEY=ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234\nCORDON_POLICY=/e\n", f);
    fclose(f);
    chmod(path, 0644);
    cr_assert_eq(profile_read_file(&p, path, err, sizeof err), -EPERM, "the key, readable by all");
    cr_assert(strstr(err, "chmod 600"), "%s", err);
    memset(&p, 0, sizeof p);
    chmod(path, 0600);
    cr_assert_eq(profile_read_file(&p, path, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(p.policy, "/e");
    unlink(path);
    rmdir(dir);
}

Test(profile, key_file_must_be_private)
{
    char dir[] = "/tmp/cordon-test-XXXXXX", path[64], err[512], out[PROFILE_KEY_LEN + 1];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent.key", dir);
    FILE *f = fopen(path, "w");
    fputs("ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234\n", f);
    fclose(f);
    chmod(path, 0644);
    struct profile p = {0};
    memcpy(p.key, path, strlen(path) + 1);
    cr_assert_eq(profile_key(&p, out, err, sizeof err), -EPERM);
    cr_assert(strstr(err, "chmod 600"), "%s", err);
    chmod(path, 0600);
    cr_assert_eq(profile_key(&p, out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "ck_0123456789abcdefghijABCDEFGHIJ-_xyzXYZ01234");
    unlink(path);
    rmdir(dir);
}

/* ---------------------------------------------------------------- HTTP response parsing */

static int parse(const char *s, struct fetch_response *r, char *err)
{
    return fetch_parse_response(s, strlen(s), r, err, 256);
}

Test(fetch, parses_the_policy_headers)
{
    struct fetch_response r;
    char err[256];
    const char *s = "HTTP/1.1 200 OK\r\nETag: \"v42-0123456789abcdef\"\r\n"
                    "cordon-proxy: 127.0.0.1:8443\r\nCordon-Events:  unix:/run/c/ev.sock \r\n"
                    "Content-Length: 5\r\n\r\nhello";
    cr_assert_eq(parse(s, &r, err), 0, "%s", err);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.etag, "\"v42-0123456789abcdef\"");
    cr_assert_str_eq(r.proxy, "127.0.0.1:8443");
    cr_assert_str_eq(r.events, "unix:/run/c/ev.sock");
    cr_assert_eq(r.content_length, 5);
    cr_assert_eq(strlen(s) - r.header_len, 5);
}

Test(fetch, incomplete_headers_ask_for_more)
{
    struct fetch_response r;
    char err[256];
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nETag: x\r\n", &r, err), -EAGAIN);
    cr_assert_eq(parse("", &r, err), -EAGAIN);
}

Test(fetch, hostile_answers_are_refused)
{
    struct fetch_response r;
    char err[256];
    const char *bad[] = {
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse(bad[i], &r, err), -EPROTO, "accepted: %s", bad[i]);
        cr_assert(err[0], "no reason for %s", bad[i]);
    }
    /* an ETag longer than the shim keeps */
    char big[512] = "HTTP/1.1 304 Not Modified\r\nETag: ";
    memset(big + strlen(big), 'e', 300);
    strcat(big, "\r\n\r\n");
    cr_assert_eq(parse(big, &r, err), -EPROTO);
    cr_assert(strstr(err, "ETag"), "%s", err);
    /* a NUL inside the headers */
    cr_assert_eq(fetch_parse_response("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n", 25, &r, err, 256),
                 -EPROTO);
}

Test(fetch, oversized_headers_are_refused)
{
    size_t n = FETCH_MAX_HEADERS + 100;
    char *s = malloc(n + 1);
    memcpy(s, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(s + 20, 'a', n - 20);
    s[n] = '\0';
    struct fetch_response r;
    char err[256];
    cr_assert_eq(fetch_parse_response(s, n, &r, err, sizeof err), -EPROTO);
    cr_assert(strstr(err, "exceed"), "%s", err);
    free(s);
}

Test(fetch, target_forms)
{
    struct fetch_target t;
    char err[256];
    cr_assert_eq(fetch_target_parse("http://127.0.0.1:8443", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.port, 8443);
    cr_assert_eq(fetch_target_parse("http://[::1]:9/", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.addr.ss_family, AF_INET6);
    cr_assert_eq(fetch_target_parse("unix:/run/cordon/api.sock", &t, err, sizeof err), 0);
    cr_assert_eq(t.addr.ss_family, AF_UNIX);
    const char *bad[] = {"https://x:1",   "http://x",      "http://x:0", "http://x:65536",
                         "http://x:1/v1", "unix:relative", "ftp://x:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_neq(fetch_target_parse(bad[i], &t, err, sizeof err), 0, "accepted %s", bad[i]);
    unsigned short port;
    char host[64];
    cr_assert_eq(fetch_split_hostport("[::1]:443", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(fetch_split_hostport("api.git.example.com:", host, sizeof host, &port), -EINVAL);
}

/* A one-shot loopback server that sends a canned answer, for fetch_policy end to end. */
struct canned {
    int lfd;
    const char *answer;
    size_t len;
    int hang;
};

static void *serve_once(void *arg)
{
    struct canned *c = arg;
    int fd = accept(c->lfd, NULL, NULL);
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    (void)n;
    if (!c->hang && send(fd, c->answer, c->len, MSG_NOSIGNAL) < 0)
        perror("send");
    if (c->hang)
        sleep(2);
    close(fd);
    return NULL;
}

static int fetch_canned(const char *answer, size_t len, int hang, int timeout_ms,
                        struct fetch_response *r, char **body, size_t *blen, char *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    struct canned c = {socket(AF_INET, SOCK_STREAM, 0), answer, len, hang};
    cr_assert(bind(c.lfd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(listen(c.lfd, 1) == 0);
    getsockname(c.lfd, (struct sockaddr *)&a, &al);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    struct fetch_target t;
    cr_assert_eq(fetch_target_parse(url, &t, err, 256), 0);
    pthread_t th;
    pthread_create(&th, NULL, serve_once, &c);
    int rc = fetch_policy(&t, "ck_k", "\"v1-x\"", timeout_ms, r, body, blen, err, 256);
    pthread_join(th, NULL);
    close(c.lfd);
    return rc;
}

Test(fetch, end_to_end_200_and_304)
{
    struct fetch_response r;
    char *body, err[256];
    size_t blen;
    const char *ok = "HTTP/1.1 200 OK\r\nETag: \"v2-y\"\r\nContent-Length: 4\r\n\r\n{\"a\"";
    cr_assert_eq(fetch_canned(ok, strlen(ok), 0, 2000, &r, &body, &blen, err), 0, "%s", err);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(blen, 4);
    cr_assert_str_eq(body, "{\"a\"");
    free(body);
    const char *nm = "HTTP/1.1 304 Not Modified\r\nETag: \"v1-x\"\r\n\r\n";
    cr_assert_eq(fetch_canned(nm, strlen(nm), 0, 2000, &r, &body, &blen, err), 0, "%s", err);
    cr_assert_eq(r.status, 304);
    cr_assert_null(body);
}

Test(fetch, end_to_end_truncated_and_silent_servers)
{
    struct fetch_response r;
    char *body, err[256];
    size_t blen;
    const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
    cr_assert_eq(fetch_canned(cut, strlen(cut), 0, 2000, &r, &body, &blen, err), -EPROTO);
    cr_assert(strstr(err, "cut"), "%s", err);
    cr_assert_eq(fetch_canned("HTTP/1.1 20", 11, 0, 2000, &r, &body, &blen, err), -EPROTO);
    cr_assert_eq(fetch_canned(NULL, 0, 1, 300, &r, &body, &blen, err), -ETIMEDOUT);
    cr_assert(strstr(err, "within 300 ms"), "%s", err);
}

/* ---------------------------------------------------------------- decisions */

static struct policy *compile(const char *json)
{
    struct policy_env env = {0};
    env.vars.home = "/home/a";
    env.vars.cwd = "/srv/agent";
    env.vars.workspace = "/srv/agent/ws";
    env.vars.tmp = "/tmp";
    struct diag *d = malloc(sizeof *d);
    diag_init(d);
    struct policy *p = NULL;
    int rc = policy_load(json, strlen(json), &env, &p, d);
    char first[600] = "";
    if (d->count)
        diag_format(d, 0, first, sizeof first);
    cr_assert_eq(rc, 0, "%s", first);
    free(d);
    return p;
}

Test(decide, fs_deny_wins_with_the_rule_index)
{
    struct policy *p = compile("{\"cordon_policy\":1,\"agent\":\"a\",\"sandbox\":{\"filesystem\":"
                               "{\"read_write\":[\"~\"],\"deny\":[\"~/secrets\"]}}}");
    int i = decide_fs_deny(p, "/home/a/.ssh/id_rsa", NULL);
    cr_assert_geq(i, 0);
    cr_assert_str_eq(p->sandbox.fs.deny.v[i].raw, "~/.ssh");
    i = decide_fs_deny(p, "/home/a/secrets", NULL);
    cr_assert_geq(i, 0);
    cr_assert_str_eq(p->sandbox.fs.deny.v[i].raw, "~/secrets");
    cr_assert_eq(decide_fs_deny(p, "/home/a/secretsX", NULL), -1);
    cr_assert_eq(decide_fs_deny(p, "/home/a/work/x", NULL), -1);
    /* a symlink's resolved form is checked too */
    cr_assert_geq(decide_fs_deny(p, "/home/a/link", "/home/a/.aws/credentials"), 0);
    policy_free(p);
}

Test(decide, fs_deny_index_answers_like_the_plain_check)
{
    struct policy *p = compile("{\"cordon_policy\":1,\"agent\":\"a\",\"sandbox\":{\"filesystem\":"
                               "{\"read_write\":[\"~\"],\"deny\":[\"~/secrets\",\"/etc/x\"]}}}");
    /* a resolved form that differs from the path, and one entry with neither */
    struct policy_path *v = (struct policy_path *)p->sandbox.fs.deny.v;
    cr_assert_geq(p->sandbox.fs.deny.n, 3);
    v[0].real = "/srv/real/secrets";
    v[1].path = NULL;
    v[1].real = NULL;
    uint32_t mem[2 * 256];
    struct decide_fs_index ix, small;
    decide_fs_prepare(&ix, p, mem, sizeof mem / sizeof mem[0]);
    cr_assert_not_null(ix.len);
    decide_fs_prepare(&small, p, mem, 1); /* too little room: the plain check answers */
    cr_assert_null(small.len);
    decide_fs_prepare(&ix, p, mem, sizeof mem / sizeof mem[0]);
    const char *paths[] = {"/",
                           "/home",
                           "/home/a",
                           "/home/a/",
                           "/home/a/.ssh",
                           "/home/a/.ssh/k",
                           "/home/a/.sshX",
                           "/home/a/.ss",
                           "/home/a/secrets",
                           "/home/a/secretsX",
                           "/home/a/secrets/deep/er",
                           "/srv/real/secrets",
                           "/srv/real/secrets2",
                           "/srv/real/secrets/x",
                           "/srv/real",
                           "/etc/x",
                           "/etc/xy",
                           "/etc/x/y",
                           "/home/a/.aws/credentials",
                           "/home/a/work/file"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cr_assert_eq(decide_fs_deny_indexed(&ix, paths[i]), decide_fs_deny(p, paths[i], NULL), "%s",
                     paths[i]);
        cr_assert_eq(decide_fs_deny_indexed(&small, paths[i]), decide_fs_deny(p, paths[i], NULL),
                     "%s", paths[i]);
    }
    cr_assert_eq(decide_fs_deny_indexed(&ix, "/srv/real/secrets/x"), 0);
    cr_assert_eq(decide_fs_deny_indexed(&ix, "/home/a/.sshX"), -1);
    policy_free(p);
}

Test(decide, exec_denylist_and_allowlist)
{
    char rule[200];
    struct policy *p = compile("{\"cordon_policy\":1,\"agent\":\"a\",\"sandbox\":{\"exec\":"
                               "{\"deny\":[\"rm\",\"/usr/bin/dd\"],\"search\":[\"/usr/bin\"]}}}");
    cr_assert_eq(decide_exec(p, "/usr/bin/rm", NULL, rule, sizeof rule), 1);
    cr_assert_str_eq(rule, "sandbox.exec.deny \"rm\"");
    cr_assert_eq(decide_exec(p, "/usr/bin/dd", NULL, rule, sizeof rule), 1);
    cr_assert_eq(decide_exec(p, "/usr/bin/ls", NULL, rule, sizeof rule), 0);
    /* a name rule covers the search directories only */
    cr_assert_eq(decide_exec(p, "/opt/x/rm", NULL, rule, sizeof rule), 0);
    policy_free(p);
    p = compile("{\"cordon_policy\":1,\"agent\":\"a\",\"sandbox\":{\"exec\":"
                "{\"allow\":[\"python3*\",\"${workspace}/bin\"],\"search\":[\"/usr/bin\"]}}}");
    cr_assert_eq(decide_exec(p, "/usr/bin/python3.11", NULL, rule, sizeof rule), 0);
    cr_assert_eq(decide_exec(p, "/srv/agent/ws/bin/tool", NULL, rule, sizeof rule), 0);
    cr_assert_eq(decide_exec(p, "/usr/bin/curl", NULL, rule, sizeof rule), 1);
    cr_assert_str_eq(rule, "not in sandbox.exec.allow");
    /* the resolved form counts: a link elsewhere to an allowed program */
    cr_assert_eq(decide_exec(p, "/home/a/py", "/usr/bin/python3.11", rule, sizeof rule), 0);
    policy_free(p);
}

Test(decide, abspath_folds_components)
{
    char out[64];
    cr_assert_eq(decide_abspath("/home/a", "x/../.ssh//./id_rsa", out, sizeof out), 0);
    cr_assert_str_eq(out, "/home/a/.ssh/id_rsa");
    cr_assert_eq(decide_abspath("/", "/../../etc/shadow", out, sizeof out), 0);
    cr_assert_str_eq(out, "/etc/shadow");
    cr_assert_eq(decide_abspath("/a", ".", out, sizeof out), 0);
    cr_assert_str_eq(out, "/a");
    cr_assert_eq(decide_abspath("/", "/", out, sizeof out), 0);
    cr_assert_str_eq(out, "/");
    char big[100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(decide_abspath("/", big, out, sizeof out), -ENAMETOOLONG);
}

/* ---------------------------------------------------------------- hook image */

static const char *image_policy =
    "{\"cordon_policy\":1,\"agent\":\"img\",\"mode\":\"observe\",\"sandbox\":{"
    "\"filesystem\":{\"read_write\":[\"~\"],\"deny\":[\"~/secrets\"]},"
    "\"exec\":{\"allow\":[\"python3*\",\"${workspace}/bin\"],\"deny\":[\"rm\",\"/usr/bin/dd\"],"
    "\"search\":[\"/usr/bin\"]},\"network\":{\"mode\":\"host\"}}}";

Test(hookpol, round_trip_decides_like_the_compiled_policy)
{
    struct policy *p = compile(image_policy), *q = NULL;
    char *img = NULL, err[256] = "";
    size_t len = 0;
    uint64_t ver = 0;
    cr_assert_eq(hookpol_encode(p, 42, &img, &len), 0);
    cr_assert_eq(hookpol_decode(img, len, &q, &ver, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ver, 42);
    cr_assert_str_eq(q->agent, "img");
    cr_assert_eq(q->mode, POLICY_MODE_OBSERVE);
    cr_assert_eq(q->sandbox.net.mode, POLICY_NET_HOST);
    cr_assert_eq(q->sandbox.fs.deny.n, p->sandbox.fs.deny.n);
    for (size_t i = 0; i < p->sandbox.fs.deny.n; i++) {
        cr_assert_str_eq(q->sandbox.fs.deny.v[i].raw, p->sandbox.fs.deny.v[i].raw);
        cr_assert_eq(q->sandbox.fs.deny.v[i].origin, p->sandbox.fs.deny.v[i].origin);
    }
    const char *paths[] = {"/home/a/.ssh/id_rsa", "/home/a/secrets/x", "/home/a/work",
                           "/home/a/.aws/credentials", "/etc/passwd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        cr_assert_eq(decide_fs_deny(q, paths[i], NULL), decide_fs_deny(p, paths[i], NULL), "%s",
                     paths[i]);
    const char *progs[] = {"/usr/bin/rm",         "/usr/bin/dd",
                           "/usr/bin/python3.11", "/srv/agent/ws/bin/tool",
                           "/usr/bin/curl",       "/opt/x/rm"};
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        char r1[200], r2[200];
        cr_assert_eq(decide_exec(q, progs[i], NULL, r1, sizeof r1),
                     decide_exec(p, progs[i], NULL, r2, sizeof r2), "%s", progs[i]);
        cr_assert_str_eq(r1, r2);
    }
    hookpol_free(q);
    free(img);
    policy_free(p);
}

Test(hookpol, every_truncation_is_refused)
{
    struct policy *p = compile(image_policy), *q = NULL;
    char *img = NULL, err[256];
    size_t len = 0;
    uint64_t ver;
    cr_assert_eq(hookpol_encode(p, 7, &img, &len), 0);
    for (size_t n = 0; n < len; n++) {
        char *cut = malloc(n ? n : 1); /* exact size, so ASan sees any read past the end */
        memcpy(cut, img, n);
        cr_assert_neq(hookpol_decode(cut, n, &q, &ver, err, sizeof err), 0, "prefix %zu", n);
        cr_assert_null(q);
        free(cut);
    }
    free(img);
    policy_free(p);
}

static int decode_text(const char *fields, size_t len, char *err)
{
    struct policy *q = NULL;
    uint64_t ver;
    char *copy = malloc(len);
    memcpy(copy, fields, len);
    int rc = hookpol_decode(copy, len, &q, &ver, err, 256);
    hookpol_free(q);
    free(copy);
    return rc;
}
#define DECODE(lit, err) decode_text(lit, sizeof(lit) - 1, err)

Test(hookpol, hostile_images_are_refused_with_a_reason)
{
    char err[256];
    /* the smallest valid image: no list entries */
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 0, "%s", err);
    cr_assert_eq(DECODE("cordon-hooks 2\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    cr_assert(strstr(err, "does not start"), "%s", err);
    /* trailing bytes */
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "x\0",
                        err),
                 -EINVAL);
    cr_assert(strstr(err, "unexpected bytes"), "%s", err);
    /* mode and network out of range, numbers that are not plain decimal */
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "2\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "3\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "-1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "99999999999999999999\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    /* a count far beyond what follows, and beyond the limit */
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "4000\0"
                        "0\0",
                        err),
                 -EINVAL);
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "18446744073709551615\0",
                        err),
                 -EINVAL);
    /* a relative path, a bad origin */
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "1\0"
                        "0\0"
                        "x\0"
                        "etc\0"
                        "\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    cr_assert(strstr(err, "relative"), "%s", err);
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "1\0"
                        "9\0"
                        "x\0"
                        "/etc\0"
                        "\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0",
                        err),
                 -EINVAL);
    /* the last field without its NUL */
    cr_assert_eq(DECODE("cordon-hooks 1\0"
                        "1\0"
                        "0\0"
                        "2\0"
                        "a\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0\0"
                        "0",
                        err),
                 -EINVAL);
    /* empty and oversized */
    struct policy *q = NULL;
    uint64_t ver;
    cr_assert_eq(hookpol_decode("", 0, &q, &ver, err, sizeof err), -EINVAL);
    cr_assert_eq(hookpol_decode("x", (size_t)HOOKPOL_MAX_BYTES + 1, &q, &ver, err, sizeof err),
                 -EINVAL);
}

Test(hookpol, decode_into_caller_memory_checks_size_and_alignment)
{
    struct policy *p = compile(image_policy), *q = NULL;
    char *img = NULL, err[256] = "";
    size_t len = 0, need = 0;
    uint64_t ver = 0;
    cr_assert_eq(hookpol_encode(p, 9, &img, &len), 0);
    cr_assert_eq(hookpol_measure(img, len, &need, err, sizeof err), 0, "%s", err);
    /* the policy, 2 + 1 + 1 + 1 paths (deny, allow, deny, search) and 2 + 1 names */
    cr_assert_geq(need, sizeof(struct policy) + 3 * sizeof(char *));
    unsigned char *mem = malloc(need + 1);
    memset(mem, 0xa5, need + 1); /* decoding must not rely on zeroed memory */
    cr_assert_eq(hookpol_decode_into(img, len, mem, need - 1, NULL, &q, &ver, err, sizeof err),
                 -ENOMEM);
    cr_assert(strstr(err, "aligned bytes"), "%s", err);
    cr_assert_null(q);
    cr_assert_eq(hookpol_decode_into(img, len, mem + 1, need, NULL, &q, &ver, err, sizeof err),
                 -ENOMEM);
    cr_assert_eq(hookpol_decode_into(img, len, NULL, need, NULL, &q, &ver, err, sizeof err),
                 -ENOMEM);
    cr_assert_eq(hookpol_decode_into(img, len, mem, need, NULL, &q, &ver, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq((void *)q, (void *)mem);
    cr_assert_eq(ver, 9);
    cr_assert_eq(mem[need], 0xa5, "wrote past the measured size");
    cr_assert_eq(q->sandbox.exec.deny_names.n, p->sandbox.exec.deny_names.n);
    cr_assert_eq(q->sandbox.exec.search.n, p->sandbox.exec.search.n);
    char r1[200], r2[200];
    cr_assert_eq(decide_exec(q, "/usr/bin/rm", NULL, r1, sizeof r1),
                 decide_exec(p, "/usr/bin/rm", NULL, r2, sizeof r2));
    cr_assert_str_eq(r1, r2);
    /* a malformed image is refused by both, with the same reason */
    char e2[256];
    cr_assert_eq(hookpol_measure(img, len - 1, &need, err, sizeof err), -EINVAL);
    cr_assert_eq(hookpol_decode_into(img, len - 1, mem, need, NULL, &q, &ver, e2, sizeof e2),
                 -EINVAL);
    cr_assert_str_eq(err, e2);
    free(mem);
    free(img);
    policy_free(p);
}

/* ---------------------------------------------------------------- DNS map */

static struct sockaddr_storage sa_mem;

/* An inet sockaddr for a literal, with port 80. */
static const struct sockaddr *sa_of(const char *lit, socklen_t *len)
{
    memset(&sa_mem, 0, sizeof sa_mem);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&sa_mem;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa_mem;
    if (inet_pton(AF_INET, lit, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(80);
        *len = sizeof *a4;
    } else {
        cr_assert_eq(inet_pton(AF_INET6, lit, &a6->sin6_addr), 1, "bad test address %s", lit);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(80);
        *len = sizeof *a6;
    }
    return (const struct sockaddr *)&sa_mem;
}

/* The name behind a literal's address (len: its sockaddr's length minus cut). */
static const char *lookup_lit(const char *lit, socklen_t cut)
{
    socklen_t l;
    const struct sockaddr *sa = sa_of(lit, &l);
    return dnsmap_lookup_sa(sa, l - cut);
}

static void ip4_text(uint32_t a, char *out)
{
    struct in_addr ia = {htonl(a)};
    inet_ntop(AF_INET, &ia, out, INET_ADDRSTRLEN);
}

static void ip6_text(uint32_t a, char *out)
{
    struct in6_addr a6;
    dnsmap_addr6(a, &a6);
    inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN);
}

Test(dnsmap, names_get_stable_placeholders_and_map_back)
{
    void *mem = calloc(1, dnsmap_size());
    dnsmap_use(mem);
    uint32_t a = dnsmap_assign("API.Git.Example.com"), b = dnsmap_assign("crm.internal");
    cr_assert(dnsmap_is_placeholder(a) && dnsmap_is_placeholder(b));
    cr_assert_neq(a, b);
    cr_assert_eq(dnsmap_assign("api.git.example.com"), a, "case-insensitive and stable");
    cr_assert_eq(dnsmap_assign("api.git.example.com."), a, "the absolute form is the same name");
    cr_assert_str_eq(dnsmap_lookup(a), "api.git.example.com");
    cr_assert_null(dnsmap_lookup(0x7f000001));
    cr_assert_null(dnsmap_lookup(DNSMAP_BASE));
    cr_assert_null(dnsmap_lookup(DNSMAP_BASE + 4000), "an unassigned slot");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(dnsmap_assign(longname), 0);
    cr_assert_eq(dnsmap_assign(""), 0);
    cr_assert_eq(dnsmap_assign("crm.internal\r\nX-Evil: 1"), 0, "a name with CR LF gets none");
    cr_assert_not(dnsmap_full());
    dnsmap_use(NULL);
    free(mem);
}

Test(dnsmap, both_families_reach_the_same_name)
{
    void *mem = calloc(1, dnsmap_size());
    dnsmap_use(mem);
    uint32_t a = dnsmap_assign("localhost");
    char t4[INET_ADDRSTRLEN], t6[INET6_ADDRSTRLEN], mapped[64];
    ip4_text(a, t4);
    ip6_text(a, t6);
    cr_assert_str_eq(t4, "198.18.0.1", "the first IPv4 placeholder");
    cr_assert_str_eq(t6, "2001:2::c612:1", "the first IPv6 placeholder");
    snprintf(mapped, sizeof mapped, "::ffff:%s", t4);
    cr_assert_str_eq(lookup_lit(t4, 0), "localhost");
    cr_assert_str_eq(lookup_lit(t6, 0), "localhost");
    cr_assert_str_eq(lookup_lit(mapped, 0), "localhost", "IPv4-mapped form");
    /* neighbours of the ranges are not placeholders */
    const char *others[] = {
        "::1",        "127.0.0.1",       "2001:2::c612:2", "2001:3::c612:1", "2001:2:0:0:1::c612:1",
        "198.20.0.1", "::ffff:127.0.0.1"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        cr_assert_null(lookup_lit(others[i], 0), "%s", others[i]);
    cr_assert_null(lookup_lit(t6, 1), "a short address");
    /* the whole range lies in 198.18.0.0/15 and 2001:2::/48 */
    uint32_t last = DNSMAP_BASE + DNSMAP_SLOTS;
    cr_assert(dnsmap_is_placeholder(last));
    struct in6_addr a6;
    dnsmap_addr6(last, &a6);
    cr_assert(a6.s6_addr[0] == 0x20 && a6.s6_addr[1] == 0x01 && a6.s6_addr[2] == 0 &&
              a6.s6_addr[3] == 0x02 && a6.s6_addr[4] == 0 && a6.s6_addr[5] == 0);
    dnsmap_use(NULL);
    free(mem);
}

Test(dnsmap, name_check_normalizes_or_says_why)
{
    char out[DNSMAP_NAME_MAX + 1];
    const char *why = NULL;
    cr_assert_eq(dnsmap_name_check("CRM.Internal.", out, sizeof out, &why), 0);
    cr_assert_str_eq(out, "crm.internal");
    cr_assert_eq(dnsmap_name_check("my_svc.internal", out, sizeof out, &why), 0);
    /* what C code sees of a name with a NUL in it is the part before the NUL */
    static const char nul[] = "crm.internal\0.evil.test";
    cr_assert_eq(dnsmap_name_check(nul, out, sizeof out, &why), 0);
    cr_assert_str_eq(out, "crm.internal");
    char n253[260], n254[260];
    memset(n253, 'a', 253);
    n253[253] = '\0';
    memset(n254, 'a', 254);
    n254[254] = '\0';
    cr_assert_eq(dnsmap_name_check(n253, out, sizeof out, &why), 0);
    cr_assert_eq(dnsmap_name_check(n254, out, sizeof out, &why), -EINVAL);
    cr_assert(strstr(why, "253"), "%s", why);
    const char *bad[] = {"",
                         ".",
                         "..",
                         "crm.internal..",
                         "crm..internal",
                         ".crm.internal",
                         "crm internal",
                         "crm.internal\r\nX: 1",
                         "crm.internal\n",
                         "a:b",
                         "[::1]",
                         "a%b",
                         "caf\xc3\xa9.internal",
                         "a/b",
                         "user@host",
                         "a\tb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        cr_assert_eq(dnsmap_name_check(bad[i], out, sizeof out, &why), -EINVAL, "case %zu", i);
        cr_assert_not_null(why, "case %zu has no reason", i);
        cr_assert_str_eq(out, "", "case %zu leaves nothing behind", i);
    }
    cr_assert_eq(dnsmap_name_check("abcdef", out, 4, &why), -EINVAL, "too small a buffer");
}

Test(dnsmap, literals_and_numeric_looking_names)
{
    const char *lit[] = {"127.0.0.1",        "10.0.0.5",     "::1",      "2001:db8::1",
                         "::ffff:127.0.0.1", "fe80::1%eth0", "fe80::1%2"};
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++)
        cr_assert(dnsmap_is_literal(lit[i]), "%s is a literal", lit[i]);
    /* glibc reads these as addresses; the tunnel sees them as the names they were written */
    const char *names[] = {"127.1",     "0x7f000001", "2130706433", "0177.0.0.1", "localhost",
                           "1.2.3.4.5", "::1%",       "%eth0",      "[::1]",      ""};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_not(dnsmap_is_literal(names[i]), "%s is not a literal", names[i]);
}

Test(dnsmap, full_table_refuses_instead_of_overwriting)
{
    void *mem = calloc(1, dnsmap_size());
    dnsmap_use(mem);
    char name[32];
    /* 10,000 distinct names: the first 4096 get a placeholder each, the rest none */
    unsigned got = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "h%d.test", i);
        uint32_t a = dnsmap_assign(name);
        if (a) {
            cr_assert_eq(a, DNSMAP_BASE + 1 + (uint32_t)i);
            got++;
        }
    }
    cr_assert_eq(got, DNSMAP_SLOTS);
    cr_assert(dnsmap_full());
    cr_assert_eq(dnsmap_assign("one-too-many.test"), 0);
    cr_assert_eq(dnsmap_assign("h17.test"), DNSMAP_BASE + 18, "known names still resolve");
    cr_assert_str_eq(dnsmap_lookup(DNSMAP_BASE + 1), "h0.test");
    cr_assert_str_eq(dnsmap_lookup(DNSMAP_BASE + DNSMAP_SLOTS), "h4095.test");
    cr_assert_null(dnsmap_lookup(DNSMAP_BASE + DNSMAP_SLOTS + 1));
    dnsmap_use(NULL);
    free(mem);
}

Test(dnsmap, shared_across_fork)
{
    int fd = dnsmap_create();
    cr_assert_geq(fd, 0);
    pid_t pid = fork();
    if (pid == 0)
        _exit(dnsmap_assign("child.test") && dnsmap_assign("Other.Test") ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    cr_assert_eq(WEXITSTATUS(st), 0);
    cr_assert_str_eq(dnsmap_lookup(DNSMAP_BASE + 1), "child.test");
    char t6[INET6_ADDRSTRLEN];
    ip6_text(DNSMAP_BASE + 2, t6);
    cr_assert_str_eq(lookup_lit(t6, 0), "other.test",
                     "the parent maps the child's IPv6 placeholder back");
    cr_assert_eq(dnsmap_assign("child.test"), DNSMAP_BASE + 1, "and gets the same one");
    close(fd);
}

Test(dnsmap, a_process_without_a_table_gets_a_private_one)
{
    dnsmap_use(NULL);
    uint32_t a = dnsmap_assign("lonely.test");
    cr_assert(dnsmap_is_placeholder(a));
    cr_assert_str_eq(dnsmap_lookup(a), "lonely.test");
    dnsmap_use(NULL);
}

Test(dnsmap, connect_targets)
{
    void *mem = calloc(1, dnsmap_size());
    dnsmap_use(mem);
    uint32_t a = dnsmap_assign("crm.internal");
    char t4[INET_ADDRSTRLEN], t6[INET6_ADDRSTRLEN], mapped[64];
    ip4_text(a, t4);
    ip6_text(a, t6);
    snprintf(mapped, sizeof mapped, "::ffff:%s", t4);
    struct {
        const char *addr, *host;
        int named;
        uint32_t v4;
    } cases[] = {
        {t4, "crm.internal", 1, 0},
        {t6, "crm.internal", 1, 0},
        {mapped, "crm.internal", 1, 0},
        {"127.0.0.1", "127.0.0.1", 0, 0x7f000001},
        {"::ffff:127.0.0.1", "127.0.0.1", 0, 0x7f000001},
        {"::1", "[::1]", 0, 0},
        {"2001:db8::1:0:0:1", "[2001:db8::1:0:0:1]", 0, 0},
        {"0:0:0:0:0:0:0:1", "[::1]", 0, 0},
        {"198.18.0.200", "198.18.0.200", 0, 0xc61200c8}, /* an unassigned placeholder */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[DNSMAP_NAME_MAX + 1];
        uint16_t port = 0;
        int named = -1;
        uint32_t v4 = 1;
        socklen_t l;
        const struct sockaddr *sa = sa_of(cases[i].addr, &l);
        cr_assert_eq(dnsmap_target(sa, l, host, sizeof host, &port, &named, &v4), 0, "%s",
                     cases[i].addr);
        cr_assert_str_eq(host, cases[i].host, "%s", cases[i].addr);
        cr_assert_eq(port, 80);
        cr_assert_eq(named, cases[i].named, "%s", cases[i].addr);
        if (!cases[i].named)
            cr_assert_eq(v4, cases[i].v4, "%s", cases[i].addr);
    }
    /* any process of the tree can write the shared map: a name made hostile there is
     * refused when it is read back, never put on a request line */
    char *slot = memmem(mem, dnsmap_size(), "crm.internal", 12);
    cr_assert_not_null(slot);
    slot[3] = '\r';
    char host[DNSMAP_NAME_MAX + 1];
    uint16_t port;
    int named;
    uint32_t v4;
    socklen_t l;
    const struct sockaddr *sa = sa_of(t4, &l);
    cr_assert_eq(dnsmap_target(sa, l, host, sizeof host, &port, &named, &v4), -EINVAL);
    struct sockaddr_un {
        sa_family_t f;
        char p[20];
    } un = {AF_UNIX, "x"};
    cr_assert_eq(
        dnsmap_target((struct sockaddr *)&un, sizeof un, host, sizeof host, &port, &named, &v4),
        -EINVAL);
    dnsmap_use(NULL);
    free(mem);
}

/* ---------------------------------------------------------------- CONNECT request heads */

#define KEY "ck_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
#define SESSION "0123456789abcdef0123456789abcdef"

Test(connect_head, names_literals_and_ipv6_in_brackets)
{
    char out[1024];
    const char *why = NULL;
    int n = decide_connect_head("localhost", 8080, KEY, SESSION, out, sizeof out, &why);
    cr_assert_gt(n, 0, "%s", why);
    out[n] = '\0';
    cr_assert_str_eq(out, "CONNECT localhost:8080 HTTP/1.1\r\nHost: localhost:8080\r\n"
                          "Proxy-Authorization: Bearer " KEY "\r\n"
                          "Cordon-Session: " SESSION "\r\n\r\n");
    n = decide_connect_head("[::1]", 443, KEY, "", out, sizeof out, &why);
    cr_assert_gt(n, 0, "%s", why);
    out[n] = '\0';
    cr_assert_str_eq(out,
                     "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"
                     "Proxy-Authorization: Bearer " KEY "\r\n\r\n",
                     "no session: no header");
    n = decide_connect_head("127.0.0.1", 1, KEY, SESSION, out, sizeof out, &why);
    cr_assert_gt(n, 0);
    cr_assert(strncmp(out, "CONNECT 127.0.0.1:1 HTTP/1.1\r\n", 30) == 0);
    n = decide_connect_head("my_svc.internal", 65535, KEY, SESSION, out, sizeof out, &why);
    cr_assert_gt(n, 0);
    cr_assert(strncmp(out, "CONNECT my_svc.internal:65535 ", 30) == 0);
    /* the longest name fits the hook's buffer */
    char n253[300];
    memset(n253, 'a', 253);
    n253[253] = '\0';
    cr_assert_gt(decide_connect_head(n253, 65535, KEY, SESSION, out, sizeof out, &why), 0);
}

Test(connect_head, hostile_fields_are_refused_before_a_byte_is_written)
{
    const char *hosts[] = {"",
                           "crm.internal\r\nX-Evil: 1",
                           "crm.internal\n",
                           "crm internal",
                           "crm.internal HTTP/1.1",
                           "CRM.internal", /* not as the name check leaves it */
                           "crm.internal.",
                           "::1",
                           "[::1",
                           "[not-v6]",
                           "[::1]:80",
                           "a:b",
                           "caf\xc3\xa9.internal",
                           NULL};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char out[1024];
        memset(out, 'X', sizeof out);
        const char *why = NULL;
        cr_assert_eq(decide_connect_head(hosts[i], 80, KEY, SESSION, out, sizeof out, &why),
                     -EINVAL, "case %zu", i);
        cr_assert_not_null(why, "case %zu has no reason", i);
        cr_assert_eq(out[0], 'X', "case %zu wrote into the buffer", i);
    }
    char n254[300], out[1024];
    memset(n254, 'a', 254);
    n254[254] = '\0';
    const char *why;
    cr_assert_eq(decide_connect_head(n254, 80, KEY, SESSION, out, sizeof out, &why), -EINVAL);
    cr_assert_eq(decide_connect_head("x.internal", 0, KEY, SESSION, out, sizeof out, &why),
                 -EINVAL);
    cr_assert_eq(
        decide_connect_head("x.internal", 80, "ck_a\r\nX: 1", SESSION, out, sizeof out, &why),
        -EINVAL, "a key with CR LF");
    cr_assert_eq(decide_connect_head("x.internal", 80, "", SESSION, out, sizeof out, &why), -EINVAL,
                 "no key");
    cr_assert_eq(decide_connect_head("x.internal", 80, KEY, "0123", out, sizeof out, &why), -EINVAL,
                 "a short session");
    cr_assert_eq(decide_connect_head("x.internal", 80, KEY, SESSION "\r\n", out, sizeof out, &why),
                 -EINVAL, "a session with CR LF");
    cr_assert_eq(decide_connect_head("x.internal", 80, KEY, SESSION, out, 60, &why), -EINVAL,
                 "too small a buffer");
    cr_assert(strstr(why, "does not fit"), "%s", why);
}

/* ---------------------------------------------------------------- bounded JSON */

Test(events, json_strings_are_escaped_and_bounded)
{
    char mem[64];
    struct jbuf b;
    jbuf_init(&b, mem, sizeof mem);
    jbuf_str(&b, "a\"b\\c\n\x01", 0);
    cr_assert_str_eq(mem, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    jbuf_init(&b, mem, sizeof mem);
    jbuf_str(&b, "abcdefgh", 3);
    cr_assert_str_eq(mem, "\"abc...\"");
    jbuf_init(&b, mem, 8);
    jbuf_raw(&b, "0123456789");
    cr_assert(b.overflow);
    cr_assert_eq(b.len, 0, "nothing partial is written");
    jbuf_init(&b, mem, sizeof mem);
    jbuf_i64(&b, -42);
    jbuf_raw(&b, ",");
    jbuf_u64(&b, UINT64_MAX);
    cr_assert_str_eq(mem, "-42,18446744073709551615");
}

Test(events, drops_are_counted_never_silent)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    events_set_fd(sv[0]);
    uint64_t before = events_dropped();
    for (int i = 0; i < 2000; i++)
        events_emit("fs.open", "deny", "{\"path\":\"/x\"}");
    uint64_t dropped = events_dropped() - before;
    cr_assert_gt(dropped, 0, "a full socket must count drops");
    /* drain, then the next event is preceded by an events.dropped report */
    char buf[8192];
    while (recv(sv[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    events_emit("exec", "allow", NULL);
    ssize_t n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "\"kind\":\"events.dropped\""), "%s", buf);
    cr_assert(strstr(buf, "\"count\":"), "%s", buf);
    n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    cr_assert(strstr(buf, "\"kind\":\"exec\""), "%s", buf);
    events_set_fd(-1);
    close(sv[0]);
    close(sv[1]);
}

/* ---------------------------------------------------------------- poll */

static int poll_answer; /* what the stand-in fetch returns next */

static int poll_stub(struct root *r, char *msg, size_t msglen, char *err, size_t errlen)
{
    (void)r;
    if (poll_answer == 1)
        snprintf(msg, msglen,
                 "cordon: policy v8 is published; this process runs v7; restart "
                 "to apply");
    if (poll_answer < 0)
        snprintf(err, errlen, "cordond at 127.0.0.1:1 refused the connection");
    return poll_answer;
}

Test(poll, a_newer_policy_is_one_warning_and_one_stale_event, .init = cr_redirect_stderr)
{
    static struct root r;
    static struct policy pol;
    root_init(&r);
    pol.poll_seconds = 30;
    r.policy = &pol;
    r.stamp.version = 7;
    snprintf(r.etag, sizeof r.etag, "v8-abc");
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    events_set_fd(sv[0]);
    struct poll_job job = {.root = &r, .once = poll_stub, .who = "cordon run"};

    poll_answer = 0;
    cr_assert_eq(poll_round(&job), 0);
    char buf[1024];
    cr_assert_lt(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), 0, "unchanged: no event");

    poll_answer = 1;
    cr_assert_eq(poll_round(&job), 1);
    ssize_t n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "\"kind\":\"policy.stale\""), "%s", buf);
    cr_assert(strstr(buf, "\"detail\":{\"running\":7,\"etag\":\"v8-abc\"}"), "%s", buf);

    /* failures: said once, however many rounds fail */
    poll_answer = -ECONNREFUSED;
    cr_assert_eq(poll_round(&job), -ECONNREFUSED);
    cr_assert_eq(poll_round(&job), -ECONNREFUSED);
    cr_assert_eq(job.failed, 2);

    /* an ETag cordond would not send is left out, not cut into the JSON */
    snprintf(r.etag, sizeof r.etag, "x\",\"y\":\"z");
    poll_answer = 1;
    cr_assert_eq(poll_round(&job), 1);
    n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "{\"running\":7,\"etag\":\"\"}"), "%s", buf);

    /* quiet: the events still go, nothing is said */
    job.quiet = 1;
    job.failed = 0;
    poll_answer = -ETIMEDOUT;
    cr_assert_eq(poll_round(&job), -ETIMEDOUT);
    events_set_fd(-1);
    close(sv[0]);
    close(sv[1]);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "cordon: policy v8 is published; this process runs v7; restart to apply\n"
        "cordon run: policy poll failed: cordond at 127.0.0.1:1 refused the connection (will "
        "keep trying every 30 s)\n"
        "cordon: policy v8 is published; this process runs v7; restart to apply\n");
}

/* ---------------------------------------------------------------- handshake */

static int hs(const char *s, struct handshake *h)
{
    return handshake_parse(s, strlen(s), h);
}

Test(handshake, the_written_line_parses_back)
{
    char line[HANDSHAKE_MAX];
    struct handshake h = {0};
    size_t n = handshake_format(line, sizeof line, 4242, 21);
    cr_assert_str_eq(line, "ok pid=4242 policy=v21\n");
    cr_assert_eq(n, strlen(line));
    cr_assert_eq(handshake_parse(line, n, &h), 0);
    cr_assert_eq(h.pid, 4242);
    cr_assert_eq(h.version, 21);
    /* the extremes fit and come back */
    n = handshake_format(line, sizeof line, 2147483647L, UINT64_MAX);
    cr_assert_str_eq(line, "ok pid=2147483647 policy=v18446744073709551615\n");
    cr_assert_eq(handshake_parse(line, n, &h), 0);
    cr_assert_eq(h.pid, 2147483647L);
    cr_assert_eq(h.version, UINT64_MAX);
    cr_assert_eq(hs("ok pid=1 policy=v0\n", &h), 0);
    cr_assert_eq(h.version, 0);
    /* what cannot be written is not */
    cr_assert_eq(handshake_format(line, sizeof line, 0, 1), 0);
    cr_assert_eq(handshake_format(line, sizeof line, -5, 1), 0);
    cr_assert_eq(handshake_format(line, 8, 1, 1), 0);
}

Test(handshake, every_prefix_asks_for_more)
{
    const char *full = "ok pid=77 policy=v3\n";
    struct handshake h;
    for (size_t i = 0; i < strlen(full); i++)
        cr_assert_eq(handshake_parse(full, i, &h), -EAGAIN, "prefix of %zu bytes", i);
    cr_assert_eq(handshake_parse(full, strlen(full), &h), 0);
}

Test(handshake, malformed_lines_are_refused)
{
    static const char *const bad[] = {
        "ko pid=1 policy=v1\n",                       /* another word */
        "ok\n",                                       /* the old free form */
        "ok pid=1\n",                                 /* no policy */
        "ok pid= policy=v1\n",                        /* no number */
        "ok pid=0 policy=v1\n",                       /* no such process */
        "ok pid=01 policy=v1\n",                      /* a leading zero */
        "ok pid=1 policy=v01\n",                      /* a leading zero */
        "ok pid=-1 policy=v1\n",                      /* a sign */
        "ok pid=+1 policy=v1\n",                      /* a sign */
        "ok pid=1 policy=1\n",                        /* no v */
        "ok pid=1  policy=v1\n",                      /* two spaces */
        "OK pid=1 policy=v1\n",                       /* case */
        "ok pid=1 policy=v1\r\n",                     /* CR */
        "ok pid=1 policy=v1 \n",                      /* trailing space */
        "ok pid=1 policy=v1x\n",                      /* trailing text */
        "ok pid=1 policy=v1\n\n",                     /* a second line */
        "ok pid=1 policy=v1\nok",                     /* bytes after the line */
        "ok pid=2147483648 policy=v1\n",              /* past INT32_MAX */
        "ok pid=99999999999999999999999 policy=v1\n", /* past everything */
        "ok pid=1 policy=v18446744073709551616\n",    /* past UINT64_MAX */
        "\n",
    };
    struct handshake h = {.pid = 9, .version = 9};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(hs(bad[i], &h), -EPROTO, "accepted: %s", bad[i]);
        cr_assert_eq(h.pid, 9, "a refused line leaves h alone");
    }
}

Test(handshake, hostile_bytes_and_sizes_are_refused)
{
    struct handshake h;
    /* a NUL inside: refused, never read as the end of a string */
    const char nul[] = "ok pid=1\0policy=v1\n";
    cr_assert_eq(handshake_parse(nul, sizeof nul - 1, &h), -EPROTO);
    const char nul2[] = "ok pid=1 policy=v1\n\0";
    cr_assert_eq(handshake_parse(nul2, sizeof nul2 - 1, &h), -EPROTO);
    /* more than a line can be: refused however it starts, even if it never ends */
    char big[4096];
    memset(big, '1', sizeof big);
    memcpy(big, "ok pid=", 7);
    cr_assert_eq(handshake_parse(big, sizeof big, &h), -EPROTO);
    cr_assert_eq(handshake_parse(big, HANDSHAKE_MAX + 1, &h), -EPROTO);
    /* a digit run longer than any number, but within HANDSHAKE_MAX: refused, not wrapped */
    cr_assert_eq(handshake_parse(big, HANDSHAKE_MAX, &h), -EPROTO);
    /* high bytes */
    const char high[] = "ok pid=\xff\xfe policy=v1\n";
    cr_assert_eq(handshake_parse(high, sizeof high - 1, &h), -EPROTO);
    /* the parser reads no byte past len */
    char *exact = malloc(19);
    memcpy(exact, "ok pid=5 policy=v6\n", 19);
    cr_assert_eq(handshake_parse(exact, 19, &h), 0);
    cr_assert_eq(handshake_parse(exact, 12, &h), -EAGAIN);
    free(exact);
}

/* ---------------------------------------------------------------- rootlib_path */

Test(rootlib_path, beside_the_shim_or_an_error)
{
    char out[64];
    cr_assert_eq(rootlib_path("/usr/lib/libcordon.so", out, sizeof out), 0);
    cr_assert_str_eq(out, "/usr/lib/libcordon-root.so");
    cr_assert_eq(rootlib_path("libcordon.so", out, sizeof out), 0);
    cr_assert_str_eq(out, "libcordon-root.so");
    cr_assert_eq(rootlib_path("", out, sizeof out), -EINVAL);
    cr_assert_eq(rootlib_path("/a/very/long/directory/name/libcordon.so", out, 30), -ENAMETOOLONG);
    cr_assert_eq(rootlib_path("/x/libcordon.so", out, sizeof "/x/libcordon-root.so"), 0);
    cr_assert_eq(rootlib_path("/x/libcordon.so", out, sizeof "/x/libcordon-root.so" - 1),
                 -ENAMETOOLONG);
}

/* ---------------------------------------------------------------- root_verify */

/* What the root sequence returns is one convention: an errno naming the class of failure,
 * with the sign room's own reason in the message. */
Test(root, verify_failures_are_errnos_with_the_reason_in_err)
{
    struct key_trust trust;
    char err[1024], keyid[KEY_ID_HEX + 1], *payload = NULL;
    size_t plen = 0;
    struct envelope_stamp st;
    cr_assert_eq(key_trust_load(CORDON_TEST_DATA "/dsse/test.pub", &trust, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(
        root_verify(&trust, "not json", 8, 0, &payload, &plen, &st, keyid, err, sizeof err),
        -EBADMSG);
    cr_assert(strstr(err, "the policy envelope was refused"), "%s", err);
    cr_assert_null(payload);

    char *env = NULL;
    size_t len = 0;
    cr_assert_eq(path_read_file(CORDON_TEST_DATA "/envelope/policy.envelope.json", 1 << 20, &env,
                                &len, NULL),
                 0);
    char *sig = strstr(env, "\"sig\"");
    cr_assert_not_null(sig);
    char *q = strchr(sig + 6, '"');
    cr_assert_not_null(q);
    q[3] = q[3] == 'A' ? 'B' : 'A'; /* another signature, still base64 */
    cr_assert_eq(root_verify(&trust, env, len, 0, &payload, &plen, &st, keyid, err, sizeof err),
                 -EKEYREJECTED, "%s", err);
    cr_assert(strstr(err, "CORDON_TRUST"), "%s", err);
    free(env);
}

/* cordon's notices on the event channel: a quarantine is said once, other messages are
 * ignored, a closed channel is told apart. */
Test(poll, quarantine_notice_said_once, .init = cr_redirect_stderr)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    struct poll_job job = {.who = "cordon", .notices = 1, .notice_fd = sv[0]};
    static const char other[] = "{\"type\":\"something-else\"}";
    static const char q[] =
        "{\"type\":\"quarantine\",\"agent\":\"bob\",\"since_ms\":1800000000000}";
    cr_assert_eq(poll_notices(&job), 0, "nothing queued");
    cr_assert_eq(send(sv[1], other, sizeof other - 1, 0), (ssize_t)sizeof other - 1);
    cr_assert_eq(poll_notices(&job), 0, "another type is ignored");
    cr_assert_eq(send(sv[1], q, sizeof q - 1, 0), (ssize_t)sizeof q - 1);
    cr_assert_eq(send(sv[1], q, sizeof q - 1, 0), (ssize_t)sizeof q - 1);
    cr_assert_eq(poll_notices(&job), 1);
    cr_assert_eq(send(sv[1], q, sizeof q - 1, 0), (ssize_t)sizeof q - 1);
    cr_assert_eq(poll_notices(&job), 1);
    close(sv[1]);
    cr_assert_eq(poll_notices(&job), -1, "a closed channel");
    close(sv[0]);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "cordon: agent bob is quarantined by cordond since 2027-01-15T08:00:00Z; "
        "model calls and tunnels are refused until an admin runs `cordon "
        "agent release`\n");
}

/* A budget or rate refusal: said once per scope however often it comes, a second scope said
 * too, the message's JSON escapes undone and control characters never reach stderr. */
Test(poll, refused_notice_said_once_per_scope, .init = cr_redirect_stderr)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    struct poll_job job = {.who = "cordon", .notices = 1, .notice_fd = sv[0]};
    static const char a[] =
        "{\"type\":\"refused\",\"agent\":\"tok\",\"scope\":\"api.budget.session_tokens\","
        "\"message\":\"policy of agent \\\"tok\\\": api.budget.session_tokens is 1000; 0 "
        "remain\\n\\u001b[2J\"}";
    static const char b[] =
        "{\"type\":\"refused\",\"agent\":\"tok\",\"scope\":\"api.rate.requests_per_minute\","
        "\"message\":\"api.rate.requests_per_minute is 2\"}";
    for (int i = 0; i < 3; i++)
        cr_assert_eq(send(sv[1], a, sizeof a - 1, 0), (ssize_t)sizeof a - 1);
    cr_assert_eq(poll_notices(&job), 0, "a refusal is not a quarantine");
    cr_assert_eq(send(sv[1], b, sizeof b - 1, 0), (ssize_t)sizeof b - 1);
    cr_assert_eq(send(sv[1], a, sizeof a - 1, 0), (ssize_t)sizeof a - 1);
    cr_assert_eq(poll_notices(&job), 0);
    close(sv[1]);
    close(sv[0]);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "cordon: model calls of agent tok are refused: policy of agent \"tok\": "
        "api.budget.session_tokens is 1000; 0 remain ?[2J\n"
        "cordon: model calls of agent tok are refused: api.rate.requests_per_minute is 2\n");
}

Test(fetch, the_deployment_ca_header_is_base64_within_its_bound)
{
    struct fetch_response r;
    char err[256];
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nCordon-CA: MIIBkTCB+wIJAK/x=\r\n\r\n", &r, err), 0, "%s",
                 err);
    cr_assert_str_eq(r.ca, "MIIBkTCB+wIJAK/x=");
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\n\r\n", &r, err), 0, "%s", err);
    cr_assert_str_eq(r.ca, "", "absent: empty");
    /* what is not base64 would end up in a PEM file every process of the tree trusts */
    cr_assert_eq(
        parse("HTTP/1.1 200 OK\r\nCordon-CA: abc-----END CERTIFICATE-----\r\n\r\n", &r, err),
        -EPROTO);
    cr_assert_eq(parse("HTTP/1.1 200 OK\r\nCordon-CA: ab\"c\r\n\r\n", &r, err), -EPROTO);
    static char big[FETCH_CA_MAX + 128] = "HTTP/1.1 200 OK\r\nCordon-CA: ";
    memset(big + strlen(big), 'A', FETCH_CA_MAX + 8);
    strcat(big, "\r\n\r\n");
    cr_assert_eq(parse(big, &r, err), -EPROTO, "a CA longer than the shim keeps is refused");
}
