/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.network.http's rules applied to requests: the first matching rule decides, else the
 * default; paths are judged normalized (an encoded or dotted spelling of a denied path is
 * denied); query conditions judge repeated parameters toward refusal; and every verdict names
 * the rule that gave it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/server/httprule.h"

static const struct policy_env test_env = {.vars = {"/h", "/c", "/w", "/tmp"}};

static const char *issue_policy =
    "{\"cordon_policy\": 1, \"agent\": \"a\", \"sandbox\": {\"network\": {\"mode\": \"proxy\", "
    "\"allow\": [\"crm.internal:443\", \"*.git.example.com:443\", \"localhost:8080\", "
    "\"open.internal:*\"], \"http\": ["
    "{\"host\": \"crm.internal:443\", \"tls\": \"terminate\", \"rules\": ["
    "  {\"method\": \"GET\", \"path\": \"/api/orders/*\", \"action\": \"allow\"},"
    "  {\"path\": \"/api/customers/export*\", \"action\": \"deny\"},"
    "  {\"method\": [\"GET\", \"HEAD\"], \"path\": \"/api/customers/*\", \"query\": {\"id\": "
    "\"[0-9]+\", \"all\": false}, \"action\": \"allow\"},"
    "  {\"path\": \"/api/search\", \"query\": {\"q\": \".*secret.*\"}, \"action\": \"deny\"},"
    "  {\"path\": \"/api/search\", \"action\": \"allow\"}"
    "], \"default\": \"deny\", \"scan\": true},"
    "{\"host\": \"*.git.example.com:443\", \"rules\": [{\"method\": \"DELETE\", \"action\": "
    "\"deny\"}], \"default\": \"allow\"},"
    "{\"host\": \"localhost:8080\"},"
    "{\"host\": \"open.internal:*\", \"rules\": [{\"action\": \"allow\"}]}"
    "]}}}";

static struct policy *p;
static struct httprule_set *set;

static void setup(void)
{
    struct diag d;
    diag_init(&d);
    cr_assert_eq(policy_load(issue_policy, strlen(issue_policy), &test_env, &p, &d), 0, "%s: %s",
                 d.e[0].path, d.e[0].msg);
    char err[256] = "";
    cr_assert_eq(httprule_compile(p, &set, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    httprule_free(set);
    policy_free(p);
}

TestSuite(httprule, .init = setup, .fini = teardown);

/* Judge method target (path[?query]) on entry 0; returns the verdict's reason. */
static const char *judge(const char *method, const char *target, int *rule,
                         enum policy_http_action *act, int *rc)
{
    static char reason[HTTPRULE_REASON_MAX];
    char path[512];
    snprintf(path, sizeof path, "%s", target);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    struct httprule_request rq = {method, path, q};
    struct httprule_verdict v;
    *rc = httprule_judge(set, 0, &rq, &v);
    *rule = v.rule;
    *act = v.action;
    snprintf(reason, sizeof reason, "%s", v.reason);
    httprule_verdict_free(&v);
    return reason;
}

static void expect(const char *method, const char *target, enum policy_http_action want,
                   int want_rule, const char *reason)
{
    int rule, rc;
    enum policy_http_action act;
    const char *why = judge(method, target, &rule, &act, &rc);
    cr_assert_eq(rc, 0, "%s %s: rc %d (%s)", method, target, rc, why);
    cr_assert_eq(act, want, "%s %s: %s", method, target, why);
    cr_assert_eq(rule, want_rule, "%s %s: rule %d, %s", method, target, rule, why);
    if (reason)
        cr_assert_str_eq(why, reason, "%s %s", method, target);
}

Test(httprule, the_issue_example)
{
    expect("GET", "/api/orders/17", POLICY_HTTP_ALLOW, 0,
           "sandbox.network.http[0].rules[0]: allow method GET path /api/orders/*");
    expect("GET", "/api/customers/export", POLICY_HTTP_DENY, 1,
           "sandbox.network.http[0].rules[1]: deny path /api/customers/export*");
    expect("POST", "/api/customers/export.csv", POLICY_HTTP_DENY, 1, NULL);
    expect("POST", "/api/orders/17", POLICY_HTTP_DENY, -1,
           "sandbox.network.http[0].default: deny (no rule matches POST /api/orders/17)");
}

Test(httprule, encoded_and_dotted_spellings_are_judged_as_what_they_are)
{
    expect("GET", "/api/%63ustomers/export", POLICY_HTTP_DENY, 1, NULL);
    expect("GET", "/api/orders/../customers/export", POLICY_HTTP_DENY, 1, NULL);
    expect("GET", "/api//customers/./export", POLICY_HTTP_DENY, 1, NULL);
    int rule, rc;
    enum policy_http_action act;
    const char *why = judge("GET", "/api/orders/%2e%2e/customers/export", &rule, &act, &rc);
    cr_assert_eq(rc, -EINVAL);
    cr_assert_eq(act, POLICY_HTTP_DENY);
    cr_assert(strstr(why, "encoded dot segment"), "%s", why);
    why = judge("GET", "/api/orders%2F..%2Fcustomers/export", &rule, &act, &rc);
    cr_assert_eq(rc, -EINVAL);
    cr_assert_eq(act, POLICY_HTTP_DENY);
    cr_assert(strstr(why, "sandbox.network.http[0]: refused: an encoded '/' (%2F)"), "%s", why);
    why = judge("GET", "/api/orders/1?x=%zz", &rule, &act, &rc);
    cr_assert_eq(rc, -EINVAL);
    cr_assert(strstr(why, "two hex digits"), "%s", why);
}

Test(httprule, path_parameters_cannot_smuggle_a_denied_path)
{
    /* a server that drops ";x" reads /api/customers/export: refused */
    expect("GET", "/api/orders/..;/customers/export", POLICY_HTTP_DENY, 1, NULL);
    int rule, rc;
    enum policy_http_action act;
    const char *why = judge("GET", "/api/orders/..;/customers/export", &rule, &act, &rc);
    cr_assert(strstr(why, "read without its ;parameters, as /api/customers/export"), "%s", why);
    /* allowed both ways */
    expect("GET", "/api/orders/1;v=2", POLICY_HTTP_ALLOW, 0, NULL);
}

Test(httprule, query_conditions)
{
    expect("GET", "/api/customers/42?id=42", POLICY_HTTP_ALLOW, 2,
           "sandbox.network.http[0].rules[2]: allow method GET|HEAD path /api/customers/* "
           "query id~/[0-9]+/ query !all");
    expect("HEAD", "/api/customers/42?id=42", POLICY_HTTP_ALLOW, 2, NULL);
    expect("GET", "/api/customers/42", POLICY_HTTP_DENY, -1, NULL);       /* id absent */
    expect("GET", "/api/customers/42?id=4x", POLICY_HTTP_DENY, -1, NULL); /* no full match */
    expect("GET", "/api/customers/42?id=42&all", POLICY_HTTP_DENY, -1, NULL);
    expect("GET", "/api/customers/42?id=42&all=0", POLICY_HTTP_DENY, -1, NULL);
    expect("GET", "/api/customers/42?%69d=42", POLICY_HTTP_ALLOW, 2, NULL); /* decoded name */
    /* repeated: an allow rule needs every value */
    expect("GET", "/api/customers/42?id=42&id=42%20OR%201", POLICY_HTTP_DENY, -1, NULL);
    /* a deny rule needs one */
    expect("GET", "/api/search?q=weather&q=top+secret", POLICY_HTTP_DENY, 3, NULL);
    expect("GET", "/api/search?q=weather", POLICY_HTTP_ALLOW, 4, NULL);
    expect("GET", "/api/search", POLICY_HTTP_ALLOW, 4, NULL);
}

Test(httprule, hosts_fall_under_their_entries)
{
    cr_assert_eq(httprule_host(p, "crm.internal", 443), 0);
    cr_assert_eq(httprule_host(p, "crm.internal", 80), -1);
    cr_assert_eq(httprule_host(p, "api.git.example.com", 443), 1);
    cr_assert_eq(httprule_host(p, "a.b.git.example.com", 443), 1);
    cr_assert_eq(httprule_host(p, "git.example.com", 443), -1);
    cr_assert_eq(httprule_host(p, "localhost", 8080), 2);
    cr_assert_eq(httprule_host(p, "127.0.0.1", 8080), 2);
    cr_assert_eq(httprule_host(p, "::1", 8080), 2);
    cr_assert_eq(httprule_host(p, "open.internal", 1234), 3);
    cr_assert_eq(httprule_host(p, "other", 443), -1);
}

Test(httprule, defaults_and_catch_alls_name_themselves)
{
    struct httprule_request rq = {"DELETE", "/repos/x", NULL};
    struct httprule_verdict v;
    cr_assert_eq(httprule_judge(set, 1, &rq, &v), 0);
    cr_assert_eq(v.action, POLICY_HTTP_DENY);
    cr_assert_str_eq(v.reason, "sandbox.network.http[1].rules[0]: deny method DELETE");
    httprule_verdict_free(&v);
    rq.method = "GET";
    cr_assert_eq(httprule_judge(set, 1, &rq, &v), 0);
    cr_assert_eq(v.action, POLICY_HTTP_ALLOW);
    cr_assert_str_eq(v.path, "/repos/x");
    cr_assert_str_eq(v.reason, "sandbox.network.http[1].default: allow (no rule matches GET "
                               "/repos/x)");
    httprule_verdict_free(&v);
    cr_assert_eq(httprule_judge(set, 2, &rq, &v), 0);
    cr_assert_eq(v.action, POLICY_HTTP_DENY, "an entry without rules denies by default");
    httprule_verdict_free(&v);
    cr_assert_eq(httprule_judge(set, 3, &rq, &v), 0);
    cr_assert_str_eq(v.reason, "sandbox.network.http[3].rules[0]: allow every request");
    httprule_verdict_free(&v);
    cr_assert_eq(httprule_judge(set, 9, &rq, &v), -EINVAL);
    cr_assert_eq(v.action, POLICY_HTTP_DENY);
}

Test(httprule, the_host_field_must_name_the_tunnels_endpoint)
{
    char err[256];
    cr_assert_eq(httprule_check_host("crm.internal", 443, "CRM.internal.", 443, err, sizeof err),
                 0);
    cr_assert_eq(httprule_check_host("crm.internal", 443, "crm.internal:443", 80, err, sizeof err),
                 0);
    cr_assert_eq(httprule_check_host("::1", 8080, "[::1]:8080", 80, err, sizeof err), 0);
    cr_assert_eq(httprule_check_host("crm.internal", 443, "other.internal", 443, err, sizeof err),
                 -EINVAL);
    cr_assert_str_eq(err, "Host \"other.internal\" is not crm.internal:443, the endpoint this "
                          "connection was opened to; the rules judge requests for that host only");
    cr_assert_eq(
        httprule_check_host("crm.internal", 443, "crm.internal:8443", 443, err, sizeof err),
        -EINVAL);
    cr_assert_eq(httprule_check_host("crm.internal", 80, "crm.internal", 443, err, sizeof err),
                 -EINVAL);
    cr_assert_eq(httprule_check_host("::1", 80, "[::2]", 80, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "is not [::1]:80"), "%s", err);
    cr_assert_eq(httprule_check_host("crm.internal", 443, "crm.internal:x", 443, err, sizeof err),
                 -EINVAL);
    cr_assert(strstr(err, "cannot be read: the port"), "%s", err);
}
