/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.network.http: the hosts whose HTTP requests cordond judges. A good entry compiles
 * to what it says (defaults included); every bad one is refused at the JSON path to fix, with
 * a message that says what to write instead; a query pattern vectorscan rejects is named by
 * the deep check.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "policy/deep.h"
#include "policy/policy.h"

static const struct policy_env test_env = {
    .vars = {.home = "/home/tester",
             .cwd = "/work/proj",
             .workspace = "/work/proj/ws",
             .tmp = "/tmp"},
};

/* A policy whose sandbox.network has allow ALLOW and http HTTP. */
#define NET(allow, http)                                                                           \
    "{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {\"network\": {\"mode\": \"proxy\", "   \
    "\"allow\": " allow ", \"http\": " http "}}}"
#define CRM "[\"crm.internal:443\", \"*.git.example.com:443\", \"localhost:8080\"]"

static struct diag d;

static struct policy *load(const char *json)
{
    struct policy *p = NULL;
    diag_init(&d);
    int rc = policy_load(json, strlen(json), &test_env, &p, &d);
    if (rc != 0)
        cr_assert_null(p);
    return p;
}

static const char *all_errors(void)
{
    static char buf[8192];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d.count && o < sizeof buf - 1; i++) {
        char line[512];
        diag_format(&d, i, line, sizeof line);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "  %s\n", line);
    }
    return buf;
}

static void expect_error(const char *json, const char *path, const char *msg)
{
    struct policy *p = load(json);
    cr_assert_null(p, "policy was accepted, expected an error at %s", path);
    for (size_t i = 0; i < d.count; i++)
        if (strcmp(d.e[i].path, path) == 0 && strstr(d.e[i].msg, msg))
            return;
    cr_assert_fail("no error at path '%s' containing '%s'; got:\n%s", path, msg, all_errors());
}

Test(http_good, the_issue_example_compiles_to_what_it_says)
{
    struct policy *p = load(NET(CRM, "[{\"host\": \"CRM.internal:443\", \"tls\": \"terminate\", "
                                     "\"rules\": [{\"method\": \"GET\", \"path\": "
                                     "\"/api/orders/*\", \"action\": \"allow\"}, {\"path\": "
                                     "\"/api/customers/export*\", \"action\": \"deny\"}], "
                                     "\"default\": \"deny\", \"scan\": true}]"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.net.n_http, 1);
    const struct policy_http_host *h = &p->sandbox.net.http[0];
    cr_assert_str_eq(h->host.host, "crm.internal");
    cr_assert_str_eq(h->host.raw, "CRM.internal:443");
    cr_assert_eq(h->host.port, 443);
    cr_assert_eq(h->tls, POLICY_HTTP_TLS_TERMINATE);
    cr_assert_eq(h->def, POLICY_HTTP_DENY);
    cr_assert_eq(h->scan, 1);
    cr_assert_eq(h->n_rules, 2);
    cr_assert_eq(h->rules[0].methods.n, 1);
    cr_assert_str_eq(h->rules[0].methods.v[0], "GET");
    cr_assert_str_eq(h->rules[0].path, "/api/orders/*");
    cr_assert_eq(h->rules[0].action, POLICY_HTTP_ALLOW);
    cr_assert_eq(h->rules[1].methods.n, 0, "no method: every method");
    cr_assert_eq(h->rules[1].action, POLICY_HTTP_DENY);
    cr_assert_str_eq(policy_http_tls_name(h->tls), "terminate");
    cr_assert_str_eq(policy_http_action_name(h->rules[0].action), "allow");
    policy_free(p);
}

Test(http_good, defaults_are_plain_http_deny_and_no_scan)
{
    struct policy *p = load(NET(CRM, "[{\"host\": \"crm.internal:443\"}]"));
    cr_assert_not_null(p, "%s", all_errors());
    const struct policy_http_host *h = &p->sandbox.net.http[0];
    cr_assert_eq(h->tls, POLICY_HTTP_TLS_NONE);
    cr_assert_eq(h->def, POLICY_HTTP_DENY, "the safe default: what no rule allows is refused");
    cr_assert_eq(h->scan, 0);
    cr_assert_eq(h->n_rules, 0);
    policy_free(p);
}

Test(http_good, no_http_key_means_no_entries)
{
    struct policy *p = load("{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {\"network\": "
                            "{\"allow\": [\"crm.internal:443\"]}}}");
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.net.n_http, 0);
    policy_free(p);
}

Test(http_good, query_conditions_and_method_lists)
{
    struct policy *p =
        load(NET(CRM, "[{\"host\": \"crm.internal:443\", \"rules\": [{\"method\": [\"GET\", "
                      "\"HEAD\"], \"query\": {\"id\": \"[0-9]+\", \"debug\": false, \"page\": "
                      "true}, \"action\": \"allow\"}], \"default\": \"allow\"}]"));
    cr_assert_not_null(p, "%s", all_errors());
    const struct policy_http_rule *r = &p->sandbox.net.http[0].rules[0];
    cr_assert_eq(p->sandbox.net.http[0].def, POLICY_HTTP_ALLOW);
    cr_assert_eq(r->methods.n, 2);
    cr_assert_str_eq(r->methods.v[1], "HEAD");
    cr_assert_null(r->path);
    cr_assert_eq(r->n_query, 3);
    cr_assert_str_eq(r->query[0].name, "id");
    cr_assert_eq(r->query[0].op, POLICY_HTTP_QUERY_MATCH);
    cr_assert_str_eq(r->query[0].pattern, "[0-9]+");
    cr_assert_eq(r->query[1].op, POLICY_HTTP_QUERY_ABSENT);
    cr_assert_eq(r->query[2].op, POLICY_HTTP_QUERY_PRESENT);
    cr_assert_null(r->query[2].pattern);
    policy_free(p);
}

Test(http_good, hosts_covered_by_wildcards_any_port_and_localhost)
{
    struct policy *p =
        load(NET("[\"*.git.example.com:443\", \"crm.internal:*\", \"localhost:8080\"]",
                 "[{\"host\": \"api.git.example.com:443\"}, {\"host\": "
                 "\"*.uploads.git.example.com:443\"}, {\"host\": \"crm.internal:80\"}, "
                 "{\"host\": \"127.0.0.1:8080\"}]"));
    cr_assert_not_null(p, "%s", all_errors());
    cr_assert_eq(p->sandbox.net.n_http, 4);
    policy_free(p);
}

Test(http_bad, host_not_in_allow)
{
    expect_error(NET(CRM, "[{\"host\": \"other.internal:443\"}]"), "sandbox.network.http[0].host",
                 "is not allowed by sandbox.network.allow");
    expect_error(NET(CRM, "[{\"host\": \"crm.internal:80\"}]"), "sandbox.network.http[0].host",
                 "is not allowed by sandbox.network.allow");
    expect_error(NET(CRM, "[{\"host\": \"git.example.com:443\"}]"), "sandbox.network.http[0].host",
                 "is not allowed");
    expect_error(NET(CRM, "[{\"host\": \"*.com:443\"}]"), "sandbox.network.http[0].host",
                 "expected a host name");
}

Test(http_bad, duplicate_and_overlapping_hosts)
{
    expect_error(NET(CRM, "[{\"host\": \"crm.internal:443\"}, {\"host\": \"CRM.INTERNAL:443\"}]"),
                 "sandbox.network.http[1].host", "is listed twice");
    expect_error(
        NET(CRM,
            "[{\"host\": \"*.git.example.com:443\"}, {\"host\": \"api.git.example.com:443\"}]"),
        "sandbox.network.http[1].host", "overlaps \"*.git.example.com:443\"");
}

Test(http_bad, host_syntax_and_shape)
{
    expect_error(NET(CRM, "[{\"host\": \"crm.internal\"}]"), "sandbox.network.http[0].host",
                 "expected \"host:port\"");
    expect_error(NET(CRM, "[{\"tls\": \"none\"}]"), "sandbox.network.http[0].host", "missing");
    expect_error(NET(CRM, "[\"crm.internal:443\"]"), "sandbox.network.http[0]",
                 "expected a host object");
    expect_error(NET(CRM, "{}"), "sandbox.network.http", "expected an array");
    expect_error(NET(CRM, "[{\"host\": \"crm.internal:443\", \"rule\": []}]"),
                 "sandbox.network.http[0].rule", "unknown key");
}

Test(http_bad, enums_and_scan)
{
    expect_error(NET(CRM, "[{\"host\": \"crm.internal:443\", \"tls\": \"terminat\"}]"),
                 "sandbox.network.http[0].tls", "expected one of none|terminate");
    expect_error(NET(CRM, "[{\"host\": \"crm.internal:443\", \"default\": \"block\"}]"),
                 "sandbox.network.http[0].default", "expected one of allow|deny");
    expect_error(NET(CRM, "[{\"host\": \"crm.internal:443\", \"scan\": \"yes\"}]"),
                 "sandbox.network.http[0].scan", "expected true or false");
}

Test(http_bad, rules)
{
#define R(rule) NET(CRM, "[{\"host\": \"crm.internal:443\", \"rules\": [" rule "]}]")
    expect_error(R("{\"path\": \"/a\"}"), "sandbox.network.http[0].rules[0].action", "missing");
    expect_error(R("{\"action\": \"allo\"}"), "sandbox.network.http[0].rules[0].action",
                 "expected one of allow|deny");
    expect_error(R("\"allow\""), "sandbox.network.http[0].rules[0]", "expected a rule object");
    expect_error(R("{\"action\": \"allow\", \"verb\": \"GET\"}"),
                 "sandbox.network.http[0].rules[0].verb", "unknown key");
    expect_error(R("{\"method\": \"G ET\", \"action\": \"allow\"}"),
                 "sandbox.network.http[0].rules[0].method", "expected a method name");
    expect_error(R("{\"method\": [], \"action\": \"allow\"}"),
                 "sandbox.network.http[0].rules[0].method", "an empty list matches no request");
    expect_error(R("{\"method\": [\"GET\", \"GET\"], \"action\": \"allow\"}"),
                 "sandbox.network.http[0].rules[0].method[1]", "is listed twice");
    expect_error(R("{\"method\": 1, \"action\": \"allow\"}"),
                 "sandbox.network.http[0].rules[0].method", "expected a method name");
#undef R
}

Test(http_bad, paths_that_could_never_match)
{
    struct {
        const char *path, *msg;
    } cases[] = {
        {"api/orders/*", "starts with \"/\""},
        {"/api/%63ustomers", "matched decoded"},
        {"/api/../customers", "\"..\" segments"},
        {"/api/./customers", "\"..\" segments"},
        {"/api//customers", "no \"//\""},
        {"/api/x#frag", "fragment"},
        {"/api/a b", "no spaces"},
        {"/api\\\\x", "backslash"}, /* one backslash, JSON-escaped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json,
                 NET(CRM, "[{\"host\": \"crm.internal:443\", \"rules\": [{\"path\": \"%s\", "
                          "\"action\": \"deny\"}]}]"),
                 cases[i].path);
        expect_error(json, "sandbox.network.http[0].rules[0].path", "would never match");
        expect_error(json, "sandbox.network.http[0].rules[0].path", cases[i].msg);
    }
}

Test(http_bad, query_shapes)
{
#define Q(q)                                                                                       \
    NET(CRM, "[{\"host\": \"crm.internal:443\", \"rules\": [{\"query\": " q ", \"action\": "       \
             "\"allow\"}]}]")
    expect_error(Q("[\"id\"]"), "sandbox.network.http[0].rules[0].query",
                 "expected an object of query parameters");
    expect_error(Q("{\"id\": 3}"), "sandbox.network.http[0].rules[0].query.id",
                 "expected true (the parameter is present), false (it is absent) or a regular");
    expect_error(Q("{\"id\": \"\"}"), "sandbox.network.http[0].rules[0].query.id", "empty");
    expect_error(Q("{\"id\": true, \"id\": false}"), "sandbox.network.http[0].rules[0].query.id",
                 "duplicate key");
#undef Q
}

Test(http_bad, http_rules_need_the_proxy)
{
    expect_error("{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {\"network\": {\"mode\": "
                 "\"host\", \"allow\": [\"crm.internal:443\"], \"http\": [{\"host\": "
                 "\"crm.internal:443\"}]}}}",
                 "sandbox.network.http", "set \"mode\": \"proxy\"");
}

Test(http_deep, a_query_pattern_vectorscan_rejects_is_named)
{
    struct policy *p =
        load(NET(CRM, "[{\"host\": \"crm.internal:443\", \"rules\": [{\"query\": {\"id\": "
                      "\"[0-9\", \"ok\": \"[a-z]+\"}, \"action\": \"allow\"}]}]"));
    cr_assert_not_null(p, "%s", all_errors());
    diag_init(&d);
    cr_assert_eq(policy_check_deep(p, DEEP_ZONEINFO_DIR, &d), 1, "%s", all_errors());
    cr_assert_str_eq(d.e[0].path, "sandbox.network.http[0].rules[0].query.id");
    cr_assert(strstr(d.e[0].msg, "pattern /[0-9/ cannot be used"), "%s", d.e[0].msg);
    policy_free(p);
}
