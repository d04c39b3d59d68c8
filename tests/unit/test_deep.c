/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deep checks: patterns that vectorscan (the engine cordond runs them on) cannot compile, or
 * that would match every text, and time zones the tz database does not know.
 */
#include <criterion/criterion.h>
#include "tests/unit/support.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/data/data.h"
#include "policy/deep.h"
#include "policy/policy.h"

static char zdir[64];
static struct diag d;

/* A private tz database, so the result does not depend on the machine's tzdata. */
static void setup(void)
{
    snprintf(zdir, sizeof zdir, "/tmp/cordon-zone-XXXXXX");
    cr_assert_not_null(mkdtemp(zdir));
    char p[128];
    snprintf(p, sizeof p, "%s/Europe", zdir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/Europe/Brussels", zdir);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(write(fd, "TZif2", 5), 5); /* the magic every zone file starts with */
    close(fd);
    snprintf(p, sizeof p, "%s/leapseconds", zdir); /* lives there, is not a zone */
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    cr_assert_eq(write(fd, "# leap", 6), 6);
    close(fd);
}

static void teardown(void)
{
    remove_tree(zdir);
}

static size_t check(const char *api)
{
    char json[2048];
    snprintf(json, sizeof json, "{\"cordon_policy\": 1, \"agent\": \"a\", \"api\": %s}", api);
    struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_eq(policy_load(json, strlen(json), &env, &p, &d), 0, "%s", d.e[0].msg);
    size_t n = policy_check_deep(p, zdir, &d);
    policy_free(p);
    return n;
}

static void has(const char *path, const char *msg)
{
    for (size_t i = 0; i < d.count; i++)
        if (strcmp(d.e[i].path, path) == 0 && strstr(d.e[i].msg, msg))
            return;
    cr_assert_fail("no deep error at %s containing '%s' (%zu errors, first: %s: %s)", path, msg,
                   d.count, d.count ? d.e[0].path : "", d.count ? d.e[0].msg : "");
}

TestSuite(deep, .init = setup, .fini = teardown);

Test(deep, good_patterns_and_zone_pass)
{
    cr_assert_eq(check("{\"data\": {\"custom\": [{\"class\": \"claim\", \"pattern\": "
                       "\"CLM-[0-9]{8}\", \"action\": \"redact\"}]}, \"tools\": "
                       "{\"constraints\": {\"t\": {\"id\": \"^[0-9]*$\"}}}, \"schedule\": "
                       "[{\"outside\": \"Mon-Fri 08:00-18:00\", \"tz\": \"Europe/Brussels\", "
                       "\"block\": true}, {\"inside\": \"Sat 00:00-01:00\", \"block\": true}]}"),
                 0);
}

Test(deep, broken_pattern_is_named)
{
    cr_assert_eq(check("{\"data\": {\"custom\": [{\"class\": \"claim\", \"pattern\": "
                       "\"CLM-[0-9\", \"action\": \"redact\"}]}}"),
                 1);
    has("api.data.custom[0].pattern", "cannot be used");
}

Test(deep, class_pattern_matching_empty_text_is_refused)
{
    cr_assert_eq(check("{\"data\": {\"custom\": [{\"class\": \"any\", \"pattern\": \"x*\", "
                       "\"action\": \"block\"}]}}"),
                 1);
    has("api.data.custom[0].pattern", "matches the empty string");
}

Test(deep, broken_constraint_is_named)
{
    cr_assert_eq(check("{\"tools\": {\"constraints\": {\"crm_get\": {\"id\": \"(\"}}}}"), 1);
    has("api.tools.constraints.crm_get.id", "cannot be used");
}

Test(deep, unknown_zone_is_named)
{
    cr_assert_eq(check("{\"schedule\": [{\"outside\": \"Mon 08:00-09:00\", \"tz\": "
                       "\"Mars/Olympus_Mons\", \"block\": true}]}"),
                 1);
    has("api.schedule[0].tz", "unknown time zone \"Mars/Olympus_Mons\"");
}

Test(deep, missing_tz_database_says_what_to_install)
{
    char json[] = "{\"cordon_policy\": 1, \"agent\": \"a\", \"api\": {\"schedule\": "
                  "[{\"outside\": \"Mon 08:00-09:00\", \"tz\": \"Europe/Brussels\", \"block\": "
                  "true}]}}";
    struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
    struct policy *p = NULL;
    diag_init(&d);
    cr_assert_eq(policy_load(json, strlen(json), &env, &p, &d), 0);
    cr_assert_eq(policy_check_deep(p, "/nonexistent/zoneinfo", &d), 1);
    has("api.schedule[0].tz", "install the tzdata package");
    policy_free(p);
}

Test(deep, a_file_that_is_not_a_zone_is_refused)
{
    cr_assert_eq(check("{\"schedule\": [{\"outside\": \"Mon 08:00-09:00\", \"tz\": "
                       "\"leapseconds\", \"block\": true}]}"),
                 1);
    has("api.schedule[0].tz", "unknown time zone \"leapseconds\"");
}

Test(deep, constraint_object_pattern_is_checked)
{
    cr_assert_eq(check("{\"tools\": {\"constraints\": {\"t\": {\"id\": {\"pattern\": "
                       "\"[0-9\"}, \"n\": {\"min\": 1}}}}}"),
                 1);
    has("api.tools.constraints.t.id", "cannot be used");
}

Test(deep, anchors_cannot_close_a_broken_pattern)
{
    /* "a)|(b" wrapped as \A(?:a)|(b)\z would compile; alone it does not */
    cr_assert_eq(check("{\"tools\": {\"constraints\": {\"t\": {\"id\": \"a)|(b\"}}}}"), 1);
    has("api.tools.constraints.t.id", "cannot be used");
}

/* The dialect the check accepts is the one the proxy matches with, anchored at both ends. */
Test(deep, regex_matches_whole_values)
{
    char err[256];
    struct deep_regex *r = NULL;
    cr_assert_eq(deep_regex_compile("\\d{3}-[a-z]+", &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(deep_regex_match(r, "123-abc", 7), 1);
    cr_assert_eq(deep_regex_match(r, "x123-abc", 8), 0, "anchored at the start");
    cr_assert_eq(deep_regex_match(r, "123-abcX", 8), 0, "anchored at the end");
    cr_assert_eq(deep_regex_match(r, "123-abc\n", 8), 0, "a trailing newline is not the end");
    cr_assert_eq(deep_regex_match(r, "12-ab", 5), 0);
    cr_assert_eq(deep_regex_match(r, "123-\xff", 5), 0, "bytes that are not UTF-8 never match");
    deep_regex_free(r);

    cr_assert_eq(deep_regex_compile("a|b", &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(deep_regex_match(r, "a", 1), 1);
    cr_assert_eq(deep_regex_match(r, "ab", 2), 0, "the alternation is anchored as a whole");
    deep_regex_free(r);

    cr_assert_eq(deep_regex_compile("[0-9]*", &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(deep_regex_match(r, "", 0), 1, "an empty value is a value");
    deep_regex_free(r);

    cr_assert_eq(deep_regex_compile("(a)\\1", &r, err, sizeof err), -EINVAL,
                 "back-references are not vectorscan's");
    cr_assert_null(r);
    cr_assert_eq(deep_regex_compile("(", &r, err, sizeof err), -EINVAL);
    cr_assert_null(r);
}

Test(deep, data_classes_are_compiled_by_the_scanner_cordond_runs)
{
    /* a word list and an exact-data-match class compile (the file is cordond's to open) */
    cr_assert_eq(check("{\"data\": {\"pii.*\": \"redact\", \"custom\": [{\"class\": \"drugs\", "
                       "\"words\": [\"ozempic\", \"wegovy\"], \"action\": \"block\"}, "
                       "{\"class\": \"customer\", \"edm\": \"/nonexistent/customers.edm\", "
                       "\"action\": \"tokenize\"}]}}"),
                 0);
    /* a pattern vectorscan compiles but a stream could not bound: the scanner refuses it */
    cr_assert_eq(check("{\"data\": {\"custom\": [{\"class\": \"claim\", \"pattern\": "
                       "\"CLM-[0-9]+\", \"action\": \"redact\"}]}}"),
                 1);
    has("api.data.custom[0].pattern", "data class \"claim\"");
    has("api.data.custom[0].pattern", "unbounded repetition");
}

Test(deep, policy_and_scanner_know_the_same_classes)
{
    /* policy.c mirrors the scanner's list: a class the policy accepts is one cordond finds */
    size_t i = 0;
    for (; policy_data_classes[i] && data_builtin_classes[i]; i++)
        cr_assert_str_eq(policy_data_classes[i], data_builtin_classes[i], "class %zu", i);
    cr_assert_null(policy_data_classes[i], "policy.c has more classes than the scanner");
    cr_assert_null(data_builtin_classes[i], "the scanner has more classes than policy.c");
}
