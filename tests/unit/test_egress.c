/* SPDX-License-Identifier: Apache-2.0 */
/* Egress checks: allowlist matching and the addresses a tunnel must not reach by name. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/server/egress.h"

static struct sockaddr_storage ss;

static const struct sockaddr *addr(const char *s)
{
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1)
        a4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1)
        a6->sin6_family = AF_INET6;
    else
        cr_assert_fail("bad test address %s", s);
    return (const struct sockaddr *)&ss;
}

Test(egress, address_classes)
{
    struct {
        const char *a, *cls;
    } cases[] = {
        {"127.0.0.1", "loopback"},
        {"127.255.0.9", "loopback"},
        {"::1", "loopback"},
        {"::ffff:127.0.0.1", "loopback"},
        {"169.254.169.254", "metadata"},
        {"::ffff:169.254.169.254", "metadata"},
        {"fd00:ec2::254", "metadata"},
        {"100.100.100.200", "metadata"},
        {"169.254.1.1", "link-local"},
        {"fe80::1", "link-local"},
        {"0.0.0.0", "unspecified"},
        {"::", "unspecified"},
        {"::ffff:0.0.0.0", "unspecified"},
        {"140.82.112.3", NULL},
        {"64:ff9b::a9fe:a9fe", "metadata"},
        {"64:ff9b::127.0.0.1", "loopback"},
        {"2002:a9fe:a9fe::1", "metadata"},
        {"2002:7f00:1::", "loopback"},
        {"2002:8c52:7003::1", NULL},
        {"64:ff9b::8c52:7003", NULL},
        {"2606:4700::1111", NULL},
        {"100.100.100.201", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = egress_addr_class(addr(cases[i].a));
        if (!cases[i].cls)
            cr_assert_null(got, "%s classed as %s", cases[i].a, got);
        else
            cr_assert(got && strcmp(got, cases[i].cls) == 0, "%s: got %s, want %s", cases[i].a,
                      got ? got : "(none)", cases[i].cls);
    }
}

static struct policy *load(const char *allow)
{
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"cordon_policy\":1,\"agent\":\"t\",\"sandbox\":{\"network\":{\"mode\":\"proxy\","
             "\"allow\":[%s]}}}",
             allow);
    struct policy_env env;
    struct policy_env_storage st;
    cr_assert_eq(policy_env_from_process(&env, &st, NULL), 0);
    struct diag d;
    diag_init(&d);
    struct policy *p = NULL;
    cr_assert_eq(policy_load(doc, strlen(doc), &env, &p, &d), 0, "%s", d.e[0].msg);
    return p;
}

Test(egress, allowlist_matching)
{
    struct policy *p = load("\"*.git.example.com:443\",\"crm.internal:*\",\"127.0.0.1:8080\","
                            "\"localhost:9000\"");
    cr_assert_not_null(egress_match(p, "api.git.example.com", 443));
    cr_assert_not_null(egress_match(p, "a.b.git.example.com", 443));
    cr_assert_null(egress_match(p, "git.example.com", 443), "the suffix itself is not beneath it");
    cr_assert_null(egress_match(p, "evilgit.example.com", 443));
    cr_assert_null(egress_match(p, "api.git.example.com", 80));
    cr_assert_not_null(egress_match(p, "crm.internal", 1));
    cr_assert_not_null(egress_match(p, "crm.internal", 65535));
    cr_assert_null(egress_match(p, "crm.internal.evil.com", 443));
    const struct policy_endpoint *lit = egress_match(p, "127.0.0.1", 8080);
    cr_assert_not_null(lit);
    cr_assert_null(egress_match(p, "127.0.0.1", 8081));

    /* special addresses: only the exact literal, or localhost for loopback */
    cr_assert(egress_addr_allowed(lit, "127.0.0.1", addr("127.0.0.1")));
    const struct policy_endpoint *gh = egress_match(p, "api.git.example.com", 443);
    cr_assert(egress_addr_allowed(gh, "api.git.example.com", addr("140.82.112.3")));
    cr_assert_not(egress_addr_allowed(gh, "api.git.example.com", addr("127.0.0.1")));
    cr_assert_not(egress_addr_allowed(gh, "api.git.example.com", addr("::ffff:169.254.169.254")));
    const struct policy_endpoint *lh = egress_match(p, "localhost", 9000);
    cr_assert(egress_addr_allowed(lh, "localhost", addr("::1")));
    cr_assert_not(egress_addr_allowed(lh, "localhost", addr("169.254.169.254")),
                  "localhost never reaches metadata");
    const struct policy_endpoint *crm = egress_match(p, "crm.internal", 443);
    cr_assert_not(egress_addr_allowed(crm, "crm.internal", addr("169.254.169.254")));
    policy_free(p);
}

/* A host is judged as the program named it: names as names, literals as addresses. */
Test(egress, names_and_literals)
{
    struct policy *p = load("\"localhost:9000\",\"127.0.0.1:9001\",\"[::1]:9002\","
                            "\"crm.internal:9003\",\"*.corp.internal:9004\",\"[0:0::1]:9005\","
                            "\"10.1.2.3:9006\"");
    /* localhost: the name, and the two literals it stands for (curl turns localhost into
     * 127.0.0.1 before it connects), in any spelling; not other loopback addresses */
    const char *lh_ok[] = {"localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"};
    for (size_t i = 0; i < sizeof lh_ok / sizeof lh_ok[0]; i++) {
        const struct policy_endpoint *e = egress_match(p, lh_ok[i], 9000);
        cr_assert(e && strcmp(e->raw, "localhost:9000") == 0, "%s under localhost", lh_ok[i]);
    }
    cr_assert_null(egress_match(p, "127.0.0.2", 9000));
    cr_assert_null(egress_match(p, "app.localhost", 9000));
    cr_assert_null(egress_match(p, "localhost", 9001), "127.0.0.1 does not admit localhost");
    cr_assert_null(egress_match(p, "::1", 9001), "nor ::1");
    cr_assert_not_null(egress_match(p, "127.0.0.1", 9001));
    cr_assert_not_null(egress_match(p, "::ffff:127.0.0.1", 9001), "the mapped spelling");
    cr_assert_null(egress_match(p, "localhost", 9002), "[::1] does not admit localhost");
    cr_assert_null(egress_match(p, "127.0.0.1", 9002));
    cr_assert_not_null(egress_match(p, "::1", 9002));
    cr_assert_not_null(egress_match(p, "0::1", 9002), "another spelling of ::1");
    cr_assert_not_null(egress_match(p, "::1", 9005), "[0:0::1] is ::1");
    /* names: exact, lowercase, never an address the name may resolve to */
    cr_assert_not_null(egress_match(p, "crm.internal", 9003));
    cr_assert_null(egress_match(p, "10.1.2.3", 9003));
    cr_assert_null(egress_match(p, "crm.internal", 9006), "a literal entry admits no name");
    /* a wildcard names names, never an address */
    cr_assert_not_null(egress_match(p, "crm.corp.internal", 9004));
    cr_assert_null(egress_match(p, "corp.internal", 9004));
    struct policy *q = load("\"*.0.1:443\"");
    cr_assert_not_null(egress_match(q, "a.0.1", 443));
    cr_assert_null(egress_match(q, "10.0.0.1", 443), "a wildcard never matches 10.0.0.1");
    policy_free(q);
    /* when a loopback spelling is refused, the hint names the entry the policy does have */
    char hint[300];
    egress_hint(p, "localhost", 9001, hint, sizeof hint);
    cr_assert(strstr(hint, "127.0.0.1:9001") && strstr(hint, "localhost:PORT"), "%s", hint);
    egress_hint(p, "::1", 9001, hint, sizeof hint);
    cr_assert(strstr(hint, "127.0.0.1:9001"), "%s", hint);
    egress_hint(p, "crm.internal", 9001, hint, sizeof hint);
    cr_assert_str_eq(hint, "", "no hint for a name that is not loopback");
    egress_hint(p, "localhost", 1, hint, sizeof hint);
    cr_assert_str_eq(hint, "", "no hint without a loopback entry on that port");
    policy_free(p);
}

/* The address rules hold for names and for IPv6: a special address only through its literal,
 * or localhost for loopback. */
Test(egress, special_addresses_for_names_and_ipv6)
{
    struct policy *p = load("\"localhost:9000\",\"[::1]:9002\",\"rebind.test:9003\","
                            "\"[fe80::1]:9007\",\"*.corp.internal:9004\"");
    const struct policy_endpoint *lh = egress_match(p, "localhost", 9000);
    cr_assert(egress_addr_allowed(lh, "localhost", addr("::1")));
    cr_assert(egress_addr_allowed(lh, "localhost", addr("127.0.0.1")));
    cr_assert(egress_addr_allowed(lh, "127.0.0.1", addr("127.0.0.1")), "curl's localhost");
    cr_assert(egress_addr_allowed(lh, "::1", addr("::1")));
    cr_assert_not(egress_addr_allowed(lh, "localhost", addr("fe80::1")));
    cr_assert_not(egress_addr_allowed(lh, "localhost", addr("fd00:ec2::254")));
    cr_assert_not(egress_addr_allowed(lh, "localhost", addr("64:ff9b::a9fe:a9fe")));
    const struct policy_endpoint *v6 = egress_match(p, "::1", 9002);
    cr_assert(egress_addr_allowed(v6, "::1", addr("::1")));
    /* a name that resolves to a special address, however it is written */
    const struct policy_endpoint *rb = egress_match(p, "rebind.test", 9003);
    const char *special[] = {"127.0.0.1",        "::1",
                             "::ffff:127.0.0.1", "64:ff9b::127.0.0.1",
                             "2002:7f00:1::",    "169.254.169.254",
                             "fd00:ec2::254",    "::ffff:169.254.169.254",
                             "fe80::1",          "::",
                             "0.0.0.0",          "::127.0.0.1"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        cr_assert_not(egress_addr_allowed(rb, "rebind.test", addr(special[i])), "%s", special[i]);
    cr_assert(egress_addr_allowed(rb, "rebind.test", addr("2001:db8::5")));
    const struct policy_endpoint *wc = egress_match(p, "a.corp.internal", 9004);
    cr_assert_not(egress_addr_allowed(wc, "a.corp.internal", addr("::1")));
    const struct policy_endpoint *ll = egress_match(p, "fe80::1", 9007);
    cr_assert_not_null(ll);
    cr_assert(egress_addr_allowed(ll, "fe80::1", addr("fe80::1")), "named by its literal");
    /* observe mode's empty rule admits no special address */
    struct policy_endpoint none = {"", "", 0, 0};
    cr_assert_not(egress_addr_allowed(&none, "localhost", addr("127.0.0.1")));
    cr_assert_not(egress_addr_allowed(&none, "127.0.0.1", addr("127.0.0.1")));
    policy_free(p);
}
