/* SPDX-License-Identifier: Apache-2.0 */
/* CONNECT request heads: the accepted forms, and every malformed or hostile one refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "policy/server/connect.h"
#include "shim/decide.h"

static char host[256], key[128], session[40];
static unsigned port;
static const char *why;

static int parse(const char *hdr)
{
    why = NULL;
    return connect_parse_request(hdr, host, sizeof host, &port, key, sizeof key, session,
                                 sizeof session, &why);
}

Test(connect, accepted_forms)
{
    cr_assert_eq(
        parse("CONNECT API.Git.Example.com:443 HTTP/1.1\r\nHost: api.git.example.com:443\r\n"
              "Proxy-Authorization: Bearer ck_abc\r\n"
              "Cordon-Session: 0123456789abcdef0123456789abcdef\r\n\r\n"),
        0, "%s", why);
    cr_assert_str_eq(host, "api.git.example.com", "host names are lowercased");
    cr_assert_eq(port, 443);
    cr_assert_str_eq(key, "ck_abc");
    cr_assert_str_eq(session, "0123456789abcdef0123456789abcdef");

    /* Basic with the key as the password, as http://cordon:KEY@host proxy URLs send it */
    cr_assert_eq(parse("CONNECT [2001:db8::1]:8443 HTTP/1.0\r\n"
                       "proxy-authorization: Basic Y29yZG9uOmNrX3h5eg==\r\n\r\n"),
                 0, "%s", why);
    cr_assert_str_eq(host, "2001:db8::1");
    cr_assert_eq(port, 8443);
    cr_assert_str_eq(key, "ck_xyz");
    cr_assert_str_eq(session, "");

    cr_assert_eq(parse("CONNECT 10.0.0.1:1 HTTP/1.1\r\n\r\n"), 0, "no key is the caller's 407");
    cr_assert_str_eq(key, "");

    /* '_' is a name character in a policy (docs/POLICY.md section 7), so the tunnel takes it */
    cr_assert_eq(parse("CONNECT my_svc.internal:8080 HTTP/1.1\r\n\r\n"), 0, "%s", why);
    cr_assert_str_eq(host, "my_svc.internal");
}

/* Whatever the shim's connect hook sends, cordond reads back as the same destination. */
Test(connect, what_the_shim_sends_parses_to_the_same_destination)
{
    char n253[254];
    memset(n253, 'a', 253);
    n253[253] = '\0';
    struct {
        const char *sent, *host;
    } cases[] = {
        {"localhost", "localhost"},
        {"crm.internal", "crm.internal"},
        {"my_svc.internal", "my_svc.internal"},
        {"127.0.0.1", "127.0.0.1"},
        {"[::1]", "::1"},
        {"[2001:db8::1]", "2001:db8::1"},
        {"127.1", "127.1"},
        {n253, n253},
    };
    const char *k = "ck_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    const char *sess = "0123456789abcdef0123456789abcdef";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[1024];
        const char *w = NULL;
        int n = decide_connect_head(cases[i].sent, 443, k, sess, head, sizeof head - 1, &w);
        cr_assert_gt(n, 0, "case %zu: %s", i, w);
        head[n] = '\0';
        cr_assert_eq(parse(head), 0, "case %zu: %s", i, why);
        cr_assert_str_eq(host, cases[i].host, "case %zu", i);
        cr_assert_eq(port, 443);
        cr_assert_str_eq(key, k);
        cr_assert_str_eq(session, sess);
    }
}

Test(connect, refused_with_a_reason)
{
    struct {
        const char *hdr;
        int status;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"POST http://x/ HTTP/1.1\r\n\r\n", 405},
        {"connect x:443 HTTP/1.1\r\n\r\n", 405},
        {"CONNECT x:443\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/2\r\n\r\n", 400},
        {"CONNECT  x:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT\tx:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1 extra\r\n\r\n", 400},
        {"CONNECT x HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x: HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:0 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:65536 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:-1 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:+80 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:0000080 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT :443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT a..b.example:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT .a.example:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT a.example.:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT a\rb:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT a/b:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT user@host:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT [::1:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT [not-v6]:443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT [::1]443 HTTP/1.1\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1\r\nno colon here\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1\r\n: empty name\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n", 400}, /* head not terminated */
        {"CONNECT x:443 HTTP/1.1\r\nProxy-Authorization: Basic !!!\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1\r\nProxy-Authorization: Basic Y29yZG9u\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1\r\nCordon-Session: 0123\r\n\r\n", 400},
        {"CONNECT x:443 HTTP/1.1\r\nCordon-Session: 0123456789ABCDEF0123456789ABCDEF\r\n\r\n", 400},
        {"", 400},
        {"\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = parse(cases[i].hdr);
        cr_assert_eq(st, cases[i].status, "case %zu: got %d, want %d", i, st, cases[i].status);
        cr_assert_not_null(why, "case %zu has no reason", i);
    }
}

Test(connect, oversized_fields)
{
    char big[1200];
    snprintf(big, sizeof big, "CONNECT %0300d.example:443 HTTP/1.1\r\n\r\n", 0);
    cr_assert_eq(parse(big), 400, "a target over 299 bytes");
    snprintf(big, sizeof big, "CONNECT %0260d:443 HTTP/1.1\r\n\r\n", 0);
    cr_assert_eq(parse(big), 400, "a host name over 253 bytes");
    char keyline[600];
    memset(keyline, 'k', 300);
    keyline[300] = '\0';
    snprintf(big, sizeof big, "CONNECT x:443 HTTP/1.1\r\nProxy-Authorization: Bearer %s\r\n\r\n",
             keyline);
    cr_assert_eq(parse(big), 400, "a key longer than the buffer");
    memset(big, 'A', 700);
    memcpy(big + 700, "\r\n\r\n", 5);
    cr_assert_eq(parse(big), 400, "a request line over 511 bytes");
}
