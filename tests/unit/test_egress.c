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
        {"127.0.0.1", "loopback"},       {"127.255.0.9", "loopback"},
        {"::1", "loopback"},             {"::ffff:127.0.0.1", "loopback"},
        {"169.254.169.254", "metadata"}, {"::ffff:169.254.169.254", "metadata"},
        {"fd00:ec2::254", "metadata"},   {"100.100.100.200", "metadata"},
        {"169.254.1.1", "link-local"},   {"fe80::1", "link-local"},
        {"0.0.0.0", "unspecified"},      {"::", "unspecified"},
        {"::ffff:0.0.0.0", "unspecified"}, {"140.82.112.3", NULL},
        {"64:ff9b::a9fe:a9fe", "metadata"}, {"64:ff9b::127.0.0.1", "loopback"},
        {"2002:a9fe:a9fe::1", "metadata"},  {"2002:7f00:1::", "loopback"},
        {"2002:8c52:7003::1", NULL},        {"64:ff9b::8c52:7003", NULL},
        {"2606:4700::1111", NULL},       {"100.100.100.201", NULL},
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
             "\"allow\":[%s]}}}", allow);
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
    struct policy *p = load("\"*.github.com:443\",\"crm.internal:*\",\"127.0.0.1:8080\","
                            "\"localhost:9000\"");
    cr_assert_not_null(egress_match(p, "api.github.com", 443));
    cr_assert_not_null(egress_match(p, "a.b.github.com", 443));
    cr_assert_null(egress_match(p, "github.com", 443), "the suffix itself is not beneath it");
    cr_assert_null(egress_match(p, "evilgithub.com", 443));
    cr_assert_null(egress_match(p, "api.github.com", 80));
    cr_assert_not_null(egress_match(p, "crm.internal", 1));
    cr_assert_not_null(egress_match(p, "crm.internal", 65535));
    cr_assert_null(egress_match(p, "crm.internal.evil.com", 443));
    const struct policy_endpoint *lit = egress_match(p, "127.0.0.1", 8080);
    cr_assert_not_null(lit);
    cr_assert_null(egress_match(p, "127.0.0.1", 8081));

    /* special addresses: only the exact literal, or localhost for loopback */
    cr_assert(egress_addr_allowed(lit, "127.0.0.1", addr("127.0.0.1")));
    const struct policy_endpoint *gh = egress_match(p, "api.github.com", 443);
    cr_assert(egress_addr_allowed(gh, "api.github.com", addr("140.82.112.3")));
    cr_assert_not(egress_addr_allowed(gh, "api.github.com", addr("127.0.0.1")));
    cr_assert_not(egress_addr_allowed(gh, "api.github.com", addr("::ffff:169.254.169.254")));
    const struct policy_endpoint *lh = egress_match(p, "localhost", 9000);
    cr_assert(egress_addr_allowed(lh, "localhost", addr("::1")));
    cr_assert_not(egress_addr_allowed(lh, "localhost", addr("169.254.169.254")),
                  "localhost never reaches metadata");
    const struct policy_endpoint *crm = egress_match(p, "crm.internal", 443);
    cr_assert_not(egress_addr_allowed(crm, "crm.internal", addr("169.254.169.254")));
    policy_free(p);
}
