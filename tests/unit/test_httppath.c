/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths, queries and hosts of judged requests in their one normal form: every spelling of a
 * resource comes out the same, and the spellings origins read in different ways are refused
 * with a reason, never given one meaning.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "policy/server/httppath.h"

static const char *norm(const char *raw, int flags)
{
    static char out[512];
    const char *why = NULL;
    int rc = httppath_normalize(raw, strlen(raw), flags, out, sizeof out, &why);
    cr_assert_eq(rc, 0, "%s refused: %s", raw, why);
    return out;
}

static void refused(const char *raw, const char *msg)
{
    char out[512];
    const char *why = NULL;
    int rc = httppath_normalize(raw, strlen(raw), 0, out, sizeof out, &why);
    cr_assert_eq(rc, -EINVAL, "%s was accepted as %s", raw, rc == 0 ? out : "?");
    cr_assert(strstr(why, msg), "%s: reason \"%s\" lacks \"%s\"", raw, why, msg);
}

Test(httppath, the_issue_cases_are_judged_as_what_they_are)
{
    cr_assert_str_eq(norm("/api/%63ustomers/export", 0), "/api/customers/export");
    cr_assert_str_eq(norm("/api/orders/../customers/export", 0), "/api/customers/export");
    cr_assert_str_eq(norm("/api/%43ustomers/export", 0), "/api/Customers/export",
                     "paths are case-sensitive; only the escape's hex digits are not");
    cr_assert_str_eq(norm("/api/%63%75%73%74omers/%65xport", 0), "/api/customers/export");
    cr_assert_str_eq(norm("/api/./orders/./../customers//export", 0), "/api/customers/export");
    cr_assert_str_eq(norm("//api///customers/export", 0), "/api/customers/export");
}

Test(httppath, an_encoded_slash_cannot_escape_judgement)
{
    refused("/api/orders%2F..%2Fcustomers/export", "%2F");
    refused("/api/orders%2f..%2fcustomers/export", "%2F");
    refused("/api/customers%2Fexport", "encoded '/'");
    refused("/api/a%5C..%5Ccustomers", "%5C");
}

Test(httppath, nul_controls_and_bad_escapes)
{
    refused("/api/customers%00.json", "%00");
    refused("/api/x%0a", "control character");
    refused("/api/x%7f", "control character");
    refused("/api/x%", "two hex digits");
    refused("/api/x%4", "two hex digits");
    refused("/api/x%zz", "two hex digits");
    refused("/api/x\\y", "backslash");
    refused("/api/x y", "not printable ASCII");
    refused("/api/\xc3\xa9", "not printable ASCII");
    refused("api/x", "start with '/'");
    refused("", "start with '/'");
    cr_assert_str_eq(norm("/caf%C3%A9", 0), "/caf\xc3\xa9", "UTF-8 decodes to its bytes");
    cr_assert_str_eq(norm("/100%25", 0), "/100%", "%25 is a literal '%'");
}

Test(httppath, encoded_dot_segments_are_refused)
{
    refused("/api/orders/%2e%2e/customers/export", "encoded dot segment");
    refused("/api/orders/.%2E/customers", "encoded dot segment");
    refused("/api/%2e/customers", "encoded dot segment");
    /* a dot inside a name is just a character */
    cr_assert_str_eq(norm("/api/a%2ejson", 0), "/api/a.json");
    cr_assert_str_eq(norm("/api/...", 0), "/api/...");
}

Test(httppath, dotdot_never_climbs_above_root_nor_over_an_empty_segment)
{
    cr_assert_str_eq(norm("/../../etc/passwd", 0), "/etc/passwd");
    cr_assert_str_eq(norm("/a/..", 0), "/");
    cr_assert_str_eq(norm("/..", 0), "/");
    cr_assert_str_eq(norm("/a/b/..", 0), "/a/");
    cr_assert_str_eq(norm("/a/b/.", 0), "/a/b/");
    cr_assert_str_eq(norm("/a//b/../c", 0), "/a/c", "\"..\" removes b, whichever order");
    refused("/api/customers//../orders/1", "empty one");
    refused("/a//..", "empty one");
}

Test(httppath, trailing_slash_and_root_are_kept)
{
    cr_assert_str_eq(norm("/", 0), "/");
    cr_assert_str_eq(norm("/api/orders/", 0), "/api/orders/");
    cr_assert_str_eq(norm("/api/orders//", 0), "/api/orders/");
    cr_assert_str_eq(norm("*", 0), "*");
}

Test(httppath, path_parameters_can_be_read_away)
{
    cr_assert_str_eq(norm("/api/customers;v=1/export", 0), "/api/customers;v=1/export");
    cr_assert_str_eq(norm("/api/customers;v=1/export", HTTPPATH_STRIP_PARAMS),
                     "/api/customers/export");
    cr_assert_str_eq(norm("/api/x;/..;/customers", HTTPPATH_STRIP_PARAMS), "/api/customers");
    cr_assert_str_eq(norm("/api/x;/..;/customers", 0), "/api/x;/..;/customers");
}

Test(httppath, a_small_buffer_is_reported)
{
    char out[8];
    const char *why;
    cr_assert_eq(httppath_normalize("/0123456789", 11, 0, out, sizeof out, &why), -ENAMETOOLONG);
}

Test(httppath, query_parameters_are_decoded)
{
    const char *q = "id=7&name=J%C3%B6rg+M&&flag&empty=&a%3Db=c%26d&id=8";
    struct httppath_param v[16];
    char buf[256];
    size_t n = 0;
    const char *why;
    cr_assert_eq(httppath_query(q, strlen(q), v, 16, &n, buf, sizeof buf, &why), 0, "%s", why);
    cr_assert_eq(n, 6);
    cr_assert_str_eq(v[0].name, "id");
    cr_assert_str_eq(v[0].value, "7");
    cr_assert_str_eq(v[1].value, "J\xc3\xb6rg M");
    cr_assert_str_eq(v[2].name, "flag");
    cr_assert_str_eq(v[2].value, "");
    cr_assert_str_eq(v[3].name, "empty");
    cr_assert_str_eq(v[3].value, "");
    cr_assert_str_eq(v[4].name, "a=b");
    cr_assert_str_eq(v[4].value, "c&d");
    cr_assert_str_eq(v[5].value, "8");
    cr_assert_eq(httppath_query("", 0, v, 16, &n, buf, sizeof buf, &why), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(httppath_query("a=%00", 5, v, 16, &n, buf, sizeof buf, &why), -EINVAL);
    cr_assert(strstr(why, "%00"));
    cr_assert_eq(httppath_query("a=%g1", 5, v, 16, &n, buf, sizeof buf, &why), -EINVAL);
    cr_assert_eq(httppath_query("a&b&c", 5, v, 2, &n, buf, sizeof buf, &why), -E2BIG);
}

Test(httppath, hosts_lose_case_trailing_dot_and_brackets)
{
    char h[64];
    unsigned port;
    const char *why;
    cr_assert_eq(httppath_host("CRM.Internal.:8080", h, sizeof h, &port, &why), 0);
    cr_assert_str_eq(h, "crm.internal");
    cr_assert_eq(port, 8080);
    cr_assert_eq(httppath_host("crm.internal", h, sizeof h, &port, &why), 0);
    cr_assert_eq(port, 0);
    cr_assert_eq(httppath_host("[::1]:80", h, sizeof h, &port, &why), 0);
    cr_assert_str_eq(h, "::1");
    cr_assert_eq(port, 80);
    cr_assert_eq(httppath_host("[FE80::1]", h, sizeof h, &port, &why), 0);
    cr_assert_str_eq(h, "fe80::1");
    cr_assert_eq(httppath_host("a:99999", h, sizeof h, &port, &why), -EINVAL);
    cr_assert_eq(httppath_host("a:", h, sizeof h, &port, &why), -EINVAL);
    cr_assert_eq(httppath_host(":80", h, sizeof h, &port, &why), -EINVAL);
    cr_assert_eq(httppath_host("[::1", h, sizeof h, &port, &why), -EINVAL);
    cr_assert_eq(httppath_host("[::1]x", h, sizeof h, &port, &why), -EINVAL);
}
